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

int main(void) {
        test_ipv4();
        test_ipv4_prefix();
        return test_done("test-util");
}
