/* SPDX-License-Identifier: MIT */
#include "leader.h"

#include "event-util.h"
#include "job.h"
#include "log.h"
#include "messages.h"

#define LEADER_MAX_SUBSCRIBERS 8
/* After a node event: check after this delay (events come in bursts; one check covers
 * the burst), then follow up while the cluster settles. */
#define LEADER_EVENT_DELAY_USEC (50 * USEC_PER_MSEC)
/* At exit, how long leader_free() waits for a check in flight (it was cancelled). */
#define LEADER_FREE_GRACE_USEC (300 * USEC_PER_MSEC)
static const uint64_t leader_followups_usec[] = {
        1 * USEC_PER_SEC, 3 * USEC_PER_SEC, 8 * USEC_PER_SEC,
};

typedef struct Subscriber {
        LeaderHandler cb;
        void *userdata;
} Subscriber;

/* One check on a worker thread: its own client, a copy of what it needs. */
typedef struct LeaderCheck {
        Leader *leader;
        uint64_t generation;       /* the Leader's when started; a stale result is dropped */
        char *socket;
        char api_version[16];
        char *node_id;
        uint64_t timeout_msec;
        /* result */
        DockerNode node;
        int r;
        char *error;
} LeaderCheck;

/* One leader_confirm_async(). */
typedef struct LeaderConfirm {
        Leader *leader;
        uint64_t generation;
        char *socket;
        char api_version[16];
        char *node_id;
        uint64_t timeout_msec;
        LeaderConfirmHandler cb;
        void *userdata;
        LeaderQuorum quorum;
        int r;
} LeaderConfirm;

struct Leader {
        sd_event *event;
        Docker *docker;            /* not owned: the engine's socket and API version */
        Job *check;                /* the check in flight */
        Job *confirm;              /* the leader_confirm_async() in flight */
        bool check_again;          /* another check was asked for while one ran */
        uint64_t generation;       /* bumped by start/stop: results of older checks are dropped */
        sd_event_source *poll;     /* safety poll */
        sd_event_source *soon;     /* event-driven check */
        uint64_t poll_usec;
        char *node_id;
        bool running;
        bool is_leader;
        bool known;                /* at least one check succeeded */
        unsigned followup;         /* next index into leader_followups_usec */
        DockerNode self;
        uint64_t changed_usec;
        int last_error;
        Subscriber subs[LEADER_MAX_SUBSCRIBERS];
};

int leader_new(sd_event *event, Docker *docker, uint64_t poll_usec, Leader **ret) {
        _cleanup_(leader_freep) Leader *l = NULL;

        if (!event || poll_usec == 0)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->event = sd_event_ref(event);
        l->docker = docker;
        l->poll_usec = poll_usec;
        *ret = TAKE_PTR(l);
        return 0;
}

static void leader_check_free(void *userdata) {
        LeaderCheck *c = userdata;

        if (!c)
                return;
        free(c->socket);
        free(c->node_id);
        free(c->error);
        docker_node_done(&c->node);
        free(c);
}

void leader_cancel(Leader *l) {
        if (l && l->check)
                job_cancel(l->check);
        if (l && l->confirm)
                job_cancel(l->confirm);
}

Leader *leader_free(Leader *l) {
        if (!l)
                return NULL;
        if (l->confirm) {
                job_cancel(l->confirm);
                job_set_grace(l->confirm, LEADER_FREE_GRACE_USEC);
                l->confirm = job_free(l->confirm); /* no callback */
        }
        /* the job owns its LeaderCheck (job_set_destroy): a detached thread keeps it */
        if (l->check) {
                job_cancel(l->check);
                job_set_grace(l->check, LEADER_FREE_GRACE_USEC);
                l->check = job_free(l->check);
        }
        sd_event_source_disable_unref(l->poll);
        sd_event_source_disable_unref(l->soon);
        sd_event_unref(l->event);
        docker_node_done(&l->self);
        free(l->node_id);
        free(l);
        return NULL;
}

void leader_set_docker(Leader *l, Docker *docker) {
        l->docker = docker;
}

bool leader_is_leader(const Leader *l) {
        return l && l->is_leader;
}

bool leader_running(const Leader *l) {
        return l && l->running;
}

const DockerNode *leader_self(const Leader *l) {
        return l && l->known ? &l->self : NULL;
}

int leader_last_error(const Leader *l) {
        return l ? l->last_error : 0;
}

uint64_t leader_changed_usec(const Leader *l) {
        return l ? l->changed_usec : 0;
}

