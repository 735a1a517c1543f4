/* SPDX-License-Identifier: MIT */
#pragma once
#include "config.h"
#include "ec2.h"

/*
 * Find this host's EBS volume by its tags (swarmkeeper:cluster = Cluster.Name,
 * swarmkeeper:logical-id = Host.PrivateIp) in Host.AvailabilityZone and attach it
 * to this instance if it is available. Returns the volume id and the device name
 * requested in the attachment (e.g. /dev/sdf; NULL if unknown), both validated.
 * Waits until deadline (CLOCK_MONOTONIC, µs) at most.
 * Logs the culprit; returns 0 or a negative errno: -ETIME if the volume was not attached
 * by the deadline, -EINVAL for missing [Host] keys; -ENOENT or -ENOTUNIQ when no volume,
 * or more than one, carries the tags (ebs_choose_volume(); several are refused with
 * SK_MESSAGE_VOLUME_AMBIGUOUS, nothing attached); -EUSERS when it is attached to this instance and
 * to another one too (Multi-Attach: never formatted or mounted); -EBADMSG when EC2
 * named the volume, an instance or a device in a malformed way.
 */
int ebs_locate_and_attach(const Config *c, uint64_t deadline, char **ret_volume_id, char **ret_requested_device);

/*
 * The checks on one DescribeVolumes item, a pure function: -EBADMSG if its volume id,
 * an attachment's instance id or device name is malformed; -EUSERS if it is attached
 * to instance_id and to another instance (*ret_other, may be NULL, names one; not
 * detached yet counts as attached); else 0.
 */
int ebs_volume_check(const Ec2Volume *v, const char *instance_id, const char **ret_other);

/*
 * Which of the volumes tagged for this host's seat (one DescribeVolumes answer, in its
 * zone) is its own, a pure function: the only one, whatever its attachments. 0 and
 * *ret_index; -ENOENT when there is none; -ENOTUNIQ when there are several, even when
 * one of them is attached to this instance: anyone allowed to tag can tag (and attach)
 * a volume for the seat, and the host cannot tell which one holds the seat's Raft state.
 */
int ebs_choose_volume(const Ec2Volume *volumes, size_t n, size_t *ret_index);
