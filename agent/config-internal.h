/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Internal to the configuration files (config.c, config-parse.c): what the INI parser
 * needs of the key table. Not for other modules: they use config.h.
 */

#include "config.h"

/* Store value for key id; on a bad value log "origin: Key=value: why" and return -EINVAL. */
int config_assign(Config *c, ConfigKeyId id, const char *value, const char *origin);
/* The key [section] name; -ENOENT if there is none. */
int config_lookup(const char *section, const char *name, ConfigKeyId *ret);
/* Whether any key lives in [section]. */
bool config_section_known(const char *section);
/* What a message may show of a name from the input: s, or "(not shown)" when it is not
 * tame or looks like a join token. */
const char *config_echo_name(const char *s);
