/* SPDX-License-Identifier: MIT */
/*
 * The reconcile executor's actions (agent/act.c, pass_act()) against the fake EC2 on
 * 127.0.0.1 and, where an action needs the engine, a canned engine on a unix socket:
 * one row per EC2 answer (success, InUse, IncorrectState, VolumeInUse, throttling, a
 * 5xx after the action was carried out, IdempotentInstanceTerminated, NotFound, ...)
 * with the return of pass_act() and what the pass's memory (RcHistory: in flight,
 * backoff, dead ClientTokens, recoveries) holds afterwards. The Pass is made as the
 * loop makes it (rc_settings_new() from a Config, pass_new(), pass_ec2()), with static
 * keys and the EC2 client's retry sleeps recorded, not slept; the fake's lifecycle
 * delays are long, so nothing a row seeded changes state by itself during the row.
 * pass_act() carries out what it is given (whether to act is the planner's: backoff and a
 * missing launch path are its WAITs) and returns done, not yet (RC_ACT_NOT_YET: EC2 said
 * so, the memory holds what it said) or a failure, which backs the action's key off
 * (rc_action_backoff_key()). Rows marked NOTE are behaviour worth a second look (see the
 * comments).
 */
#include "aws-test-lib.h"
#include "canned-engine.h"

#include "json-util.h"
#include "pass.h"

#define CLUSTER "act"
#define SEAT "10.0.1.11"
#define AZ "us-east-1a"
#define SUBNET "subnet-aaaaaaaa"
#define UNKNOWN_INSTANCE "i-0123456789abcdef0"

static Sleeps sleeps;

/* What a row's setup seeded, and the buffers its RcAction points into. */
typedef struct Ids {
        char *instance, *volume, *other;
        char reason[64];
} Ids;

static void ids_done(Ids *ids) {
        free(ids->instance);
        free(ids->volume);
        free(ids->other);
        *ids = (Ids){};
}

typedef enum Engine {
        ENGINE_NONE,
        ENGINE_OK,       /* ping, GET /swarm, POST /swarm/update, node abc123 inspect and update */
        ENGINE_NO_SWARM, /* ping; GET /swarm: 503 not a swarm manager */
} Engine;

#define NO_INFLIGHT (-1)

/* what the row's pass_act() logged at LOG_ERR and above, for its check */
static char *act_log;

typedef struct Row {
        const char *name;
        Engine engine;
        /* seeds the fake, fills the action as the planner would, may set the history the
         * pass starts from */
        void (*setup)(Ids *ids, RcAction *a, RcHistory *h);
        const char *fault; /* POST /_fake/faults body after the setup (NULL: none) */
        int ret;           /* of pass_act() */
        /* the memory afterwards */
        int inflight;      /* the one in-flight entry's RcInflightKind, or NO_INFLIGHT */
        bool backoff;      /* the action's backoff key armed (not ready now) */
        bool dead_token;   /* a->client_token recorded as dead */
        bool recovering;   /* a recovery of a->logical_id started */
        /* the fake's side, and anything particular (may be NULL) */
        void (*check)(const Ids *ids, const RcAction *a, Pass *p);
} Row;

/* ------------------------------------------------------------ actions as the planner sets them */

static void launch_manager(Ids *ids, RcAction *a) {
        ids->volume = seed_volume(AZ, "\"tags\": {\"swarmkeeper:cluster\": \"" CLUSTER "\", "
                                      "\"swarmkeeper:logical-id\": \"" SEAT "\", \"swarmkeeper:has-state\": \"yes\"}");
        CHECK(ids->volume != NULL);
        *a = (RcAction){
                .kind = RC_ACTION_LAUNCH_MANAGER,
                .logical_id = SEAT,
                .private_ip = SEAT,
                .subnet_id = SUBNET,
                .volume_id = ids->volume,
                .replaces = "i-00000000000000001",
                .join_fresh = false,
                .destructive = true,
                .holds_slot = true,
                .seat_pending = true,
                .volume_generation = 3,
        };
        snprintf(a->slot, sizeof(a->slot), "%s", SEAT);
        CHECK_INT(rc_seat_token(CLUSTER, SEAT, ids->volume, 3, a->client_token, sizeof(a->client_token)), 0);
}

static void launch_worker(Ids *ids, RcAction *a) {
        (void) ids;
        *a = (RcAction){ .kind = RC_ACTION_LAUNCH_WORKER, .subnet_id = SUBNET, .join_fresh = true, .destructive = true };
        snprintf(a->slot, sizeof(a->slot), "worker-0");
        snprintf(a->generation, sizeof(a->generation), "gen-0123abcd");
        a->replaces = a->generation;
        CHECK_INT(rc_client_token(CLUSTER, a->slot, a->replaces, a->client_token, sizeof(a->client_token)), 0);
}

static char *seed_running(const char *ip, const char *state) {
        char extra[160];
        snprintf(extra, sizeof(extra), "\"state\": \"%s\", \"tags\": {\"swarmkeeper:cluster\": \"" CLUSTER "\"}", state);
        return seed_instance(ip, AZ, extra);
}

static void attach(Ids *ids, RcAction *a, const char *instance_state, const char *volume_extra) {
        ids->instance = seed_running("10.0.1.21", instance_state);
        if (!ids->volume)
                ids->volume = seed_volume(AZ, volume_extra);
        CHECK(ids->instance && ids->volume);
        *a = (RcAction){ .kind = RC_ACTION_ATTACH_VOLUME, .logical_id = SEAT, .instance_id = ids->instance,
                         .volume_id = ids->volume, .destructive = true };
}

static void terminate(Ids *ids, RcAction *a, RcActionKind kind, const char *state) {
        ids->instance = seed_running("10.0.1.31", state);
        CHECK(ids->instance != NULL);
        *a = (RcAction){ .kind = kind, .logical_id = kind == RC_ACTION_FENCE ? SEAT : NULL,
                         .instance_id = ids->instance, .destructive = true };
        snprintf(a->reason, sizeof(a->reason), "Down and Unreachable for 95 s");
}

static void create_volume(Ids *ids, RcAction *a) {
        (void) ids;
        *a = (RcAction){ .kind = RC_ACTION_CREATE_VOLUME, .logical_id = SEAT, .availability_zone = AZ,
                         .replaces = "volume", .destructive = true };
        CHECK_INT(rc_client_token(CLUSTER, SEAT, "volume", a->client_token, sizeof(a->client_token)), 0);
}

