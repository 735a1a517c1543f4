/* SPDX-License-Identifier: MIT */
/*
 * `plan` and the desired-against-actual overview of `status` (see overview.h). I/O,
 * synchronous, on the main thread of those commands.
 */
#include "overview.h"

#include <inttypes.h>
#include <time.h>

#include "act.h"
#include "json-util.h"
#include "log.h"
#include "pass.h"
#include "rc-history-json.h"
#include "status.h"

/* The instance that speaks for logical id: a live one first, else the newest. */
static const Ec2Instance *overview_instance(const RcWorld *w, const char *lid) {
        const Ec2Instance *best = NULL;

        for (size_t i = 0; w->instances_ok && i < w->instances.n; i++) {
                const Ec2Instance *e = &w->instances.items[i];
                bool live = e->state != EC2_INSTANCE_TERMINATED;
                if (!streq_ptr(ec2_tags_get(e->tags, EC2_TAG_LOGICAL_ID), lid))
                        continue;
                if (!best || (live && best->state == EC2_INSTANCE_TERMINATED) ||
                    (live == (best->state != EC2_INSTANCE_TERMINATED) && e->launch_time_usec > best->launch_time_usec))
                        best = e;
        }
        return best;
}

static const Ec2Volume *overview_volume(const RcWorld *w, const char *lid) {
        for (size_t i = 0; w->volumes_ok && i < w->volumes.n; i++)
                if (streq_ptr(ec2_tags_get(w->volumes.items[i].tags, EC2_TAG_LOGICAL_ID), lid))
                        return &w->volumes.items[i];
        return NULL;
}

static const DockerNode *overview_node(const RcWorld *w, const char *lid) {
        const DockerNode *best = NULL;
        for (size_t i = 0; w->nodes_ok && i < w->n_nodes; i++)
                if (streq_ptr(w->nodes[i].logical_id, lid) && (!best || streq_ptr(w->nodes[i].state, "ready")))
                        best = &w->nodes[i];
        return best;
}

static void overview_workers(const RcWorld *w, unsigned *ret_instances, unsigned *ret_nodes) {
        unsigned ni = 0, nn = 0;
        for (size_t i = 0; w->instances_ok && i < w->instances.n; i++) {
                const Ec2Instance *e = &w->instances.items[i];
                if (streq_ptr(ec2_tags_get(e->tags, EC2_TAG_ROLE), "worker") &&
                    (e->state == EC2_INSTANCE_PENDING || e->state == EC2_INSTANCE_RUNNING))
                        ni++;
        }
        for (size_t i = 0; w->nodes_ok && i < w->n_nodes; i++)
                if (!streq_ptr(w->nodes[i].role, "manager") && streq_ptr(w->nodes[i].state, "ready"))
                        nn++;
        *ret_instances = ni;
        *ret_nodes = nn;
}

/* Every string the tables print comes from outside (EC2, the engine, the state file, the
 * pass's error built from their answers): only through status_cell(), as `status` prints
 * its own table, so no escape sequence or control character reaches the terminal. */
#define CELL(buf, s) status_cell((buf), sizeof(buf), (s))

#define JSTR(s) ((s) ? json_object_new_string(s) : NULL)

