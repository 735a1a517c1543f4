/* SPDX-License-Identifier: MIT */
#pragma once
#include "config.h"

/* `swarmkeeper status`: the swarm's nodes. Returns an exit status. */
int verb_status(Config *c, const ConfigArgs *args, bool json);
