/* SPDX-License-Identifier: MIT */
#pragma once
#include "config.h"

/*
 * Who this host is: fill the empty [Host] keys (InstanceId, PrivateIp,
 * AvailabilityZone) and AWS.Region from the instance metadata service (IMDSv2).
 * Keys already set in the configuration win. Logs the culprit; returns 0 or a
 * negative errno (-EADDRNOTAVAIL: the metadata service could not be reached or
 * answered nonsense).
 */
int identity_resolve(Config *c);
