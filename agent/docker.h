/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Docker Engine API client over the engine's unix socket.
 *
 * Requests are synchronous (http_perform) with short timeouts, so that a hanging engine
 * never holds the event loop for long. The API version is negotiated once by
 * docker_ping(): the engine's ApiVersion, capped at the newest we know (1.41).
 *
 * Errors: a negative errno, and docker_last_error() has the text — the engine's
 * {"message": …} or the transport's complaint. Engine statuses map to:
 *   400 -EINVAL, 401/403 -EACCES, 404 -ENOENT, 406/503 -ENOTCONN (not in a swarm / not a
 *   manager), 409 -EEXIST, 500 -EIO, anything else -EPROTO; garbage -EBADMSG.
 * An HTTP error answer is an answer: docker_answered() tells it apart from a transport
 * failure (-EIO is both "HTTP 500" and "the connection broke").
 * Nothing here logs above debug; join tokens never reach any log: every text taken from
 * an engine answer goes through docker_scrub_tokens() before it is kept.
 *
 * The /events stream is in docker-events.h; the JSON helpers in json-util.h.
 */

#include <json-c/json.h>
#include <stdatomic.h>

#include "labels.h"
#include "util.h"

#define DOCKER_API_VERSION_MAX "1.41"
#define DOCKER_API_VERSION_MIN "1.24" /* swarm endpoints */
#define DOCKER_SWARM_PORT 2377

typedef struct Docker {
        char *socket;
        char api_version[16];      /* "1.41"; empty until docker_ping() */
        uint64_t timeout_msec;     /* total per request (default 5000) */
        uint64_t n_requests;       /* requests sent, for the benchmark */
        char *error;               /* last error text */
        const atomic_bool *cancel; /* docker_set_cancel() */
        long last_status;          /* HTTP status of the last answer; 0: no answer at all */
} Docker;