static void tag_volume(Ids *ids, RcAction *a, RcActionKind kind, const char *volume_extra) {
        ids->volume = seed_volume(AZ, volume_extra);
        CHECK(ids->volume != NULL);
        *a = (RcAction){ .kind = kind, .logical_id = SEAT, .volume_id = ids->volume, .destructive = true,
                         .volume_generation = 4 };
}

/* ------------------------------------------------------------ the fake's side */

/* The one instance the fake holds for a's ClientToken (NULL: none or several). */
static struct json_object *instance_of_token(const RcAction *a) {
        struct json_object *st = control("GET", "/_fake/state", NULL), *list, *r = NULL;
        unsigned n = 0;

        if (st && json_object_object_get_ex(st, "instances", &list))
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                        struct json_object *x = json_object_array_get_idx(list, i);
                        if (streq_ptr(json_str(x, "client_token"), a->client_token)) {
                                n++;
                                json_object_put(r);
                                r = json_object_get(x);
                        }
                }
        json_object_put(st);
        if (n != 1) {
                json_object_put(r);
                return NULL;
        }
        return r;
}

static unsigned count_state(const char *kind) {
        struct json_object *st = control("GET", "/_fake/state", NULL), *list;
        unsigned n = 0;
        if (st && json_object_object_get_ex(st, kind, &list))
                n = (unsigned) json_object_array_length(list);
        json_object_put(st);
        return n;
}

static const char *json_tag(struct json_object *o, const char *key) {
        struct json_object *tags;
        return o && json_object_object_get_ex(o, "tags", &tags) ? json_str(tags, key) : NULL;
}

/* ------------------------------------------------------------ rows: launch */

static void setup_launch_manager(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        launch_manager(ids, a);
}

/* An action without the planner's ClientToken: the executor never makes one up. */
static void setup_launch_manager_no_token(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        launch_manager(ids, a);
        a->client_token[0] = 0;
}

static void setup_create_volume_no_token(Ids *ids, RcAction *a, RcHistory *h);

/* The in-flight entry is the instance the fake launched for the token, at the seat's address. */
static void check_launched(const Ids *ids, const RcAction *a, Pass *p) {
        _cleanup_(json_object_putp) struct json_object *i = instance_of_token(a);

        CHECK(i != NULL);
        CHECK_STR(json_str(i, "private_ip"), a->private_ip ?: json_str(i, "private_ip"));
        CHECK_STR(json_tag(i, EC2_TAG_CLUSTER), CLUSTER);
        CHECK_STR(json_tag(i, EC2_TAG_ROLE), a->kind == RC_ACTION_LAUNCH_MANAGER ? "manager" : "worker");
        if (p->history.n_inflight == 1) {
                CHECK_STR(p->history.inflight[0].instance_id, json_str(i, "id"));
                CHECK(streq_ptr(p->history.inflight[0].logical_id, a->logical_id));
                CHECK(streq_ptr(p->history.inflight[0].volume_id, a->volume_id));
                (void) ids;
        }
}

static void check_launch_ok_one_call(const Ids *ids, const RcAction *a, Pass *p) {
        check_launched(ids, a, p);
        CHECK_INT(fake_calls("RunInstances", NULL), 1);
        CHECK_INT(sleeps.n, 0);
}

/* A backoff of an earlier failure, run out by now. */
static void setup_launch_manager_old_backoff(Ids *ids, RcAction *a, RcHistory *h) {
        launch_manager(ids, a);
        CHECK_INT(rc_history_backoff_fail(h, SEAT, 1), 0);
}

static void check_backoff_gone(const Ids *ids, const RcAction *a, Pass *p) {
        check_launch_ok_one_call(ids, a, p);
        CHECK_INT(p->history.n_backoff, 0);
}

/* Backing off: a backoff armed a moment ago. */
static void setup_launch_manager_backing_off(Ids *ids, RcAction *a, RcHistory *h) {
        launch_manager(ids, a);
        CHECK_INT(rc_history_backoff_fail(h, SEAT, now_usec(CLOCK_MONOTONIC)), 0);
}

static void check_no_call(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a, (void) p;
        CHECK_INT(fake_calls(NULL, NULL), 0);
}

static Config *act_config(Engine e);

/* As the loop makes a pass: the settings from c, the pass holding its reference. */
static int pass_from_config(const Config *c, const RcHistory *h, Pass **ret) {
        _cleanup_(rc_settings_unrefp) RcSettings *s = NULL;
        int r;

        r = rc_settings_new(c, &s);
        if (r < 0)
                return r;
        return pass_new(s, h, ret);
}

/* An earlier pass (with config c) launched with a's token; the instance is terminated since. */
static void earlier_launch_terminated(const RcAction *a, Config *c) {
        _cleanup_(pass_freep) Pass *earlier = NULL;
        _cleanup_(json_object_putp) struct json_object *i = NULL;
        char path[128];

        CHECK_INT(pass_from_config(c, NULL, &earlier), 0);
        if (!earlier)
                return;
        CHECK_INT(pass_ec2(earlier), 0);
        CHECK_INT(pass_act(earlier, a, now_usec(CLOCK_MONOTONIC)), 0);
        i = instance_of_token(a);
        CHECK(i != NULL);
        snprintf(path, sizeof(path), "/_fake/instances/%s", strempty(json_str(i, "id")));
        control_void("POST", path, "{\"state\": \"terminated\"}");
}

static void setup_launch_manager_token_dead(Ids *ids, RcAction *a, RcHistory *h) {
        _cleanup_(config_freep) Config *c = act_config(ENGINE_NONE);

        (void) h;
        launch_manager(ids, a);
        earlier_launch_terminated(a, c);
}

/* The same, but the earlier pass ran with another configuration (Cluster.Workers, which
 * the drop-in in the user-data carries): the same token with other parameters. */
static void setup_launch_manager_token_other_params(Ids *ids, RcAction *a, RcHistory *h) {
        _cleanup_(config_freep) Config *c = act_config(ENGINE_NONE);

        (void) h;
        launch_manager(ids, a);
        CHECK_INT(config_set(c, "Cluster.Workers=5"), 0);
        earlier_launch_terminated(a, c);
}

