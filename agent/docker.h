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
 * Nothing here logs above debug; join tokens never reach any log.
 *
 * The /events stream (DockerEvents) is read without blocking inside sd-event over a
 * plain non-blocking unix-socket connection: HTTP/1.1 headers, then a chunked body of
 * newline-delimited JSON objects. The parsers are pure functions so that tests and the
 * fuzzer reach them without an engine.
 */

#include <json-c/json.h>
#include <stdatomic.h>
#include <systemd/sd-event.h>

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

/* The engine's error answer → negative errno; *ret_message (may be NULL) gets the text. */
int docker_error_from_response(long status, const char *body, char **ret_message);

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
        char *spec_json;          /* the Spec object as sent back by updates */
} DockerNode;

#define DOCKER_LABEL_LOGICAL_ID "swarmkeeper.logical-id"

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
int docker_node_remove(Docker *d, const char *id, bool force);

/* ---- /swarm ---------------------------------------------------------------------- */

typedef struct DockerSwarm {
        char *id;
        char *join_token_worker;  /* secret */
        char *join_token_manager; /* secret */
} DockerSwarm;

void docker_swarm_done(DockerSwarm *s); /* erases the tokens */
int docker_swarm_inspect(Docker *d, DockerSwarm *ret);

/* POST /swarm/init advertising addr (listen 0.0.0.0:2377). ret_node_id may be NULL. */
int docker_swarm_init(Docker *d, const char *advertise_addr, char **ret_node_id);

/*
 * POST /swarm/join. remotes: "ip" or "ip:port". Can take long (the engine waits for
 * the node to be ready): timeout_msec 0 means 10 s; -ETIMEDOUT then means the engine
 * may still be joining in the background (check /info).
 */
int docker_swarm_join(Docker *d, char *const *remotes, const char *token,
                      const char *advertise_addr, uint64_t timeout_msec);

/* ---- /events ---------------------------------------------------------------------- */

typedef enum DockerEventType {
        DOCKER_EVENT_OTHER,
        DOCKER_EVENT_NODE,
        DOCKER_EVENT_DAEMON,
} DockerEventType;

typedef struct DockerEvent {
        DockerEventType type;
        char action[32];          /* "create", "update", "remove", "reload", … */
        char actor_id[96];        /* node ID for node events */
        /* Changes in a node update ("" if not part of this event). */
        char leader_new[8];       /* "true" | "false" */
        char state_new[16];
        char reachability_new[16];
        char role_new[16];
        uint64_t time_nano;
} DockerEvent;

/* One line of the events stream → event. -EBADMSG if it is not an event object. */
int docker_event_parse(const char *line, size_t size, DockerEvent *ret);

/* HTTP/1.1 response reader for the stream: status line, headers, chunked or plain body,
 * split into lines. */
typedef struct DockerStreamParser {
        enum {
                STREAM_STATUS_LINE,
                STREAM_HEADERS,
                STREAM_CHUNK_SIZE,
                STREAM_CHUNK_DATA,
                STREAM_CHUNK_END,
                STREAM_CHUNK_TRAILER,
                STREAM_BODY,
                STREAM_DONE,
        } state;
        bool chunked;
        long status;
        uint64_t chunk_left;
        char *line;               /* the line being collected */
        size_t line_size, line_alloc;
        char *body_line;          /* the body line being collected */
        size_t body_size, body_alloc;
} DockerStreamParser;

#define DOCKER_STREAM_LINE_MAX (64u * 1024)

typedef void (*DockerLineHandler)(const char *line, size_t size, void *userdata);

/* Feed bytes. Calls on_line for every complete body line (without the newline; empty
 * lines skipped). Returns 0; -EBADMSG on a malformed response (a header line or body
 * line over DOCKER_STREAM_LINE_MAX, bad chunk size), -EIO for a non-200 status,
 * -EPIPE when a chunked body ended. */
int docker_stream_feed(DockerStreamParser *p, const char *data, size_t size,
                       DockerLineHandler on_line, void *userdata);
bool docker_stream_headers_done(const DockerStreamParser *p);
void docker_stream_parser_done(DockerStreamParser *p);

typedef struct DockerEvents DockerEvents;
typedef void (*DockerEventHandler)(DockerEvents *s, const DockerEvent *ev, void *userdata);
/* The stream is gone (error < 0: why; the text is in *message); the object stays until freed. */
typedef void (*DockerEventsClosed)(DockerEvents *s, int error, const char *message, void *userdata);

/*
 * Subscribe to node and daemon events: connect (non-blocking) to socket, send the
 * request, read inside `event`. on_open is called when the answer's headers arrived
 * (the subscription is live), on_event per event, on_closed once when the stream ends
 * or fails (also when no headers arrive within header_timeout_usec).
 */
int docker_events_new(sd_event *event, const char *socket, const char *api_version,
                      uint64_t header_timeout_usec,
                      void (*on_open)(DockerEvents *s, void *userdata),
                      DockerEventHandler on_event, DockerEventsClosed on_closed, void *userdata,
                      DockerEvents **ret);
DockerEvents *docker_events_free(DockerEvents *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(DockerEvents *, docker_events_free);
