#!/usr/bin/python3
"""Write an md RAID v1.2 superblock (4 KiB into the device) with a valid checksum, as
mdadm --create would, without needing the kernel's md driver. libblkid then reports
TYPE=linux_raid_member. Usage: mkraid-sb.py DEVICE"""
import os
import struct
import sys

OFF = 4096
sb = bytearray(256)                      # struct mdp_superblock_1, max_dev = 0
struct.pack_into("<IIII", sb, 0, 0xA92B4EFC, 1, 0, 0)   # magic, major_version, feature_map
sb[16:32] = os.urandom(16)               # set_uuid
sb[32:44] = b"swarmkeeper0"              # set_name
struct.pack_into("<QIIQII", sb, 64, 0, 1, 0, 2048, 1024, 2)  # ctime level layout size chunk disks
struct.pack_into("<QQQQII", sb, 128, 2048, 2048, OFF // 512, 0, 0, 0)  # data_off/size, super_offset
sb[168:184] = os.urandom(16)             # device_uuid
struct.pack_into("<QQQII", sb, 192, 0, 1, 0, 0, 0)      # utime events resync sb_csum max_dev
csum = sum(struct.unpack_from("<64I", sb, 0))
csum = (csum & 0xFFFFFFFF) + (csum >> 32)
struct.pack_into("<I", sb, 216, csum & 0xFFFFFFFF)
with open(sys.argv[1], "r+b") as f:
    f.seek(OFF)
    f.write(sb)
