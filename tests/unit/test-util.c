/* SPDX-License-Identifier: MIT */
/* util.h: the small shared rules, one table each. */
#include <arpa/inet.h>

#include "util.h"
#include "test.h"

static void test_ipv4(void) {
        static const struct {
                const char *s;
                int r;
                uint32_t v;
        } t[] = {
                { "10.0.1.10", 0, 0x0a00010a },
                { "0.0.0.0", 0, 0 },
                { "255.255.255.255", 0, 0xffffffff },
                { "127.0.0.1", 0, 0x7f000001 },
                { "1.2.3.4", 0, 0x01020304 },
                { "010.0.1.10", -EINVAL, 0 },       /* leading zero */
                { "10.0.1.00", -EINVAL, 0 },
                { "10.0.1", -EINVAL, 0 },
                { "10.0.1.10.1", -EINVAL, 0 },
                { "10.0.1.10.", -EINVAL, 0 },
                { ".10.0.1.10", -EINVAL, 0 },
                { "10..1.10", -EINVAL, 0 },
                { "10.0.1.256", -EINVAL, 0 },
                { "10.0.1.1000", -EINVAL, 0 },
                { " 10.0.1.10", -EINVAL, 0 },
                { "10.0.1.10 ", -EINVAL, 0 },
                { "10.0.1.10\n", -EINVAL, 0 },
                { "10.0.1.+1", -EINVAL, 0 },
                { "10.0.1.-1", -EINVAL, 0 },
                { "0x0a.0.1.10", -EINVAL, 0 },
                { "167772426", -EINVAL, 0 },        /* inet_aton would take it */
                { "10.0.1.10/24", -EINVAL, 0 },
                { "::1", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { NULL, -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                uint32_t v = 0xdeadbeef;
                struct in_addr a;
                int r = ipv4_parse(t[i].s, &v);

                if (r != t[i].r)
                        fprintf(stderr, "ipv4_parse(\"%s\") = %d\n", strempty(t[i].s), r);
                CHECK_INT(r, t[i].r);
                CHECK_INT(v, r == 0 ? t[i].v : 0xdeadbeef); /* untouched on failure */
                CHECK_INT(ipv4_valid(t[i].s), t[i].r == 0);
                /* The same rule as the C library's. */
                if (t[i].s)
                        CHECK_INT(inet_pton(AF_INET, t[i].s, &a) == 1, t[i].r == 0);
        }
}

static void test_ipv4_prefix(void) {
        const char *end = NULL;
        uint32_t v = 0;

        CHECK_INT(ipv4_parse_prefix("10.0.1.0/24", &end, &v), 0);
        CHECK_INT(v, 0x0a000100);
        CHECK_STR(end, "/24");
        CHECK_INT(ipv4_parse_prefix("10.0.1.0", &end, &v), 0);
        CHECK_STR(end, "");
        CHECK_INT(ipv4_parse_prefix("10.0.1/24", &end, &v), -EINVAL);
        CHECK_INT(ipv4_parse_prefix(NULL, &end, &v), -EINVAL);
}

static void test_quorum(void) {
        static const struct {
                size_t reachable, members;
                bool majority;
        } t[] = {
                { 0, 0, false },
                { 1, 0, false },
                { 0, 1, false },
                { 1, 1, true },
                { 1, 2, false },
                { 2, 2, true },
                { 1, 3, false },
                { 2, 3, true },
                { 2, 4, false },
                { 3, 4, true },
                { 2, 5, false },
                { 3, 5, true },
                { 3, 6, false },
                { 4, 6, true },
                { 3, 7, false },
                { 4, 7, true },
                { 7, 7, true },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                if (quorum_has_majority(t[i].reachable, t[i].members) != t[i].majority)
                        fprintf(stderr, "quorum_has_majority(%zu, %zu)\n", t[i].reachable, t[i].members);
                CHECK_INT(quorum_has_majority(t[i].reachable, t[i].members), t[i].majority);
                /* more than half, as the three former copies said it */
                CHECK_INT(t[i].majority, t[i].members > 0 && t[i].reachable * 2 > t[i].members);
        }
}

int main(void) {
        test_ipv4();
        test_ipv4_prefix();
        test_quorum();
        return test_done("test-util");
}
