/* SPDX-License-Identifier: MIT */
/*
 * The reconciler's memory as JSON (agent/rc-history-json.c): what the daemon writes into
 * its state file comes back as the same history, for every member the planner reads; a
 * memory from another boot is refused; a file that is not such a memory (wrong types,
 * counts over the bounds, unknown kinds) is refused as malformed, and leaves nothing
 * allocated (the ASAN build checks that) and the caller's history untouched.
 */
#include "json-util.h"
#include "rc-history-json.h"
#include "test.h"

static void fill(RcHistory *h) {
        RcSeatMemory *s;

        *h = (RcHistory){
                .no_leader_since_usec = 1111,
                .tokens_rotated_usec = 1700000000000000ULL,
                .ec2_observed_usec = 2222,
                .nodes_observed_usec = 3333,
                .tokens_rotated_swarm_usec = 1700000000000001ULL,
                .tokens_rotated_launch_usec = 1700000000000002ULL,
                .unmarked_volumes = true,
        };
        h->marks = calloc(2, sizeof(RcNodeMark));
        CHECK(h->marks != NULL);
        h->marks[0] = (RcNodeMark){ strdup("node-a"), 10, 0, 30 };
        h->marks[1] = (RcNodeMark){ strdup("node-b"), 0, 20, 0 };
        h->n_marks = 2;
        CHECK_INT(rc_history_add_inflight(h, RC_INFLIGHT_LAUNCH, "10.0.1.12", "i-0123", "vol-1", 400), 0);
        CHECK_INT(rc_history_add_inflight(h, RC_INFLIGHT_DRAIN, NULL, "i-0456", NULL, 500), 0);
        CHECK_INT(rc_history_add_inflight(h, RC_INFLIGHT_CREATE_VOLUME, "10.0.1.13", NULL, "vol-2", 600), 0);
        CHECK_INT(rc_history_backoff_fail(h, "10.0.1.12", 700), 0);
        CHECK_INT(rc_history_backoff_fail(h, "10.0.1.12", 800), 0);
        CHECK_INT(rc_history_backoff_fail(h, "worker", 900), 0);
        CHECK_INT(rc_history_recovery_start(h, "10.0.1.11", 1000), 0);
        CHECK_INT(rc_history_add_dead_token(h, "sk-ov-10.0.1.12-1"), 0);
        CHECK_INT(rc_history_add_dead_token(h, "sk-ov-10.0.1.12-2"), 0);
        CHECK(free_and_strdup(&h->leader_node_id, "node-a") >= 0);
        s = rc_history_seat(h, "10.0.1.12", true);
        CHECK(s != NULL);
        if (s) {
                s->busy_since_usec = 1200;
                CHECK(free_and_strdup(&s->volume_id, "vol-1") >= 0);
        }
        CHECK(rc_history_seat(h, "10.0.1.13", true) != NULL); /* no volume, not busy */
}

