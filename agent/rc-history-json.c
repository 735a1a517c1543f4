/* SPDX-License-Identifier: MIT */
/*
 * The reconciler's memory as JSON and back (see rc-history-json.h). The reading side
 * takes a file from disk: every member is checked for its type and bounds, and a
 * history half built is freed on the way out.
 */
#include "rc-history-json.h"

#include <systemd/sd-id128.h>
#include <time.h>

#include "json-util.h"
#include "log.h"

/* RcInflightKind's order; the state file's "inflight" says the same words */
static const char *const inflight_kinds[] = {
        [RC_INFLIGHT_LAUNCH] = "launch",
        [RC_INFLIGHT_ATTACH] = "attach",
        [RC_INFLIGHT_FENCE] = "fence",
        [RC_INFLIGHT_CREATE_VOLUME] = "create-volume",
        [RC_INFLIGHT_DRAIN] = "drain",
};

_Static_assert(RC_BOOT_ID_STRING_MAX == SD_ID128_STRING_MAX, "a boot id's string");

int rc_boot_id(char *buf, size_t size) {
        sd_id128_t id;
        int r;

        if (size < RC_BOOT_ID_STRING_MAX)
                return -ENOBUFS;
        r = sd_id128_get_boot(&id);
        if (r < 0)
                return r;
        sd_id128_to_string(id, buf);
        return 0;
}

/* ---- writing --------------------------------------------------------------------------- */

static int add_u64(json_object *o, const char *key, uint64_t v) {
        /* every time here fits: CLOCK_MONOTONIC and wall-clock microseconds */
        return json_add(o, key, json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t) v));
}

/* A new object appended to arr (NULL: out of memory). */
static json_object *append_object(json_object *arr) {
        json_object *o = json_object_new_object();
        return json_append(arr, o) < 0 ? NULL : o;
}

/* A new array added to o as key (NULL: out of memory). */
static json_object *add_array(json_object *o, const char *key) {
        json_object *a = json_object_new_array();
        return json_add(o, key, a) < 0 ? NULL : a;
}