static void check_token_mismatch(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        CHECK_INT(fake_calls("RunInstances", NULL), 1);
        CHECK_INT(ec2_code(p), EC2_ERR_IDEMPOTENT_PARAMETER_MISMATCH);
        CHECK_INT(count_state("instances"), 1);
}

static void check_token_dead(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids;
        CHECK_INT(fake_calls("RunInstances", NULL), 1);
        CHECK_INT(strv_length(p->history.dead_tokens), 1);
        CHECK_INT(ec2_code(p), EC2_ERR_IDEMPOTENT_INSTANCE_TERMINATED);
        CHECK_INT(count_state("instances"), 1); /* nothing launched again */
        CHECK(a->client_token[0]);
}

static void check_throttled(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        CHECK_INT(fake_calls("RunInstances", NULL), 4); /* pass_ec2(): 4 attempts */
        CHECK_INT(sleeps.n, 3);
        CHECK_INT(ec2_code(p), EC2_ERR_REQUEST_LIMIT_EXCEEDED);
        CHECK_INT(count_state("instances"), 0);
        CHECK(p->clients.subnet_ids == NULL); /* described again next pass */
}

static void check_retried_once(const Ids *ids, const RcAction *a, Pass *p) {
        check_launched(ids, a, p);
        CHECK_INT(fake_calls("RunInstances", NULL), 2);
        CHECK_INT(sleeps.n, 1);
        CHECK_INT(count_state("instances"), 1);
}

/* Every answer lost: the instance runs, the pass does not know it. */
static void check_lost_every_answer(const Ids *ids, const RcAction *a, Pass *p) {
        _cleanup_(json_object_putp) struct json_object *i = instance_of_token(a);

        (void) ids;
        CHECK(i != NULL);
        CHECK_INT(count_state("instances"), 1); /* one instance for the four calls */
        CHECK_INT(fake_calls("RunInstances", NULL), 4);
        CHECK_INT(ec2_code(p), EC2_ERR_INTERNAL_ERROR);
}

/* The seat's address still held by the old instance. */
static void setup_launch_manager_ip_in_use(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        launch_manager(ids, a);
        ids->other = seed_running(SEAT, "shutting-down");
        CHECK(ids->other != NULL);
}

static void check_ip_in_use(const Ids *ids, const RcAction *a, Pass *p) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        (void) ids, (void) a;
        CHECK_INT(ec2_code(p), EC2_ERR_INVALID_IP_ADDRESS_IN_USE);
        CHECK_INT(fake_calls("RunInstances", NULL), 1); /* a 4xx: not retried */
        /* retried soon: the capped backoff, never the 5-minute one */
        CHECK_INT(p->history.n_backoff, 1);
        if (p->history.n_backoff == 1)
                CHECK(p->history.backoff[0].not_before_usec <= now + RC_BACKOFF_IP_IN_USE_CAP_USEC);
}

static void setup_launch_manager_no_subnet(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        launch_manager(ids, a);
        a->subnet_id = "subnet-0deadbeef0000000";
}

static void check_final_4xx(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        CHECK_INT(fake_calls("RunInstances", NULL), 1);
        CHECK_INT(sleeps.n, 0);
        CHECK_INT(count_state("instances"), 0);
        CHECK_INT(ec2_code(p), EC2_ERR_INVALID_SUBNET_ID_NOT_FOUND);
}

static void setup_launch_worker(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        launch_worker(ids, a);
}

static void check_worker_launched(const Ids *ids, const RcAction *a, Pass *p) {
        _cleanup_(freep) char *log = server_log();

        check_launch_ok_one_call(ids, a, p);
        /* the join token came from the engine, for this launch only */
        CHECK(log && strstr(log, "GET /v1.41/swarm HTTP/1.1"));
        CHECK_INT(p->history.n_recovering, 0);
}

static void check_no_ec2_call(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        CHECK_INT(fake_calls(NULL, NULL), 0);
        CHECK(strstr(p->error, "cannot read the swarm's join tokens") != NULL);
}

/* ------------------------------------------------------------ rows: attach */

static void setup_attach(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        attach(ids, a, "running", NULL);
}

static void check_attached(const Ids *ids, const RcAction *a, Pass *p) {
        _cleanup_(json_object_putp) struct json_object *v = fake_find("volumes", ids->volume);
        struct json_object *att;

        (void) a;
        CHECK(v && json_object_object_get_ex(v, "attachment", &att) && streq_ptr(json_str(att, "instance"), ids->instance));
        if (p->history.n_inflight == 1) {
                CHECK_STR(p->history.inflight[0].instance_id, ids->instance);
                CHECK_STR(p->history.inflight[0].volume_id, ids->volume);
        }
}

static void setup_attach_pending(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        attach(ids, a, "pending", NULL);
}

static void check_incorrect_state(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        CHECK_INT(ec2_code(p), EC2_ERR_INCORRECT_STATE);
        CHECK_INT(fake_calls("AttachVolume", NULL), 1);
}

static void setup_attach_creating(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        attach(ids, a, "running", "\"state\": \"creating\"");
}

/* The volume in use by another instance. */
static void setup_attach_in_use_elsewhere(Ids *ids, RcAction *a, RcHistory *h) {
        char extra[128];

        (void) h;
        ids->other = seed_running("10.0.1.22", "running");
        CHECK(ids->other != NULL);
        snprintf(extra, sizeof(extra), "\"attached_to\": \"%s\"", strempty(ids->other));
        ids->volume = seed_volume(AZ, extra);
        attach(ids, a, "running", NULL);
}

static void check_in_use_elsewhere(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        CHECK_INT(fake_calls("AttachVolume", NULL), 1);
        CHECK_INT(fake_calls("DescribeVolumes", NULL), 1);
        /* the DescribeVolumes that looked for our own attachment succeeded and replaced the
         * client's last error; the failure still names EC2's VolumeInUse (it said "Remote
         * I/O error" and an empty SK_EC2_ERROR before) */
        CHECK_INT(ec2_client_last_error(p->clients.ec2)->error, EC2_ERR_NONE);
        CHECK(strstr(strempty(act_log), "EC2 VolumeInUse:") != NULL);
}