/* a and b agree on everything the JSON keeps */
static void check_same(const RcHistory *a, const RcHistory *b) {
        CHECK_INT(a->no_leader_since_usec, b->no_leader_since_usec);
        CHECK_INT(a->tokens_rotated_usec, b->tokens_rotated_usec);
        CHECK_INT(a->ec2_observed_usec, b->ec2_observed_usec);
        CHECK_INT(a->nodes_observed_usec, b->nodes_observed_usec);
        CHECK_INT(a->tokens_rotated_swarm_usec, b->tokens_rotated_swarm_usec);
        CHECK_INT(a->tokens_rotated_launch_usec, b->tokens_rotated_launch_usec);
        CHECK_INT(a->unmarked_volumes, b->unmarked_volumes);
        CHECK(streq_ptr(a->leader_node_id, b->leader_node_id));
        CHECK_INT(a->n_marks, b->n_marks);
        for (size_t i = 0; i < a->n_marks && i < b->n_marks; i++) {
                CHECK_STR(a->marks[i].node_id, b->marks[i].node_id);
                CHECK_INT(a->marks[i].bad_since_usec, b->marks[i].bad_since_usec);
                CHECK_INT(a->marks[i].healthy_since_usec, b->marks[i].healthy_since_usec);
                CHECK_INT(a->marks[i].drained_since_usec, b->marks[i].drained_since_usec);
        }
        CHECK_INT(a->n_inflight, b->n_inflight);
        for (size_t i = 0; i < a->n_inflight && i < b->n_inflight; i++) {
                CHECK_INT(a->inflight[i].kind, b->inflight[i].kind);
                CHECK(streq_ptr(a->inflight[i].logical_id, b->inflight[i].logical_id));
                CHECK(streq_ptr(a->inflight[i].instance_id, b->inflight[i].instance_id));
                CHECK(streq_ptr(a->inflight[i].volume_id, b->inflight[i].volume_id));
                CHECK_INT(a->inflight[i].since_usec, b->inflight[i].since_usec);
        }
        CHECK_INT(a->n_backoff, b->n_backoff);
        for (size_t i = 0; i < a->n_backoff && i < b->n_backoff; i++) {
                CHECK_STR(a->backoff[i].key, b->backoff[i].key);
                CHECK_INT(a->backoff[i].attempt, b->backoff[i].attempt);
                CHECK_INT(a->backoff[i].not_before_usec, b->backoff[i].not_before_usec);
        }
        CHECK_INT(a->n_recovering, b->n_recovering);
        for (size_t i = 0; i < a->n_recovering && i < b->n_recovering; i++) {
                CHECK_STR(a->recovering[i].logical_id, b->recovering[i].logical_id);
                CHECK_INT(a->recovering[i].started_usec, b->recovering[i].started_usec);
        }
        CHECK_INT(a->n_seats, b->n_seats);
        for (size_t i = 0; i < a->n_seats && i < b->n_seats; i++) {
                CHECK_STR(a->seats[i].logical_id, b->seats[i].logical_id);
                CHECK_INT(a->seats[i].busy_since_usec, b->seats[i].busy_since_usec);
                CHECK(streq_ptr(a->seats[i].volume_id, b->seats[i].volume_id));
        }
        CHECK_INT(strv_length(a->dead_tokens), strv_length(b->dead_tokens));
        for (size_t i = 0; i < strv_length(a->dead_tokens) && i < strv_length(b->dead_tokens); i++)
                CHECK_STR(a->dead_tokens[i], b->dead_tokens[i]);
}

/* to_json, printed and parsed again as a file would be */
static json_object *through_text(const RcHistory *h) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *back = NULL;
        const char *text;

        CHECK_INT(rc_history_to_json(h, &o), 0);
        if (!o)
                return NULL;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        CHECK_INT(json_parse_text(text, strlen(text), 0, 0, &back), 0);
        return back;
}

static void test_round_trip(void) {
        _cleanup_(rc_history_done) RcHistory h = {}, back = {};
        _cleanup_(json_object_putp) json_object *o = NULL;
        char boot[RC_BOOT_ID_STRING_MAX];

        fill(&h);
        CHECK_INT(h.n_backoff, 2);
        CHECK_INT(h.n_seats, 2);
        o = through_text(&h);
        CHECK(o != NULL);
        CHECK_INT(rc_boot_id(boot, sizeof(boot)), 0);
        CHECK_STR(jstr(JPATH(o, "boot_id")), boot);
        CHECK(json_object_is_type(JPATH(o, "written_mono_usec"), json_type_int));
        CHECK_INT(rc_history_from_json(o, &back), 0);
        check_same(&h, &back);
        CHECK_INT(back.backoff[0].attempt, 2);
        /* the history of `plan` with it plans as the daemon: the backoff holds */
        CHECK(!rc_history_backoff_ready(&back, "10.0.1.12", h.backoff[0].not_before_usec - 1));
        CHECK(rc_history_backoff_ready(&back, "10.0.1.12", h.backoff[0].not_before_usec));
}