/* Desired against actual, one row per logical id, and the worker count. */
static int overview_print(const Pass *p, json_object *root) {
        const RcWorld *w = &p->world;
        unsigned wi, wn;

        overview_workers(w, &wi, &wn);
        if (root) {
                json_object *arr = json_object_new_array(), *wo = json_object_new_object();
                if (!arr || !wo) {
                        json_object_put(arr);
                        json_object_put(wo);
                        return -ENOMEM;
                }
                STRV_FOREACH(m, p->settings->managers) {
                        const Ec2Instance *i = overview_instance(w, *m);
                        const Ec2Volume *v = overview_volume(w, *m);
                        const DockerNode *n = overview_node(w, *m);
                        json_object *o = json_object_new_object();
                        if (!o) {
                                json_object_put(arr);
                                json_object_put(wo);
                                return -ENOMEM;
                        }
                        json_object_object_add(o, "logical_id", json_object_new_string(*m));
                        json_object_object_add(o, "instance_id", JSTR(i ? i->instance_id : NULL));
                        json_object_object_add(o, "instance_state", JSTR(i ? ec2_instance_state_to_string(i->state) : NULL));
                        json_object_object_add(o, "volume_id", JSTR(v ? v->volume_id : NULL));
                        json_object_object_add(o, "volume_state", JSTR(v ? ec2_volume_state_to_string(v->state) : NULL));
                        json_object_object_add(o, "node_id", JSTR(n ? n->id : NULL));
                        json_object_object_add(o, "node_state", JSTR(n ? n->state : NULL));
                        json_object_object_add(o, "manager_status", JSTR(n ? n->reachability : NULL));
                        json_object_object_add(o, "leader", json_object_new_boolean(n && n->leader));
                        json_object_array_add(arr, o);
                }
                json_object_object_add(root, "managers", arr);
                json_object_object_add(wo, "desired", json_object_new_int((int) p->settings->workers));
                json_object_object_add(wo, "instances", json_object_new_int((int) wi));
                json_object_object_add(wo, "ready_nodes", json_object_new_int((int) wn));
                json_object_object_add(root, "workers", wo);
                json_object_object_add(root, "instances_ok", json_object_new_boolean(w->instances_ok));
                json_object_object_add(root, "volumes_ok", json_object_new_boolean(w->volumes_ok));
                json_object_object_add(root, "subnets_ok", json_object_new_boolean(w->subnets_ok));
                json_object_object_add(root, "nodes_ok", json_object_new_boolean(w->nodes_ok));
                return 0;
        }

        printf("%-16s %-20s %-14s %-22s %-10s %-26s %-8s %-12s %s\n", "LOGICAL-ID", "INSTANCE", "STATE", "VOLUME",
               "VOL-STATE", "NODE-ID", "NODE", "MANAGER", "LEADER");
        STRV_FOREACH(m, p->settings->managers) {
                const Ec2Instance *i = overview_instance(w, *m);
                const Ec2Volume *v = overview_volume(w, *m);
                const DockerNode *n = overview_node(w, *m);
                char b[8][128];
                printf("%-16s %-20s %-14s %-22s %-10s %-26s %-8s %-12s %s\n", CELL(b[0], *m),
                       CELL(b[1], i ? i->instance_id : NULL),
                       !w->instances_ok ? "?" : CELL(b[2], i ? ec2_instance_state_to_string(i->state) : NULL),
                       CELL(b[3], v ? v->volume_id : NULL),
                       !w->volumes_ok ? "?" : CELL(b[4], v ? ec2_volume_state_to_string(v->state) : NULL),
                       CELL(b[5], n ? n->id : NULL), !w->nodes_ok ? "?" : CELL(b[6], n ? n->state : NULL),
                       CELL(b[7], n ? n->reachability : NULL), n && n->leader ? "yes" : "-");
        }
        printf("\nWorkers: %u desired, %u instances running or pending, %u nodes ready.\n", p->settings->workers, wi, wn);
        if (!w->instances_ok || !w->volumes_ok || !w->subnets_ok || !w->nodes_ok)
                printf("Incomplete observation:%s%s%s%s (never read as \"missing\").\n",
                       w->instances_ok ? "" : " instances", w->volumes_ok ? "" : " volumes",
                       w->subnets_ok ? "" : " subnets", w->nodes_ok ? "" : " nodes");
        return 0;
}