/* Already attached to this very instance (its own prepare won the race). */
static void setup_attach_in_use_here(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        attach(ids, a, "running", NULL);
        free(ids->volume);
        {
                char extra[128];
                snprintf(extra, sizeof(extra), "\"attached_to\": \"%s\"", strempty(ids->instance));
                ids->volume = seed_volume(AZ, extra);
        }
        CHECK(ids->volume != NULL);
        a->volume_id = ids->volume;
}

static void check_in_use_here(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a, (void) p;
        CHECK_INT(fake_calls("AttachVolume", NULL), 1);
        CHECK_INT(fake_calls("DescribeVolumes", NULL), 1);
}

static void check_attach_lost_answer(const Ids *ids, const RcAction *a, Pass *p) {
        check_attached(ids, a, p);
        /* the retry found the volume in use: by this instance, so done */
        CHECK_INT(fake_calls("AttachVolume", NULL), 2);
        CHECK_INT(fake_calls("DescribeVolumes", NULL), 1);
}

/* ------------------------------------------------------------ rows: terminate */

static void setup_fence(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        terminate(ids, a, RC_ACTION_FENCE, "running");
}

static void setup_fence_terminated(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        terminate(ids, a, RC_ACTION_FENCE, "terminated");
}

static void setup_terminate_worker(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        terminate(ids, a, RC_ACTION_TERMINATE_WORKER, "running");
}

static void setup_terminate_worker_terminated(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        terminate(ids, a, RC_ACTION_TERMINATE_WORKER, "terminated");
}

static void setup_fence_forgotten(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h, (void) ids;
        *a = (RcAction){ .kind = RC_ACTION_FENCE, .logical_id = SEAT, .instance_id = UNKNOWN_INSTANCE,
                         .destructive = true };
}

static void check_shutting_down(const Ids *ids, const RcAction *a, Pass *p) {
        _cleanup_(json_object_putp) struct json_object *i = fake_find("instances", ids->instance);

        CHECK_STR(json_str(i, "state"), "shutting-down");
        CHECK_INT(fake_calls("TerminateInstances", NULL), 1);
        if (p->history.n_inflight == 1)
                CHECK_STR(p->history.inflight[0].instance_id, a->instance_id);
}

static void check_terminated_still(const Ids *ids, const RcAction *a, Pass *p) {
        _cleanup_(json_object_putp) struct json_object *i = fake_find("instances", ids->instance);

        (void) a, (void) p;
        CHECK_STR(json_str(i, "state"), "terminated");
        CHECK_INT(fake_calls("TerminateInstances", NULL), 1);
}

static void check_not_found(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        CHECK_STR(ec2_client_last_error(p->clients.ec2)->code, "InvalidInstanceID.NotFound");
}

static void check_terminate_throttled(const Ids *ids, const RcAction *a, Pass *p) {
        _cleanup_(json_object_putp) struct json_object *i = fake_find("instances", ids->instance);

        (void) a;
        CHECK_STR(json_str(i, "state"), "running");
        CHECK_INT(fake_calls("TerminateInstances", NULL), 4);
        CHECK_INT(ec2_code(p), EC2_ERR_REQUEST_LIMIT_EXCEEDED);
}

/* ------------------------------------------------------------ rows: create volume */

static void setup_create_volume(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        create_volume(ids, a);
}

static void setup_create_volume_no_token(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        create_volume(ids, a);
        a->client_token[0] = 0;
}

static void check_volume_created(const Ids *ids, const RcAction *a, Pass *p) {
        _cleanup_(json_object_putp) struct json_object *v = NULL;

        (void) ids;
        CHECK_INT(count_state("volumes"), 1);
        CHECK_INT(p->history.n_inflight, 1);
        if (p->history.n_inflight != 1)
                return;
        v = fake_find("volumes", p->history.inflight[0].volume_id);
        CHECK(v != NULL);
        CHECK_STR(json_str(v, "az"), AZ);
        CHECK_STR(json_tag(v, EC2_TAG_CLUSTER), CLUSTER);
        CHECK_STR(json_tag(v, EC2_TAG_LOGICAL_ID), a->logical_id);
        CHECK_STR(json_tag(v, EC2_TAG_ROLE), "manager");
        CHECK(!json_tag(v, EC2_TAG_HAS_STATE)); /* only once its host joined (MARK_VOLUME) */
        CHECK_STR(p->history.inflight[0].logical_id, SEAT);
}

static void check_volume_lost_answer(const Ids *ids, const RcAction *a, Pass *p) {
        check_volume_created(ids, a, p); /* the retry, same ClientToken: the same volume */
        CHECK_INT(fake_calls("CreateVolume", NULL), 2);
}

static void check_volume_throttled(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        CHECK_INT(count_state("volumes"), 0);
        CHECK_INT(fake_calls("CreateVolume", NULL), 4);
        CHECK_INT(ec2_code(p), EC2_ERR_REQUEST_LIMIT_EXCEEDED);
}

/* ------------------------------------------------------------ rows: tag volume */

static void setup_set_generation(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        tag_volume(ids, a, RC_ACTION_SET_GENERATION, "\"tags\": {\"swarmkeeper:generation\": \"3\"}");
}

static void setup_set_generation_later(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        tag_volume(ids, a, RC_ACTION_SET_GENERATION, "\"tags\": {\"swarmkeeper:generation\": \"5\"}");
}

static void setup_set_generation_gone(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h, (void) ids;
        *a = (RcAction){ .kind = RC_ACTION_SET_GENERATION, .logical_id = SEAT, .volume_id = "vol-0123456789abcdef0",
                         .destructive = true, .volume_generation = 4 };
}

static void setup_mark_volume(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        tag_volume(ids, a, RC_ACTION_MARK_VOLUME, NULL);
}

static void setup_mark_volume_node(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        tag_volume(ids, a, RC_ACTION_MARK_VOLUME, NULL);
        a->node_id = "abc123";
        a->instance_id = "i-00000000000000002";
}

static void check_tag(const Ids *ids, const char *key, const char *value, unsigned create_tags) {
        _cleanup_(json_object_putp) struct json_object *v = fake_find("volumes", ids->volume);
        CHECK_STR(json_tag(v, key), value);
        CHECK_INT(fake_calls("CreateTags", NULL), create_tags);
}

