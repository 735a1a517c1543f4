/* SPDX-License-Identifier: MIT */
/*
 * `swarmkeeper status`: the swarm's nodes as swarmkeeper sees them, one row per node
 * (logical id from the engine label, node id, hostname, role, state, availability,
 * manager status, leader mark), or --json. Needs a manager's engine.
 */
#include "status.h"

#include "docker.h"
#include "json-util.h"
#include "log.h"
#include "overview.h"

typedef struct NodeList {
        DockerNode *nodes;
        size_t count;
} NodeList;

static void node_list_done(NodeList *l) {
        docker_nodes_free(l->nodes, l->count);
        *l = (NodeList){};
}

static int node_compare(const void *a, const void *b) {
        const DockerNode *x = a, *y = b;
        int r;

        /* managers first, then by logical id, hostname, id */
        if (x->manager != y->manager)
                return x->manager ? -1 : 1;
        r = strcmp(strempty(x->logical_id), strempty(y->logical_id));
        if (r == 0)
                r = strcmp(strempty(x->hostname), strempty(y->hostname));
        return r != 0 ? r : strcmp(x->id, y->id);
}

void status_printable(char *dst, size_t size, const char *s) {
        size_t n = 0;

        if (size == 0)
                return;
        for (const unsigned char *p = (const unsigned char *) strempty(s); *p && n + 1 < size; p++)
                dst[n++] = *p >= 0x20 && *p < 0x7f ? (char) *p : '?';
        dst[n] = 0;
}

/* What the engine said, fit for a terminal: "-" for nothing, '?' for anything that is
 * not printable ASCII (escape sequences, control characters, other scripts' lookalikes). */
const char *status_cell(char *buf, size_t size, const char *s) {
        if (isempty(s))
                return "-";
        status_printable(buf, size, s);
        return buf;
}

static int json_add_opt(json_object *o, const char *key, const char *value) {
        return json_add_string(o, key, value); /* NULL: JSON null */
}

static int print_json(const Config *c, const DockerInfo *info, const NodeList *l) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *arr = json_object_new_array();
        const char *text;

        /* json-c escapes control characters (\u001b): the output is safe as it is */
        if (!root || json_add(root, "nodes", arr) < 0 ||
            json_add_string(root, "cluster_id", strempty(info->cluster_id)) < 0 ||
            json_add_string(root, "self", strempty(info->node_id)) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < l->count; i++) {
                const DockerNode *n = &l->nodes[i];
                json_object *o = json_object_new_object();
                if (json_append(arr, o) < 0 ||
                    json_add_opt(o, "logical_id", n->logical_id) < 0 ||
                    json_add_string(o, "id", n->id) < 0 ||
                    json_add_opt(o, "hostname", n->hostname) < 0 ||
                    json_add_opt(o, "role", n->role) < 0 ||
                    json_add_opt(o, "state", n->state) < 0 ||
                    json_add_opt(o, "availability", n->availability) < 0 ||
                    json_add_opt(o, "addr", n->addr) < 0 ||
                    json_add_opt(o, "manager_status", n->reachability) < 0 ||
                    json_add_bool(o, "leader", n->leader) < 0 ||
                    json_add_bool(o, "self", streq_ptr(n->id, info->node_id)) < 0)
                        return -ENOMEM;
        }
        /* desired against actual and what is in flight, when this cluster launches */
        if (reconciler_status_overview(c, root) < 0)
                return -ENOMEM;
        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        puts(text);
        return 0;
}

static void print_table(const DockerInfo *info, const NodeList *l) {
        printf("%-16s %-27s %-20s %-8s %-8s %-12s %-12s %s\n", "LOGICAL-ID", "NODE-ID", "HOSTNAME", "ROLE",
               "STATE", "AVAILABILITY", "MANAGER", "LEADER");
        for (size_t i = 0; i < l->count; i++) {
                const DockerNode *n = &l->nodes[i];
                char id[144], b[7][128];
                snprintf(id, sizeof(id), "%s%s", status_cell(b[0], sizeof(b[0]), n->id),
                         streq_ptr(n->id, info->node_id) ? " *" : "");
                printf("%-16s %-27s %-20s %-8s %-8s %-12s %-12s %s\n", status_cell(b[1], sizeof(b[1]), n->logical_id), id,
                       status_cell(b[2], sizeof(b[2]), n->hostname), status_cell(b[3], sizeof(b[3]), n->role),
                       status_cell(b[4], sizeof(b[4]), n->state), status_cell(b[5], sizeof(b[5]), n->availability),
                       status_cell(b[6], sizeof(b[6]), n->reachability), n->leader ? "yes" : "-");
        }
        printf("\n%zu node%s; * = this node.\n", l->count, l->count == 1 ? "" : "s");
}

int verb_status(Config *c, const ConfigArgs *args, bool json) {
        _cleanup_(docker_freep) Docker *d = NULL;
        _cleanup_(docker_info_done) DockerInfo info = {};
        _cleanup_(node_list_done) NodeList l = {};
        int r;

        r = docker_new(c->socket, &d);
        if (r < 0)
                return log_error_errno(r, "Cannot use Engine.Socket=%s: %m", c->socket), SK_EXIT_CONFIG;
        r = docker_ping(d);
        if (r < 0) {
                log_error_errno(r, "Docker engine at %s is unreachable: %s", c->socket, docker_last_error(d));
                return SK_EXIT_ENGINE;
        }
        r = docker_info(d, &info);
        if (r < 0) {
                log_error_errno(r, "Cannot ask the engine at %s about the swarm: %s", c->socket, docker_last_error(d));
                return SK_EXIT_ENGINE;
        }
        if (info.state != DOCKER_SWARM_ACTIVE) {
                log_error("The engine at %s is not active in a swarm (state: %s).", c->socket,
                          docker_swarm_state_to_string(info.state));
                return SK_EXIT_ENGINE;
        }
        if (!info.control_available) {
                log_error("This node is a worker: 'swarmkeeper status' needs a manager's engine "
                          "(run it on a manager, or point Engine.Socket at one).");
                return SK_EXIT_ENGINE;
        }
        r = docker_nodes_list(d, &l.nodes, &l.count);
        if (r < 0) {
                log_error_errno(r, "Cannot list the swarm's nodes: %s", docker_last_error(d));
                return SK_EXIT_ENGINE;
        }
        qsort(l.nodes, l.count, sizeof(DockerNode), node_compare);

        if (json) {
                r = print_json(c, &info, &l);
                if (r < 0)
                        return log_error_errno(r, "Out of memory."), SK_EXIT_FAILURE;
        } else {
                print_table(&info, &l);
                (void) reconciler_status_overview(c, NULL);
        }
        return fflush(stdout) == 0 ? SK_EXIT_OK : SK_EXIT_FAILURE;
}
