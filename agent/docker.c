/* SPDX-License-Identifier: MIT */
#include "docker.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "http.h"
#include "log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

#define DK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DK_MAX(a, b) ((a) > (b) ? (a) : (b))

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
        free(d->error);
        d->error = s;
}

/* ---- JSON helpers ------------------------------------------------------------------- */

/* Follow a NULL-terminated path of object keys. */
static json_object *jpath(json_object *o, ...) {
        va_list ap;
        const char *k;

        va_start(ap, o);
        while (o && (k = va_arg(ap, const char *)))
                if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &o))
                        o = NULL;
        va_end(ap);
        return o;
}

#define JPATH(o, ...) jpath(o, __VA_ARGS__, (const char *) NULL)

static const char *jstr(json_object *o) {
        return json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

/* Copy a string member (missing or not a string: NULL) into *dst. */
static int jdup(json_object *o, char **dst) {
        const char *s = jstr(o);
        return free_and_strdup(dst, s);
}

static int json_parse_text(const char *text, size_t size, json_object **ret) {
        json_tokener *tok;
        json_object *o;
        enum json_tokener_error e;
        size_t end;

        if (size > INT32_MAX)
                return -EMSGSIZE;
        tok = json_tokener_new_ex(64);
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text, (int) size);
        e = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!o || e != json_tokener_success) {
                json_object_put(o);
                return -EBADMSG;
        }
        for (; end < size; end++)
                if (!isspace((unsigned char) text[end])) {
                        json_object_put(o);
                        return -EBADMSG;
                }
        *ret = o;
        return 0;
}

/* ---- requests ----------------------------------------------------------------------- */

int docker_error_from_response(long status, const char *body, char **ret_message) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *msg = NULL;
        int r;

        if (body && json_parse_text(body, strlen(body), &o) >= 0)
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
        r = http_perform(&req, resp);
        if (r < 0) {
                docker_set_error(d, "%s", *resp->error ? resp->error : strerror(-r));
                return r;
        }
        if (resp->status < 200 || resp->status >= 300) {
                _cleanup_(freep) char *m = NULL;
                r = docker_error_from_response(resp->status, resp->body, &m);
                docker_set_error(d, "%s", m ?: "engine error");
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
                r = json_parse_text(resp.body, resp.body_size, &o);
                if (r < 0)
                        docker_set_error(d, "engine answered something that is not JSON");
        }
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
                r = json_parse_text(resp.body, resp.body_size, &o);
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
        int r = json_parse_text(json, strlen(json), &o);
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
        free(n->spec_json);
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
            (r = jdup(JPATH(o, "Description", "Engine", "Labels", DOCKER_LABEL_LOGICAL_ID), &n.logical_id)) < 0)
                return r;
        if (json_object_is_type(ms, json_type_object)) {
                n.manager = true;
                n.leader = json_object_get_boolean(JPATH(ms, "Leader"));
                if ((r = jdup(JPATH(ms, "Reachability"), &n.reachability)) < 0 ||
                    (r = jdup(JPATH(ms, "Addr"), &n.manager_addr)) < 0)
                        return r;
        }
        n.spec_json = strdup(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN));
        if (!n.spec_json)
                return -ENOMEM;
        *ret = n;
        n = (DockerNode){};
        return 0;
}