static void check_generation_4(const Ids *ids, const RcAction *a, Pass *p) {
        (void) a, (void) p;
        check_tag(ids, EC2_TAG_GENERATION, "4", 1);
        CHECK_INT(fake_calls("DescribeVolumes", NULL), 1);
}

static void check_generation_kept(const Ids *ids, const RcAction *a, Pass *p) {
        (void) a, (void) p;
        check_tag(ids, EC2_TAG_GENERATION, "5", 0);
}

static void check_volume_not_found(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        CHECK_STR(ec2_client_last_error(p->clients.ec2)->code, "InvalidVolume.NotFound");
        CHECK_INT(fake_calls("CreateTags", NULL), 0);
}

static void check_marked(const Ids *ids, const RcAction *a, Pass *p) {
        (void) a, (void) p;
        check_tag(ids, EC2_TAG_HAS_STATE, "yes", 1);
}

static void check_marked_node(const Ids *ids, const RcAction *a, Pass *p) {
        _cleanup_(freep) char *log = server_log();

        check_marked(ids, a, p);
        /* the node's label first, then the tag */
        CHECK(log && strstr(log, "POST /v1.41/nodes/abc123/update?version=42 HTTP/1.1"));
        CHECK(log && ids->volume && strstr(log, ids->volume));
}

static void check_mark_refused(const Ids *ids, const RcAction *a, Pass *p) {
        _cleanup_(json_object_putp) struct json_object *v = fake_find("volumes", ids->volume);

        (void) a;
        CHECK(!json_tag(v, EC2_TAG_HAS_STATE));
        CHECK_INT(fake_calls("CreateTags", NULL), 1);
        CHECK_INT(ec2_code(p), EC2_ERR_UNAUTHORIZED_OPERATION);
}

static void check_tag_throttled(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        CHECK_INT(fake_calls("CreateTags", NULL), 4);
        CHECK_INT(ec2_code(p), EC2_ERR_REQUEST_LIMIT_EXCEEDED);
}

/* ------------------------------------------------------------ rows: the engine's node calls */

static void setup_node(Ids *ids, RcAction *a, RcActionKind kind, const char *node) {
        (void) ids;
        *a = (RcAction){ .kind = kind, .node_id = node, .instance_id = "i-00000000000000003", .destructive = true };
        if (kind == RC_ACTION_DEMOTE)
                a->logical_id = SEAT;
}

static void setup_drain(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        setup_node(ids, a, RC_ACTION_DRAIN_WORKER, "abc123");
}

static void setup_drain_gone(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        setup_node(ids, a, RC_ACTION_DRAIN_WORKER, "gone");
}

static void setup_demote(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        setup_node(ids, a, RC_ACTION_DEMOTE, "abc123");
}

static void setup_remove(Ids *ids, RcAction *a, RcHistory *h) {
        (void) h;
        setup_node(ids, a, RC_ACTION_REMOVE_NODE, "abc123");
}

static void check_engine_log(const char *want) {
        _cleanup_(freep) char *log = server_log();
        CHECK(log && strstr(log, want));
        if (!(log && strstr(log, want)))
                fprintf(stderr, "engine log: %s\n", strempty(log));
        CHECK_INT(fake_calls(NULL, NULL), 0); /* EC2 not asked */
}

static void check_drained(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        check_engine_log("POST /v1.41/nodes/abc123/update?version=42 HTTP/1.1 {\"Labels\":{},\"Role\":\"manager\","
                         "\"Availability\":\"drain\"}");
        if (p->history.n_inflight == 1)
                CHECK_STR(p->history.inflight[0].instance_id, "i-00000000000000003");
}

static void check_demoted(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a, (void) p;
        check_engine_log("POST /v1.41/nodes/abc123/update?version=42 HTTP/1.1 {\"Labels\":{},\"Role\":\"worker\","
                         "\"Availability\":\"active\"}");
}

static void check_removed(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a, (void) p;
        check_engine_log("DELETE /v1.41/nodes/abc123 HTTP/1.1"); /* never ?force=true */
}

static void check_node_gone(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a, (void) p;
        check_engine_log("GET /v1.41/nodes/gone HTTP/1.1");
}

/* ------------------------------------------------------------ rows: join token rotation */

/* the swarm's UpdatedAt in engine_swarm, and a rotation this agent made before the row */
#define SWARM_UPDATED_USEC (UINT64_C(1709287205) * USEC_PER_SEC + 500000)
#define EARLIER_USEC (UINT64_C(1600000000) * USEC_PER_SEC)

static void setup_rotate(Ids *ids, RcAction *a, RcHistory *h) {
        (void) ids;
        *a = (RcAction){ .kind = RC_ACTION_ROTATE_TOKENS, .reason = "a host joined fresh" };
        h->tokens_rotated_usec = h->tokens_rotated_swarm_usec = h->tokens_rotated_launch_usec = EARLIER_USEC;
}

static void check_rotated(const Ids *ids, const RcAction *a, Pass *p) {
        (void) ids, (void) a;
        /* the swarm's own Spec back at its Version, both tokens rotated */
        check_engine_log("POST /v1.41/swarm/update?version=77&rotateWorkerToken=true&rotateManagerToken=true "
                         "HTTP/1.1 {\"Name\":\"default\",\"Orchestration\":{\"TaskHistoryRetentionLimit\":5}}");
        CHECK(p->history.tokens_rotated_usec > EARLIER_USEC);
        CHECK_INT(p->history.tokens_rotated_swarm_usec, SWARM_UPDATED_USEC);
        CHECK_INT(p->history.tokens_rotated_launch_usec, 0); /* no instance listing in the row */
}

static void check_not_rotated(const Ids *ids, const RcAction *a, Pass *p) {
        _cleanup_(freep) char *log = server_log();
        (void) ids, (void) a;
        CHECK(log && !strstr(log, "POST"));
        CHECK_INT(p->history.tokens_rotated_usec, EARLIER_USEC);
        CHECK_INT(p->history.tokens_rotated_swarm_usec, EARLIER_USEC);
        CHECK_INT(p->history.tokens_rotated_launch_usec, EARLIER_USEC);
        CHECK(act_log && strstr(act_log, rc_action_kind_to_string(RC_ACTION_ROTATE_TOKENS)));
}