int docker_new(const char *socket, Docker **ret);
Docker *docker_free(Docker *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(Docker *, docker_free);

/*
 * Requests abort with -ECANCELED within about a second once *flag is true (a Job's
 * job_cancel_flag(); another thread may raise it). NULL: never. The flag must outlive
 * the client or be unset first. One client per thread: a Docker is not thread-safe.
 */
void docker_set_cancel(Docker *d, const atomic_bool *flag);

/*
 * The client a Job's thread talks to the engine with: the loop's socket, the API version
 * the loop negotiated (NULL or "": none yet, docker_ping() finds it), the total per request
 * (0: the default) and the Job's cancel flag (job_cancel_flag(); NULL: never).
 */
int docker_new_for_job(const char *socket, const char *api_version, uint64_t timeout_msec,
                       const atomic_bool *cancel, Docker **ret);

/* Text of the last failure ("" if none). */
const char *docker_last_error(const Docker *d);

/* GET /_ping, then /version for the API version. 0 or negative errno. */
int docker_ping(Docker *d);

/*
 * One request to "/vX.Y<path>" (path starts with '/'); body is JSON text or NULL.
 * ret_json (may be NULL) gets the parsed answer (NULL for an empty one).
 * timeout_msec 0: d->timeout_msec.
 */
int docker_call(Docker *d, const char *method, const char *path, const char *body,
                uint64_t timeout_msec, json_object **ret_json);

/* The engine's error answer → negative errno; *ret_message (may be NULL) gets the text,
 * with any swarm join token in it masked (docker_scrub_tokens()). */
int docker_error_from_response(long status, const char *body, char **ret_message);

/* Did the last request get an HTTP answer (any status)? False: a transport failure. */
bool docker_answered(const Docker *d);

/* Mask every swarm join token ("SWMTKN-" and the token characters after it) in s, in
 * place: "SWMTKN-" stays, the rest of the token becomes '*'. */
void docker_scrub_tokens(char *s);

/* ---- /info ---------------------------------------------------------------------- */

typedef enum DockerSwarmState {
        DOCKER_SWARM_INACTIVE,
        DOCKER_SWARM_PENDING,
        DOCKER_SWARM_ACTIVE,
        DOCKER_SWARM_ERROR,
        DOCKER_SWARM_LOCKED,
        _DOCKER_SWARM_STATE_INVALID = -EINVAL,
} DockerSwarmState;

const char *docker_swarm_state_to_string(DockerSwarmState s);
DockerSwarmState docker_swarm_state_from_string(const char *s);

typedef struct DockerInfo {
        char *name;               /* engine hostname */
        DockerSwarmState state;   /* Swarm.LocalNodeState */
        char *node_id;            /* Swarm.NodeID ("" when inactive) */
        char *node_addr;          /* Swarm.NodeAddr */
        bool control_available;   /* this engine is a manager */
        char *cluster_id;         /* Swarm.Cluster.ID (managers only) */
        char *swarm_error;        /* Swarm.Error */
        char **remote_managers;   /* Swarm.RemoteManagers[].Addr */
        char **labels;            /* engine labels, "k=v" */
} DockerInfo;

void docker_info_done(DockerInfo *i);
int docker_parse_info(const char *json, DockerInfo *ret);
int docker_info(Docker *d, DockerInfo *ret);

/* ---- /nodes --------------------------------------------------------------------- */

typedef struct DockerNode {
        char *id;
        uint64_t version;         /* Version.Index, for updates */
        char *hostname;           /* Description.Hostname */
        char *role;               /* Spec.Role: "manager" | "worker" */
        char *availability;       /* Spec.Availability: "active" | "pause" | "drain" */
        char *state;              /* Status.State: "ready" | "down" | "unknown" | … */
        char *addr;               /* Status.Addr */
        bool manager;             /* has ManagerStatus */
        bool leader;              /* ManagerStatus.Leader */
        char *reachability;       /* ManagerStatus.Reachability (NULL for workers) */
        char *manager_addr;       /* ManagerStatus.Addr */
        char *logical_id;         /* engine label swarmkeeper.logical-id (NULL if none) */
        char *instance_id;        /* engine label swarmkeeper.instance-id: the host's EC2 instance
                                   * as the host said it (NULL if none; a hint, not proof) */
        uint64_t created_usec;    /* CreatedAt, µs since the epoch on the managers' clock (0:
                                   * missing or unreadable) */
        char *spec_json;          /* the Spec object as sent back by updates */
        char *volume_id;          /* node (Spec) label swarmkeeper.volume-id: the data volume the
                                   * leader saw this manager run on (NULL if none); in Raft, so it
                                   * outlives the host and any one leader's memory */
} DockerNode;

void docker_node_done(DockerNode *n);
void docker_nodes_free(DockerNode *n, size_t count);
int docker_parse_node(const char *json, DockerNode *ret);
int docker_parse_nodes(const char *json, DockerNode **ret, size_t *ret_count);

int docker_nodes_list(Docker *d, DockerNode **ret, size_t *ret_count);
/* GET /nodes?filters={"role":["manager"]}: the managers only, in one request. */
int docker_nodes_list_managers(Docker *d, DockerNode **ret, size_t *ret_count);
int docker_node_inspect(Docker *d, const char *id, DockerNode *ret);
/* Update role and/or availability (NULL: keep), with n->version for optimistic locking. */
int docker_node_update(Docker *d, const DockerNode *n, const char *role, const char *availability);
/* Set one label of the node's Spec (the operator's and the leader's labels, not the
 * engine's), with n->version for optimistic locking. */
int docker_node_set_label(Docker *d, const DockerNode *n, const char *key, const char *value);
int docker_node_remove(Docker *d, const char *id, bool force);

/* ---- /swarm ---------------------------------------------------------------------- */

typedef struct DockerSwarm {
        char *id;
        char *join_token_worker;  /* secret */
        char *join_token_manager; /* secret */
} DockerSwarm;

/* Wipe the tokens' bytes in place (the strings stay allocated, now empty). */
void docker_swarm_erase(DockerSwarm *s);
void docker_swarm_done(DockerSwarm *s); /* erases the tokens, then frees */
int docker_swarm_inspect(Docker *d, DockerSwarm *ret);

/*
 * Rotate both join tokens: GET /swarm, then POST /swarm/update?version=<Version.Index>
 * &rotateWorkerToken=true&rotateManagerToken=true with the swarm's own Spec, so that
 * nothing but the tokens changes (the version makes the engine refuse it if the swarm
 * changed in between). json-c's copies of the old tokens are wiped; nothing keeps them.
 * -EBADMSG (nothing sent): the swarm description has no Spec or Version.
 * ret_updated_usec (may be NULL): the swarm's UpdatedAt read right after the rotation
 * (one more GET /swarm) — the managers' clock, the one node CreatedAt is on; 0 when it
 * cannot be read (docker_last_error() says why), which does not fail the rotation.
 */
int docker_swarm_rotate_join_tokens(Docker *d, uint64_t *ret_updated_usec);

/* POST /swarm/init advertising addr (listen 0.0.0.0:2377). ret_node_id may be NULL. */
int docker_swarm_init(Docker *d, const char *advertise_addr, char **ret_node_id);

/*
 * POST /swarm/join. remotes: "ip" or "ip:port". Can take long (the engine waits for
 * the node to be ready): timeout_msec 0 means 10 s; -ETIMEDOUT then means the engine
 * may still be joining in the background (check /info).
 */
int docker_swarm_join(Docker *d, char *const *remotes, const char *token,
                      const char *advertise_addr, uint64_t timeout_msec);
