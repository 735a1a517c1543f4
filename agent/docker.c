/* SPDX-License-Identifier: MIT */
#include "docker.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "creds.h" /* aws_parse_timestamp(): the engine writes RFC 3339 as AWS does */
#include "http.h"
#include "json-util.h"
#include "log.h"

int docker_new(const char *socket, Docker **ret) {
        _cleanup_(docker_freep) Docker *d = NULL;

        if (isempty(socket))
                return -EINVAL;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->socket = strdup(socket);
        if (!d->socket)
                return -ENOMEM;
        d->timeout_msec = 5000;
        *ret = TAKE_PTR(d);
        return 0;
}

Docker *docker_free(Docker *d) {
        if (!d)
                return NULL;
        free(d->socket);
        free(d->error);
        free(d);
        return NULL;
}

void docker_set_cancel(Docker *d, const atomic_bool *flag) {
        if (d)
                d->cancel = flag;
}

int docker_new_for_job(const char *socket, const char *api_version, uint64_t timeout_msec,
                       const atomic_bool *cancel, Docker **ret) {
        _cleanup_(docker_freep) Docker *d = NULL;
        int r;

        r = docker_new(socket, &d);
        if (r < 0)
                return r;
        if (api_version)
                (void) snprintf(d->api_version, sizeof(d->api_version), "%s", api_version);
        if (timeout_msec > 0)
                d->timeout_msec = timeout_msec;
        d->cancel = cancel;
        *ret = TAKE_PTR(d);
        return 0;
}

const char *docker_last_error(const Docker *d) {
        return d && d->error ? d->error : "";
}

_printf_(2, 3) static void docker_set_error(Docker *d, const char *fmt, ...) {
        char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        /* engine text ends up in logs and on terminals: no control characters */
        for (char *p = s; p && *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        free(d->error);
        d->error = s;
}

/* ---- requests ----------------------------------------------------------------------- */

void docker_scrub_tokens(char *s) {
        char *p = s;

        while (p && (p = strstr(p, "SWMTKN-"))) {
                p += strlen("SWMTKN-");
                while (isalnum((unsigned char) *p) || *p == '-')
                        *p++ = '*';
        }
}

bool docker_answered(const Docker *d) {
        return d && d->last_status > 0;
}

int docker_error_from_response(long status, const char *body, char **ret_message) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *msg = NULL;
        int r;

        if (body && json_parse_text(body, strlen(body), 0, 0, &o) >= 0)
                msg = jstr(JPATH(o, "message"));

        switch (status) {
        case 400:
                r = -EINVAL;
                break;
        case 401:
        case 403:
                r = -EACCES;
                break;
        case 404:
                r = -ENOENT;
                break;
        case 406:
        case 503:
                r = -ENOTCONN;
                break;
        case 409:
                r = -EEXIST;
                break;
        case 500:
                r = -EIO;
                break;
        default:
                r = -EPROTO;
        }

        if (ret_message) {
                char *m = NULL;
                if (msg)
                        m = strdup(msg);
                else if (asprintf(&m, "engine answered HTTP %ld", status) < 0)
                        m = NULL;
                if (!m)
                        return -ENOMEM;
                docker_scrub_tokens(m);
                *ret_message = m;
        }
        return r;
}

static int docker_request(Docker *d, const char *method, const char *path, const char *body,
                          uint64_t timeout_msec, HttpResponse *resp) {
        _cleanup_(freep) char *url = NULL;
        static const char *const json_headers[] = { "Content-Type: application/json", NULL };
        HttpRequest req = {
                .method = method,
                .unix_socket = d->socket,
                .headers = body ? json_headers : NULL,
                .body = body,
                .body_size = body ? strlen(body) : 0,
                .connect_timeout_msec = 1000,
                .timeout_msec = timeout_msec ?: d->timeout_msec,
                .max_response = 8u * 1024 * 1024,
                .cancel = d->cancel,
        };
        int r;

        if (asprintf(&url, "http://docker%s", path) < 0)
                return -ENOMEM;
        req.url = url;
        d->n_requests++;
        d->last_status = 0;
        r = http_perform(&req, resp);
        if (r < 0) {
                docker_set_error(d, "%s", *resp->error ? resp->error : strerror(-r));
                return r;
        }
        d->last_status = resp->status;
        if (resp->status < 200 || resp->status >= 300) {
                _cleanup_(freep) char *m = NULL;
                r = docker_error_from_response(resp->status, resp->body, &m);
                docker_set_error(d, "%s", m ?: "engine error");
                /* the body may echo what we sent (a join token): not kept anywhere */
                explicit_bzero(resp->body, resp->body_size);
                return r;
        }
        return 0;
}

