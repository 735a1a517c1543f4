/* SPDX-License-Identifier: MIT */
/*
 * `swarmkeeper status`: the swarm's nodes as swarmkeeper sees them, one row per node
 * (logical id from the engine label, node id, hostname, role, state, availability,
 * manager status, leader mark), or --json. Needs a manager's engine.
 */
#include "status.h"

#include <json-c/json.h>

#include "docker.h"
#include "log.h"
#include "reconciler.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

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

static const char *dash(const char *s) {
        return isempty(s) ? "-" : s;
}

static int print_json(const Config *c, const DockerInfo *info, const NodeList *l) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *arr = json_object_new_array();

        if (!root || !arr) {
                json_object_put(arr);
                return -ENOMEM;
        }
        json_object_object_add(root, "cluster_id", json_object_new_string(strempty(info->cluster_id)));
        json_object_object_add(root, "self", json_object_new_string(strempty(info->node_id)));
        json_object_object_add(root, "nodes", arr);
        for (size_t i = 0; i < l->count; i++) {
                const DockerNode *n = &l->nodes[i];
                json_object *o = json_object_new_object();
                if (!o)
                        return -ENOMEM;
#define STR_OR_NULL(s) ((s) ? json_object_new_string(s) : NULL)
                json_object_object_add(o, "logical_id", STR_OR_NULL(n->logical_id));
                json_object_object_add(o, "id", json_object_new_string(n->id));
                json_object_object_add(o, "hostname", STR_OR_NULL(n->hostname));
                json_object_object_add(o, "role", STR_OR_NULL(n->role));
                json_object_object_add(o, "state", STR_OR_NULL(n->state));
                json_object_object_add(o, "availability", STR_OR_NULL(n->availability));
                json_object_object_add(o, "addr", STR_OR_NULL(n->addr));
                json_object_object_add(o, "manager_status", STR_OR_NULL(n->reachability));
                json_object_object_add(o, "leader", json_object_new_boolean(n->leader));
                json_object_object_add(o, "self", json_object_new_boolean(streq_ptr(n->id, info->node_id)));
#undef STR_OR_NULL
                json_object_array_add(arr, o);
        }
        /* desired against actual and what is in flight, when this cluster launches */
        if (reconciler_status_overview(c, root) < 0)
                return -ENOMEM;
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

static void print_table(const DockerInfo *info, const NodeList *l) {
        printf("%-16s %-27s %-20s %-8s %-8s %-12s %-12s %s\n", "LOGICAL-ID", "NODE-ID", "HOSTNAME", "ROLE",
               "STATE", "AVAILABILITY", "MANAGER", "LEADER");
        for (size_t i = 0; i < l->count; i++) {
                const DockerNode *n = &l->nodes[i];
                char id[64];
                snprintf(id, sizeof(id), "%s%s", n->id, streq_ptr(n->id, info->node_id) ? " *" : "");
                printf("%-16s %-27s %-20s %-8s %-8s %-12s %-12s %s\n", dash(n->logical_id), id,
                       dash(n->hostname), dash(n->role), dash(n->state), dash(n->availability),
                       dash(n->reachability), n->leader ? "yes" : "-");
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