static void test_empty(void) {
        _cleanup_(rc_history_done) RcHistory h = {}, back = {};
        _cleanup_(json_object_putp) json_object *o = NULL;
        static const char *const lists[] = { "marks", "inflight", "backoff", "recovering", "seats", "dead_tokens" };

        CHECK_INT(rc_history_to_json(&h, &o), 0);
        CHECK(o != NULL);
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                json_object *a = JPATH(o, lists[i]);
                CHECK(json_object_is_type(a, json_type_array) && json_object_array_length(a) == 0);
        }
        CHECK(json_object_is_type(JPATH(o, "leader_node_id"), json_type_null));
        CHECK_INT(json_object_get_int64(JPATH(o, "ec2_observed_mono_usec")), 0);
        CHECK_INT(rc_history_from_json(o, &back), 0);
        check_same(&h, &back);
        CHECK(back.marks == NULL && back.dead_tokens == NULL && back.leader_node_id == NULL);

        /* only a boot id and a version: every member absent is empty */
        {
                _cleanup_(json_object_putp) json_object *min = json_object_new_object();
                _cleanup_(rc_history_done) RcHistory m = {};
                CHECK(json_add(min, "version", json_object_new_int(RC_HISTORY_JSON_VERSION)) >= 0);
                CHECK(json_add(min, "boot_id", json_object_get(JPATH(o, "boot_id"))) >= 0);
                CHECK_INT(rc_history_from_json(min, &m), 0);
                check_same(&h, &m);
        }
}

static void test_other_boot(void) {
        _cleanup_(rc_history_done) RcHistory h = {}, back = {};
        _cleanup_(json_object_putp) json_object *o = NULL;

        fill(&h);
        o = through_text(&h);
        CHECK(o != NULL);
        CHECK(json_add_string(o, "boot_id", "0123456789abcdef0123456789abcdef") >= 0);
        CHECK_INT(rc_history_from_json(o, &back), -ESTALE);
        CHECK(back.n_marks == 0 && back.backoff == NULL);
        /* without one: not a memory at all */
        json_object_object_del(o, "boot_id");
        CHECK_INT(rc_history_from_json(o, &back), -EBADMSG);
}

/* The filled history's JSON with path (key, or key then index then member) set to v
 * (taken; NULL: removed), then read back: the expected error, nothing left in ret. */
static void check_refused(const char *what, const char *key, int idx, const char *member, json_object *v,
                          int expect) {
        _cleanup_(rc_history_done) RcHistory h = {};
        _cleanup_(json_object_putp) json_object *o = NULL;
        RcHistory back = {};
        json_object *o2;
        int r;

        fill(&h);
        o = through_text(&h);
        o2 = o;
        if (!o) {
                json_object_put(v);
                return;
        }
        if (idx >= 0) {
                o2 = json_object_array_get_idx(JPATH(o, key), (size_t) idx);
                key = member;
        }
        if (v)
                CHECK(json_add(o2, key, v) >= 0);
        else
                json_object_object_del(o2, key); /* NULL: the member goes */
        r = rc_history_from_json(o, &back);
        if (r != expect)
                fprintf(stderr, "refused: %s\n", what);
        CHECK_INT(r, expect);
        CHECK(back.marks == NULL && back.inflight == NULL && back.backoff == NULL && back.seats == NULL &&
              back.recovering == NULL && back.dead_tokens == NULL && back.leader_node_id == NULL);
}