int docker_parse_node(const char *json, DockerNode *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = json_parse_text(json, strlen(json), &o);
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
        int r = json_parse_text(json, strlen(json), &o);
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

int docker_node_update(Docker *d, const DockerNode *n, const char *role, const char *availability) {
        _cleanup_(json_object_putp) json_object *spec = NULL;
        _cleanup_(freep) char *path = NULL;
        int r;

        if (!node_id_valid(n->id) || !n->spec_json)
                return -EINVAL;
        if (json_parse_text(n->spec_json, strlen(n->spec_json), &spec) < 0 ||
            !json_object_is_type(spec, json_type_object))
                return -EINVAL;
        if (role)
                json_object_object_add(spec, "Role", json_object_new_string(role));
        if (availability)
                json_object_object_add(spec, "Availability", json_object_new_string(availability));
        if (asprintf(&path, "/nodes/%s/update?version=%" PRIu64, n->id, n->version) < 0)
                return -ENOMEM;
        r = docker_call(d, "POST", path, json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN), 0, NULL);
        return r;
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

void docker_swarm_done(DockerSwarm *s) {
        free(s->id);
        erase_and_free(s->join_token_worker);
        erase_and_free(s->join_token_manager);
        *s = (DockerSwarm){};
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
        if ((r = jdup(JPATH(o, "ID"), &s.id)) < 0 ||
            (r = jdup(JPATH(o, "JoinTokens", "Worker"), &s.join_token_worker)) < 0 ||
            (r = jdup(JPATH(o, "JoinTokens", "Manager"), &s.join_token_manager)) < 0)
                return r;
        /* json-c's copy of the tokens goes with the object; scrub it first */
        for (const char *k = "Worker"; k; k = streq(k, "Worker") ? "Manager" : NULL) {
                json_object *t = JPATH(o, "JoinTokens", k);
                if (jstr(t))
                        explicit_bzero((char *) json_object_get_string(t), (size_t) json_object_get_string_len(t));
        }
        *ret = s;
        s = (DockerSwarm){};
        return 0;
}

int docker_swarm_init(Docker *d, const char *advertise_addr, char **ret_node_id) {
        _cleanup_(json_object_putp) json_object *body = json_object_new_object(), *o = NULL;
        int r;

        if (!body)
                return -ENOMEM;
        json_object_object_add(body, "ListenAddr", json_object_new_string("0.0.0.0:2377"));
        if (!isempty(advertise_addr))
                json_object_object_add(body, "AdvertiseAddr", json_object_new_string(advertise_addr));
        r = docker_call(d, "POST", "/swarm/init", json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
                        15000, &o);
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

int docker_swarm_join(Docker *d, char *const *remotes, const char *token,
                      const char *advertise_addr, uint64_t timeout_msec) {
        _cleanup_(json_object_putp) json_object *body = json_object_new_object();
        json_object *arr;
        const char *text;
        int r;

        if (!body)
                return -ENOMEM;
        if (isempty(token) || strv_length(remotes) == 0)
                return -EINVAL;
        arr = json_object_new_array();
        if (!arr)
                return -ENOMEM;
        json_object_object_add(body, "RemoteAddrs", arr);
        STRV_FOREACH(m, remotes) {
                _cleanup_(freep) char *a = NULL;
                if (strchr(*m, ':'))
                        a = strdup(*m);
                else if (asprintf(&a, "%s:%d", *m, DOCKER_SWARM_PORT) < 0)
                        a = NULL;
                if (!a)
                        return -ENOMEM;
                json_object_array_add(arr, json_object_new_string(a));
        }
        json_object_object_add(body, "ListenAddr", json_object_new_string("0.0.0.0:2377"));
        if (!isempty(advertise_addr))
                json_object_object_add(body, "AdvertiseAddr", json_object_new_string(advertise_addr));
        json_object_object_add(body, "JoinToken", json_object_new_string(token));

        text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
        r = docker_call(d, "POST", "/swarm/join", text, timeout_msec ?: 10000, NULL);
        /* the serialized body and the object's copy carry the token */
        explicit_bzero((char *) text, strlen(text));
        {
                json_object *t = JPATH(body, "JoinToken");
                explicit_bzero((char *) json_object_get_string(t), (size_t) json_object_get_string_len(t));
        }
        return r;
}

/* ---- events: line parser ------------------------------------------------------------ */

static void copy_field(char *dst, size_t size, const char *src) {
        if (!src) {
                *dst = 0;
                return;
        }
        snprintf(dst, size, "%s", src);
}

int docker_event_parse(const char *line, size_t size, DockerEvent *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        DockerEvent ev = {};
        const char *type, *action;
        json_object *attrs, *t;
        int r;

        r = json_parse_text(line, size, &o);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        /* "Type"/"Action" since API 1.22; "status" alone is the container-era format */
        type = jstr(JPATH(o, "Type"));
        action = jstr(JPATH(o, "Action")) ?: jstr(JPATH(o, "status"));
        if (!type || !action)
                return -EBADMSG;
        ev.type = streq(type, "node") ? DOCKER_EVENT_NODE :
                  streq(type, "daemon") ? DOCKER_EVENT_DAEMON : DOCKER_EVENT_OTHER;
        copy_field(ev.action, sizeof(ev.action), action);
        copy_field(ev.actor_id, sizeof(ev.actor_id), jstr(JPATH(o, "Actor", "ID")));
        attrs = JPATH(o, "Actor", "Attributes");
        copy_field(ev.leader_new, sizeof(ev.leader_new), jstr(JPATH(attrs, "leader.new")));
        copy_field(ev.state_new, sizeof(ev.state_new), jstr(JPATH(attrs, "state.new")));
        copy_field(ev.reachability_new, sizeof(ev.reachability_new), jstr(JPATH(attrs, "reachability.new")));
        copy_field(ev.role_new, sizeof(ev.role_new), jstr(JPATH(attrs, "role.new")));
        t = JPATH(o, "timeNano");
        if (json_object_is_type(t, json_type_int) && json_object_get_int64(t) > 0)
                ev.time_nano = (uint64_t) json_object_get_int64(t);
        *ret = ev;
        return 0;
}

/* ---- events: HTTP stream parser ----------------------------------------------------- */

static int buf_append(char **buf, size_t *size, size_t *alloc, const char *data, size_t n) {
        if (*size + n > DOCKER_STREAM_LINE_MAX)
                return -EBADMSG;
        if (*size + n + 1 > *alloc) {
                size_t a = DK_MAX(*alloc * 2, *size + n + 1);
                char *b;
                a = DK_MAX(a, (size_t) 256);
                b = realloc(*buf, a);
                if (!b)
                        return -ENOMEM;
                *buf = b;
                *alloc = a;
        }
        memcpy(*buf + *size, data, n);
        *size += n;
        (*buf)[*size] = 0;
        return 0;
}

bool docker_stream_headers_done(const DockerStreamParser *p) {
        return p->state >= STREAM_CHUNK_SIZE;
}

void docker_stream_parser_done(DockerStreamParser *p) {
        free(p->line);
        free(p->body_line);
        *p = (DockerStreamParser){};
}

/* Body bytes: split into lines. */
static int stream_body(DockerStreamParser *p, const char *data, size_t n, DockerLineHandler on_line,
                       void *userdata) {
        while (n > 0) {
                const char *nl = memchr(data, '\n', n);
                size_t k = nl ? (size_t) (nl - data) : n;
                int r = buf_append(&p->body_line, &p->body_size, &p->body_alloc, data, k);
                if (r < 0)
                        return r;
                if (!nl)
                        break;
                if (p->body_size > 0 && p->body_line[p->body_size - 1] == '\r')
                        p->body_line[--p->body_size] = 0;
                if (p->body_size > 0)
                        on_line(p->body_line, p->body_size, userdata);
                p->body_size = 0;
                data += k + 1;
                n -= k + 1;
        }
        return 0;
}

/* One complete header-area line (status, header, chunk size, trailer), CR stripped. */
static int stream_line(DockerStreamParser *p, char *l) {
        const char *v;

        switch (p->state) {
        case STREAM_STATUS_LINE: {
                int n = -1;
                long st;
                if (sscanf(l, "HTTP/1.%*1[01] %3ld%n", &st, &n) != 1 || n < 0 || (l[n] && l[n] != ' '))
                        return -EBADMSG;
                p->status = st;
                if (st != 200)
                        return -EIO;
                p->state = STREAM_HEADERS;
                return 0;
        }
        case STREAM_HEADERS:
                if (!*l) {
                        p->state = p->chunked ? STREAM_CHUNK_SIZE : STREAM_BODY;
                        return 0;
                }
                if (strncasecmp(l, "Transfer-Encoding:", 18) == 0) {
                        v = l + 18;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        if (strcasecmp(v, "chunked") == 0)
                                p->chunked = true;
                } else if (!strchr(l, ':'))
                        return -EBADMSG;
                return 0;
        case STREAM_CHUNK_SIZE: {
                char *end;
                unsigned long long sz;
                if (!isxdigit((unsigned char) *l))
                        return -EBADMSG;
                errno = 0;
                sz = strtoull(l, &end, 16);
                if (errno != 0 || (*end && *end != ';' && *end != ' ') || sz > (1ULL << 32))
                        return -EBADMSG;
                p->chunk_left = sz;
                p->state = sz == 0 ? STREAM_CHUNK_TRAILER : STREAM_CHUNK_DATA;
                return 0;
        }
        case STREAM_CHUNK_END:
                if (*l)
                        return -EBADMSG;
                p->state = STREAM_CHUNK_SIZE;
                return 0;
        case STREAM_CHUNK_TRAILER:
                if (!*l) {
                        p->state = STREAM_DONE;
                        return -EPIPE;
                }
                return 0;
        default:
                return -EBADMSG;
        }
}

int docker_stream_feed(DockerStreamParser *p, const char *data, size_t size,
                       DockerLineHandler on_line, void *userdata) {
        int r;

        while (size > 0) {
                if (p->state == STREAM_DONE)
                        return -EPIPE;
                if (p->state == STREAM_BODY)
                        return stream_body(p, data, size, on_line, userdata);
                if (p->state == STREAM_CHUNK_DATA) {
                        size_t k = (size_t) DK_MIN((uint64_t) size, p->chunk_left);
                        r = stream_body(p, data, k, on_line, userdata);
                        if (r < 0)
                                return r;
                        p->chunk_left -= k;
                        data += k;
                        size -= k;
                        if (p->chunk_left == 0)
                                p->state = STREAM_CHUNK_END;
                        continue;
                }

                /* line-oriented states */
                const char *nl = memchr(data, '\n', size);
                size_t k = nl ? (size_t) (nl - data) : size;
                r = buf_append(&p->line, &p->line_size, &p->line_alloc, data, k);
                if (r < 0)
                        return r;
                if (!nl)
                        return 0;
                data += k + 1;
                size -= k + 1;
                if (p->line_size > 0 && p->line[p->line_size - 1] == '\r')
                        p->line[--p->line_size] = 0;
                if (!p->line)
                        r = stream_line(p, (char[]){ 0 });
                else
                        r = stream_line(p, p->line);
                p->line_size = 0;
                if (p->line)
                        p->line[0] = 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- events: the connection ---------------------------------------------------------- */

struct DockerEvents {
        sd_event *event;
        sd_event_source *io, *timer;
        int fd;
        bool connected;
        bool opened;
        bool closed;
        char *request;
        size_t request_size, request_sent;
        DockerStreamParser parser;
        void (*on_open)(DockerEvents *s, void *userdata);
        DockerEventHandler on_event;
        DockerEventsClosed on_closed;
        void *userdata;
};

DockerEvents *docker_events_free(DockerEvents *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->timer);
        if (s->fd >= 0)
                close(s->fd);
        free(s->request);
        docker_stream_parser_done(&s->parser);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

static void events_close(DockerEvents *s, int error, const char *message) {
        if (s->closed)
                return;
        s->closed = true;
        s->io = sd_event_source_disable_unref(s->io);
        s->timer = sd_event_source_disable_unref(s->timer);
        if (s->fd >= 0) {
                close(s->fd);
                s->fd = -1;
        }
        log_debug("Docker events stream closed: %s", message);
        if (s->on_closed)
                s->on_closed(s, error, message, s->userdata);
}

/* The answer's headers are in: the subscription is live. */
static void events_opened(DockerEvents *s) {
        if (s->opened || s->closed)
                return;
        s->opened = true;
        s->timer = sd_event_source_disable_unref(s->timer);
        if (s->on_open)
                s->on_open(s, s->userdata);
}

static void events_line(const char *line, size_t size, void *userdata) {
        DockerEvents *s = userdata;
        DockerEvent ev;

        events_opened(s); /* body lines come after the headers */
        if (s->closed)
                return;
        if (docker_event_parse(line, size, &ev) < 0) {
                log_debug("Ignoring an events line that is not an event (%zu bytes).", size);
                return;
        }
        log_debug("Docker event: %s %s %s%s%s%s%s", ev.type == DOCKER_EVENT_NODE ? "node" :
                  ev.type == DOCKER_EVENT_DAEMON ? "daemon" : "other", ev.action, ev.actor_id,
                  *ev.state_new ? " state=" : "", ev.state_new,
                  *ev.leader_new ? " leader=" : "", ev.leader_new);
        if (s->on_event)
                s->on_event(s, &ev, s->userdata);
}

static int events_on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        DockerEvents *s = userdata;
        char buf[4096];
        ssize_t n;
        int r;

        if (!s->connected) {
                int err = 0;
                socklen_t len = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (err != 0) {
                        events_close(s, -err, strerror(err));
                        return 0;
                }
                s->connected = true;
        }

        if (s->request_sent < s->request_size) {
                n = send(fd, s->request + s->request_sent, s->request_size - s->request_sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        events_close(s, -errno, strerror(errno));
                        return 0;
                }
                s->request_sent += (size_t) n;
                if (s->request_sent < s->request_size)
                        return 0;
                (void) sd_event_source_set_io_events(src, EPOLLIN | EPOLLRDHUP);
                return 0;
        }

        /* Read what is there; bounded per wakeup so one chatty engine cannot starve us. */
        for (int i = 0; i < 16; i++) {
                n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        events_close(s, -errno, strerror(errno));
                        return 0;
                }
                if (n == 0) {
                        events_close(s, -ECONNRESET, "engine closed the events stream");
                        return 0;
                }
                r = docker_stream_feed(&s->parser, buf, (size_t) n, events_line, s);
                if (s->closed)
                        return 0;
                if (r == -EIO) {
                        char m[64];
                        snprintf(m, sizeof(m), "engine answered HTTP %ld to /events", s->parser.status);
                        events_close(s, r, m);
                        return 0;
                }
                if (r == -EPIPE) {
                        events_close(s, -ECONNRESET, "engine ended the events stream");
                        return 0;
                }
                if (r < 0) {
                        events_close(s, r, "engine answered /events with something that is not HTTP");
                        return 0;
                }
                if (docker_stream_headers_done(&s->parser)) {
                        events_opened(s);
                        if (s->closed)
                                return 0;
                }
        }
        return 0;
}

static int events_on_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        DockerEvents *s = userdata;
        events_close(s, -ETIMEDOUT, "engine did not answer the events subscription in time");
        return 0;
}

int docker_events_new(sd_event *event, const char *socket_path, const char *api_version,
                      uint64_t header_timeout_usec,
                      void (*on_open)(DockerEvents *s, void *userdata),
                      DockerEventHandler on_event, DockerEventsClosed on_closed, void *userdata,
                      DockerEvents **ret) {
        _cleanup_(docker_events_freep) DockerEvents *s = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        if (!event || isempty(socket_path))
                return -EINVAL;
        if (strlen(socket_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, strlen(socket_path));

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = -1;
        s->event = sd_event_ref(event);
        s->on_open = on_open;
        s->on_event = on_event;
        s->on_closed = on_closed;
        s->userdata = userdata;

        /* filters={"type":["node","daemon"]} */
        r = asprintf(&s->request,
                     "GET /v%s/events?filters=%%7B%%22type%%22%%3A%%5B%%22node%%22%%2C%%22daemon%%22%%5D%%7D HTTP/1.1\r\n"
                     "Host: docker\r\n"
                     "User-Agent: swarmkeeper\r\n"
                     "Accept: application/json\r\n"
                     "\r\n",
                     isempty(api_version) ? DOCKER_API_VERSION_MAX : api_version);
        if (r < 0) {
                s->request = NULL;
                return -ENOMEM;
        }
        s->request_size = (size_t) r;

        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->fd < 0)
                return -errno;
        if (connect(s->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (errno != EINPROGRESS && errno != EAGAIN)
                        return -errno;
        } else
                s->connected = true;

        r = sd_event_add_io(event, &s->io, s->fd, EPOLLOUT, events_on_io, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(s->io, "docker-events");
        if (header_timeout_usec > 0) {
                r = sd_event_add_time(event, &s->timer, CLOCK_MONOTONIC,
                                      now_usec(CLOCK_MONOTONIC) + header_timeout_usec, 0, events_on_timeout, s);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}