int leader_subscribe(Leader *l, LeaderHandler cb, void *userdata) {
        Subscriber *free_slot = NULL;

        for (size_t i = 0; i < LEADER_MAX_SUBSCRIBERS; i++) {
                if (l->subs[i].cb == cb && l->subs[i].userdata == userdata)
                        return 0;
                if (!l->subs[i].cb && !free_slot)
                        free_slot = &l->subs[i];
        }
        if (!free_slot)
                return -ENOSPC;
        *free_slot = (Subscriber){ cb, userdata };
        return 0;
}

void leader_unsubscribe(Leader *l, LeaderHandler cb, void *userdata) {
        for (size_t i = 0; i < LEADER_MAX_SUBSCRIBERS; i++)
                if (l->subs[i].cb == cb && l->subs[i].userdata == userdata)
                        l->subs[i] = (Subscriber){};
}

static void leader_notify(Leader *l) {
        /* a copy: a subscriber may unsubscribe itself */
        Subscriber subs[LEADER_MAX_SUBSCRIBERS];
        memcpy(subs, l->subs, sizeof(subs));
        for (size_t i = 0; i < LEADER_MAX_SUBSCRIBERS; i++)
                if (subs[i].cb)
                        subs[i].cb(l, subs[i].userdata);
}

static void leader_set(Leader *l, bool is_leader, const char *why) {
        if (is_leader == l->is_leader)
                return;
        l->is_leader = is_leader;
        l->changed_usec = now_usec(CLOCK_REALTIME);
        if (is_leader)
                log_struct(LOG_NOTICE, 0, SK_MESSAGE_LEADER_GAINED,
                           LOG_FIELDS("SK_NODE_ID", l->node_id),
                           "This node (%s) is now the swarm leader.", strempty(l->node_id));
        else
                log_struct(LOG_NOTICE, 0, SK_MESSAGE_LEADER_LOST,
                           LOG_FIELDS("SK_NODE_ID", l->node_id, "SK_REASON", why),
                           "This node (%s) is no longer the swarm leader: %s.", strempty(l->node_id), why);
}

static bool node_state_equal(const DockerNode *a, const DockerNode *b) {
        return a->leader == b->leader && a->manager == b->manager &&
               streq_ptr(a->reachability, b->reachability) && streq_ptr(a->state, b->state) &&
               streq_ptr(a->role, b->role) && streq_ptr(a->availability, b->availability);
}

/* A check's result, in the loop: update the state, notify subscribers on changes. */
static void leader_apply(Leader *l, int r, DockerNode *n, const char *error) {
        bool changed;

        if (r < 0) {
                changed = r != l->last_error;
                if (changed)
                        log_debug_errno(r, "Cannot inspect this node (%s): %s", l->node_id, strempty(error));
                l->last_error = r;
                /* "not a manager"/"no leader" mean we cannot lead now; a mere timeout says
                 * nothing either way, but acting on it as leader would be unsafe too */
                if (l->is_leader) {
                        leader_set(l, false, r == -ENOTCONN ? "the engine says it is not a manager"
                                                            : "the engine cannot confirm it");
                        changed = true;
                }
                if (changed)
                        leader_notify(l);
                return;
        }
        changed = !l->known || l->last_error != 0 || !node_state_equal(n, &l->self);
        l->last_error = 0;
        docker_node_done(&l->self);
        l->self = *n;
        *n = (DockerNode){};
        l->known = true;
        if (l->self.leader != l->is_leader) {
                leader_set(l, l->self.leader, "another manager leads now");
                changed = true;
        }
        if (changed) {
                const DockerNode *x = &l->self;
                log_debug("Node %s: %s, %s, %s%s%s.", l->node_id, strempty(x->role), strempty(x->state),
                          strempty(x->availability), x->reachability ? ", " : "", strempty(x->reachability));
                leader_notify(l);
        }
}

static int leader_check_work(Job *j, void *userdata) {
        LeaderCheck *c = userdata;
        _cleanup_(docker_freep) Docker *d = NULL;
        int r;

        r = docker_new_for_job(c->socket, c->api_version, c->timeout_msec, job_cancel_flag(j), &d);
        if (r < 0)
                return r;
        c->r = docker_node_inspect(d, c->node_id, &c->node);
        if (c->r < 0)
                c->error = strdup(docker_last_error(d));
        return c->r;
}

static int leader_check_start(Leader *l);