static void test_malformed(void) {
        _cleanup_(rc_history_done) RcHistory back = {};
        json_object *big, *tokens;
        char long_id[RC_HISTORY_JSON_MAX_STRING + 2];

        /* not an object */
        {
                _cleanup_(json_object_putp) json_object *a = json_object_new_array(), *s = json_object_new_string("x");
                CHECK_INT(rc_history_from_json(a, &back), -EBADMSG);
                CHECK_INT(rc_history_from_json(s, &back), -EBADMSG);
                CHECK_INT(rc_history_from_json(NULL, &back), -EBADMSG);
        }
        check_refused("version", "version", -1, NULL, json_object_new_int(2), -EPROTONOSUPPORT);
        check_refused("version type", "version", -1, NULL, json_object_new_string("1"), -EBADMSG);
        check_refused("boot id type", "boot_id", -1, NULL, json_object_new_int(1), -EBADMSG);
        check_refused("time type", "ec2_observed_mono_usec", -1, NULL, json_object_new_string("5"), -EBADMSG);
        check_refused("time double", "nodes_observed_mono_usec", -1, NULL, json_object_new_double(1.5), -EBADMSG);
        check_refused("negative time", "no_leader_since_mono_usec", -1, NULL, json_object_new_int64(-1), -EBADMSG);
        check_refused("bool type", "unmarked_volumes", -1, NULL, json_object_new_int(1), -EBADMSG);
        check_refused("leader type", "leader_node_id", -1, NULL, json_object_new_object(), -EBADMSG);
        check_refused("empty leader", "leader_node_id", -1, NULL, json_object_new_string(""), -EBADMSG);
        check_refused("marks type", "marks", -1, NULL, json_object_new_string("[]"), -EBADMSG);
        check_refused("seats type", "seats", -1, NULL, json_object_new_object(), -EBADMSG);
        check_refused("mark node id type", "marks", 1, "node_id", json_object_new_int(7), -EBADMSG);
        check_refused("mark node id missing", "marks", 1, "node_id", NULL, -EBADMSG);
        check_refused("mark time type", "marks", 0, "bad_since_mono_usec", json_object_new_boolean(true), -EBADMSG);
        check_refused("inflight kind", "inflight", 2, "kind", json_object_new_string("explode"), -EBADMSG);
        check_refused("inflight kind type", "inflight", 0, "kind", json_object_new_int(0), -EBADMSG);
        check_refused("inflight id type", "inflight", 1, "instance_id", json_object_new_array(), -EBADMSG);
        check_refused("backoff key missing", "backoff", 1, "key", NULL, -EBADMSG);
        check_refused("backoff attempt", "backoff", 0, "attempt", json_object_new_int(65), -EBADMSG);
        check_refused("recovering id type", "recovering", 0, "logical_id", json_object_new_double(1), -EBADMSG);
        check_refused("seat volume type", "seats", 0, "volume_id", json_object_new_int(1), -EBADMSG);
        /* the last list: everything before it is read and must be freed */
        check_refused("seat busy type", "seats", 1, "busy_since_mono_usec", json_object_new_string("x"), -EBADMSG);
        check_refused("token type", "dead_tokens", -1, NULL, json_object_new_int(3), -EBADMSG);

        memset(long_id, 'a', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = 0;
        check_refused("string too long", "marks", 0, "node_id", json_object_new_string(long_id), -EBADMSG);
        check_refused("string with NUL", "marks", 0, "node_id", json_object_new_string_len("a\0b", 3), -EBADMSG);

        /* a list an entry not an object */
        big = json_object_new_array();
        CHECK(json_append(big, json_object_new_string("node-a")) >= 0);
        check_refused("mark not an object", "marks", -1, NULL, big, -EBADMSG);

        /* huge counts: refused on the count, before anything is allocated for them */
        big = json_object_new_array();
        CHECK(big && json_object_array_put_idx(big, RC_HISTORY_JSON_MAX_ENTRIES, json_object_new_object()) == 0);
        CHECK_INT(json_object_array_length(big), RC_HISTORY_JSON_MAX_ENTRIES + 1);
        check_refused("huge marks", "marks", -1, NULL, big, -EBADMSG);
        big = json_object_new_array();
        CHECK(big && json_object_array_put_idx(big, RC_HISTORY_JSON_MAX_ENTRIES, json_object_new_object()) == 0);
        check_refused("huge backoff", "backoff", -1, NULL, big, -EBADMSG);
        tokens = json_object_new_array();
        for (unsigned i = 0; i <= RC_DEAD_TOKENS_MAX; i++) {
                char t[32];
                snprintf(t, sizeof(t), "tok-%u", i);
                CHECK(json_append_string(tokens, t) >= 0);
        }
        check_refused("too many tokens", "dead_tokens", -1, NULL, tokens, -EBADMSG);
}

int main(void) {
        test_round_trip();
        test_empty();
        test_other_boot();
        test_malformed();
        return test_done("rc-history-json");
}
