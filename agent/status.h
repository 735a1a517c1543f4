/* SPDX-License-Identifier: MIT */
#pragma once
#include "config.h"

/* `swarmkeeper status`: the swarm's nodes. Returns an exit status. */
int verb_status(Config *c, const ConfigArgs *args, bool json);

/* s as printable ASCII for a terminal: every other byte (ESC, control characters, bytes of
 * non-ASCII characters) becomes '?'; cut to fit dst (size bytes with the NUL). */
void status_printable(char *dst, size_t size, const char *s);
/* A table cell of outside text (the engine's, EC2's, a state file's): "-" for NULL or "",
 * else status_printable() into buf, which is returned. The one way `status` and `plan`
 * put such text on a terminal. */
const char *status_cell(char *buf, size_t size, const char *s);
