/* SPDX-License-Identifier: MIT */
/* util.h and event-util.h: the small shared rules, one table each. */
#include <arpa/inet.h>

#include "event-util.h"
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

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (*(unsigned *) userdata)++;
        return 0;
}

/* event_timer_arm(): what the timer looks like after one call, from each state. */
static void test_timer_arm(void) {
        enum { NONE, PENDING, FIRED };
        const uint64_t T = now_usec(CLOCK_MONOTONIC) + 3600 * USEC_PER_SEC; /* never due in this test */
        static const struct {
                int before;          /* no source, one pending at T, one that fired (at T) */
                int64_t when;        /* relative to T */
                bool keep_earlier;
                int64_t expect;      /* the source's time after, relative to T */
        } t[] = {
                { NONE, 0, false, 0 },
                { NONE, 5, true, 5 },
                { PENDING, 5, false, 5 },   /* later: moved */
                { PENDING, -5, false, -5 }, /* earlier: moved */
                { PENDING, 5, true, 0 },    /* later: the earlier wakeup wins */
                { PENDING, 0, true, 0 },
                { PENDING, -5, true, -5 },  /* earlier: moved */
                { FIRED, 5, true, 5 },      /* a fired one-shot is re-armed, even later */
                { FIRED, -5, true, -5 },
                { FIRED, 5, false, 5 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                sd_event *e = NULL;
                sd_event_source *s = NULL, *was;
                const char *desc = NULL;
                uint64_t at = 0;
                unsigned fired = 0;
                int enabled = -1;

                CHECK_INT(sd_event_new(&e), 0);
                if (t[i].before != NONE) {
                        CHECK_INT(sd_event_add_time(e, &s, CLOCK_MONOTONIC, T, 0, on_timer, &fired), 0);
                        (void) sd_event_source_set_description(s, "before");
                        if (t[i].before == FIRED)
                                CHECK_INT(sd_event_source_set_enabled(s, SD_EVENT_OFF), 0);
                }
                was = s;
                CHECK_INT(event_timer_arm(e, &s, T + t[i].when, USEC_PER_MSEC, t[i].keep_earlier, on_timer,
                                          &fired, "after"),
                          0);
                CHECK(s && (was == NULL || s == was));
                CHECK_INT(sd_event_source_get_time(s, &at), 0);
                CHECK_INT(sd_event_source_get_enabled(s, &enabled) >= 0, 1);
                CHECK_INT(sd_event_source_get_description(s, &desc), 0);
                if ((int64_t) (at - T) != t[i].expect)
                        fprintf(stderr, "event_timer_arm row %zu: at T%+lld\n", i, (long long) (at - T));
                CHECK_INT((int64_t) (at - T), t[i].expect);
                CHECK_INT(enabled, SD_EVENT_ONESHOT);
                CHECK_STR(desc, was ? "before" : "after");
                CHECK_INT(fired, 0);
                sd_event_source_unref(s);
                sd_event_unref(e);
        }
}

/* It fires once, and arms again after it fired. */
static void test_timer_fires(void) {
        sd_event *e = NULL;
        sd_event_source *s = NULL;
        unsigned fired = 0;
        int enabled = -1;

        CHECK_INT(sd_event_new(&e), 0);
        CHECK_INT(event_timer_arm(e, &s, now_usec(CLOCK_MONOTONIC), 1, true, on_timer, &fired, "t"), 0);
        for (int k = 0; k < 10 && fired == 0; k++)
                CHECK(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        CHECK_INT(fired, 1);
        CHECK_INT(sd_event_source_get_enabled(s, &enabled) >= 0, 1);
        CHECK_INT(enabled, SD_EVENT_OFF);
        CHECK_INT(sd_event_run(e, 10 * USEC_PER_MSEC), 0); /* one-shot: not again */
        CHECK_INT(fired, 1);
        CHECK_INT(event_timer_arm(e, &s, now_usec(CLOCK_MONOTONIC), 1, true, on_timer, &fired, "t"), 0);
        for (int k = 0; k < 10 && fired == 1; k++)
                CHECK(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        CHECK_INT(fired, 2);
        sd_event_source_unref(s);
        sd_event_unref(e);
}

int main(void) {
        test_ipv4();
        test_ipv4_prefix();
        test_quorum();
        test_timer_arm();
        test_timer_fires();
        return test_done("test-util");
}