static json_object *action_json(const RcAction *a) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "kind", json_object_new_string(rc_action_kind_to_string(a->kind)));
        json_object_object_add(o, "logical_id", JSTR(a->logical_id));
        json_object_object_add(o, "instance_id", JSTR(a->instance_id));
        json_object_object_add(o, "volume_id", JSTR(a->volume_id));
        json_object_object_add(o, "node_id", JSTR(a->node_id));
        json_object_object_add(o, "subnet_id", JSTR(a->subnet_id));
        json_object_object_add(o, "availability_zone", JSTR(a->availability_zone));
        json_object_object_add(o, "private_ip", JSTR(a->private_ip));
        json_object_object_add(o, "replaces", JSTR(a->replaces));
        json_object_object_add(o, "join_fresh", json_object_new_boolean(a->join_fresh));
        json_object_object_add(o, "destructive", json_object_new_boolean(a->destructive));
        json_object_object_add(o, "reason", json_object_new_string(a->reason));
        if (a->kind == RC_ACTION_WAIT) {
                json_object_object_add(o, "wait", JSTR(rc_wait_code_to_string(a->wait)));
                if (rc_action_held(a))
                        json_object_object_add(o, "waits_for", JSTR(rc_action_kind_to_string(a->waits_for)));
        }
        if (a->generation[0])
                json_object_object_add(o, "generation", JSTR(a->generation));
        return o;
}

static int read_state_file(json_object **ret);

/* What this host's reconciler remembers, from its state file (read_state_file()'s answer
 * state, or its error state_r), into *ret: true. Else false and why (ret empty): the
 * pass then plans as the daemon's first pass would. A memory is taken only from this
 * boot, and only while the daemon keeps writing it: RuntimeDirectoryPreserve= keeps the
 * file of a stopped daemon, whose restart would start from nothing. */
static bool overview_memory(const Config *c, json_object *state, int state_r, RcHistory *ret, char *why,
                            size_t why_size) {
        json_object *m = state ? JPATH(state, "memory") : NULL, *w = m ? JPATH(m, "written_mono_usec") : NULL;
        uint64_t now = now_usec(CLOCK_MONOTONIC), written, max_age;
        int r;

        *ret = (RcHistory){};
        if (state_r == -ENOENT)
                return snprintf(why, why_size, "no state file (it runs no reconciler or has made no pass yet)"), false;
        if (state_r < 0)
                return snprintf(why, why_size, "cannot read its state file: %s", strerror(-state_r)), false;
        if (!m)
                return snprintf(why, why_size, "its state file holds none (an older agent wrote it)"), false;
        r = rc_history_from_json(m, ret);
        if (r == -ESTALE)
                return snprintf(why, why_size, "its state file is from another boot"), false;
        if (r == -EBADMSG || r == -EPROTONOSUPPORT)
                return snprintf(why, why_size, "its state file's memory is malformed or of another version"), false;
        if (r < 0)
                return snprintf(why, why_size, "cannot read its state file's memory: %s", strerror(-r)), false;
        /* a pass writes it every Reconcile.IntervalSec, one may run up to its deadline */
        written = json_object_is_type(w, json_type_int) && json_object_get_int64(w) > 0
                          ? (uint64_t) json_object_get_int64(w) : 0;
        max_age = 2 * (uint64_t) c->interval_sec * USEC_PER_SEC + RC_PASS_DEADLINE_USEC;
        if (written > now || now - written > max_age) {
                rc_history_done(ret);
                return snprintf(why, why_size, "its state file was last written %" PRIu64 " s ago (not running?)",
                                (uint64_t) (written > now ? 0 : (now - written) / USEC_PER_SEC)), false;
        }
        return true;
}

/* A plan-only pass with the settings made from c, once: the command's one pass, starting
 * from this host's reconciler's memory h (NULL: none). */
static int overview_pass(const Config *c, const RcHistory *h, Pass **ret) {
        _cleanup_(rc_settings_unrefp) RcSettings *s = NULL;
        _cleanup_(pass_freep) Pass *p = NULL;
        int r;

        r = rc_settings_new(c, &s);
        if (r < 0)
                return r;
        r = pass_new(s, h, &p);
        if (r < 0)
                return r;
        p->plan_only = true;
        *ret = TAKE_PTR(p);
        return 0;
}

