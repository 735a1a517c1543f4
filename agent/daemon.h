/* SPDX-License-Identifier: MIT */
#pragma once
#include "config.h"

/* `swarmkeeper run`: the agent daemon. Returns an exit status. */
int verb_run(Config *c, const ConfigArgs *args, bool json);