static void leader_check_done(Job *j, int r, void *userdata) {
        LeaderCheck *c = userdata;
        Leader *l = c->leader;

        if (l->check == j) {
                if (c->generation == l->generation && l->running && r != -ECANCELED)
                        leader_apply(l, c->r, &c->node, c->error);
                l->check = job_free(l->check); /* frees c */
        }
        if (l->check_again && l->running) {
                l->check_again = false;
                (void) leader_check_start(l);
        }
}

/* Start a check on a worker thread; if one is in flight, another follows it. */
static int leader_check_start(Leader *l) {
        LeaderCheck *c;
        int r;

        if (!l->running || !l->docker)
                return -ESTALE;
        if (l->check) {
                l->check_again = true;
                return 0;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->leader = l;
        c->generation = l->generation;
        c->timeout_msec = l->docker->timeout_msec;
        memcpy(c->api_version, l->docker->api_version, sizeof(c->api_version));
        c->socket = strdup(l->docker->socket);
        c->node_id = strdup(l->node_id);
        if (!c->socket || !c->node_id) {
                leader_check_free(c);
                return -ENOMEM;
        }
        r = job_start(l->event, "leader-check", leader_check_work, leader_check_done, c, &l->check);
        if (r < 0) {
                leader_check_free(c);
                return r;
        }
        job_set_destroy(l->check, leader_check_free);
        return 0;
}

static void leader_check(Leader *l) {
        int r = leader_check_start(l);
        if (r < 0 && r != -ESTALE)
                log_debug_errno(r, "Cannot start a leadership check: %m");
}

int leader_quorum_from_nodes(const DockerNode *nodes, size_t n, const char *node_id, LeaderQuorum *ret) {
        LeaderQuorum q = {};

        if (isempty(node_id) || (n > 0 && !nodes))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                const DockerNode *x = &nodes[i];
                if (!x->manager)
                        continue; /* the filter asked for managers; a worker does not count */
                q.n_managers++;
                if (streq_ptr(x->reachability, "reachable"))
                        q.n_reachable++;
                if (streq_ptr(x->id, node_id)) {
                        q.self_found = true;
                        q.leader = x->leader;
                }
        }
        q.majority = quorum_has_majority(q.n_reachable, q.n_managers);
        if (ret)
                *ret = q;
        return q.leader;
}

int leader_quorum_parse(const char *json, const char *node_id, LeaderQuorum *ret) {
        DockerNode *nodes = NULL;
        size_t n = 0;
        int r;

        if (!json || isempty(node_id))
                return -EINVAL;
        r = docker_parse_nodes(json, &nodes, &n);
        if (r < 0)
                return r;
        r = leader_quorum_from_nodes(nodes, n, node_id, ret);
        docker_nodes_free(nodes, n);
        return r;
}

int leader_confirm_blocking(Docker *own_client, const char *node_id, LeaderQuorum *ret) {
        DockerNode *nodes = NULL;
        size_t n = 0;
        int r;

        if (!own_client || isempty(node_id))
                return -EINVAL;
        r = docker_nodes_list_managers(own_client, &nodes, &n);
        if (r < 0)
                return r;
        r = leader_quorum_from_nodes(nodes, n, node_id, ret);
        docker_nodes_free(nodes, n);
        return r;
}

static void leader_confirm_free(void *userdata) {
        LeaderConfirm *c = userdata;

        if (!c)
                return;
        free(c->socket);
        free(c->node_id);
        free(c);
}

static int leader_confirm_work(Job *j, void *userdata) {
        LeaderConfirm *c = userdata;
        _cleanup_(docker_freep) Docker *d = NULL;
        int r;

        r = docker_new_for_job(c->socket, c->api_version, c->timeout_msec, job_cancel_flag(j), &d);
        if (r < 0)
                return c->r = r;
        return c->r = leader_confirm_blocking(d, c->node_id, &c->quorum);
}

static void leader_confirm_done(Job *j, int r, void *userdata) {
        LeaderConfirm *c = userdata;
        Leader *l = c->leader;
        LeaderConfirmHandler cb = c->cb;
        void *cb_userdata = c->userdata;
        LeaderQuorum q = c->quorum;

        if (c->generation != l->generation || !l->running)
                r = -ESTALE;
        else if (r != -ECANCELED)
                r = c->r;
        l->confirm = job_free(l->confirm); /* frees c; a new confirm may start from cb */
        cb(l, r, r >= 0 ? &q : NULL, cb_userdata);
}