int docker_call(Docker *d, const char *method, const char *path, const char *body,
                uint64_t timeout_msec, json_object **ret_json) {
        _cleanup_(freep) char *p = NULL;
        HttpResponse resp = HTTP_RESPONSE_NULL;
        json_object *o = NULL;
        int r;

        if (asprintf(&p, "/v%s%s", *d->api_version ? d->api_version : DOCKER_API_VERSION_MAX, path) < 0)
                return -ENOMEM;
        r = docker_request(d, method, p, body, timeout_msec, &resp);
        if (r >= 0 && ret_json && resp.body_size > 0) {
                r = json_parse_text(resp.body, resp.body_size, 0, 0, &o);
                if (r < 0)
                        docker_set_error(d, "engine answered something that is not JSON");
        }
        /* answers may carry secrets (GET /swarm: the join tokens) */
        if (resp.body)
                explicit_bzero(resp.body, resp.body_size);
        http_response_done(&resp);
        if (r < 0)
                return r;
        if (ret_json)
                *ret_json = o;
        return 0;
}

/* "1.41" → 1041; -EINVAL for anything else. */
static int api_version_parse(const char *s) {
        unsigned maj, min;
        int n = -1;

        if (!s || sscanf(s, "%u.%u%n", &maj, &min, &n) != 2 || n < 0 || s[n] || maj > 9 || min > 999)
                return -EINVAL;
        return (int) (maj * 1000 + min);
}

int docker_ping(Docker *d) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        HttpResponse resp = HTTP_RESPONSE_NULL;
        const char *v, *vmin;
        int r, have, want = api_version_parse(DOCKER_API_VERSION_MAX);

        r = docker_request(d, "GET", "/_ping", NULL, 2000, &resp);
        if (r >= 0 && !streq(resp.body, "OK")) {
                docker_set_error(d, "engine answered /_ping with something else than OK");
                r = -EBADMSG;
        }
        http_response_done(&resp);
        if (r < 0)
                return r;

        r = docker_request(d, "GET", "/version", NULL, 2000, &resp);
        if (r >= 0) {
                r = json_parse_text(resp.body, resp.body_size, 0, 0, &o);
                if (r < 0)
                        docker_set_error(d, "engine answered /version with something that is not JSON");
        }
        http_response_done(&resp);
        if (r < 0)
                return r;

        v = jstr(JPATH(o, "ApiVersion"));
        vmin = jstr(JPATH(o, "MinAPIVersion"));
        have = api_version_parse(v);
        if (have < 0) {
                docker_set_error(d, "engine did not say which API version it speaks");
                return -EBADMSG;
        }
        if (have < api_version_parse(DOCKER_API_VERSION_MIN) ||
            (vmin && api_version_parse(vmin) > want)) {
                docker_set_error(d, "engine speaks API %s..%s, we need %s..%s", strempty(vmin), v,
                                 DOCKER_API_VERSION_MIN, DOCKER_API_VERSION_MAX);
                return -EPROTONOSUPPORT;
        }
        if (have > want)
                have = want;
        snprintf(d->api_version, sizeof(d->api_version), "%d.%d", have / 1000, have % 1000);
        log_debug("Docker engine API %s (engine: %s).", d->api_version, v);
        return 0;
}

/* ---- /info -------------------------------------------------------------------------- */

static const char *const swarm_state_table[] = {
        [DOCKER_SWARM_INACTIVE] = "inactive", [DOCKER_SWARM_PENDING] = "pending",
        [DOCKER_SWARM_ACTIVE] = "active",     [DOCKER_SWARM_ERROR] = "error",
        [DOCKER_SWARM_LOCKED] = "locked",
};

const char *docker_swarm_state_to_string(DockerSwarmState s) {
        if (s < 0 || (size_t) s >= ELEMENTSOF(swarm_state_table))
                return "invalid";
        return swarm_state_table[s];
}

DockerSwarmState docker_swarm_state_from_string(const char *s) {
        return (DockerSwarmState) string_table_lookup(swarm_state_table, ELEMENTSOF(swarm_state_table), s);
}