static int pass_observe_only(const Config *c, Pass **ret, bool *ret_memory, char *why, size_t why_size) {
        _cleanup_(pass_freep) Pass *p = NULL;
        _cleanup_(json_object_putp) json_object *state = NULL;
        _cleanup_(rc_history_done) RcHistory h = {};
        int r;

        r = read_state_file(&state);
        *ret_memory = overview_memory(c, state, r, &h, why, why_size);
        r = overview_pass(c, *ret_memory ? &h : NULL, &p);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        r = pass_plan(p); /* observe and plan: never the executor's acting part */
        if (r < 0 && !p->engine_manager)
                return log_error("Cannot observe the swarm: %s", p->error[0] ? p->error : strerror(-r)), -ENOTCONN;
        if (r < 0 && !p->planned)
                return log_error("Cannot plan: %s", p->error[0] ? p->error : strerror(-r)), r;
        *ret = TAKE_PTR(p);
        return 0;
}

int verb_plan(Config *c, const ConfigArgs *args, bool json) {
        _cleanup_(pass_freep) Pass *p = NULL;
        char why[256] = "";
        bool memory;
        int r;

        (void) args;
        r = pass_observe_only(c, &p, &memory, why, sizeof(why));
        if (r == -ENOTCONN)
                return SK_EXIT_ENGINE;
        if (r < 0)
                return SK_EXIT_AWS;

        if (json) {
                _cleanup_(json_object_putp) json_object *root = json_object_new_object();
                json_object *arr = json_object_new_array();
                if (!root || !arr) {
                        json_object_put(arr);
                        return log_error_errno(-ENOMEM, "Out of memory."), SK_EXIT_FAILURE;
                }
                json_object_object_add(root, "leader", json_object_new_boolean(p->world.leader));
                json_object_object_add(root, "quorum", json_object_new_boolean(p->world.quorum));
                json_object_object_add(root, "quorum_loss_mode", json_object_new_boolean(p->plan.quorum_loss_mode));
                json_object_object_add(root, "dry_run", json_object_new_boolean(p->settings->dry_run));
                json_object_object_add(root, "memory", json_object_new_boolean(memory));
                if (!memory)
                        json_object_object_add(root, "memory_missing", json_object_new_string(why));
                if (overview_print(p, root) < 0)
                        return log_error_errno(-ENOMEM, "Out of memory."), SK_EXIT_FAILURE;
                json_object_object_add(root, "actions", arr);
                for (size_t i = 0; i < p->plan.n; i++)
                        json_object_array_add(arr, action_json(&p->plan.actions[i]));
                puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
        } else {
                (void) overview_print(p, NULL);
                printf("\nThis node is %s%s.\n", p->world.leader ? "the leader" : "not the leader",
                       p->world.quorum ? ", a majority of managers is reachable" : ", no majority of managers reachable");
                if (!p->world.leader && !p->quorum_loss_mode)
                        printf("Only the leader acts (or a manager after Reconcile.QuorumLossGraceSec without any "
                               "leader); the plan below is what the planner says for this node.\n");
                if (!memory)
                        printf("No memory of this host's reconciler: %s; planned as its first pass would.\n", why);
                printf("\nPlan (%zu action%s):\n", p->plan.n, p->plan.n == 1 ? "" : "s");
                for (size_t i = 0; i < p->plan.n; i++) {
                        char line[512], safe[512];
                        /* ids, subnets, AZs: EC2's and the engine's words */
                        rc_action_describe(&p->plan.actions[i], line, sizeof(line));
                        printf("  %zu. %s\n", i + 1, CELL(safe, line));
                }
                if (p->plan.n == 0)
                        printf("  nothing to do.\n");
        }
        return fflush(stdout) == 0 ? SK_EXIT_OK : SK_EXIT_FAILURE;
}

static int read_state_file(json_object **ret) {
        const char *rt = getenv("RUNTIME_DIRECTORY");
        _cleanup_(freep) char *path = NULL, *text = NULL;
        size_t size;
        int r;

        if (!isempty(rt)) {
                if (asprintf(&path, "%.*s/state.json", (int) strcspn(rt, ":"), rt) < 0)
                        return -ENOMEM;
        } else if (!(path = strdup(RC_STATE_FILE_DEFAULT)))
                return -ENOMEM;
        r = read_full_file(path, &text, &size);
        if (r < 0)
                return r;
        *ret = json_tokener_parse(text);
        return *ret ? 0 : -EBADMSG;
}

