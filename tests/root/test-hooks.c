/* SPDX-License-Identifier: MIT */
/*
 * Linked only into swarmkeeper-hooked, the root suite's build of the binary: at each
 * volume_test_hook() point it runs the shell command in SK_TEST_HOOK_<POINT> (upper
 * case, '-' as '_'), so a test can re-point a device name at an exact moment
 * instead of racing for it. The product binary has no hook (the pointer stays NULL).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "volume.h"

static void run_hook(const char *point) {
        char name[128];
        const char *cmd;
        size_t n = snprintf(name, sizeof(name), "SK_TEST_HOOK_");

        for (const char *p = point; *p && n + 1 < sizeof(name); p++)
                name[n++] = *p == '-' ? '_' : (char) toupper((unsigned char) *p);
        name[n] = '\0';
        cmd = getenv(name);
        if (cmd && system(cmd) != 0)
                fprintf(stderr, "test hook %s failed: %s\n", name, cmd);
}

__attribute__((constructor)) static void install_hook(void) {
        volume_test_hook = run_hook;
}