void docker_info_done(DockerInfo *i) {
        free(i->name);
        free(i->node_id);
        free(i->node_addr);
        free(i->cluster_id);
        free(i->swarm_error);
        strv_free(i->remote_managers);
        strv_free(i->labels);
        *i = (DockerInfo){};
}

static int info_from_json(json_object *o, DockerInfo *ret) {
        _cleanup_(docker_info_done) DockerInfo i = {};
        json_object *sw = JPATH(o, "Swarm"), *a;
        int r;

        if (!json_object_is_type(o, json_type_object) || !json_object_is_type(sw, json_type_object))
                return -EBADMSG;
        i.state = docker_swarm_state_from_string(jstr(JPATH(sw, "LocalNodeState")));
        if (i.state < 0)
                return -EBADMSG;
        if ((r = jdup(JPATH(o, "Name"), &i.name)) < 0 ||
            (r = jdup(JPATH(sw, "NodeID"), &i.node_id)) < 0 ||
            (r = jdup(JPATH(sw, "NodeAddr"), &i.node_addr)) < 0 ||
            (r = jdup(JPATH(sw, "Cluster", "ID"), &i.cluster_id)) < 0 ||
            (r = jdup(JPATH(sw, "Error"), &i.swarm_error)) < 0)
                return r;
        i.control_available = json_object_get_boolean(JPATH(sw, "ControlAvailable"));

        a = JPATH(sw, "RemoteManagers");
        if (json_object_is_type(a, json_type_array))
                for (size_t k = 0; k < json_object_array_length(a); k++) {
                        const char *addr = jstr(JPATH(json_object_array_get_idx(a, k), "Addr"));
                        if (addr && (r = strv_extend(&i.remote_managers, addr)) < 0)
                                return r;
                }
        a = JPATH(o, "Labels");
        if (json_object_is_type(a, json_type_array))
                for (size_t k = 0; k < json_object_array_length(a); k++) {
                        const char *l = jstr(json_object_array_get_idx(a, k));
                        if (l && (r = strv_extend(&i.labels, l)) < 0)
                                return r;
                }
        *ret = i;
        i = (DockerInfo){};
        return 0;
}

int docker_parse_info(const char *json, DockerInfo *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = json_parse_text(json, strlen(json), 0, 0, &o);
        return r < 0 ? r : info_from_json(o, ret);
}

int docker_info(Docker *d, DockerInfo *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = docker_call(d, "GET", "/info", NULL, 0, &o);
        if (r < 0)
                return r;
        r = info_from_json(o, ret);
        if (r == -EBADMSG)
                docker_set_error(d, "engine's /info lacks the Swarm section");
        return r;
}

/* ---- /nodes ------------------------------------------------------------------------- */

void docker_node_done(DockerNode *n) {
        free(n->id);
        free(n->hostname);
        free(n->role);
        free(n->availability);
        free(n->state);
        free(n->addr);
        free(n->reachability);
        free(n->manager_addr);
        free(n->logical_id);
        free(n->instance_id);
        free(n->spec_json);
        free(n->volume_id);
        *n = (DockerNode){};
}

void docker_nodes_free(DockerNode *n, size_t count) {
        for (size_t i = 0; n && i < count; i++)
                docker_node_done(&n[i]);
        free(n);
}

static int node_from_json(json_object *o, DockerNode *ret) {
        _cleanup_(docker_node_done) DockerNode n = {};
        json_object *spec = JPATH(o, "Spec"), *ms = JPATH(o, "ManagerStatus"), *v;
        int r;

        if (!json_object_is_type(o, json_type_object) || !jstr(JPATH(o, "ID")) ||
            !json_object_is_type(spec, json_type_object))
                return -EBADMSG;
        v = JPATH(o, "Version", "Index");
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                return -EBADMSG;
        n.version = (uint64_t) json_object_get_int64(v);

        if ((r = jdup(JPATH(o, "ID"), &n.id)) < 0 ||
            (r = jdup(JPATH(o, "Description", "Hostname"), &n.hostname)) < 0 ||
            (r = jdup(JPATH(spec, "Role"), &n.role)) < 0 ||
            (r = jdup(JPATH(spec, "Availability"), &n.availability)) < 0 ||
            (r = jdup(JPATH(o, "Status", "State"), &n.state)) < 0 ||
            (r = jdup(JPATH(o, "Status", "Addr"), &n.addr)) < 0 ||
            (r = jdup(JPATH(o, "Description", "Engine", "Labels", SK_LABEL_LOGICAL_ID), &n.logical_id)) < 0 ||
            (r = jdup(JPATH(o, "Description", "Engine", "Labels", SK_LABEL_INSTANCE_ID), &n.instance_id)) < 0 ||
            (r = jdup(JPATH(spec, "Labels", SK_NODE_LABEL_VOLUME_ID), &n.volume_id)) < 0)
                return r;
        if (json_object_is_type(ms, json_type_object)) {
                n.manager = true;
                n.leader = json_object_get_boolean(JPATH(ms, "Leader"));
                if ((r = jdup(JPATH(ms, "Reachability"), &n.reachability)) < 0 ||
                    (r = jdup(JPATH(ms, "Addr"), &n.manager_addr)) < 0)
                        return r;
        }
        /* missing or unreadable: 0, "unknown" (the node is listed all the same) */
        (void) aws_parse_timestamp(jstr(JPATH(o, "CreatedAt")), &n.created_usec);
        n.spec_json = strdup(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN));
        if (!n.spec_json)
                return -ENOMEM;
        *ret = n;
        n = (DockerNode){};
        return 0;
}