/* ------------------------------------------------------------ the table */

#define THROTTLED(action) "{\"action\": \"" action "\", \"code\": \"RequestLimitExceeded\", \"count\": 100}"
#define LOST(action, count) "{\"action\": \"" action "\", \"code\": \"InternalError\", \"after\": true, \"count\": " #count "}"

static const Row rows[] = {
        /* RunInstances: a manager (rejoins from its volume: no engine needed) */
        { "launch manager: OK", ENGINE_NONE, setup_launch_manager, NULL,
          0, RC_INFLIGHT_LAUNCH, false, false, true, check_launch_ok_one_call },
        { "launch manager: no ClientToken in the action: refused, EC2 not asked", ENGINE_NONE,
          setup_launch_manager_no_token, NULL, -EINVAL, NO_INFLIGHT, true, false, false, check_no_call },
        { "launch manager: OK clears a backoff run out", ENGINE_NONE, setup_launch_manager_old_backoff, NULL,
          0, RC_INFLIGHT_LAUNCH, false, false, true, check_backoff_gone },
        /* issue 15: the executor never skips an action on its own: a key backing off is the
         * planner's WAIT (test-reconcile.c, backoff rows); given the action, it acts, and a
         * success clears the backoff */
        { "launch manager: a backoff in memory does not stop the executor", ENGINE_NONE,
          setup_launch_manager_backing_off, NULL, RC_ACT_DONE, RC_INFLIGHT_LAUNCH, false, false, true,
          check_backoff_gone },
        /* "not yet": EC2 said so; the dead token is in the memory, no error */
        { "launch manager: IdempotentInstanceTerminated", ENGINE_NONE, setup_launch_manager_token_dead, NULL,
          RC_ACT_NOT_YET, NO_INFLIGHT, false, true, false, check_token_dead },
        /* NOTE: the seat's token was used by a launch with other parameters (the user-data
         * changed with a reload) whose instance is terminated: the fake says
         * IdempotentParameterMismatch (it compares the parameters first; EC2's order is
         * not documented), which is handled as any EC2 error: a backoff, no dead token, so
         * the seat keeps its token and gets the same answer each pass until the planner
         * moves on by itself (from the listed terminated instance) */
        { "launch manager: IdempotentParameterMismatch", ENGINE_NONE, setup_launch_manager_token_other_params, NULL,
          -EREMOTEIO, NO_INFLIGHT, true, false, false, check_token_mismatch },
        /* the same code injected: the same handling */
        { "launch manager: IdempotentInstanceTerminated (injected)", ENGINE_NONE, setup_launch_manager,
          "{\"action\": \"RunInstances\", \"code\": \"IdempotentInstanceTerminated\"}",
          RC_ACT_NOT_YET, NO_INFLIGHT, false, true, false, NULL },
        /* retried by the client (4 attempts), then: a backoff, and the error passed up
         * (pass_run() stops the pass) */
        { "launch manager: RequestLimitExceeded throughout", ENGINE_NONE, setup_launch_manager, THROTTLED("RunInstances"),
          -EAGAIN, NO_INFLIGHT, true, false, false, check_throttled },
        { "launch manager: RequestLimitExceeded once", ENGINE_NONE, setup_launch_manager,
          "{\"action\": \"RunInstances\", \"code\": \"RequestLimitExceeded\", \"count\": 1}",
          0, RC_INFLIGHT_LAUNCH, false, false, true, check_retried_once },
        /* a 500 after the launch was done: the retry with the same ClientToken gets the
         * same reservation: one instance, recorded in flight */
        { "launch manager: 500 after the launch, once", ENGINE_NONE, setup_launch_manager, LOST("RunInstances", 1),
          0, RC_INFLIGHT_LAUNCH, false, false, true, check_retried_once },
        /* NOTE: every answer lost: the instance runs but the memory has no in-flight entry
         * (only a backoff); the next pass finds it by its ClientToken in the listing, and a
         * new RunInstances with the same token would return it, not launch another */
        { "launch manager: 500 after the launch, every attempt", ENGINE_NONE, setup_launch_manager,
          LOST("RunInstances", 100), -EAGAIN, NO_INFLIGHT, true, false, false, check_lost_every_answer },
        { "launch manager: InvalidIPAddress.InUse", ENGINE_NONE, setup_launch_manager_ip_in_use, NULL,
          RC_ACT_NOT_YET, NO_INFLIGHT, true, false, false, check_ip_in_use },
        { "launch manager: InvalidSubnetID.NotFound (a final 4xx)", ENGINE_NONE, setup_launch_manager_no_subnet, NULL,
          -ENOENT, NO_INFLIGHT, true, false, false, check_final_4xx },
        /* a worker that joins fresh: its join token from the engine */
        { "launch worker: OK (join token from the engine)", ENGINE_OK, setup_launch_worker, NULL,
          0, RC_INFLIGHT_LAUNCH, false, false, false, check_worker_launched },
        /* no join token from the engine: -EIO, and its slot backs off (issue 15: every
         * failure arms one, not only EC2's) */
        { "launch worker: engine has no swarm", ENGINE_NO_SWARM, setup_launch_worker, NULL,
          -EIO, NO_INFLIGHT, true, false, false, check_no_ec2_call },

        /* the engine's node calls (no EC2) */
        { "drain worker: OK", ENGINE_OK, setup_drain, NULL,
          0, RC_INFLIGHT_DRAIN, false, false, false, check_drained },
        { "drain worker: node gone (404)", ENGINE_OK, setup_drain_gone, NULL,
          -ENOENT, NO_INFLIGHT, true, false, false, check_node_gone },
        { "demote: OK (nothing in flight)", ENGINE_OK, setup_demote, NULL,
          0, NO_INFLIGHT, false, false, false, check_demoted },
        { "remove node: OK", ENGINE_OK, setup_remove, NULL,
          0, NO_INFLIGHT, false, false, false, check_removed },

        /* the join tokens (no EC2) */
        { "rotate tokens: OK", ENGINE_OK, setup_rotate, NULL,
          0, NO_INFLIGHT, false, false, false, check_rotated },
        { "rotate tokens: engine has no swarm", ENGINE_NO_SWARM, setup_rotate, NULL,
          -ENOTCONN, NO_INFLIGHT, true, false, false, check_not_rotated },

        /* AttachVolume */
        { "attach: OK", ENGINE_NONE, setup_attach, NULL,
          0, RC_INFLIGHT_ATTACH, false, false, false, check_attached },
        /* "not yet": the next pass plans it again from EC2's state */
        { "attach: instance pending (IncorrectState)", ENGINE_NONE, setup_attach_pending, NULL,
          RC_ACT_NOT_YET, NO_INFLIGHT, false, false, false, check_incorrect_state },
        { "attach: volume creating (IncorrectState)", ENGINE_NONE, setup_attach_creating, NULL,
          RC_ACT_NOT_YET, NO_INFLIGHT, false, false, false, check_incorrect_state },
        { "attach: VolumeInUse by another instance", ENGINE_NONE, setup_attach_in_use_elsewhere, NULL,
          -EREMOTEIO, NO_INFLIGHT, true, false, false, check_in_use_elsewhere },
        /* NOTE: done, but nothing recorded in flight (a later pass sees the attachment) */
        { "attach: VolumeInUse by this instance", ENGINE_NONE, setup_attach_in_use_here, NULL,
          0, NO_INFLIGHT, false, false, false, check_in_use_here },
        { "attach: 500 after the attach", ENGINE_NONE, setup_attach, LOST("AttachVolume", 1),
          0, NO_INFLIGHT, false, false, false, check_attach_lost_answer },
        /* issue 15: every failed action backs its key off (a launch up to 300 s, anything
         * else 10-15 s), where attach, terminate, create and tag had none */
        { "attach: RequestLimitExceeded throughout", ENGINE_NONE, setup_attach, THROTTLED("AttachVolume"),
          -EAGAIN, NO_INFLIGHT, true, false, false, NULL },

        /* TerminateInstances */
        { "fence: OK", ENGINE_NONE, setup_fence, NULL,
          0, RC_INFLIGHT_FENCE, false, false, true, check_shutting_down },
        { "fence: already terminated", ENGINE_NONE, setup_fence_terminated, NULL,
          0, RC_INFLIGHT_FENCE, false, false, true, check_terminated_still },
        /* EC2 forgot the instance (past its listing TTL between listing and fence): "gone"
         * is what a fence wants: done (issue 15; it was -ENOENT, which stopped the pass) */
        { "fence: InvalidInstanceID.NotFound", ENGINE_NONE, setup_fence_forgotten, NULL,
          RC_ACT_DONE, NO_INFLIGHT, false, false, false, check_not_found },
        { "fence: RequestLimitExceeded throughout", ENGINE_NONE, setup_fence, THROTTLED("TerminateInstances"),
          -EAGAIN, NO_INFLIGHT, true, false, false, check_terminate_throttled },
        { "terminate worker: OK (nothing in flight)", ENGINE_NONE, setup_terminate_worker, NULL,
          0, NO_INFLIGHT, false, false, false, check_shutting_down },
        { "terminate worker: already terminated", ENGINE_NONE, setup_terminate_worker_terminated, NULL,
          0, NO_INFLIGHT, false, false, false, check_terminated_still },

        /* CreateVolume */
        { "create volume: OK", ENGINE_NONE, setup_create_volume, NULL,
          0, RC_INFLIGHT_CREATE_VOLUME, false, false, false, check_volume_created },
        { "create volume: no ClientToken in the action: refused, EC2 not asked", ENGINE_NONE,
          setup_create_volume_no_token, NULL, -EINVAL, NO_INFLIGHT, true, false, false, check_no_call },
        { "create volume: 500 after the create, once", ENGINE_NONE, setup_create_volume, LOST("CreateVolume", 1),
          0, RC_INFLIGHT_CREATE_VOLUME, false, false, false, check_volume_lost_answer },
        { "create volume: RequestLimitExceeded throughout", ENGINE_NONE, setup_create_volume, THROTTLED("CreateVolume"),
          -EAGAIN, NO_INFLIGHT, true, false, false, check_volume_throttled },

        /* CreateTags */
        { "set generation: OK", ENGINE_NONE, setup_set_generation, NULL,
          0, NO_INFLIGHT, false, false, false, check_generation_4 },
        { "set generation: volume at a later one already", ENGINE_NONE, setup_set_generation_later, NULL,
          0, NO_INFLIGHT, false, false, false, check_generation_kept },
        { "set generation: volume gone (NotFound)", ENGINE_NONE, setup_set_generation_gone, NULL,
          -ENOENT, NO_INFLIGHT, true, false, false, check_volume_not_found },
        { "mark volume: OK", ENGINE_NONE, setup_mark_volume, NULL,
          0, NO_INFLIGHT, false, false, false, check_marked },
        { "mark volume: OK, node labelled first", ENGINE_OK, setup_mark_volume_node, NULL,
          0, NO_INFLIGHT, false, false, false, check_marked_node },
        { "mark volume: UnauthorizedOperation", ENGINE_NONE, setup_mark_volume,
          "{\"action\": \"CreateTags\", \"code\": \"UnauthorizedOperation\"}",
          -EACCES, NO_INFLIGHT, true, false, false, check_mark_refused },
        { "mark volume: RequestLimitExceeded throughout", ENGINE_NONE, setup_mark_volume, THROTTLED("CreateTags"),
          -EAGAIN, NO_INFLIGHT, true, false, false, check_tag_throttled },
};