int reconciler_status_overview(const Config *c, json_object *root) {
        _cleanup_(pass_freep) Pass *p = NULL;
        _cleanup_(json_object_putp) json_object *state = NULL;
        uint64_t now = now_usec(CLOCK_REALTIME);
        char b[5][sizeof(p->error)], why[256] = "";
        bool memory;
        int r;

        if (!config_launch_configured(c, ROLE_MANAGER))
                return 0;
        {
                _cleanup_(rc_history_done) RcHistory h = {};
                r = read_state_file(&state);
                memory = overview_memory(c, state, r, &h, why, sizeof(why));
                r = overview_pass(c, memory ? &h : NULL, &p);
        }
        if (r < 0)
                return r;
        r = pass_plan(p); /* observe and plan: never the executor's acting part */

        if (root) {
                json_object *d = json_object_new_object();
                if (!d)
                        return -ENOMEM;
                json_object_object_add(root, "desired", d);
                if (r < 0 && !p->planned)
                        json_object_object_add(d, "error", json_object_new_string(p->error[0] ? p->error : strerror(-r)));
                else if (overview_print(p, d) < 0)
                        return -ENOMEM;
                json_object_object_add(d, "memory", json_object_new_boolean(memory));
                if (!memory)
                        json_object_object_add(d, "memory_missing", json_object_new_string(why));
                json_object_object_add(root, "reconciler", TAKE_PTR(state));
                return 0;
        }

        printf("\nDesired against actual (cluster %s):\n", CELL(b[0], c->cluster_name));
        if (r < 0 && !p->planned)
                printf("  cannot observe: %s\n", CELL(b[0], p->error[0] ? p->error : strerror(-r)));
        else
                (void) overview_print(p, NULL);
        if (!memory)
                printf("No memory of this host's reconciler: %s; planned as its first pass would.\n", why);
        if (state) {
                json_object *v, *arr;
                int64_t t = json_object_object_get_ex(state, "time_usec", &v) ? json_object_get_int64(v) : 0;
                printf("\nThis host's reconciler (last pass %" PRId64 " s ago): %s\n",
                       t > 0 && (uint64_t) t <= now ? (int64_t) ((now - (uint64_t) t) / USEC_PER_SEC) : -1,
                       json_object_object_get_ex(state, "status", &v) && json_object_get_string(v)
                               ? CELL(b[0], json_object_get_string(v)) : "idle");
                if (json_object_object_get_ex(state, "inflight", &arr) && json_object_array_length(arr) > 0) {
                        printf("In flight:\n");
                        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                                json_object *e = json_object_array_get_idx(arr, i), *k, *l, *in, *vo, *since;
                                (void) json_object_object_get_ex(e, "kind", &k);
                                (void) json_object_object_get_ex(e, "logical_id", &l);
                                (void) json_object_object_get_ex(e, "instance_id", &in);
                                (void) json_object_object_get_ex(e, "volume_id", &vo);
                                (void) json_object_object_get_ex(e, "since_usec", &since);
                                int64_t s0 = since ? json_object_get_int64(since) : 0;
                                printf("  %-14s %-16s %-20s %-22s %" PRId64 " s\n", CELL(b[1], json_object_get_string(k)),
                                       CELL(b[2], l ? json_object_get_string(l) : NULL),
                                       CELL(b[3], in ? json_object_get_string(in) : NULL),
                                       CELL(b[4], vo ? json_object_get_string(vo) : NULL),
                                       s0 > 0 && (uint64_t) s0 <= now ? (int64_t) ((now - (uint64_t) s0) / USEC_PER_SEC) : 0);
                        }
                } else
                        printf("Nothing in flight.\n");
        }
        return 0;
}