int docker_parse_node(const char *json, DockerNode *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = json_parse_text(json, strlen(json), 0, 0, &o);
        return r < 0 ? r : node_from_json(o, ret);
}

static int nodes_from_json(json_object *o, DockerNode **ret, size_t *ret_count) {
        DockerNode *nodes;
        size_t n;
        int r;

        if (!json_object_is_type(o, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(o);
        nodes = calloc(n ?: 1, sizeof(DockerNode));
        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = node_from_json(json_object_array_get_idx(o, i), &nodes[i]);
                if (r < 0) {
                        docker_nodes_free(nodes, i);
                        return r;
                }
        }
        *ret = nodes;
        *ret_count = n;
        return 0;
}

int docker_parse_nodes(const char *json, DockerNode **ret, size_t *ret_count) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = json_parse_text(json, strlen(json), 0, 0, &o);
        return r < 0 ? r : nodes_from_json(o, ret, ret_count);
}

static int nodes_list(Docker *d, const char *path, DockerNode **ret, size_t *ret_count) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = docker_call(d, "GET", path, NULL, 0, &o);
        if (r < 0)
                return r;
        r = nodes_from_json(o, ret, ret_count);
        if (r == -EBADMSG)
                docker_set_error(d, "engine's node list is malformed");
        return r;
}

int docker_nodes_list(Docker *d, DockerNode **ret, size_t *ret_count) {
        return nodes_list(d, "/nodes", ret, ret_count);
}

int docker_nodes_list_managers(Docker *d, DockerNode **ret, size_t *ret_count) {
        /* filters={"role":["manager"]} */
        return nodes_list(d, "/nodes?filters=%7B%22role%22%3A%5B%22manager%22%5D%7D", ret, ret_count);
}

/* Node IDs are 25 lowercase alphanumerics; accept any [A-Za-z0-9] so paths stay clean. */
static bool node_id_valid(const char *id) {
        if (isempty(id) || strlen(id) > 64)
                return false;
        for (const char *p = id; *p; p++)
                if (!isalnum((unsigned char) *p))
                        return false;
        return true;
}

int docker_node_inspect(Docker *d, const char *id, DockerNode *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(freep) char *path = NULL;
        int r;

        if (!node_id_valid(id))
                return -EINVAL;
        if (asprintf(&path, "/nodes/%s", id) < 0)
                return -ENOMEM;
        r = docker_call(d, "GET", path, NULL, 0, &o);
        if (r < 0)
                return r;
        r = node_from_json(o, ret);
        if (r == -EBADMSG)
                docker_set_error(d, "engine's node %s is malformed", id);
        return r;
}

/* The node's Spec as an object to edit and send back (n->spec_json). */
static int node_spec(const DockerNode *n, json_object **ret) {
        json_object *spec = NULL;

        if (!node_id_valid(n->id) || !n->spec_json)
                return -EINVAL;
        if (json_parse_text(n->spec_json, strlen(n->spec_json), 0, 0, &spec) < 0 ||
            !json_object_is_type(spec, json_type_object)) {
                json_object_put(spec);
                return -EINVAL;
        }
        *ret = spec;
        return 0;
}