static int marks_to_json(const RcHistory *h, json_object *arr) {
        for (size_t i = 0; i < h->n_marks; i++) {
                const RcNodeMark *m = &h->marks[i];
                json_object *x = append_object(arr);
                if (!x || json_add_string(x, "node_id", m->node_id) < 0 ||
                    add_u64(x, "bad_since_mono_usec", m->bad_since_usec) < 0 ||
                    add_u64(x, "healthy_since_mono_usec", m->healthy_since_usec) < 0 ||
                    add_u64(x, "drained_since_mono_usec", m->drained_since_usec) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int inflight_to_json(const RcHistory *h, json_object *arr) {
        for (size_t i = 0; i < h->n_inflight; i++) {
                const RcInflightEntry *e = &h->inflight[i];
                json_object *x = append_object(arr);
                if ((size_t) e->kind >= ELEMENTSOF(inflight_kinds))
                        return -EINVAL;
                if (!x || json_add_string(x, "kind", inflight_kinds[e->kind]) < 0 ||
                    json_add_string(x, "logical_id", e->logical_id) < 0 ||
                    json_add_string(x, "instance_id", e->instance_id) < 0 ||
                    json_add_string(x, "volume_id", e->volume_id) < 0 ||
                    add_u64(x, "since_mono_usec", e->since_usec) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int backoff_to_json(const RcHistory *h, json_object *arr) {
        for (size_t i = 0; i < h->n_backoff; i++) {
                const RcBackoff *b = &h->backoff[i];
                json_object *x = append_object(arr);
                if (!x || json_add_string(x, "key", b->key) < 0 || add_u64(x, "attempt", b->attempt) < 0 ||
                    add_u64(x, "not_before_mono_usec", b->not_before_usec) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int recovering_to_json(const RcHistory *h, json_object *arr) {
        for (size_t i = 0; i < h->n_recovering; i++) {
                json_object *x = append_object(arr);
                if (!x || json_add_string(x, "logical_id", h->recovering[i].logical_id) < 0 ||
                    add_u64(x, "started_mono_usec", h->recovering[i].started_usec) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int seats_to_json(const RcHistory *h, json_object *arr) {
        for (size_t i = 0; i < h->n_seats; i++) {
                const RcSeatMemory *s = &h->seats[i];
                json_object *x = append_object(arr);
                if (!x || json_add_string(x, "logical_id", s->logical_id) < 0 ||
                    add_u64(x, "busy_since_mono_usec", s->busy_since_usec) < 0 ||
                    json_add_string(x, "volume_id", s->volume_id) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int rc_history_to_json(const RcHistory *h, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        char boot[RC_BOOT_ID_STRING_MAX];
        json_object *a;
        int r;

        r = rc_boot_id(boot, sizeof(boot));
        if (r < 0)
                return r;
        if (!o || add_u64(o, "version", RC_HISTORY_JSON_VERSION) < 0 || json_add_string(o, "boot_id", boot) < 0 ||
            add_u64(o, "written_mono_usec", now_usec(CLOCK_MONOTONIC)) < 0 ||
            add_u64(o, "nodes_observed_mono_usec", h->nodes_observed_usec) < 0 ||
            json_add_string(o, "leader_node_id", h->leader_node_id) < 0 ||
            add_u64(o, "no_leader_since_mono_usec", h->no_leader_since_usec) < 0 ||
            add_u64(o, "ec2_observed_mono_usec", h->ec2_observed_usec) < 0 ||
            json_add_bool(o, "unmarked_volumes", h->unmarked_volumes) < 0 ||
            add_u64(o, "tokens_rotated_realtime_usec", h->tokens_rotated_usec) < 0 ||
            add_u64(o, "tokens_rotated_swarm_usec", h->tokens_rotated_swarm_usec) < 0 ||
            add_u64(o, "tokens_rotated_launch_usec", h->tokens_rotated_launch_usec) < 0)
                return -ENOMEM;
        if (!(a = add_array(o, "marks")) || (r = marks_to_json(h, a)) < 0)
                return a ? r : -ENOMEM;
        if (!(a = add_array(o, "inflight")) || (r = inflight_to_json(h, a)) < 0)
                return a ? r : -ENOMEM;
        if (!(a = add_array(o, "backoff")) || (r = backoff_to_json(h, a)) < 0)
                return a ? r : -ENOMEM;
        if (!(a = add_array(o, "recovering")) || (r = recovering_to_json(h, a)) < 0)
                return a ? r : -ENOMEM;
        if (!(a = add_array(o, "seats")) || (r = seats_to_json(h, a)) < 0)
                return a ? r : -ENOMEM;
        if (!(a = add_array(o, "dead_tokens")))
                return -ENOMEM;
        STRV_FOREACH(t, h->dead_tokens)
                if (json_append_string(a, *t) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

/* ---- reading --------------------------------------------------------------------------- */

static int bad(const char *key, const char *what) {
        log_debug("Reconciler memory: \"%s\" %s.", key, what);
        return -EBADMSG;
}

/* o's member key; NULL when absent or JSON null */
static json_object *member(json_object *o, const char *key) {
        json_object *v = NULL;
        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static int get_u64(json_object *o, const char *key, uint64_t max, uint64_t *ret) {
        json_object *v = member(o, key);
        int64_t x;

        if (!v) {
                *ret = 0;
                return 0;
        }
        if (!json_object_is_type(v, json_type_int))
                return bad(key, "is not an integer");
        x = json_object_get_int64(v);
        if (x < 0 || (uint64_t) x > max)
                return bad(key, "is out of range");
        *ret = (uint64_t) x;
        return 0;
}

static int get_bool(json_object *o, const char *key, bool *ret) {
        json_object *v = member(o, key);

        if (v && !json_object_is_type(v, json_type_boolean))
                return bad(key, "is not a boolean");
        *ret = v && json_object_get_boolean(v);
        return 0;
}

/* v, a string of 1 to RC_HISTORY_JSON_MAX_STRING bytes without NUL, copied into *ret */
static int copy_string(json_object *v, const char *key, char **ret) {
        size_t len;

        if (!json_object_is_type(v, json_type_string))
                return bad(key, "is not a string");
        len = (size_t) json_object_get_string_len(v);
        if (len == 0 || len > RC_HISTORY_JSON_MAX_STRING || strlen(json_object_get_string(v)) != len)
                return bad(key, "is empty, too long or has a NUL");
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

/* The string member key (NULL when absent and !required) into *ret, which must be NULL. */
static int get_string(json_object *o, const char *key, bool required, char **ret) {
        json_object *v = member(o, key);

        if (!v)
                return required ? bad(key, "is missing") : 0;
        return copy_string(v, key, ret);
}

/* The array member key (absent: none) and its length, at most max. */
static int get_array(json_object *o, const char *key, size_t max, json_object **ret, size_t *ret_n) {
        json_object *v = member(o, key);

        *ret = v;
        *ret_n = 0;
        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_array))
                return bad(key, "is not an array");
        *ret_n = json_object_array_length(v);
        if (*ret_n > max)
                return bad(key, "has too many entries");
        return 0;
}

/* Element i of arr, an object. */
static int get_entry(json_object *arr, const char *key, size_t i, json_object **ret) {
        *ret = json_object_array_get_idx(arr, i);
        return json_object_is_type(*ret, json_type_object) ? 0 : bad(key, "has an entry that is not an object");
}

#define TIME_MAX ((uint64_t) INT64_MAX)

/* Each list below: allocated for n, its count raised before an entry is filled, so
 * rc_history_done() frees whatever a failure leaves half read. */

static int marks_from_json(json_object *o, RcHistory *h) {
        json_object *arr, *x;
        size_t n;
        int r;

        if ((r = get_array(o, "marks", RC_HISTORY_JSON_MAX_ENTRIES, &arr, &n)) < 0 || n == 0)
                return r;
        if (!(h->marks = calloc(n, sizeof(RcNodeMark))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                RcNodeMark *m = &h->marks[h->n_marks++];
                if ((r = get_entry(arr, "marks", i, &x)) < 0 || (r = get_string(x, "node_id", true, &m->node_id)) < 0 ||
                    (r = get_u64(x, "bad_since_mono_usec", TIME_MAX, &m->bad_since_usec)) < 0 ||
                    (r = get_u64(x, "healthy_since_mono_usec", TIME_MAX, &m->healthy_since_usec)) < 0 ||
                    (r = get_u64(x, "drained_since_mono_usec", TIME_MAX, &m->drained_since_usec)) < 0)
                        return r;
        }
        return 0;
}

static int inflight_kind_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(inflight_kinds); i++)
                if (streq(inflight_kinds[i], s))
                        return (int) i;
        return -EBADMSG;
}

static int inflight_from_json(json_object *o, RcHistory *h) {
        json_object *arr, *x;
        size_t n;
        int r;

        if ((r = get_array(o, "inflight", RC_HISTORY_JSON_MAX_ENTRIES, &arr, &n)) < 0 || n == 0)
                return r;
        if (!(h->inflight = calloc(n, sizeof(RcInflightEntry))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                RcInflightEntry *e = &h->inflight[h->n_inflight++];
                int kind;

                if ((r = get_entry(arr, "inflight", i, &x)) < 0)
                        return r;
                kind = inflight_kind_from_string(jstr(member(x, "kind")));
                if (kind < 0)
                        return bad("inflight", "has an unknown kind");
                e->kind = (RcInflightKind) kind;
                if ((r = get_string(x, "logical_id", false, &e->logical_id)) < 0 ||
                    (r = get_string(x, "instance_id", false, &e->instance_id)) < 0 ||
                    (r = get_string(x, "volume_id", false, &e->volume_id)) < 0 ||
                    (r = get_u64(x, "since_mono_usec", TIME_MAX, &e->since_usec)) < 0)
                        return r;
        }
        return 0;
}

static int backoff_from_json(json_object *o, RcHistory *h) {
        json_object *arr, *x;
        size_t n;
        int r;

        if ((r = get_array(o, "backoff", RC_HISTORY_JSON_MAX_ENTRIES, &arr, &n)) < 0 || n == 0)
                return r;
        if (!(h->backoff = calloc(n, sizeof(RcBackoff))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                RcBackoff *b = &h->backoff[h->n_backoff++];
                uint64_t attempt;

                if ((r = get_entry(arr, "backoff", i, &x)) < 0 || (r = get_string(x, "key", true, &b->key)) < 0 ||
                    (r = get_u64(x, "attempt", 64, &attempt)) < 0 ||
                    (r = get_u64(x, "not_before_mono_usec", TIME_MAX, &b->not_before_usec)) < 0)
                        return r;
                b->attempt = (unsigned) attempt;
        }
        return 0;
}

static int recovering_from_json(json_object *o, RcHistory *h) {
        json_object *arr, *x;
        size_t n;
        int r;

        if ((r = get_array(o, "recovering", RC_HISTORY_JSON_MAX_ENTRIES, &arr, &n)) < 0 || n == 0)
                return r;
        if (!(h->recovering = calloc(n, sizeof(RcRecovery))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                RcRecovery *e = &h->recovering[h->n_recovering++];
                if ((r = get_entry(arr, "recovering", i, &x)) < 0 ||
                    (r = get_string(x, "logical_id", true, &e->logical_id)) < 0 ||
                    (r = get_u64(x, "started_mono_usec", TIME_MAX, &e->started_usec)) < 0)
                        return r;
        }
        return 0;
}

static int seats_from_json(json_object *o, RcHistory *h) {
        json_object *arr, *x;
        size_t n;
        int r;

        if ((r = get_array(o, "seats", RC_HISTORY_JSON_MAX_ENTRIES, &arr, &n)) < 0 || n == 0)
                return r;
        if (!(h->seats = calloc(n, sizeof(RcSeatMemory))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                RcSeatMemory *s = &h->seats[h->n_seats++];
                if ((r = get_entry(arr, "seats", i, &x)) < 0 ||
                    (r = get_string(x, "logical_id", true, &s->logical_id)) < 0 ||
                    (r = get_u64(x, "busy_since_mono_usec", TIME_MAX, &s->busy_since_usec)) < 0 ||
                    (r = get_string(x, "volume_id", false, &s->volume_id)) < 0)
                        return r;
        }
        return 0;
}

static int dead_tokens_from_json(json_object *o, RcHistory *h) {
        json_object *arr;
        size_t n;
        int r;

        if ((r = get_array(o, "dead_tokens", RC_DEAD_TOKENS_MAX, &arr, &n)) < 0 || n == 0)
                return r;
        if (!(h->dead_tokens = calloc(n + 1, sizeof(char *))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if ((r = copy_string(json_object_array_get_idx(arr, i), "dead_tokens", &h->dead_tokens[i])) < 0)
                        return r;
        return 0;
}

int rc_history_from_json(json_object *o, RcHistory *ret) {
        _cleanup_(rc_history_done) RcHistory h = {};
        char boot[RC_BOOT_ID_STRING_MAX];
        const char *theirs;
        uint64_t version;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return bad("memory", "is not an object");
        r = get_u64(o, "version", UINT32_MAX, &version);
        if (r < 0)
                return r;
        if (version != RC_HISTORY_JSON_VERSION)
                return -EPROTONOSUPPORT;
        theirs = jstr(member(o, "boot_id"));
        if (!theirs)
                return bad("boot_id", "is missing or not a string");
        r = rc_boot_id(boot, sizeof(boot));
        if (r < 0)
                return r;
        /* the monotonic clock starts again at every boot: another boot's times mean nothing */
        if (!streq(theirs, boot))
                return -ESTALE;

        if ((r = get_u64(o, "nodes_observed_mono_usec", TIME_MAX, &h.nodes_observed_usec)) < 0 ||
            (r = get_string(o, "leader_node_id", false, &h.leader_node_id)) < 0 ||
            (r = get_u64(o, "no_leader_since_mono_usec", TIME_MAX, &h.no_leader_since_usec)) < 0 ||
            (r = get_u64(o, "ec2_observed_mono_usec", TIME_MAX, &h.ec2_observed_usec)) < 0 ||
            (r = get_bool(o, "unmarked_volumes", &h.unmarked_volumes)) < 0 ||
            (r = get_u64(o, "tokens_rotated_realtime_usec", TIME_MAX, &h.tokens_rotated_usec)) < 0 ||
            (r = get_u64(o, "tokens_rotated_swarm_usec", TIME_MAX, &h.tokens_rotated_swarm_usec)) < 0 ||
            (r = get_u64(o, "tokens_rotated_launch_usec", TIME_MAX, &h.tokens_rotated_launch_usec)) < 0)
                return r;
        if ((r = marks_from_json(o, &h)) < 0 || (r = inflight_from_json(o, &h)) < 0 ||
            (r = backoff_from_json(o, &h)) < 0 || (r = recovering_from_json(o, &h)) < 0 ||
            (r = seats_from_json(o, &h)) < 0 || (r = dead_tokens_from_json(o, &h)) < 0)
                return r;
        *ret = h;
        h = (RcHistory){};
        return 0;
}