/* ------------------------------------------------------------ running a row */

static const char node_json[] =
        "{\"ID\":\"abc123\",\"Version\":{\"Index\":42},"
        "\"Spec\":{\"Labels\":{},\"Role\":\"manager\",\"Availability\":\"active\"},"
        "\"Description\":{\"Hostname\":\"mgr1\",\"Engine\":{\"EngineVersion\":\"24.0\"}},"
        "\"Status\":{\"State\":\"ready\",\"Addr\":\"10.0.1.11\"},"
        "\"ManagerStatus\":{\"Leader\":true,\"Reachability\":\"reachable\",\"Addr\":\"10.0.1.11:2377\"}}";

static char *engine_ping, *engine_version, *engine_swarm, *engine_node, *engine_empty;

static void engine_start(Engine e) {
        static const char no_swarm[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                       "Content-Length: 46\r\n\r\n{\"message\":\"This node is not a swarm manager.\"}";
        const Canned ok[] = {
                { "GET /_ping", engine_ping },
                { "GET /version", engine_version },
                { "GET /v1.41/swarm ", engine_swarm },
                { "POST /v1.41/swarm/update?", engine_empty },
                { "GET /v1.41/nodes/abc123 ", engine_node },
                { "POST /v1.41/nodes/abc123/update?version=42 ", engine_empty },
                { "DELETE /v1.41/nodes/abc123 ", engine_empty },
        };
        const Canned bad[] = {
                { "GET /_ping", engine_ping },
                { "GET /version", engine_version },
                { "GET /v1.41/swarm ", no_swarm },
        };

        if (e == ENGINE_OK)
                server_start(ok, ELEMENTSOF(ok));
        else
                server_start(bad, ELEMENTSOF(bad));
}

static Config *act_config(Engine e) {
        return cluster_config(CLUSTER, SEAT ",10.0.1.12,10.0.1.13", 2, SUBNET, e != ENGINE_NONE ? sock_path : NULL);
}


static void run_row(const Row *row) {
        _cleanup_(rc_history_done) RcHistory h = {};
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(pass_freep) Pass *p = NULL;
        Ids ids = {};
        RcAction a = {};
        int failures = test_failures, r;
        uint64_t now;

        reset_fake();
        control_void("DELETE", "/_fake/faults", NULL);
        if (row->engine != ENGINE_NONE)
                engine_start(row->engine);
        row->setup(&ids, &a, &h);
        c = act_config(row->engine);

        CHECK_INT(pass_from_config(c, &h, &p), 0);
        if (!p)
                goto finish;
        CHECK_INT(pass_ec2(p), 0);
        if (!p->clients.ec2)
                goto finish;
        sleeps = (Sleeps){};
        ec2_client_set_sleep(p->clients.ec2, record_sleep, &sleeps);
        if (row->engine != ENGINE_NONE)
                CHECK_INT(pass_docker(p), 0);
        if (row->fault)
                control_void("POST", "/_fake/faults", "%s", row->fault);
        control_void("DELETE", "/_fake/calls", NULL);

        now = now_usec(CLOCK_MONOTONIC);
        {
                TestCapture cap;
                capture_start(&cap, LOG_ERR);
                r = pass_act(p, &a, now);
                free(act_log);
                act_log = capture_end(&cap);
        }
        CHECK_INT(r, row->ret);

        /* the memory */
        if (row->inflight == NO_INFLIGHT)
                CHECK_INT(p->history.n_inflight, 0);
        else {
                CHECK_INT(p->history.n_inflight, 1);
                if (p->history.n_inflight == 1) {
                        CHECK_INT(p->history.inflight[0].kind, row->inflight);
                        CHECK_INT(p->history.inflight[0].since_usec, now);
                }
        }
        CHECK_INT(!rc_history_backoff_ready(&p->history, rc_action_backoff_key(&a), now), row->backoff);
        CHECK_INT(strv_contains(p->history.dead_tokens, a.client_token), row->dead_token);
        if (!row->dead_token)
                CHECK_INT(strv_length(p->history.dead_tokens), 0);
        CHECK_INT(p->history.n_recovering, row->recovering);
        if (row->recovering && p->history.n_recovering == 1)
                CHECK_STR(p->history.recovering[0].logical_id, a.logical_id);
        if (row->check)
                row->check(&ids, &a, p);

finish:
        control_void("DELETE", "/_fake/faults", NULL);
        if (row->engine != ENGINE_NONE) {
                server_stop();
                unlink(log_path);
        }
        ids_done(&ids);
        if (test_failures != failures)
                fprintf(stderr, "    in row: %s\n", row->name);
}

static void test_act_rows(void) {
        use_static_keys();
        engine_ping = http_ok("OK");
        engine_version = http_ok("{\"ApiVersion\":\"1.43\",\"MinAPIVersion\":\"1.12\"}");
        engine_swarm = http_ok("{\"ID\":\"sw\",\"Version\":{\"Index\":77},\"UpdatedAt\":\"2024-03-01T10:00:05.5Z\","
                               "\"Spec\":{\"Name\":\"default\",\"Orchestration\":{\"TaskHistoryRetentionLimit\":5}},"
                               "\"JoinTokens\":{\"Worker\":\"SWMTKN-1-w\",\"Manager\":\"SWMTKN-1-m\"}}");
        engine_node = http_ok(node_json);
        engine_empty = http_ok("");
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                int failures = test_failures;
                run_row(&rows[i]);
                printf("  %s %s\n", test_failures == failures ? "ok  " : "FAIL", rows[i].name);
        }
        free(engine_ping);
        free(engine_version);
        free(engine_swarm);
        free(engine_node);
        free(engine_empty);
}