/* POST the edited Spec, with n->version: the engine refuses it if the node changed since. */
static int node_post_spec(Docker *d, const DockerNode *n, json_object *spec) {
        _cleanup_(freep) char *path = NULL;

        if (asprintf(&path, "/nodes/%s/update?version=%" PRIu64, n->id, n->version) < 0)
                return -ENOMEM;
        /* json-c may lose content here when out of memory; an update is not a secret and
         * the engine checks the version, but a Spec short of a member would reset it */
        const char *text = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN);
        if (!text)
                return -ENOMEM;
        return docker_call(d, "POST", path, text, 0, NULL);
}

int docker_node_update(Docker *d, const DockerNode *n, const char *role, const char *availability) {
        _cleanup_(json_object_putp) json_object *spec = NULL;
        int r;

        r = node_spec(n, &spec);
        if (r < 0)
                return r;
        if ((role && json_add_string(spec, "Role", role) < 0) ||
            (availability && json_add_string(spec, "Availability", availability) < 0))
                return -ENOMEM;
        return node_post_spec(d, n, spec);
}

int docker_node_set_label(Docker *d, const DockerNode *n, const char *key, const char *value) {
        _cleanup_(json_object_putp) json_object *spec = NULL;
        json_object *labels;
        int r;

        if (isempty(key) || !value)
                return -EINVAL;
        r = node_spec(n, &spec);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(spec, "Labels", &labels) || !json_object_is_type(labels, json_type_object)) {
                labels = json_object_new_object();
                if (!labels || json_add(spec, "Labels", labels) < 0)
                        return -ENOMEM;
        }
        if (json_add_string(labels, key, value) < 0)
                return -ENOMEM;
        return node_post_spec(d, n, spec);
}

int docker_node_remove(Docker *d, const char *id, bool force) {
        _cleanup_(freep) char *path = NULL;

        if (!node_id_valid(id))
                return -EINVAL;
        if (asprintf(&path, "/nodes/%s%s", id, force ? "?force=true" : "") < 0)
                return -ENOMEM;
        return docker_call(d, "DELETE", path, NULL, 0, NULL);
}

/* ---- /swarm ------------------------------------------------------------------------- */

void docker_swarm_erase(DockerSwarm *s) {
        if (s->join_token_worker)
                explicit_bzero(s->join_token_worker, strlen(s->join_token_worker));
        if (s->join_token_manager)
                explicit_bzero(s->join_token_manager, strlen(s->join_token_manager));
}

void docker_swarm_done(DockerSwarm *s) {
        docker_swarm_erase(s);
        free(s->id);
        free(s->join_token_worker);
        free(s->join_token_manager);
        *s = (DockerSwarm){};
}

/* json-c's copies of the join tokens in a GET /swarm answer, wiped in place (before the
 * object goes back to the allocator). */
static void swarm_json_erase_tokens(json_object *o) {
        json_object *jt = JPATH(o, "JoinTokens");

        if (!json_object_is_type(jt, json_type_object))
                return;
        json_object_object_foreach(jt, k, t) {
                (void) k;
                json_string_erase(t);
        }
}

int docker_swarm_inspect(Docker *d, DockerSwarm *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(docker_swarm_done) DockerSwarm s = {};
        int r;

        r = docker_call(d, "GET", "/swarm", NULL, 0, &o);
        if (r < 0)
                return r;
        if (!jstr(JPATH(o, "ID"))) {
                docker_set_error(d, "engine's swarm description has no ID");
                return -EBADMSG;
        }
        if ((r = jdup(JPATH(o, "ID"), &s.id)) >= 0 &&
            (r = jdup(JPATH(o, "JoinTokens", "Worker"), &s.join_token_worker)) >= 0)
                r = jdup(JPATH(o, "JoinTokens", "Manager"), &s.join_token_manager);
        /* json-c's copy of the tokens goes with the object; scrub it first */
        swarm_json_erase_tokens(o);
        if (r < 0)
                return r;
        *ret = s;
        s = (DockerSwarm){};
        return 0;
}

/* GET /swarm: its UpdatedAt, the tokens in the answer wiped. */
static int swarm_updated_usec(Docker *d, uint64_t *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r;

        r = docker_call(d, "GET", "/swarm", NULL, 0, &o);
        if (r < 0)
                return r;
        swarm_json_erase_tokens(o);
        r = aws_parse_timestamp(jstr(JPATH(o, "UpdatedAt")), ret);
        if (r < 0) {
                docker_set_error(d, "engine's swarm description has no readable UpdatedAt");
                return -EBADMSG;
        }
        return 0;
}

