/* SPDX-License-Identifier: MIT */
#pragma once
#include "config.h"

/*
 * Find this host's EBS volume by its tags (swarmkeeper:cluster = Cluster.Name,
 * swarmkeeper:logical-id = Host.PrivateIp) in Host.AvailabilityZone and attach it
 * to this instance if it is available. Returns the volume id and the device name
 * requested in the attachment (e.g. /dev/sdf; NULL if unknown).
 * Logs the culprit; returns 0 or a negative errno: -ETIME if the volume was not attached
 * within Volume.AttachTimeoutSec, -EINVAL for missing [Host] keys; -ENOENT or
 * -ENOTUNIQ when no volume, or more than one, carries the tags.
 */
int ebs_locate_and_attach(const Config *c, char **ret_volume_id, char **ret_requested_device);