int leader_confirm_async(Leader *l, LeaderConfirmHandler cb, void *userdata) {
        LeaderConfirm *c;
        int r;

        if (!l || !cb)
                return -EINVAL;
        if (!l->running || !l->docker || isempty(l->node_id))
                return -ESTALE;
        if (l->confirm)
                return -EBUSY;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->leader = l;
        c->generation = l->generation;
        c->cb = cb;
        c->userdata = userdata;
        c->timeout_msec = l->docker->timeout_msec;
        memcpy(c->api_version, l->docker->api_version, sizeof(c->api_version));
        c->socket = strdup(l->docker->socket);
        c->node_id = strdup(l->node_id);
        if (!c->socket || !c->node_id) {
                leader_confirm_free(c);
                return -ENOMEM;
        }
        r = job_start(l->event, "leader-confirm", leader_confirm_work, leader_confirm_done, c, &l->confirm);
        if (r < 0) {
                leader_confirm_free(c);
                return r;
        }
        job_set_destroy(l->confirm, leader_confirm_free);
        return 0;
}

bool leader_checking(const Leader *l) {
        return l && l->check;
}

static int leader_arm(sd_event_source **s, Leader *l, uint64_t usec, sd_event_time_handler_t cb,
                      const char *desc) {
        return event_timer_arm(l->event, s, now_usec(CLOCK_MONOTONIC) + usec, 10 * USEC_PER_MSEC, false, cb, l,
                               desc);
}

static int leader_on_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        Leader *l = userdata;
        leader_check(l);
        /* the poll is relative to the last check: reschedule */
        (void) leader_arm(&l->poll, l, l->poll_usec, leader_on_poll, "leader-poll");
        return 0;
}

static int leader_on_soon(sd_event_source *s, uint64_t usec, void *userdata) {
        Leader *l = userdata;

        leader_check(l);
        if (l->followup < ELEMENTSOF(leader_followups_usec)) {
                uint64_t prev = l->followup == 0 ? 0 : leader_followups_usec[l->followup - 1];
                (void) leader_arm(&l->soon, l, leader_followups_usec[l->followup] - prev, leader_on_soon,
                                  "leader-followup");
                l->followup++;
        }
        /* a check just happened: push the safety poll back */
        (void) leader_arm(&l->poll, l, l->poll_usec, leader_on_poll, "leader-poll");
        return 0;
}

void leader_kick(Leader *l) {
        if (!l || !l->running)
                return;
        l->followup = 0;
        if (leader_arm(&l->soon, l, LEADER_EVENT_DELAY_USEC, leader_on_soon, "leader-check") < 0)
                leader_check(l);
}

void leader_on_event(Leader *l, const DockerEvent *ev) {
        if (!l || !l->running || !ev)
                return;
        if (ev->type != DOCKER_EVENT_NODE && ev->type != DOCKER_EVENT_DAEMON)
                return;
        /* Any node change may be part of an election: this node's own leadership shows
         * up in inspections, not reliably in events (the engine reports
         * leader.old/leader.new only on some transitions). One check covers a burst. */
        leader_kick(l);
}

int leader_set_poll_interval(Leader *l, uint64_t poll_usec) {
        if (poll_usec == 0)
                return -EINVAL;
        l->poll_usec = poll_usec;
        if (l->running)
                return leader_arm(&l->poll, l, poll_usec, leader_on_poll, "leader-poll");
        return 0;
}

int leader_start(Leader *l, const char *node_id) {
        int r;

        if (isempty(node_id))
                return -EINVAL;
        if (l->running && streq(l->node_id, node_id))
                return 0;
        r = free_and_strdup(&l->node_id, node_id);
        if (r < 0)
                return r;
        l->running = true;
        l->known = false;
        l->last_error = 0;
        l->generation++;
        docker_node_done(&l->self);
        if (l->check) {
                /* a check for the old node (or from before a stop) is worthless now */
                job_cancel(l->check);
                l->check_again = true;
        } else
                leader_check(l);
        return leader_arm(&l->poll, l, l->poll_usec, leader_on_poll, "leader-poll");
}

void leader_stop(Leader *l, const char *why) {
        if (!l || !l->running)
                return;
        l->running = false;
        l->generation++;
        l->check_again = false;
        if (l->check)
                job_cancel(l->check); /* its result is dropped; the job ends on its own */
        if (l->poll)
                (void) sd_event_source_set_enabled(l->poll, SD_EVENT_OFF);
        if (l->soon)
                (void) sd_event_source_set_enabled(l->soon, SD_EVENT_OFF);
        if (l->is_leader) {
                leader_set(l, false, why);
                leader_notify(l);
        }
        l->known = false;
        docker_node_done(&l->self);
}