int docker_swarm_rotate_join_tokens(Docker *d, uint64_t *ret_updated_usec) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(freep) char *path = NULL;
        json_object *spec, *v;
        const char *body;
        uint64_t updated = 0;
        int r;

        r = docker_call(d, "GET", "/swarm", NULL, 0, &o);
        if (r < 0)
                return r;
        /* the answer carries both tokens: wipe json-c's copies before anything else */
        swarm_json_erase_tokens(o);
        spec = JPATH(o, "Spec");
        v = JPATH(o, "Version", "Index");
        if (!json_object_is_type(spec, json_type_object) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0) {
                docker_set_error(d, "engine's swarm description has no Spec/Version");
                return -EBADMSG;
        }
        if (asprintf(&path, "/swarm/update?version=%" PRId64 "&rotateWorkerToken=true&rotateManagerToken=true",
                     json_object_get_int64(v)) < 0)
                return -ENOMEM;
        /* the Spec as the engine gave it, so nothing but the tokens changes */
        body = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN);
        if (!body)
                return -ENOMEM;
        r = docker_call(d, "POST", path, body, 0, NULL);
        if (r < 0)
                return r;
        if (ret_updated_usec) {
                if (swarm_updated_usec(d, &updated) < 0)
                        updated = 0;
                *ret_updated_usec = updated;
        }
        return 0;
}

int docker_swarm_init(Docker *d, const char *advertise_addr, char **ret_node_id) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(freep) char *addr = NULL, *body = NULL;
        int r;

        /* written by hand: complete or not at all (see json_quote()) */
        if (!isempty(advertise_addr) && !(addr = json_quote(advertise_addr)))
                return -ENOMEM;
        if (asprintf(&body, "{\"ListenAddr\":\"0.0.0.0:2377\"%s%s}", addr ? ",\"AdvertiseAddr\":" : "",
                     strempty(addr)) < 0)
                return -ENOMEM;
        r = docker_call(d, "POST", "/swarm/init", body, 15000, &o);
        if (r < 0)
                return r;
        if (ret_node_id) {
                const char *id = jstr(o);
                char *s;
                if (!id)
                        return -EBADMSG;
                s = strdup(id);
                if (!s)
                        return -ENOMEM;
                *ret_node_id = s;
        }
        return 0;
}

/* The join request's body, written by hand: every member, or -ENOMEM (never a request
 * without its token; json-c's serializer can silently lose content when out of memory). */
static int swarm_join_body(char *const *remotes, const char *token, const char *advertise_addr, char **ret) {
        _cleanup_(strv_freep) char **quoted = NULL;
        _cleanup_(freep) char *list = NULL, *addr = NULL;
        _cleanup_(erase_and_freep) char *tok = NULL;
        char *body = NULL;
        int r;

        STRV_FOREACH(m, remotes) {
                _cleanup_(freep) char *a = NULL;
                if (strchr(*m, ':'))
                        a = strdup(*m);
                else if (asprintf(&a, "%s:%d", *m, DOCKER_SWARM_PORT) < 0)
                        a = NULL;
                if (!a)
                        return -ENOMEM;
                char *q = json_quote(a);
                if (!q)
                        return -ENOMEM;
                r = strv_consume(&quoted, q);
                if (r < 0)
                        return r;
        }
        list = strv_join(quoted, ",");
        tok = json_quote(token);
        if (!list || !tok || (!isempty(advertise_addr) && !(addr = json_quote(advertise_addr))))
                return -ENOMEM;
        if (asprintf(&body, "{\"RemoteAddrs\":[%s],\"ListenAddr\":\"0.0.0.0:2377\"%s%s,\"JoinToken\":%s}", list,
                     addr ? ",\"AdvertiseAddr\":" : "", strempty(addr), tok) < 0)
                return -ENOMEM;
        *ret = body;
        return 0;
}

int docker_swarm_join(Docker *d, char *const *remotes, const char *token,
                      const char *advertise_addr, uint64_t timeout_msec) {
        _cleanup_(erase_and_freep) char *body = NULL;
        int r;

        if (isempty(token) || strv_length(remotes) == 0)
                return -EINVAL;
        r = swarm_join_body(remotes, token, advertise_addr, &body);
        if (r < 0)
                return r;
        return docker_call(d, "POST", "/swarm/join", body, timeout_msec ?: 10000, NULL);
}