/* WAIT and REPORT change nothing and ask no one. */
static void test_act_nothing(void) {
        _cleanup_(config_freep) Config *c = act_config(ENGINE_NONE);
        _cleanup_(pass_freep) Pass *p = NULL;
        const RcAction wait = { .kind = RC_ACTION_WAIT, .logical_id = SEAT },
                       report = { .kind = RC_ACTION_REPORT, .logical_id = SEAT };

        reset_fake();
        CHECK_INT(pass_from_config(c, NULL, &p), 0);
        CHECK_INT(pass_ec2(p), 0);
        CHECK_INT(pass_act(p, &wait, 1), 0);
        CHECK_INT(pass_act(p, &report, 1), 0);
        CHECK_INT(fake_calls(NULL, NULL), 0);
        CHECK_INT(p->history.n_inflight + p->history.n_backoff + p->history.n_recovering, 0);
}

int main(void) {
        static const AwsTest tests[] = {
                AWS_TEST(test_act_rows),
                AWS_TEST(test_act_nothing),
                {},
        };
        /* pending (instances, volumes, attachments) and shutting-down last longer than any
         * row: a row's seeded "pending" instance or "creating" volume does not move on
         * between its seed and its action, however loaded the machine */
        static const char *const fake_args[] = { "--pending-delay", "60", "--shutdown-delay", "60",
                                                 "--ip-release-delay", "60", NULL };
        int r = aws_test_main_args("test-act-client", AWS_TEST_FAKE, tests, fake_args);

        free(act_log);
        return r;
}
