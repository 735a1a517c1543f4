/* SPDX-License-Identifier: MIT */
/*
 * The reconcile executor (see reconciler.h): observation → rc_plan() → EC2 and Swarm
 * changes, as a Job off the event loop inside `run`, synchronously for `plan`.
 */
#include "reconciler.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <time.h>

#include "event-util.h"
#include "imds.h"
#include "job.h"
#include "labels.h"
#include "log.h"
#include "messages.h"

#define RC_LAUNCH_SETTLE_USEC (120 * USEC_PER_SEC)
#define RC_INFLIGHT_MAX_AGE_USEC (600 * USEC_PER_SEC)
#define RC_PASS_DEADLINE_USEC (300 * USEC_PER_SEC)
/* A gap between two node listings above 2 × IntervalSec + this restarts every streak (a
 * pass itself may take this long: EC2 retries, a slow engine) */
#define RC_GAP_SLACK_USEC (30 * USEC_PER_SEC)
#define RC_EXIT_GRACE_USEC (250 * USEC_PER_MSEC) /* with the daemon's jobs: SIGTERM within 1 s */
#define RC_KICK_DELAY_USEC (200 * USEC_PER_MSEC)
/* While EC2 has to be watched (something amiss), passes follow each other this fast for
 * this long, then at Reconcile.IntervalSec again. */
#define RC_FAST_INTERVAL_USEC (1 * USEC_PER_SEC)
#define RC_FAST_WINDOW_USEC (120 * USEC_PER_SEC)
/* ... every second for this long after the plan last changed, then every 3 s: waiting on
 * EC2 (an address in use, a slow shutdown) costs 2 calls per 3 s, not 2 a second */
#define RC_FAST_QUIET_USEC (15 * USEC_PER_SEC)
#define RC_STEADY_INTERVAL_USEC (3 * USEC_PER_SEC)
#define RC_USER_DATA_MAX 16384 /* EC2's limit, before base64 */
#define RC_DEVICE "/dev/sdf"
#define RC_DOCKER_TIMEOUT_MSEC 5000
/* Subnets are immutable in EC2 but for their deletion: described again after this long,
 * or after a launch that failed. */
#define RC_SUBNETS_MAX_AGE_USEC (300 * USEC_PER_SEC)

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* ---- small helpers ----------------------------------------------------------------------- */

/* The effective raw value of "Section.Key", NULL if this build has no such key. */
static const char *conf_raw(const Config *c, const char *name) {
        for (int i = 0; i < _CONFIG_KEY_MAX; i++)
                if (streq(config_key_name((ConfigKeyId) i), name))
                        return c->raw[i];
        return NULL;
}

static int strdup_or_null(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* ---- user-data --------------------------------------------------------------------------- */

/* Keys the launched host gets from the leader's configuration, by section. Never
 * Cluster.BootstrapManager: a launched host is never the bootstrap manager. Only a
 * manager (who may lead and launch next) gets Launch.* and the keys that make a
 * manager's volume; a worker never launches and holds nothing of the managers' power. */
static const struct {
        const char *name;
        bool manager_only;
} cluster_conf_keys[] = {
        { "Cluster.Name" }, { "Cluster.Managers" }, { "Cluster.Workers" },
        { "AWS.Region" }, { "AWS.Endpoint" }, { "AWS.MetadataEndpoint" }, { "AWS.AllowPlainHttp" },
        { "Volume.FileSystem" }, { "Volume.MountOptions" }, { "Volume.AttachTimeoutSec" },
        { "Volume.SizeGiB", true }, { "Volume.Type", true }, { "Volume.Encrypted", true },
        { "Volume.KmsKeyId", true },
        { "Launch.Template", true }, { "Launch.TemplateVersion", true }, { "Launch.ImageId", true },
        { "Launch.InstanceType", true }, { "Launch.SecurityGroupIds", true }, { "Launch.InstanceProfile", true },
        { "Launch.WorkerTemplate", true }, { "Launch.WorkerTemplateVersion", true },
        { "Launch.WorkerInstanceProfile", true }, { "Launch.SubnetIds", true }, { "Launch.KeyName", true },
        { "Reconcile.IntervalSec" }, { "Reconcile.GraceSec" }, { "Reconcile.QuorumLossGraceSec" },
        { "Reconcile.StableSec" }, { "Reconcile.DryRun" }, { "Reconcile.SeatDeadlineSec" },
        { "Log.Level" },
};

/* A growable text that can be wiped: every reallocation erases the old copy. */
typedef struct SecBuf {
        char *data;
        size_t size, alloc;
        int error;
} SecBuf;

static void secbuf_add(SecBuf *b, const char *s, size_t n) {
        if (b->error)
                return;
        if (b->size + n + 1 > b->alloc) {
                size_t na = (b->size + n + 1) * 2;
                char *nd = malloc(na < 256 ? 256 : na);
                if (!nd) {
                        b->error = -ENOMEM;
                        return;
                }
                if (b->data) {
                        memcpy(nd, b->data, b->size);
                        explicit_bzero(b->data, b->alloc);
                        free(b->data);
                }
                b->data = nd;
                b->alloc = na < 256 ? 256 : na;
        }
        memcpy(b->data + b->size, s, n);
        b->size += n;
        b->data[b->size] = 0;
}

static void secbuf_puts(SecBuf *b, const char *s) {
        secbuf_add(b, s, strlen(s));
}

static void secbuf_done(SecBuf *b) {
        if (b->data) {
                explicit_bzero(b->data, b->alloc);
                free(b->data);
        }
        *b = (SecBuf){};
}

int rc_cluster_conf(const Config *c, const char *role, const char *join_token, bool have_base, char **ret) {
        _cleanup_(secbuf_done) SecBuf b = {};
        const char *section = NULL;

        if (!role || (join_token && strpbrk(join_token, "\r\n")))
                return -EINVAL;
        bool manager = streq(role, "manager");

        secbuf_puts(&b, "# Written by the swarmkeeper leader that launched this host.\n");
        for (size_t i = 0; i < ELEMENTSOF(cluster_conf_keys); i++) {
                const char *name = cluster_conf_keys[i].name, *dot = strchr(name, '.');
                const char *v = conf_raw(c, name);

                if (isempty(v) || strpbrk(v, "\r\n") || (cluster_conf_keys[i].manager_only && !manager))
                        continue;
                if (!section || strncmp(section, name, (size_t) (dot - name) + 1) != 0) {
                        secbuf_puts(&b, "\n[");
                        secbuf_add(&b, name, (size_t) (dot - name));
                        secbuf_puts(&b, "]\n");
                        section = name;
                        if (startswith(name, "Cluster.")) {
                                secbuf_puts(&b, "Role=");
                                secbuf_puts(&b, role);
                                secbuf_puts(&b, "\n");
                        }
                        if (startswith(name, "Launch.") && have_base)
                                secbuf_puts(&b, "UserData=" RC_BASE_USER_DATA_PATH "\n");
                }
                secbuf_puts(&b, dot + 1);
                secbuf_puts(&b, "=");
                secbuf_puts(&b, v);
                secbuf_puts(&b, "\n");
        }
        if (join_token) {
                secbuf_puts(&b, "\n[Cluster]\nJoinToken=");
                secbuf_puts(&b, join_token);
                secbuf_puts(&b, "\n");
        }
        if (b.error)
                return b.error;
        *ret = TAKE_PTR(b.data);
        b = (SecBuf){};
        return 0;
}

static void secbuf_base64(SecBuf *b, const char *data, size_t size, size_t line) {
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t col = 0;

        for (size_t i = 0; i < size; i += 3) {
                uint32_t v = (uint32_t) (unsigned char) data[i] << 16;
                char out[4];
                if (i + 1 < size)
                        v |= (uint32_t) (unsigned char) data[i + 1] << 8;
                if (i + 2 < size)
                        v |= (unsigned char) data[i + 2];
                out[0] = tbl[(v >> 18) & 63];
                out[1] = tbl[(v >> 12) & 63];
                out[2] = i + 1 < size ? tbl[(v >> 6) & 63] : '=';
                out[3] = i + 2 < size ? tbl[v & 63] : '=';
                secbuf_add(b, out, 4);
                explicit_bzero(&v, sizeof(v));
                explicit_bzero(out, sizeof(out));
                col += 4;
                if (line && col >= line && i + 3 < size) {
                        secbuf_puts(b, "\n");
                        col = 0;
                }
        }
}

/* The MIME type cloud-init gives a part by its first line; NULL: a MIME entity itself. */
static int base_part_type(const char *base, size_t size, const char **ret) {
        static const struct {
                const char *prefix, *type;
        } types[] = {
                { "#cloud-config", "text/cloud-config" },
                { "#!", "text/x-shellscript" },
                { "#cloud-boothook", "text/cloud-boothook" },
                { "#include", "text/x-include-url" },
                { "#part-handler", "text/part-handler" },
                { "#upstart-job", "text/upstart-job" },
        };

        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                size_t l = strlen(types[i].prefix);
                if (size >= l && memcmp(base, types[i].prefix, l) == 0) {
                        *ret = types[i].type;
                        return 0;
                }
        }
        if ((size >= 13 && strncasecmp(base, "Content-Type:", 13) == 0) ||
            (size >= 13 && strncasecmp(base, "MIME-Version:", 13) == 0)) {
                *ret = NULL;
                return 0;
        }
        return -EMEDIUMTYPE;
}

int rc_user_data_build(const char *conf, const char *base, size_t base_size, char **ret, size_t *ret_size) {
        _cleanup_(secbuf_done) SecBuf b = {};
        const char *type = NULL;
        int r;

        if (!conf)
                return -EINVAL;
        if (base) {
                r = base_part_type(base, base_size, &type);
                if (r < 0)
                        return r;
                /* the boundary must not occur inside */
                if (memmem(base, base_size, RC_MIME_BOUNDARY, strlen(RC_MIME_BOUNDARY)))
                        return -EBADMSG;
        }

        secbuf_puts(&b, "Content-Type: multipart/mixed; boundary=\"" RC_MIME_BOUNDARY "\"\n"
                        "MIME-Version: 1.0\n\n"
                        "--" RC_MIME_BOUNDARY "\n"
                        "Content-Type: text/cloud-config; charset=\"us-ascii\"\n"
                        "MIME-Version: 1.0\n"
                        "Content-Transfer-Encoding: 7bit\n"
                        "Content-Disposition: attachment; filename=\"swarmkeeper-cluster.cfg\"\n\n"
                        "#cloud-config\n"
                        "write_files:\n"
                        "  - path: " RC_CLUSTER_DROPIN "\n"
                        "    owner: root:root\n"
                        "    permissions: '0600'\n"
                        "    encoding: b64\n"
                        "    content: ");
        secbuf_base64(&b, conf, strlen(conf), 0);
        secbuf_puts(&b, "\n");
        if (base) {
                secbuf_puts(&b, "  - path: " RC_BASE_USER_DATA_PATH "\n"
                                "    owner: root:root\n"
                                "    permissions: '0600'\n"
                                "    encoding: b64\n"
                                "    content: ");
                secbuf_base64(&b, base, base_size, 0);
                secbuf_puts(&b, "\n");
        }
        if (base) {
                secbuf_puts(&b, "\n--" RC_MIME_BOUNDARY "\n");
                if (type) {
                        secbuf_puts(&b, "Content-Type: ");
                        secbuf_puts(&b, type);
                        secbuf_puts(&b, "; charset=\"utf-8\"\n"
                                        "MIME-Version: 1.0\n"
                                        "Content-Transfer-Encoding: base64\n"
                                        "Content-Disposition: attachment; filename=\"base-user-data\"\n\n");
                        secbuf_base64(&b, base, base_size, 76);
                        secbuf_puts(&b, "\n");
                } else {
                        secbuf_add(&b, base, base_size);
                        if (base_size == 0 || base[base_size - 1] != '\n')
                                secbuf_puts(&b, "\n");
                }
        }
        secbuf_puts(&b, "--" RC_MIME_BOUNDARY "--\n");
        if (b.error)
                return b.error;
        if (b.size > RC_USER_DATA_MAX)
                return -E2BIG;
        *ret_size = b.size;
        *ret = TAKE_PTR(b.data);
        b = (SecBuf){};
        return 0;
}

/* ---- observation ------------------------------------------------------------------------- */

void rc_world_done(RcWorld *w) {
        ec2_instance_list_done(&w->instances);
        ec2_volume_list_done(&w->volumes);
        for (size_t i = 0; i < w->n_subnets; i++) {
                free(w->subnets[i].id);
                free(w->subnets[i].cidr);
                free(w->subnets[i].availability_zone);
        }
        free(w->subnets);
        docker_nodes_free(w->nodes, w->n_nodes);
        for (size_t i = 0; w->node_instance_ids && i < w->n_nodes; i++)
                free(w->node_instance_ids[i]);
        free(w->node_instance_ids);
        free(w->node_created_usec);
        free(w->self_node_id);
        free(w->rc_instances);
        free(w->rc_volumes);
        free(w->rc_attached);
        free(w->rc_subnets);
        free(w->rc_nodes);
        free(w->rc_inflight);
        free(w->rc_seats);
        *w = (RcWorld){};
}

void rc_leadership_from_nodes(const DockerNode *nodes, size_t n, const char *self_id, bool *ret_leader,
                              bool *ret_quorum, bool *ret_any_leader) {
        size_t managers = 0, reachable = 0;
        bool leader = false, any = false;

        for (size_t i = 0; i < n; i++) {
                if (!nodes[i].manager)
                        continue;
                managers++;
                if (streq_ptr(nodes[i].reachability, "reachable"))
                        reachable++;
                if (nodes[i].leader) {
                        any = true;
                        if (streq_ptr(nodes[i].id, self_id))
                                leader = true;
                }
        }
        if (ret_leader)
                *ret_leader = leader;
        if (ret_quorum)
                *ret_quorum = managers > 0 && reachable * 2 > managers;
        if (ret_any_leader)
                *ret_any_leader = any;
}

static RcInstanceState instance_state(Ec2InstanceState s) {
        switch (s) {
        case EC2_INSTANCE_PENDING:
                return RC_INSTANCE_PENDING;
        case EC2_INSTANCE_RUNNING:
                return RC_INSTANCE_RUNNING;
        case EC2_INSTANCE_TERMINATED:
                return RC_INSTANCE_TERMINATED;
        case EC2_INSTANCE_STOPPING:
                return RC_INSTANCE_STOPPING;
        case EC2_INSTANCE_STOPPED:
                return RC_INSTANCE_STOPPED;
        case EC2_INSTANCE_SHUTTING_DOWN:
        default:
                /* unknown states are present and dying: never "missing" */
                return RC_INSTANCE_SHUTTING_DOWN;
        }
}

static RcVolumeState volume_state(Ec2VolumeState s) {
        switch (s) {
        case EC2_VOLUME_CREATING:
                return RC_VOLUME_CREATING;
        case EC2_VOLUME_AVAILABLE:
                return RC_VOLUME_AVAILABLE;
        case EC2_VOLUME_IN_USE:
                return RC_VOLUME_IN_USE;
        case EC2_VOLUME_DELETING:
                return RC_VOLUME_DELETING;
        case EC2_VOLUME_DELETED:
                return RC_VOLUME_DELETED;
        case EC2_VOLUME_ERROR:
        default:
                return RC_VOLUME_ERROR;
        }
}

static RcNodeState node_state(const char *s) {
        if (streq_ptr(s, "ready"))
                return RC_NODE_READY;
        if (streq_ptr(s, "down"))
                return RC_NODE_DOWN;
        if (streq_ptr(s, "disconnected"))
                return RC_NODE_DISCONNECTED;
        return RC_NODE_UNKNOWN;
}

static RcReachability node_reach(const DockerNode *n) {
        if (!n->manager)
                return RC_REACH_NONE;
        if (streq_ptr(n->reachability, "reachable"))
                return RC_REACH_REACHABLE;
        if (streq_ptr(n->reachability, "unreachable"))
                return RC_REACH_UNREACHABLE;
        return RC_REACH_UNKNOWN;
}

static bool node_bad(const DockerNode *n) {
        /* a manager: Down AND Unreachable; a worker: Down */
        if (node_state(n->state) != RC_NODE_DOWN)
                return false;
        return !n->manager || node_reach(n) == RC_REACH_UNREACHABLE;
}

static bool node_healthy(const DockerNode *n) {
        if (node_state(n->state) != RC_NODE_READY)
                return false;
        return !n->manager || node_reach(n) == RC_REACH_REACHABLE;
}

/* swarmkeeper:generation: strictly decimal; absent or malformed: 0 (the planner moves past
 * any used token from there). */
static uint64_t volume_generation(const char *s) {
        uint64_t v = 0;

        if (isempty(s) || strlen(s) > 20 || (s[0] == '0' && s[1]))
                return 0;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return 0;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        return v;
}

static const RcNodeMark *history_mark(const RcHistory *h, const char *node_id) {
        for (size_t i = 0; i < h->n_marks; i++)
                if (streq(h->marks[i].node_id, node_id))
                        return &h->marks[i];
        return NULL;
}

int rc_world_observe(RcWorld *w, const RcHistory *h, uint64_t now, bool self_manager, RcObservation *ret) {
        size_t n_att = 0, k = 0;

        free(w->rc_instances);
        free(w->rc_volumes);
        free(w->rc_attached);
        free(w->rc_subnets);
        free(w->rc_nodes);
        free(w->rc_inflight);
        free(w->rc_seats);
        w->rc_seats = calloc(h->n_seats + 1, sizeof(RcSeat));
        if (!w->rc_seats)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_seats; i++)
                w->rc_seats[i] = (RcSeat){
                        .logical_id = h->seats[i].logical_id,
                        .busy_since_usec = h->seats[i].busy_since_usec,
                        .volume_id = h->seats[i].volume_id,
                        .volume_probe = h->seats[i].volume_probe,
                };
        w->rc_instances = calloc(w->instances.n + 1, sizeof(RcInstance));
        w->rc_volumes = calloc(w->volumes.n + 1, sizeof(RcVolume));
        for (size_t i = 0; i < w->volumes.n; i++)
                n_att += w->volumes.items[i].n_attachments;
        w->rc_attached = calloc(n_att + 1, sizeof(char *));
        w->rc_subnets = calloc(w->n_subnets + 1, sizeof(RcSubnet));
        w->rc_nodes = calloc(w->n_nodes + 1, sizeof(RcNode));
        w->rc_inflight = calloc(h->n_inflight + 1, sizeof(RcInflight));
        if (!w->rc_instances || !w->rc_volumes || !w->rc_attached || !w->rc_subnets || !w->rc_nodes ||
            !w->rc_inflight)
                return -ENOMEM;

        for (size_t i = 0; i < w->instances.n; i++) {
                const Ec2Instance *e = &w->instances.items[i];
                RcInstanceState st = instance_state(e->state);
                w->rc_instances[i] = (RcInstance){
                        .id = e->instance_id,
                        .state = st,
                        .cluster = ec2_tags_get(e->tags, EC2_TAG_CLUSTER),
                        .logical_id = ec2_tags_get(e->tags, EC2_TAG_LOGICAL_ID),
                        .role = ec2_tags_get(e->tags, EC2_TAG_ROLE),
                        /* a terminated instance has no address: identity is the tag */
                        .private_ip = st == RC_INSTANCE_TERMINATED ? NULL : e->private_ip,
                        .subnet_id = st == RC_INSTANCE_TERMINATED ? NULL : e->subnet_id,
                        .availability_zone = e->availability_zone,
                        .launch_usec = e->launch_time_usec,
                        .client_token = isempty(e->client_token) ? NULL : e->client_token,
                };
        }
        for (size_t i = 0; i < w->volumes.n; i++) {
                const Ec2Volume *v = &w->volumes.items[i];
                w->rc_volumes[i] = (RcVolume){
                        .id = v->volume_id,
                        .state = volume_state(v->state),
                        .logical_id = ec2_tags_get(v->tags, EC2_TAG_LOGICAL_ID),
                        .availability_zone = v->availability_zone,
                        .attached_to = w->rc_attached + k,
                        .has_state = streq_ptr(ec2_tags_get(v->tags, EC2_TAG_HAS_STATE), "yes"),
                        .generation = volume_generation(ec2_tags_get(v->tags, EC2_TAG_GENERATION)),
                };
                for (size_t j = 0; j < v->n_attachments; j++)
                        if (v->attachments[j].instance_id)
                                w->rc_attached[k++] = v->attachments[j].instance_id;
                w->rc_volumes[i].n_attached = (size_t) (w->rc_attached + k - w->rc_volumes[i].attached_to);
        }
        for (size_t i = 0; i < w->n_subnets; i++)
                w->rc_subnets[i] = (RcSubnet){
                        .id = w->subnets[i].id,
                        .cidr = w->subnets[i].cidr,
                        .availability_zone = w->subnets[i].availability_zone,
                };
        for (size_t i = 0; i < w->n_nodes; i++) {
                const DockerNode *d = &w->nodes[i];
                const RcNodeMark *m = history_mark(h, d->id);
                w->rc_nodes[i] = (RcNode){
                        .id = d->id,
                        .logical_id = d->logical_id,
                        .instance_id = w->node_instance_ids ? w->node_instance_ids[i] : NULL,
                        .addr = d->addr,
                        .manager = streq_ptr(d->role, "manager"),
                        .leader = d->leader,
                        .state = node_state(d->state),
                        .reachability = node_reach(d),
                        .availability = d->availability,
                        .bad_since_usec = m ? m->bad_since_usec : 0,
                        .healthy_since_usec = m ? m->healthy_since_usec : 0,
                        .created_usec = w->node_created_usec ? w->node_created_usec[i] : 0,
                        .drained_since_usec = m ? m->drained_since_usec : 0,
                        .manager_addr = d->manager ? d->manager_addr : NULL,
                };
        }
        for (size_t i = 0; i < h->n_inflight; i++)
                w->rc_inflight[i] = (RcInflight){
                        .kind = h->inflight[i].kind,
                        .logical_id = h->inflight[i].logical_id,
                        .instance_id = h->inflight[i].instance_id,
                        .volume_id = h->inflight[i].volume_id,
                        .since_usec = h->inflight[i].since_usec,
                };

        *ret = (RcObservation){
                .now_usec = now,
                .instances_ok = w->instances_ok,
                .instances = w->rc_instances,
                .n_instances = w->instances_ok ? w->instances.n : 0,
                .volumes_ok = w->volumes_ok,
                .volumes = w->rc_volumes,
                .n_volumes = w->volumes_ok ? w->volumes.n : 0,
                .subnets_ok = w->subnets_ok,
                .subnets = w->rc_subnets,
                .n_subnets = w->subnets_ok ? w->n_subnets : 0,
                .nodes_ok = w->nodes_ok,
                .nodes = w->rc_nodes,
                .n_nodes = w->nodes_ok ? w->n_nodes : 0,
                .leader = w->leader,
                .quorum = w->quorum,
                .no_leader_since_usec = h->no_leader_since_usec,
                .inflight = w->rc_inflight,
                .n_inflight = h->n_inflight,
                .self_manager = self_manager,
                .tokens_rotated_usec = h->tokens_rotated_usec,
                .seats = w->rc_seats,
                .tokens_rotated_swarm_usec = h->tokens_rotated_swarm_usec,
                .tokens_rotated_launch_usec = h->tokens_rotated_launch_usec,
                .n_seats = h->n_seats,
                .dead_client_tokens = (const char *const *) h->dead_tokens,
                .n_dead_client_tokens = strv_length(h->dead_tokens),
        };
        return 0;
}

/* ---- history ----------------------------------------------------------------------------- */

static void inflight_entry_done(RcInflightEntry *e) {
        free(e->logical_id);
        free(e->instance_id);
        free(e->volume_id);
        *e = (RcInflightEntry){};
}

void rc_history_done(RcHistory *h) {
        for (size_t i = 0; i < h->n_marks; i++)
                free(h->marks[i].node_id);
        free(h->marks);
        for (size_t i = 0; i < h->n_inflight; i++)
                inflight_entry_done(&h->inflight[i]);
        free(h->inflight);
        for (size_t i = 0; i < h->n_backoff; i++)
                free(h->backoff[i].key);
        free(h->backoff);
        for (size_t i = 0; i < h->n_recovering; i++)
                free(h->recovering[i].logical_id);
        free(h->recovering);
        strv_free(h->logged);
        free(h->leader_node_id);
        for (size_t i = 0; i < h->n_seats; i++) {
                free(h->seats[i].logical_id);
                free(h->seats[i].volume_id);
        }
        free(h->seats);
        strv_free(h->dead_tokens);
        *h = (RcHistory){};
}

int rc_history_copy(const RcHistory *src, RcHistory *ret) {
        _cleanup_(rc_history_done) RcHistory h = {
                .no_leader_since_usec = src->no_leader_since_usec,
                .tokens_rotated_usec = src->tokens_rotated_usec,
                .ec2_observed_usec = src->ec2_observed_usec,
                .quorum_lost_logged = src->quorum_lost_logged,
                .nodes_observed_usec = src->nodes_observed_usec,
                .max_gap_usec = src->max_gap_usec,
                .tokens_rotated_swarm_usec = src->tokens_rotated_swarm_usec,
                .tokens_rotated_launch_usec = src->tokens_rotated_launch_usec,
                .unmarked_volumes = src->unmarked_volumes,
        };

        if (src->n_marks) {
                h.marks = calloc(src->n_marks, sizeof(RcNodeMark));
                if (!h.marks)
                        return -ENOMEM;
                for (; h.n_marks < src->n_marks; h.n_marks++) {
                        h.marks[h.n_marks] = src->marks[h.n_marks];
                        h.marks[h.n_marks].node_id = strdup(src->marks[h.n_marks].node_id);
                        if (!h.marks[h.n_marks].node_id)
                                return -ENOMEM;
                }
        }
        for (size_t i = 0; i < src->n_inflight; i++) {
                const RcInflightEntry *e = &src->inflight[i];
                int r = rc_history_add_inflight(&h, e->kind, e->logical_id, e->instance_id, e->volume_id,
                                                e->since_usec);
                if (r < 0)
                        return r;
        }
        if (src->n_backoff) {
                h.backoff = calloc(src->n_backoff, sizeof(RcBackoff));
                if (!h.backoff)
                        return -ENOMEM;
                for (; h.n_backoff < src->n_backoff; h.n_backoff++) {
                        h.backoff[h.n_backoff] = src->backoff[h.n_backoff];
                        h.backoff[h.n_backoff].key = strdup(src->backoff[h.n_backoff].key);
                        if (!h.backoff[h.n_backoff].key)
                                return -ENOMEM;
                }
        }
        for (size_t i = 0; i < src->n_recovering; i++) {
                int r = rc_history_recovery_start(&h, src->recovering[i].logical_id, src->recovering[i].started_usec);
                if (r < 0)
                        return r;
        }
        if (strv_copy(src->logged, &h.logged) < 0 || strdup_or_null(src->leader_node_id, &h.leader_node_id) < 0 ||
            strv_copy(src->dead_tokens, &h.dead_tokens) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < src->n_seats; i++) {
                RcSeatMemory *m = rc_history_seat(&h, src->seats[i].logical_id, true);
                if (!m || strdup_or_null(src->seats[i].volume_id, &m->volume_id) < 0)
                        return -ENOMEM;
                m->busy_since_usec = src->seats[i].busy_since_usec;
                m->volume_probe = src->seats[i].volume_probe;
                m->stuck_logged = src->seats[i].stuck_logged;
        }
        *ret = h;
        h = (RcHistory){};
        return 0;
}

int rc_history_update_nodes(RcHistory *h, const DockerNode *nodes, size_t n, uint64_t now) {
        RcNodeMark *marks = calloc(n + 1, sizeof(RcNodeMark));
        const char *leader = NULL;
        bool gap, new_leader;

        if (!marks)
                return -ENOMEM;
        for (size_t i = 0; i < n && !leader; i++)
                if (nodes[i].leader)
                        leader = nodes[i].id;
        /* Evidence must be continuous: not watched for a while, or watched through another
         * leader's dispatcher, every streak starts again now. */
        gap = h->max_gap_usec > 0 && h->nodes_observed_usec != 0 &&
              (now < h->nodes_observed_usec || now - h->nodes_observed_usec > h->max_gap_usec);
        new_leader = h->nodes_observed_usec != 0 && !streq_ptr(leader, h->leader_node_id);
        if (gap || new_leader)
                log_debug("Reconcile: %s: every Down/drained streak starts again.",
                          gap ? "a gap between two node listings" : "another Leader");
        for (size_t i = 0; i < n; i++) {
                const RcNodeMark *found = history_mark(h, nodes[i].id), *old = gap || new_leader ? NULL : found;
                RcNodeMark keep_healthy = { .healthy_since_usec = found && !gap ? found->healthy_since_usec : 0 };

                if (found && !gap && new_leader)
                        old = &keep_healthy; /* only healthy_since survives a new Leader */
                marks[i].node_id = strdup(nodes[i].id);
                if (!marks[i].node_id) {
                        for (size_t j = 0; j < i; j++)
                                free(marks[j].node_id);
                        free(marks);
                        return -ENOMEM;
                }
                if (node_bad(&nodes[i]))
                        marks[i].bad_since_usec = old && old->bad_since_usec ? old->bad_since_usec : now;
                if (node_healthy(&nodes[i]))
                        marks[i].healthy_since_usec =
                                old && old->healthy_since_usec ? old->healthy_since_usec : now;
                else if (old && node_state(nodes[i].state) == RC_NODE_UNKNOWN &&
                         (!nodes[i].manager || node_reach(&nodes[i]) == RC_REACH_REACHABLE))
                        /* a new leader's dispatcher has not heard from it yet: no break */
                        marks[i].healthy_since_usec = old->healthy_since_usec;
                if (streq_ptr(nodes[i].availability, "drain"))
                        marks[i].drained_since_usec =
                                old && old->drained_since_usec ? old->drained_since_usec : now;
        }
        for (size_t i = 0; i < h->n_marks; i++)
                free(h->marks[i].node_id);
        free(h->marks);
        h->marks = marks;
        h->n_marks = n;
        h->nodes_observed_usec = now;
        if (!streq_ptr(leader, h->leader_node_id) && free_and_strdup(&h->leader_node_id, leader) < 0)
                return -ENOMEM;
        return 0;
}

RcSeatMemory *rc_history_seat(RcHistory *h, const char *logical_id, bool create) {
        RcSeatMemory *n;

        if (!logical_id)
                return NULL;
        for (size_t i = 0; i < h->n_seats; i++)
                if (streq(h->seats[i].logical_id, logical_id))
                        return &h->seats[i];
        if (!create)
                return NULL;
        n = realloc(h->seats, (h->n_seats + 1) * sizeof(RcSeatMemory));
        if (!n)
                return NULL;
        h->seats = n;
        n[h->n_seats] = (RcSeatMemory){ .logical_id = strdup(logical_id) };
        if (!n[h->n_seats].logical_id)
                return NULL;
        return &h->seats[h->n_seats++];
}

static int seat_remember_volume(RcHistory *h, const char *logical_id, const char *volume_id) {
        RcSeatMemory *m;

        if (!logical_id || !volume_id)
                return 0;
        m = rc_history_seat(h, logical_id, true);
        if (!m)
                return -ENOMEM;
        return streq_ptr(m->volume_id, volume_id) ? 0 : free_and_strdup(&m->volume_id, volume_id) < 0 ? -ENOMEM : 0;
}

int rc_history_remember_volumes(RcHistory *h, const RcWorld *w) {
        int r;

        /* the in-flight records first: a listing that shows a volume tagged for the seat
         * has the last word */
        for (size_t i = 0; i < h->n_inflight; i++)
                if ((r = seat_remember_volume(h, h->inflight[i].logical_id, h->inflight[i].volume_id)) < 0)
                        return r;
        /* what a manager's node says its volume is (written by the leader that marked it: in
         * Raft, so known to a leader that never listed that volume) */
        for (size_t i = 0; w->nodes_ok && i < w->n_nodes; i++) {
                const DockerNode *n = &w->nodes[i];
                char seat[64];
                const char *colon;

                if (!n->volume_id || !n->manager_addr || !(colon = strrchr(n->manager_addr, ':')) ||
                    (size_t) (colon - n->manager_addr) >= sizeof(seat))
                        continue;
                snprintf(seat, sizeof(seat), "%.*s", (int) (colon - n->manager_addr), n->manager_addr);
                if ((r = seat_remember_volume(h, seat, n->volume_id)) < 0)
                        return r;
        }
        /* a manager instance's data volume (kept on delete: not the root volume) */
        for (size_t i = 0; w->instances_ok && i < w->instances.n; i++) {
                const Ec2Instance *e = &w->instances.items[i];
                if (!streq_ptr(ec2_tags_get(e->tags, EC2_TAG_ROLE), "manager"))
                        continue;
                for (size_t j = 0; j < e->n_volumes; j++)
                        if (!e->volumes[j].delete_on_termination &&
                            (r = seat_remember_volume(h, ec2_tags_get(e->tags, EC2_TAG_LOGICAL_ID), e->volumes[j].volume_id)) < 0)
                                return r;
        }
        for (size_t i = 0; w->volumes_ok && i < w->volumes.n; i++) {
                const Ec2Volume *v = &w->volumes.items[i];
                if (v->state != EC2_VOLUME_CREATING && v->state != EC2_VOLUME_AVAILABLE && v->state != EC2_VOLUME_IN_USE)
                        continue;
                if ((r = seat_remember_volume(h, ec2_tags_get(v->tags, EC2_TAG_LOGICAL_ID), v->volume_id)) < 0)
                        return r;
        }
        return 0;
}

void rc_history_update_seats(RcHistory *h, const RcPlan *plan, char *const *managers, uint64_t now) {
        STRV_FOREACH(m, managers) {
                RcSeatMemory *s;
                bool holds = false, pending = false;

                for (size_t i = 0; i < plan->n; i++)
                        if (streq_ptr(plan->actions[i].logical_id, *m)) {
                                holds = holds || plan->actions[i].holds_slot;
                                pending = pending || plan->actions[i].seat_pending;
                        }
                s = rc_history_seat(h, *m, holds);
                if (!s)
                        continue;
                if (holds && !s->busy_since_usec)
                        s->busy_since_usec = now;
                else if (!holds && !pending) {
                        s->busy_since_usec = 0;
                        s->stuck_logged = false;
                }
        }
}

int rc_history_add_inflight(RcHistory *h, RcInflightKind kind, const char *logical_id, const char *instance_id,
                            const char *volume_id, uint64_t now) {
        RcInflightEntry e = { .kind = kind, .since_usec = now };
        RcInflightEntry *n;

        if (strdup_or_null(logical_id, &e.logical_id) < 0 || strdup_or_null(instance_id, &e.instance_id) < 0 ||
            strdup_or_null(volume_id, &e.volume_id) < 0) {
                inflight_entry_done(&e);
                return -ENOMEM;
        }
        n = realloc(h->inflight, (h->n_inflight + 1) * sizeof(RcInflightEntry));
        if (!n) {
                inflight_entry_done(&e);
                return -ENOMEM;
        }
        h->inflight = n;
        h->inflight[h->n_inflight++] = e;
        return 0;
}

static const Ec2Instance *world_instance(const RcWorld *w, const char *id) {
        for (size_t i = 0; id && w->instances_ok && i < w->instances.n; i++)
                if (streq(w->instances.items[i].instance_id, id))
                        return &w->instances.items[i];
        return NULL;
}

static const Ec2Volume *world_volume(const RcWorld *w, const char *id) {
        for (size_t i = 0; id && w->volumes_ok && i < w->volumes.n; i++)
                if (streq(w->volumes.items[i].volume_id, id))
                        return &w->volumes.items[i];
        return NULL;
}

/* Does the listing show what the in-flight action was for? */
static bool inflight_seen(const RcInflightEntry *e, const RcWorld *w) {
        const Ec2Instance *i = world_instance(w, e->instance_id);
        const Ec2Volume *v = world_volume(w, e->volume_id);

        switch (e->kind) {
        case RC_INFLIGHT_LAUNCH:
                /* the instance shows up and runs (or is gone already) */
                return i && i->state != EC2_INSTANCE_PENDING;
        case RC_INFLIGHT_ATTACH:
                if (!v)
                        return false;
                for (size_t j = 0; j < v->n_attachments; j++)
                        if (streq_ptr(v->attachments[j].instance_id, e->instance_id) &&
                            v->attachments[j].state == EC2_ATTACHMENT_ATTACHED)
                                return true;
                return i && i->state != EC2_INSTANCE_RUNNING && i->state != EC2_INSTANCE_PENDING;
        case RC_INFLIGHT_FENCE:
                return i && i->state == EC2_INSTANCE_TERMINATED;
        case RC_INFLIGHT_CREATE_VOLUME:
                return v && v->state != EC2_VOLUME_CREATING;
        case RC_INFLIGHT_DRAIN:
        default:
                return i && i->state == EC2_INSTANCE_TERMINATED;
        }
}

void rc_history_prune_inflight(RcHistory *h, const RcWorld *w, uint64_t now, uint64_t max_age) {
        size_t k = 0;

        for (size_t i = 0; i < h->n_inflight; i++) {
                RcInflightEntry *e = &h->inflight[i];
                if (inflight_seen(e, w) || now >= e->since_usec + max_age) {
                        inflight_entry_done(e);
                        continue;
                }
                h->inflight[k++] = *e;
        }
        h->n_inflight = k;
}

int rc_history_add_dead_token(RcHistory *h, const char *token) {
        size_t n = strv_length(h->dead_tokens);

        if (isempty(token))
                return -EINVAL;
        if (strv_contains(h->dead_tokens, token))
                return 0;
        if (n >= RC_DEAD_TOKENS_MAX) {
                /* the oldest goes (the listing still shows its instance, or EC2 forgot it) */
                free(h->dead_tokens[0]);
                memmove(h->dead_tokens, h->dead_tokens + 1, n * sizeof(char *));
        }
        return strv_extend(&h->dead_tokens, token);
}

static RcBackoff *backoff_find(const RcHistory *h, const char *key) {
        for (size_t i = 0; i < h->n_backoff; i++)
                if (streq(h->backoff[i].key, key))
                        return &h->backoff[i];
        return NULL;
}

bool rc_history_backoff_ready(const RcHistory *h, const char *key, uint64_t now) {
        const RcBackoff *b = backoff_find(h, key);
        return !b || now >= b->not_before_usec;
}

int rc_history_backoff_fail(RcHistory *h, const char *key, uint64_t now) {
        return rc_history_backoff_fail_cap(h, key, now, RC_BACKOFF_CAP_USEC);
}

int rc_history_backoff_fail_cap(RcHistory *h, const char *key, uint64_t now, uint64_t cap_usec) {
        RcBackoff *b = backoff_find(h, key);
        uint64_t exp;

        if (!b) {
                RcBackoff *n = realloc(h->backoff, (h->n_backoff + 1) * sizeof(RcBackoff));
                if (!n)
                        return -ENOMEM;
                h->backoff = n;
                b = &h->backoff[h->n_backoff];
                *b = (RcBackoff){ .key = strdup(key) };
                if (!b->key)
                        return -ENOMEM;
                h->n_backoff++;
        }
        /* exponential, full jitter, but never less than the base: retrying at once helps nobody */
        exp = RC_BACKOFF_BASE_USEC << (b->attempt < 16 ? b->attempt : 16);
        if (cap_usec < RC_BACKOFF_BASE_USEC)
                cap_usec = RC_BACKOFF_BASE_USEC;
        if (exp > cap_usec)
                exp = cap_usec;
        b->not_before_usec = now + RC_BACKOFF_BASE_USEC + random_below(exp - RC_BACKOFF_BASE_USEC + 1);
        if (b->attempt < 64)
                b->attempt++;
        return 0;
}

void rc_history_backoff_reset(RcHistory *h, const char *key) {
        RcBackoff *b = backoff_find(h, key);
        if (!b)
                return;
        free(b->key);
        *b = h->backoff[--h->n_backoff];
}

int rc_history_recovery_start(RcHistory *h, const char *logical_id, uint64_t now) {
        RcRecovery *n;

        if (!logical_id)
                return -EINVAL;
        for (size_t i = 0; i < h->n_recovering; i++)
                if (streq(h->recovering[i].logical_id, logical_id))
                        return 0;
        n = realloc(h->recovering, (h->n_recovering + 1) * sizeof(RcRecovery));
        if (!n)
                return -ENOMEM;
        h->recovering = n;
        n[h->n_recovering] = (RcRecovery){ .logical_id = strdup(logical_id), .started_usec = now };
        if (!n[h->n_recovering].logical_id)
                return -ENOMEM;
        h->n_recovering++;
        return 0;
}

int rc_history_recovery_done(RcHistory *h, const char *logical_id, uint64_t healthy_since, uint64_t *ret_started) {
        for (size_t i = 0; logical_id && i < h->n_recovering; i++) {
                RcRecovery *e = &h->recovering[i];
                if (!streq(e->logical_id, logical_id))
                        continue;
                /* healthy without a break since before the replacement began: not back yet,
                 * the old node has not even noticed it is gone */
                if (healthy_since == 0 || healthy_since <= e->started_usec)
                        return 0;
                if (ret_started)
                        *ret_started = e->started_usec;
                free(e->logical_id);
                *e = h->recovering[--h->n_recovering];
                return 1;
        }
        return 0;
}

bool rc_world_unmarked_volumes(const RcWorld *w, char *const *managers) {
        if (!w->volumes_ok)
                return false;
        for (size_t i = 0; i < w->volumes.n; i++) {
                const Ec2Volume *v = &w->volumes.items[i];

                if (v->state != EC2_VOLUME_CREATING && v->state != EC2_VOLUME_AVAILABLE && v->state != EC2_VOLUME_IN_USE)
                        continue;
                const char *lid = ec2_tags_get(v->tags, EC2_TAG_LOGICAL_ID);

                if (lid && strv_contains(managers, lid) &&
                    !streq_ptr(ec2_tags_get(v->tags, EC2_TAG_HAS_STATE), "yes"))
                        return true;
        }
        return false;
}

bool rc_swarm_complete(const DockerNode *nodes, size_t n, char *const *managers, unsigned workers) {
        unsigned n_workers = 0;

        for (size_t i = 0; i < n; i++) {
                if (!node_healthy(&nodes[i]))
                        return false;
                if (!nodes[i].manager)
                        n_workers++;
        }
        if (n_workers != workers)
                return false;
        STRV_FOREACH(m, managers) {
                bool found = false;
                for (size_t i = 0; i < n && !found; i++)
                        found = nodes[i].manager && streq_ptr(nodes[i].logical_id, *m);
                if (!found)
                        return false;
        }
        return true;
}

bool rc_action_needs_recheck(const RcAction *a) {
        return a && (a->kind == RC_ACTION_FENCE || a->kind == RC_ACTION_DEMOTE || a->kind == RC_ACTION_REMOVE_NODE);
}

int rc_action_still_holds(const RcAction *a, const DockerNode *nodes, size_t n, char *why, size_t why_size) {
        const DockerNode *x = NULL;
        size_t managers = 0, reachable = 0;

        if (!rc_action_needs_recheck(a))
                return 1;
        for (size_t i = 0; i < n; i++) {
                if (nodes[i].manager) {
                        managers++;
                        reachable += node_reach(&nodes[i]) == RC_REACH_REACHABLE;
                }
                if (a->node_id && streq_ptr(nodes[i].id, a->node_id))
                        x = &nodes[i];
        }
        if (!x) {
                (void) snprintf(why, why_size, "node %s is no longer listed", strempty(a->node_id));
                return 0;
        }
        switch (a->kind) {
        case RC_ACTION_FENCE:
                if (node_state(x->state) != RC_NODE_DOWN || node_reach(x) != RC_REACH_UNREACHABLE) {
                        (void) snprintf(why, why_size, "node %s is now %s, %s", x->id, strempty(x->state),
                                        x->reachability ?: "no manager status");
                        return 0;
                }
                return 1;
        case RC_ACTION_DEMOTE:
                if (!x->manager || node_reach(x) == RC_REACH_REACHABLE) {
                        (void) snprintf(why, why_size, "node %s is now %s", x->id,
                                        x->manager ? "Reachable" : "no manager");
                        return 0;
                }
                /* without it, a majority of the rest must stay reachable */
                if (managers <= 1 || !quorum_has_majority(reachable, managers - 1)) {
                        (void) snprintf(why, why_size, "only %zu of %zu managers are Reachable: demoting %s would cost quorum",
                                        reachable, managers, x->id);
                        return 0;
                }
                return 1;
        case RC_ACTION_REMOVE_NODE:
        default:
                if (x->manager || node_state(x->state) != RC_NODE_DOWN) {
                        (void) snprintf(why, why_size, "node %s is now %s%s", x->id, strempty(x->state),
                                        x->manager ? ", a manager" : "");
                        return 0;
                }
                return 1;
        }
}

int rc_confirm_action(Docker *d, const char *self_node_id, const RcAction *a, char *why, size_t why_size) {
        DockerNode *nodes = NULL;
        LeaderQuorum q = {};
        size_t n = 0;
        int r;

        if (!d || isempty(self_node_id) || !a)
                return -EINVAL;
        if (!rc_action_needs_recheck(a)) {
                r = leader_confirm_blocking(d, self_node_id, &q);
                return r < 0 ? r : r > 0 && q.majority ? RC_CONFIRM_GO : RC_CONFIRM_NO;
        }
        /* every node: a demoted one (REMOVE_NODE) is no manager any more */
        r = docker_nodes_list(d, &nodes, &n);
        if (r < 0)
                return r;
        r = leader_quorum_from_nodes(nodes, n, self_node_id, &q);
        if (r >= 0)
                r = !(r > 0 && q.majority) ? RC_CONFIRM_NO
                    : rc_action_still_holds(a, nodes, n, why, why_size) > 0 ? RC_CONFIRM_GO : RC_CONFIRM_SKIP;
        docker_nodes_free(nodes, n);
        return r;
}

void rc_action_describe(const RcAction *a, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s", rc_action_kind_to_string(a->kind));
#define PART(label, v)                                                                            \
        if ((v) && n >= 0 && (size_t) n < size)                                                   \
                n += snprintf(buf + n, size - (size_t) n, " " label "=%s", (v));
        PART("logical-id", a->logical_id);
        PART("instance", a->instance_id);
        PART("volume", a->volume_id);
        PART("node", a->node_id);
        PART("subnet", a->subnet_id);
        PART("az", a->availability_zone);
        PART("replaces", a->replaces);
#undef PART
        if ((a->kind == RC_ACTION_SET_GENERATION || a->kind == RC_ACTION_LAUNCH_MANAGER) && n >= 0 && (size_t) n < size)
                n += snprintf(buf + n, size - (size_t) n, " generation=%" PRIu64, a->volume_generation);
        if (a->join_fresh && n >= 0 && (size_t) n < size)
                n += snprintf(buf + n, size - (size_t) n, " join-fresh");
        if (a->reason[0] && n >= 0 && (size_t) n < size)
                (void) snprintf(buf + n, size - (size_t) n, ": %s", a->reason);
}

/* ---- one pass (on the job's thread, or synchronously for `plan`) --------------------------- */

/*
 * What passes keep between them, lent to one pass at a time: the EC2 client with its
 * credentials provider (credentials fetched once and refreshed before they expire, not
 * three metadata requests a pass; a metadata service that hiccups does not stop a pass
 * while they are valid) and the described subnets. key: what made them (region,
 * endpoints); another key, another set.
 */
typedef struct RcClients {
        char *key;
        Imds *imds;
        CredsProvider *creds;
        Ec2Client *ec2;
        Ec2SubnetList subnets;
        char **subnet_ids;              /* what subnets describes */
        uint64_t subnets_usec;          /* CLOCK_MONOTONIC; 0: none */
} RcClients;

static void rc_clients_drop_subnets(RcClients *c) {
        ec2_subnet_list_done(&c->subnets);
        strv_free(c->subnet_ids);
        c->subnet_ids = NULL;
        c->subnets_usec = 0;
}

static void rc_clients_done(RcClients *c) {
        rc_clients_drop_subnets(c);
        ec2_client_free(c->ec2);
        creds_provider_free(c->creds);
        imds_free(c->imds);
        free(c->key);
        *c = (RcClients){};
}

typedef struct Pass {
        /* inputs: copies, so that a reload in the loop cannot pull them away */
        char *cluster;
        char **managers;
        char *bootstrap;
        unsigned workers;
        uint64_t grace_usec, quorum_loss_grace_usec, stable_usec;
        uint64_t seat_deadline_usec, interval_usec;
        char *socket;
        char *region, *endpoint, *metadata_endpoint;
        RcLaunchConf launch_manager, launch_worker; /* a worker's: never the managers' template/profile */
        RcVolumeConf volume;              /* a manager's new data volume */
        char *key_name, *user_data_path;
        char **security_groups, **subnet_ids;
        char *conf_manager, *conf_worker; /* the 50-cluster.conf drop-ins, without a token */
        char *self_instance_id;           /* Host.InstanceId (NULL: unknown) */
        bool allow_plain_http;
        bool dry_run, plan_only;
        uint64_t deadline_usec;           /* CLOCK_MONOTONIC */
        const atomic_bool *cancel;
        Reconciler *owner;
        RcHistory history;                /* in: the loop's copy; out: updated */

        /* outputs */
        RcWorld world;
        RcObservation obs;
        RcPlan plan;
        bool planned;
        bool quorum_loss_mode;
        bool engine_manager;
        bool amiss;                       /* EC2 was needed: the swarm is not as desired */
        bool plan_changed;                /* an action planned that the last pass had not */
        unsigned skipped;                 /* actions whose precondition no longer held */
        char status[160];
        char error[256];

        /* clients, made on the thread (the EC2 ones lent by the loop when it has them) */
        Docker *docker;
        RcClients clients;
} Pass;

static Pass *pass_free(Pass *p) {
        if (!p)
                return NULL;
        free(p->cluster);
        strv_free(p->managers);
        free(p->bootstrap);
        free(p->socket);
        free(p->self_instance_id);
        free(p->region);
        free(p->endpoint);
        free(p->metadata_endpoint);
        rc_launch_conf_done(&p->launch_manager);
        rc_launch_conf_done(&p->launch_worker);
        rc_volume_conf_done(&p->volume);
        free(p->key_name);
        free(p->user_data_path);
        strv_free(p->security_groups);
        strv_free(p->subnet_ids);
        free(p->conf_manager);
        free(p->conf_worker);
        rc_history_done(&p->history);
        if (p->planned)
                rc_plan_done(&p->plan);
        rc_world_done(&p->world);
        rc_clients_done(&p->clients);
        docker_free(p->docker);
        free(p);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Pass *, pass_free);

static const char *nonempty(const char *s) {
        return isempty(s) ? NULL : s;
}

void rc_launch_conf_done(RcLaunchConf *l) {
        free(l->template_id);
        free(l->template_name);
        free(l->template_version);
        free(l->image_id);
        free(l->instance_type);
        free(l->instance_profile);
        *l = (RcLaunchConf){};
}

int rc_launch_conf(const Config *c, Role role, RcLaunchConf *ret) {
        _cleanup_(rc_launch_conf_done) RcLaunchConf l = {};
        bool worker = role == ROLE_WORKER;
        /* a worker: its own template and profile or none, never the managers' */
        const char *tmpl = nonempty(worker ? c->worker_launch_template : c->launch_template);
        const char *version = worker ? c->worker_launch_template_version : c->launch_template_version;
        const char *profile = nonempty(worker ? c->worker_instance_profile : c->instance_profile);
        int r;

        if (!config_launch_configured(c, role)) {
                *ret = (RcLaunchConf){};
                return 0;
        }
        l.configured = true;
        if (tmpl && ((r = strdup_or_null(startswith(tmpl, "lt-") ? tmpl : NULL, &l.template_id)) < 0 ||
                     (r = strdup_or_null(startswith(tmpl, "lt-") ? NULL : tmpl, &l.template_name)) < 0 ||
                     (r = strdup_or_null(nonempty(version) ?: "$Default", &l.template_version)) < 0))
                return r;
        if ((r = strdup_or_null(nonempty(c->image_id), &l.image_id)) < 0 ||
            (r = strdup_or_null(nonempty(c->instance_type), &l.instance_type)) < 0 ||
            (r = strdup_or_null(profile, &l.instance_profile)) < 0)
                return r;
        *ret = l;
        l = (RcLaunchConf){};
        return 0;
}

void rc_volume_conf_done(RcVolumeConf *v) {
        free(v->type);
        free(v->kms_key_id);
        *v = (RcVolumeConf){};
}

int rc_volume_conf(const Config *c, RcVolumeConf *ret) {
        _cleanup_(rc_volume_conf_done) RcVolumeConf v = {
                .size_gib = c->volume_size_gib,
                .encrypted = c->volume_encrypted,
        };
        int r;

        if ((r = strdup_or_null(nonempty(c->volume_type) ?: "gp3", &v.type)) < 0 ||
            (r = strdup_or_null(nonempty(c->volume_kms_key_id), &v.kms_key_id)) < 0)
                return r;
        *ret = v;
        v = (RcVolumeConf){};
        return 0;
}

static int pass_new(const Config *c, const RcHistory *h, Pass **ret) {
        _cleanup_(pass_freep) Pass *p = calloc(1, sizeof(Pass));
        const char *base = nonempty(c->user_data);
        int r;

        if (!p)
                return -ENOMEM;
        p->workers = c->workers;
        p->grace_usec = (uint64_t) c->grace_sec * USEC_PER_SEC;
        p->stable_usec = (uint64_t) c->stable_sec * USEC_PER_SEC;
        p->quorum_loss_grace_usec = (uint64_t) c->quorum_loss_grace_sec * USEC_PER_SEC;
        p->seat_deadline_usec = (uint64_t) c->seat_deadline_sec * USEC_PER_SEC;
        p->interval_usec = (uint64_t) c->interval_sec * USEC_PER_SEC;
        p->dry_run = c->dry_run;
        p->allow_plain_http = c->allow_plain_http;
        p->deadline_usec = now_usec(CLOCK_MONOTONIC) + RC_PASS_DEADLINE_USEC;
        if ((r = strdup_or_null(c->cluster_name, &p->cluster)) < 0 ||
            (r = strdup_or_null(c->bootstrap_manager, &p->bootstrap)) < 0 ||
            (r = strdup_or_null(c->socket, &p->socket)) < 0 ||
            (r = strdup_or_null(nonempty(c->instance_id), &p->self_instance_id)) < 0 ||
            (r = strdup_or_null(c->region, &p->region)) < 0 ||
            (r = strdup_or_null(c->endpoint, &p->endpoint)) < 0 ||
            (r = strdup_or_null(c->metadata_endpoint, &p->metadata_endpoint)) < 0 ||
            (r = rc_launch_conf(c, ROLE_MANAGER, &p->launch_manager)) < 0 ||
            (r = rc_launch_conf(c, ROLE_WORKER, &p->launch_worker)) < 0 ||
            (r = rc_volume_conf(c, &p->volume)) < 0 ||
            (r = strdup_or_null(nonempty(c->key_name), &p->key_name)) < 0 ||
            (r = strdup_or_null(base, &p->user_data_path)) < 0)
                return r;
        if (strv_copy(c->security_group_ids, &p->security_groups) < 0 ||
            strv_copy(c->subnet_ids, &p->subnet_ids) < 0 || strv_copy(c->managers, &p->managers) < 0)
                return -ENOMEM;
        if ((r = rc_cluster_conf(c, "manager", NULL, !!base, &p->conf_manager)) < 0 ||
            (r = rc_cluster_conf(c, "worker", NULL, !!base, &p->conf_worker)) < 0)
                return r;
        if (h && (r = rc_history_copy(h, &p->history)) < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

_printf_(2, 3) static int pass_fail(Pass *p, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(p->error, sizeof(p->error), fmt, ap);
        va_end(ap);
        return -EIO;
}

static bool pass_stopped(const Pass *p) {
        return (p->cancel && atomic_load(p->cancel)) || now_usec(CLOCK_MONOTONIC) >= p->deadline_usec;
}

static int pass_docker(Pass *p) {
        int r;

        if (p->docker)
                return 0;
        r = docker_new(p->socket, &p->docker);
        if (r < 0)
                return r;
        p->docker->timeout_msec = RC_DOCKER_TIMEOUT_MSEC;
        docker_set_cancel(p->docker, p->cancel);
        return docker_ping(p->docker);
}

/* What the EC2 clients are made from (no secret in it). */
static int pass_clients_key(const Pass *p, char **ret) {
        return asprintf(ret, "%s|%s|%s|%d", strempty(p->region), strempty(p->endpoint),
                        strempty(p->metadata_endpoint), p->allow_plain_http) < 0 ? -ENOMEM : 0;
}

static int pass_ec2(Pass *p) {
        _cleanup_(freep) char *region = NULL;
        int r;

        if (p->clients.ec2) {
                /* lent by the loop: this pass's cancel flag */
                imds_set_cancel(p->clients.imds, p->cancel);
                ec2_client_set_cancel(p->clients.ec2, p->cancel);
                return 0;
        }
        rc_clients_done(&p->clients);
        r = imds_new(p->metadata_endpoint, &p->clients.imds);
        if (r < 0)
                return pass_fail(p, "cannot use the metadata service at %s", p->metadata_endpoint);
        imds_set_cancel(p->clients.imds, p->cancel);
        if (isempty(p->region)) {
                r = imds_get_value(p->clients.imds, IMDS_REGION, &region);
                if (r < 0)
                        return pass_fail(p, "AWS.Region is not set and the metadata service could not tell it: %s",
                                         strerror(-r));
        }
        r = creds_provider_new(p->clients.imds, &p->clients.creds);
        if (r < 0)
                return pass_fail(p, "cannot set up AWS credentials: %s", strerror(-r));
        r = ec2_client_new(region ?: p->region, p->endpoint, p->clients.creds, &p->clients.ec2);
        if (r < 0)
                return pass_fail(p, "cannot use EC2 in region '%s' at '%s'", region ?: p->region,
                                 isempty(p->endpoint) ? "(default endpoint)" : p->endpoint);
        ec2_client_set_allow_plain_http(p->clients.ec2, p->allow_plain_http);
        ec2_client_set_cancel(p->clients.ec2, p->cancel);
        /* short enough for the pass deadline */
        ec2_client_set_timeouts(p->clients.ec2, 3000, 20000);
        ec2_client_set_retry(p->clients.ec2, 4, 250 * USEC_PER_MSEC, 5 * USEC_PER_SEC);
        return pass_clients_key(p, &p->clients.key);
}

/* GET path (a node listing) → nodes, their instance-id labels. */
static int pass_list_nodes(Pass *p, const char *path, DockerNode **ret, size_t *ret_n, char ***ret_instance_ids,
                           uint64_t **ret_created) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(strv_freep) char **ids = NULL;
        _cleanup_(freep) uint64_t *created = NULL;
        DockerNode *nodes = NULL;
        size_t n = 0;
        int r;

        r = docker_call(p->docker, "GET", path, NULL, 0, &o);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_array))
                return -EBADMSG;
        r = docker_parse_nodes(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), &nodes, &n);
        if (r < 0)
                return r;
        if (ret_instance_ids) {
                ids = calloc(n + 1, sizeof(char *));
                created = calloc(n + 1, sizeof(uint64_t));
                if (!ids || !created) {
                        docker_nodes_free(nodes, n);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < n && i < json_object_array_length(o); i++) {
                        json_object *e = json_object_array_get_idx(o, i), *d, *en, *l, *v, *ca;
                        if (json_object_object_get_ex(e, "CreatedAt", &ca) && json_object_is_type(ca, json_type_string))
                                (void) aws_parse_timestamp(json_object_get_string(ca), &created[i]);
                        if (json_object_object_get_ex(e, "Description", &d) &&
                            json_object_object_get_ex(d, "Engine", &en) &&
                            json_object_object_get_ex(en, "Labels", &l) &&
                            json_object_object_get_ex(l, SK_LABEL_INSTANCE_ID, &v) &&
                            json_object_is_type(v, json_type_string)) {
                                ids[i] = strdup(json_object_get_string(v));
                                if (!ids[i]) {
                                        docker_nodes_free(nodes, n);
                                        return -ENOMEM;
                                }
                        }
                }
                *ret_instance_ids = TAKE_PTR(ids);
                *ret_created = TAKE_PTR(created);
        }
        *ret = nodes;
        *ret_n = n;
        return 0;
}

#define NODES_MANAGERS_PATH "/nodes?filters=%7B%22role%22%3A%5B%22manager%22%5D%7D"

/*
 * Right before an action that changes EC2 or the swarm. Normal mode: this node Leader
 * and a majority Reachable, by one GET /nodes?role=manager. Quorum-loss mode: still no
 * leader anywhere. 1 yes, 0 no (an error or a timeout counts as no).
 */
static int pass_confirm(Pass *p, const RcAction *a, char *why, size_t why_size) {
        _cleanup_(docker_info_done) DockerInfo info = {};
        DockerNode *nodes = NULL;
        size_t n = 0;
        bool any = false;
        int r;

        if (pass_stopped(p))
                return 0;
        if (!p->quorum_loss_mode) {
                /* fence, demote, remove: the same request re-checks that call's precondition */
                r = rc_confirm_action(p->docker, p->world.self_node_id, a, why, why_size);
                return r < 0 ? RC_CONFIRM_NO : r;
        }
        /* no leader still: the manager listing names none (or fails), and this engine is up
         * as a manager */
        if (pass_list_nodes(p, NODES_MANAGERS_PATH, &nodes, &n, NULL, NULL) >= 0) {
                rc_leadership_from_nodes(nodes, n, p->world.self_node_id, NULL, NULL, &any);
                docker_nodes_free(nodes, n);
                if (any)
                        return 0;
        }
        return docker_info(p->docker, &info) >= 0 && info.state == DOCKER_SWARM_ACTIVE && info.control_available;
}

static int pass_observe_nodes(Pass *p, uint64_t now) {
        _cleanup_(docker_info_done) DockerInfo info = {};
        RcWorld *w = &p->world;
        int r;

        r = pass_docker(p);
        if (r < 0)
                return pass_fail(p, "the Docker engine at %s is unreachable: %s", p->socket,
                                 p->docker ? docker_last_error(p->docker) : strerror(-r));
        r = docker_info(p->docker, &info);
        if (r < 0)
                return pass_fail(p, "cannot ask the engine about the swarm: %s", docker_last_error(p->docker));
        p->engine_manager = info.state == DOCKER_SWARM_ACTIVE && info.control_available;
        if (!p->engine_manager)
                return pass_fail(p, "this engine is not an active manager (swarm state %s)",
                                 docker_swarm_state_to_string(info.state));
        w->self_node_id = TAKE_PTR(info.node_id);

        r = pass_list_nodes(p, "/nodes", &w->nodes, &w->n_nodes, &w->node_instance_ids, &w->node_created_usec);
        w->nodes_ok = r >= 0;
        if (w->nodes_ok) {
                rc_leadership_from_nodes(w->nodes, w->n_nodes, w->self_node_id, &w->leader, &w->quorum,
                                         &w->any_leader);
                r = rc_history_update_nodes(&p->history, w->nodes, w->n_nodes, now);
                if (r < 0)
                        return r;
        } else
                log_debug_errno(r, "Cannot list the swarm's nodes: %s", docker_last_error(p->docker));

        if (w->nodes_ok && w->any_leader)
                p->history.no_leader_since_usec = 0;
        else if (!p->history.no_leader_since_usec)
                p->history.no_leader_since_usec = now;
        return 0;
}

static const char *cluster_filter_value(const Pass *p) {
        return p->cluster;
}

static int pass_observe_ec2(Pass *p) {
        RcWorld *w = &p->world;
        const Ec2Filter by_cluster[] = {
                { "tag:" EC2_TAG_CLUSTER, EC2_VALUES(cluster_filter_value(p)) },
                {},
        };
        int r;

        r = pass_ec2(p);
        if (r < 0)
                return r;
        r = ec2_describe_instances(p->clients.ec2, NULL, by_cluster, &w->instances);
        w->instances_ok = r >= 0;
        if (r < 0)
                return ec2_log_error(p->clients.ec2, LOG_WARNING, r, "Reconcile: cannot list the cluster's instances");
        if (pass_stopped(p))
                return -ECANCELED;
        r = ec2_describe_volumes(p->clients.ec2, NULL, by_cluster, &w->volumes);
        w->volumes_ok = r >= 0;
        if (r < 0)
                return ec2_log_error(p->clients.ec2, LOG_WARNING, r, "Reconcile: cannot list the cluster's volumes");
        if (pass_stopped(p))
                return -ECANCELED;
        if (!p->subnet_ids) {
                /* nothing to look up: the planner refuses launches that need a subnet */
                w->subnets_ok = true;
                return 0;
        }
        {
                RcClients *c = &p->clients;
                uint64_t mono = now_usec(CLOCK_MONOTONIC);

                if (!c->subnets_usec || mono >= c->subnets_usec + RC_SUBNETS_MAX_AGE_USEC ||
                    !strv_equal(c->subnet_ids, p->subnet_ids)) {
                        rc_clients_drop_subnets(c);
                        r = ec2_describe_subnets(c->ec2, p->subnet_ids, NULL, &c->subnets);
                        if (r < 0) {
                                rc_clients_drop_subnets(c);
                                return ec2_log_error(c->ec2, LOG_WARNING, r, "Reconcile: cannot describe Launch.SubnetIds");
                        }
                        if (strv_copy(p->subnet_ids, &c->subnet_ids) < 0) {
                                rc_clients_drop_subnets(c);
                                return -ENOMEM;
                        }
                        c->subnets_usec = mono;
                }
                w->subnets_ok = true;
                const Ec2SubnetList l = c->subnets;
                w->subnets = calloc(l.n + 1, sizeof(RcSubnetInfo));
                if (!w->subnets)
                        return -ENOMEM;
                for (size_t i = 0; i < l.n; i++) {
                        w->n_subnets = i + 1; /* rc_world_done() frees what was copied */
                        if (strdup_or_null(l.items[i].subnet_id, &w->subnets[i].id) < 0 ||
                            strdup_or_null(l.items[i].cidr_block, &w->subnets[i].cidr) < 0 ||
                            strdup_or_null(l.items[i].availability_zone, &w->subnets[i].availability_zone) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

/* ---- carrying out actions ----------------------------------------------------------------- */

static int conf_with_token(const char *conf, const char *token, char **ret) {
        _cleanup_(secbuf_done) SecBuf b = {};

        secbuf_puts(&b, conf);
        if (token) {
                if (strpbrk(token, "\r\n"))
                        return -EINVAL;
                secbuf_puts(&b, "\n[Cluster]\nJoinToken=");
                secbuf_puts(&b, token);
                secbuf_puts(&b, "\n");
        }
        if (b.error)
                return b.error;
        *ret = TAKE_PTR(b.data);
        b = (SecBuf){};
        return 0;
}

/* The user-data for a launch; a join token (from GET /swarm) only for a fresh join. */
static int pass_user_data(Pass *p, bool manager, bool join_fresh, char **ret, size_t *ret_size) {
        _cleanup_(docker_swarm_done) DockerSwarm sw = {};
        _cleanup_(erase_and_freep) char *conf = NULL, *base = NULL;
        size_t base_size = 0;
        int r;

        if (join_fresh) {
                r = docker_swarm_inspect(p->docker, &sw);
                if (r < 0)
                        return pass_fail(p, "cannot read the swarm's join tokens: %s", docker_last_error(p->docker));
        }
        r = conf_with_token(manager ? p->conf_manager : p->conf_worker,
                            join_fresh ? (manager ? sw.join_token_manager : sw.join_token_worker) : NULL, &conf);
        if (r < 0)
                return r;
        if (p->user_data_path) {
                r = read_full_file(p->user_data_path, &base, &base_size);
                if (r < 0)
                        return pass_fail(p, "cannot read Launch.UserData=%s: %s", p->user_data_path, strerror(-r));
        }
        r = rc_user_data_build(conf, base, base_size, ret, ret_size);
        if (r == -EMEDIUMTYPE)
                return pass_fail(p, "Launch.UserData=%s starts with neither #cloud-config, #!, #include, "
                                 "#cloud-boothook nor MIME headers", p->user_data_path);
        if (r == -E2BIG)
                return pass_fail(p, "the user-data (with Launch.UserData=%s) exceeds EC2's 16 KiB",
                                 strempty(p->user_data_path));
        if (r == -EBADMSG)
                return pass_fail(p, "Launch.UserData=%s contains the MIME boundary " RC_MIME_BOUNDARY,
                                 p->user_data_path);
        return r;
}

static Ec2ErrorCode ec2_code(const Pass *p) {
        const Ec2Error *e = p->clients.ec2 ? ec2_client_last_error(p->clients.ec2) : NULL;
        return e ? e->error : EC2_ERR_NONE;
}

static const char *ec2_code_text(const Pass *p) {
        const Ec2Error *e = p->clients.ec2 ? ec2_client_last_error(p->clients.ec2) : NULL;
        return e && e->error != EC2_ERR_NONE && e->code[0] ? e->code : NULL;
}

static void log_action_failed(Pass *p, const RcAction *a, int r, const char *what) {
        log_struct(LOG_ERR, r, SK_MESSAGE_ACTION_FAILED,
                   LOG_FIELDS("SK_ACTION", rc_action_kind_to_string(a->kind), "SK_LOGICAL_ID", a->logical_id,
                              "SK_INSTANCE_ID", a->instance_id, "SK_VOLUME_ID", a->volume_id, "SK_NODE_ID", a->node_id,
                              "SK_EC2_ERROR", ec2_code_text(p)),
                   "Reconcile: %s %s failed: %s", rc_action_kind_to_string(a->kind),
                   strempty(a->logical_id ?: a->instance_id ?: a->node_id ?: a->volume_id), what);
}

static int fail_ec2(Pass *p, const RcAction *a, int r) {
        const Ec2Error *e = ec2_client_last_error(p->clients.ec2);
        char what[1024];

        if (e && e->code[0])
                snprintf(what, sizeof(what), "EC2 %s: %s (request %s)", e->code, e->message, e->request_id);
        else
                snprintf(what, sizeof(what), "%s", strerror(-r));
        log_action_failed(p, a, r, what);
        return r;
}

static int fail_docker(Pass *p, const RcAction *a, int r) {
        log_action_failed(p, a, r, docker_last_error(p->docker));
        return r;
}

static int act_launch(Pass *p, const RcAction *a, bool manager, uint64_t now) {
        _cleanup_(erase_and_freep) char *user_data = NULL;
        _cleanup_(ec2_instance_done) Ec2Instance inst = {};
        const char *key = manager ? a->logical_id : (a->slot[0] ? a->slot : "worker");
        const RcLaunchConf *lc = manager ? &p->launch_manager : &p->launch_worker;
        char token[RC_CLIENT_TOKEN_MAX + 1];
        size_t ud_size = 0;
        int r;

        if (!key)
                return -EINVAL;
        if (!lc->configured) {
                /* config_verify() warned: a worker has no launch path of its own (only the
                 * managers' template is set, and that one is never a worker's) */
                log_debug("Reconcile: %s: launching a %s is not configured; not launched.", key,
                          manager ? "manager" : "worker");
                return 0;
        }
        if (!rc_history_backoff_ready(&p->history, key, now)) {
                log_debug("Reconcile: %s: backing off before the next launch.", key);
                return 0;
        }
        if (a->client_token[0])
                snprintf(token, sizeof(token), "%s", a->client_token);
        else {
                r = rc_client_token(p->cluster, key, a->replaces, token, sizeof(token));
                if (r < 0)
                        return log_action_failed(p, a, r, "cannot derive the ClientToken"), r;
        }
        r = pass_user_data(p, manager, a->join_fresh, &user_data, &ud_size);
        if (r < 0) {
                log_action_failed(p, a, r, p->error[0] ? p->error : strerror(-r));
                return r;
        }

        char *instance_tags[] = { EC2_TAG_CLUSTER, p->cluster, EC2_TAG_ROLE, manager ? "manager" : "worker",
                                  manager ? EC2_TAG_LOGICAL_ID : NULL, (char *) a->logical_id, NULL };
        /* The volumes created with the instance (its root volume) carry the cluster and the
         * role, never the logical id: that tag marks the one data volume of a manager, and a
         * root volume with it would be a second "volume" of that logical id. */
        char *volume_tags[] = { EC2_TAG_CLUSTER, p->cluster, EC2_TAG_ROLE, manager ? "manager" : "worker", NULL };
        Ec2RunSpec spec = {
                .launch_template_id = lc->template_id,
                .launch_template_name = lc->template_name,
                .launch_template_version = lc->template_version,
                .image_id = lc->image_id,
                .instance_type = lc->instance_type,
                .subnet_id = a->subnet_id,
                .security_group_ids = p->security_groups,
                .iam_instance_profile = lc->instance_profile,
                .key_name = p->key_name,
                .user_data = user_data,
                .user_data_size = ud_size,
                .private_ip = manager ? (a->private_ip ?: a->logical_id) : NULL,
                .instance_tags = instance_tags,
                .volume_tags = volume_tags,
                .client_token = token,
        };

        if (manager && a->replaces && startswith(a->replaces, "i-"))
                log_struct(LOG_NOTICE, 0, SK_MESSAGE_REPLACEMENT_STARTED,
                           LOG_FIELDS("SK_LOGICAL_ID", a->logical_id, "SK_REPLACES", a->replaces),
                           "Reconcile: re-creating manager %s (instance %s is gone).", a->logical_id, a->replaces);
        r = ec2_run_instances(p->clients.ec2, &spec, &inst);
        if (user_data)
                explicit_bzero(user_data, ud_size);
        if (r < 0) {
                Ec2ErrorCode code = ec2_code(p);
                if (code == EC2_ERR_INVALID_IP_ADDRESS_IN_USE) {
                        /* EC2 releases a terminated instance's address within about a
                         * minute: retried every 10-15 s, not ever later */
                        (void) rc_history_backoff_fail_cap(&p->history, key, now, RC_BACKOFF_IP_IN_USE_CAP_USEC);
                        log_info("Reconcile: %s is still held by the old instance (InvalidIPAddress.InUse); "
                                 "retrying in a later pass.", key);
                        return 0;
                }
                if (code == EC2_ERR_IDEMPOTENT_INSTANCE_TERMINATED) {
                        /* remembered for the planner: it moves the seat to its next generation */
                        (void) rc_history_add_dead_token(&p->history, token);
                        log_notice("Reconcile: the launch for %s with ClientToken %s ran an instance that is "
                                   "terminated already; the next pass uses a new token.", key, token);
                        return 0;
                }
                (void) rc_history_backoff_fail(&p->history, key, now);
                rc_clients_drop_subnets(&p->clients); /* described again next pass */
                return fail_ec2(p, a, r);
        }
        rc_history_backoff_reset(&p->history, key);
        (void) rc_history_add_inflight(&p->history, RC_INFLIGHT_LAUNCH, a->logical_id, inst.instance_id,
                                       a->volume_id, now);
        if (manager)
                (void) rc_history_recovery_start(&p->history, a->logical_id, now);
        log_struct(LOG_NOTICE, 0, manager ? SK_MESSAGE_INSTANCE_LAUNCHED : SK_MESSAGE_SCALE_STEP,
                   LOG_FIELDS("SK_LOGICAL_ID", a->logical_id, "SK_INSTANCE_ID", inst.instance_id,
                              "SK_SUBNET_ID", a->subnet_id, "SK_CLIENT_TOKEN", token, "SK_ROLE",
                              manager ? "manager" : "worker"),
                   "Reconcile: launched %s %s%s%s in %s (ClientToken %s, %s).", manager ? "manager" : "worker",
                   inst.instance_id, manager ? " for " : "", manager ? a->logical_id : "", strempty(a->subnet_id),
                   token, a->join_fresh ? "joins fresh" : "rejoins from its volume");
        return 0;
}

static int act_attach(Pass *p, const RcAction *a, uint64_t now) {
        int r = ec2_attach_volume(p->clients.ec2, a->volume_id, a->instance_id, RC_DEVICE, NULL);

        if (r < 0) {
                Ec2ErrorCode code = ec2_code(p);
                if (code == EC2_ERR_INCORRECT_STATE || code == EC2_ERR_INCORRECT_INSTANCE_STATE) {
                        log_info("Reconcile: %s cannot take %s yet (%s); retrying in a later pass.", a->instance_id,
                                 a->volume_id, ec2_error_code_to_string(code));
                        return 0;
                }
                if (code == EC2_ERR_VOLUME_IN_USE) {
                        _cleanup_(ec2_volume_list_done) Ec2VolumeList l = {};
                        char *ids[] = { (char *) a->volume_id, NULL };
                        if (ec2_describe_volumes(p->clients.ec2, ids, NULL, &l) >= 0 && l.n == 1)
                                for (size_t j = 0; j < l.items[0].n_attachments; j++)
                                        if (streq_ptr(l.items[0].attachments[j].instance_id, a->instance_id)) {
                                                log_info("Reconcile: %s is already attached to %s (its own "
                                                         "prepare won the race).", a->volume_id, a->instance_id);
                                                return 0;
                                        }
                }
                return fail_ec2(p, a, r);
        }
        (void) rc_history_add_inflight(&p->history, RC_INFLIGHT_ATTACH, a->logical_id, a->instance_id, a->volume_id,
                                       now);
        log_struct(LOG_NOTICE, 0, SK_MESSAGE_RC_VOLUME_ATTACHED,
                   LOG_FIELDS("SK_LOGICAL_ID", a->logical_id, "SK_VOLUME_ID", a->volume_id, "SK_INSTANCE_ID",
                              a->instance_id),
                   "Reconcile: attached %s to %s (%s) as " RC_DEVICE ".", a->volume_id, a->instance_id,
                   strempty(a->logical_id));
        return 0;
}

static int act_terminate(Pass *p, const RcAction *a, uint64_t now) {
        char *ids[] = { (char *) a->instance_id, NULL };
        bool fence = a->kind == RC_ACTION_FENCE;
        int r;

        if (!a->instance_id)
                return -EINVAL;
        log_struct(LOG_WARNING, 0, fence ? SK_MESSAGE_FENCE : SK_MESSAGE_SCALE_STEP,
                   LOG_FIELDS("SK_LOGICAL_ID", a->logical_id, "SK_INSTANCE_ID", a->instance_id, "SK_REASON",
                              a->reason),
                   "Reconcile: terminating %s %s%s%s: %s", fence ? "manager instance" : "worker", a->instance_id,
                   fence ? " of " : "", fence ? strempty(a->logical_id) : "", a->reason);
        r = ec2_terminate_instances(p->clients.ec2, ids);
        if (r < 0)
                return fail_ec2(p, a, r);
        if (fence) {
                (void) rc_history_add_inflight(&p->history, RC_INFLIGHT_FENCE, a->logical_id, a->instance_id, NULL, now);
                (void) rc_history_recovery_start(&p->history, a->logical_id, now);
        }
        return 0;
}

static int act_node_update(Pass *p, const RcAction *a, const char *role, const char *availability, uint64_t now) {
        _cleanup_(docker_node_done) DockerNode n = {};
        int r;

        r = docker_node_inspect(p->docker, a->node_id, &n);
        if (r < 0)
                return fail_docker(p, a, r);
        r = docker_node_update(p->docker, &n, role, availability);
        if (r < 0)
                return fail_docker(p, a, r);
        if (availability)
                (void) rc_history_add_inflight(&p->history, RC_INFLIGHT_DRAIN, a->logical_id, a->instance_id, NULL, now);
        log_notice("Reconcile: node %s%s%s: %s.", a->node_id, a->logical_id ? " of " : "", strempty(a->logical_id),
                   role ? "demoted to worker" : "drained");
        return 0;
}

static int act_create_volume(Pass *p, const RcAction *a, uint64_t now) {
        _cleanup_(ec2_volume_done) Ec2Volume v = {};
        char token[RC_CLIENT_TOKEN_MAX + 1];
        char *tags[] = { EC2_TAG_CLUSTER, p->cluster, EC2_TAG_LOGICAL_ID, (char *) a->logical_id, EC2_TAG_ROLE,
                         "manager", NULL };
        int r;

        if (!a->logical_id || !a->availability_zone)
                return -EINVAL;
        if (a->client_token[0])
                snprintf(token, sizeof(token), "%s", a->client_token);
        else {
                r = rc_client_token(p->cluster, a->logical_id, a->replaces ?: "volume", token, sizeof(token));
                if (r < 0)
                        return r;
        }
        Ec2VolumeSpec spec = {
                .availability_zone = a->availability_zone,
                .size_gib = p->volume.size_gib,
                .volume_type = p->volume.type,
                .encrypted = p->volume.encrypted,
                .kms_key_id = p->volume.kms_key_id,
                .tags = tags,
                .client_token = token,
        };
        r = ec2_create_volume(p->clients.ec2, &spec, &v);
        if (r < 0)
                return fail_ec2(p, a, r);
        (void) rc_history_add_inflight(&p->history, RC_INFLIGHT_CREATE_VOLUME, a->logical_id, NULL, v.volume_id, now);
        log_notice("Reconcile: created volume %s for %s in %s.", v.volume_id, a->logical_id, a->availability_zone);
        return 0;
}

/*
 * CreateTags on a manager's data volume: SET_GENERATION (swarmkeeper:generation), only
 * when the volume, described right now, does not show that generation or a later one
 * already (another agent's view may be older than ours); MARK_VOLUME
 * (swarmkeeper:has-state=yes).
 */
static int act_tag_volume(Pass *p, const RcAction *a) {
        char gen[24];
        char *ids[] = { (char *) a->volume_id, NULL };
        char *set_gen[] = { EC2_TAG_GENERATION, gen, NULL };
        char *mark[] = { EC2_TAG_HAS_STATE, "yes", NULL };
        bool generation = a->kind == RC_ACTION_SET_GENERATION;
        int r;

        if (!a->volume_id)
                return -EINVAL;
        snprintf(gen, sizeof(gen), "%" PRIu64, a->volume_generation);
        if (generation) {
                _cleanup_(ec2_volume_list_done) Ec2VolumeList l = {};

                r = ec2_describe_volumes(p->clients.ec2, ids, NULL, &l);
                if (r < 0)
                        return fail_ec2(p, a, r);
                if (l.n == 1 && volume_generation(ec2_tags_get(l.items[0].tags, EC2_TAG_GENERATION)) >= a->volume_generation) {
                        log_info("Reconcile: volume %s of %s is at generation %s or later already.", a->volume_id,
                                 strempty(a->logical_id), gen);
                        return 0;
                }
        }
        if (!generation && a->node_id) {
                /* First the node's own record of its volume (in Raft: a later leader, or this
                 * agent restarted, still knows which volume id to ask EC2 about when the
                 * seat's volume is gone from the listing), then the tag. */
                _cleanup_(docker_node_done) DockerNode n = {};

                r = docker_node_inspect(p->docker, a->node_id, &n);
                if (r >= 0 && !streq_ptr(n.volume_id, a->volume_id))
                        r = docker_node_set_label(p->docker, &n, SK_NODE_LABEL_VOLUME_ID, a->volume_id);
                if (r < 0)
                        return fail_docker(p, a, r);
        }
        r = ec2_create_tags(p->clients.ec2, ids, generation ? set_gen : mark);
        if (r < 0)
                return fail_ec2(p, a, r);
        if (generation)
                log_notice("Reconcile: volume %s of %s: generation %s (%s).", a->volume_id, strempty(a->logical_id), gen,
                           a->reason);
        else
                log_notice("Reconcile: volume %s of %s marked as holding swarm state.", a->volume_id,
                           strempty(a->logical_id));
        return 0;
}

/* GET /swarm: its UpdatedAt (the managers' clock, as node CreatedAt), the tokens wiped. */
static int swarm_updated_usec(Pass *p, uint64_t *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *jt, *u;
        int r;

        r = docker_call(p->docker, "GET", "/swarm", NULL, 0, &o);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(o, "JoinTokens", &jt)) {
                json_object_object_foreach(jt, k, t) {
                        (void) k;
                        if (json_object_is_type(t, json_type_string))
                                explicit_bzero((char *) json_object_get_string(t), (size_t) json_object_get_string_len(t));
                }
        }
        if (!json_object_object_get_ex(o, "UpdatedAt", &u) || !json_object_is_type(u, json_type_string))
                return -EBADMSG;
        return aws_parse_timestamp(json_object_get_string(u), ret);
}

/* POST /swarm/update?rotate…: the current spec back, at the current version. */
static int act_rotate_tokens(Pass *p, const RcAction *a) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(freep) char *path = NULL;
        json_object *spec, *v, *jt;
        int r;

        r = docker_call(p->docker, "GET", "/swarm", NULL, 0, &o);
        if (r < 0)
                return fail_docker(p, a, r);
        /* the answer carries both tokens: wipe json-c's copies before anything else */
        if (json_object_object_get_ex(o, "JoinTokens", &jt)) {
                json_object_object_foreach(jt, k, t) {
                        (void) k;
                        if (json_object_is_type(t, json_type_string))
                                explicit_bzero((char *) json_object_get_string(t), (size_t) json_object_get_string_len(t));
                }
        }
        if (!json_object_object_get_ex(o, "Spec", &spec) || !json_object_object_get_ex(o, "Version", &v) ||
            !json_object_object_get_ex(v, "Index", &v) || !json_object_is_type(v, json_type_int))
                return log_action_failed(p, a, -EBADMSG, "the engine's swarm description has no Spec/Version"),
                       -EBADMSG;
        if (asprintf(&path, "/swarm/update?version=%" PRId64 "&rotateWorkerToken=true&rotateManagerToken=true",
                     json_object_get_int64(v)) < 0)
                return -ENOMEM;
        r = docker_call(p->docker, "POST", path, json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN), 0, NULL);
        if (r < 0)
                return fail_docker(p, a, r);
        p->history.tokens_rotated_usec = now_usec(CLOCK_REALTIME);
        /* every instance EC2 lists now was launched before this rotation (on EC2's clock: no
         * later LaunchTime): only a later one can hold the new token */
        p->history.tokens_rotated_launch_usec = 0;
        for (size_t i = 0; p->world.instances_ok && i < p->world.instances.n; i++)
                if (p->world.instances.items[i].launch_time_usec > p->history.tokens_rotated_launch_usec)
                        p->history.tokens_rotated_launch_usec = p->world.instances.items[i].launch_time_usec;
        /* when on the swarm's clock: the planner compares it with node CreatedAt (issue 14);
         * not readable: this host's clock stands in (tokens_rotated_usec) */
        if (swarm_updated_usec(p, &p->history.tokens_rotated_swarm_usec) < 0) {
                p->history.tokens_rotated_swarm_usec = 0;
                log_warning("Reconcile: rotated the swarm's join tokens but cannot read the swarm's UpdatedAt: %s",
                            docker_last_error(p->docker));
        }
        log_notice("Reconcile: rotated the swarm's join tokens (%s).", a->reason);
        return 0;
}

static int pass_act(Pass *p, const RcAction *a, uint64_t now) {
        switch (a->kind) {
        case RC_ACTION_LAUNCH_MANAGER:
                return act_launch(p, a, true, now);
        case RC_ACTION_LAUNCH_WORKER:
                return act_launch(p, a, false, now);
        case RC_ACTION_ATTACH_VOLUME:
                return act_attach(p, a, now);
        case RC_ACTION_FENCE:
        case RC_ACTION_TERMINATE_WORKER:
                return act_terminate(p, a, now);
        case RC_ACTION_DEMOTE:
                return act_node_update(p, a, "worker", NULL, now);
        case RC_ACTION_DRAIN_WORKER:
                return act_node_update(p, a, NULL, "drain", now);
        case RC_ACTION_REMOVE_NODE: {
                int r = docker_node_remove(p->docker, a->node_id, false); /* never forced */
                if (r < 0)
                        return fail_docker(p, a, r);
                log_notice("Reconcile: removed node %s%s%s from the swarm.", a->node_id, a->logical_id ? " of " : "",
                           strempty(a->logical_id));
                return 0;
        }
        case RC_ACTION_CREATE_VOLUME:
                return act_create_volume(p, a, now);
        case RC_ACTION_ROTATE_TOKENS:
                return act_rotate_tokens(p, a);
        case RC_ACTION_SET_GENERATION:
        case RC_ACTION_MARK_VOLUME:
                return act_tag_volume(p, a);
        case RC_ACTION_WAIT:
        case RC_ACTION_REPORT:
        default:
                return 0;
        }
}

/* Log each action once: only what differs from the last pass's plan. */
static void pass_log_plan(Pass *p) {
        _cleanup_(strv_freep) char **keys = NULL;

        for (size_t i = 0; i < p->plan.n; i++) {
                const RcAction *a = &p->plan.actions[i];
                char line[512], key[512];
                size_t k = 0;

                rc_action_describe(a, line, sizeof(line));
                /* "Ready for 4s of 30s" is the same wait as "for 6s of 30s": the key has
                 * no digits in the reason */
                for (const char *c = line, *reason = strstr(line, ": "); *c && k + 1 < sizeof(key); c++)
                        if (!(reason && c > reason && *c >= '0' && *c <= '9'))
                                key[k++] = *c;
                key[k] = 0;
                (void) strv_extend(&keys, key);
                if (strv_contains(p->history.logged, key))
                        continue;
                p->plan_changed = true;
                log_struct(a->kind == RC_ACTION_REPORT ? LOG_WARNING : LOG_INFO, 0, SK_MESSAGE_PLAN_ACTION,
                           LOG_FIELDS("SK_ACTION", rc_action_kind_to_string(a->kind), "SK_LOGICAL_ID", a->logical_id,
                                      "SK_INSTANCE_ID", a->instance_id, "SK_VOLUME_ID", a->volume_id, "SK_NODE_ID",
                                      a->node_id, "SK_DRY_RUN", p->dry_run ? "yes" : NULL),
                           "Plan%s: %s", p->dry_run ? " (DryRun)" : "", line);
        }
        if (strv_length(keys) != strv_length(p->history.logged))
                p->plan_changed = true; /* an action is done or gone */
        strv_free(p->history.logged);
        p->history.logged = TAKE_PTR(keys);
}

static void pass_node_back(Pass *p, uint64_t now) {
        const RcWorld *w = &p->world;

        for (size_t i = 0; w->nodes_ok && i < w->n_nodes; i++) {
                const DockerNode *n = &w->nodes[i];
                const RcNodeMark *m = history_mark(&p->history, n->id);
                uint64_t started = 0;
                char secs[32];

                if (!n->logical_id || !m ||
                    rc_history_recovery_done(&p->history, n->logical_id, m->healthy_since_usec, &started) <= 0)
                        continue;
                snprintf(secs, sizeof(secs), "%" PRIu64, (uint64_t) ((now - started + USEC_PER_SEC / 2) / USEC_PER_SEC));
                log_struct(LOG_NOTICE, 0, SK_MESSAGE_NODE_BACK,
                           LOG_FIELDS("SK_LOGICAL_ID", n->logical_id, "SK_NODE_ID", n->id, "SK_RECOVERY_SEC", secs),
                           "Reconcile: manager %s is back as node %s, Ready and Reachable, %s s after its "
                           "replacement began.", n->logical_id, n->id, secs);
        }
}

static bool logical_id_healthy(const RcWorld *w, const char *lid) {
        for (size_t i = 0; w->nodes_ok && i < w->n_nodes; i++)
                if (streq_ptr(w->nodes[i].logical_id, lid) && w->nodes[i].manager && node_healthy(&w->nodes[i]))
                        return true;
        return false;
}

static void pass_set_status(Pass *p) {
        p->status[0] = 0;
        if (p->quorum_loss_mode) {
                snprintf(p->status, sizeof(p->status), "no swarm leader: re-creating terminated managers");
                return;
        }
        /* the first change; else the first manager that is not healthy and waits */
        for (int pick_wait = 0; pick_wait < 2; pick_wait++)
                for (size_t i = 0; p->planned && i < p->plan.n; i++) {
                        const RcAction *a = &p->plan.actions[i];
                        if (a->kind == RC_ACTION_REPORT || (a->kind == RC_ACTION_WAIT) != pick_wait)
                                continue;
                        if (a->kind == RC_ACTION_WAIT && (!a->logical_id || logical_id_healthy(&p->world, a->logical_id)))
                                continue;
                        snprintf(p->status, sizeof(p->status), "reconcile: %s%s%s%s",
                                 a->kind == RC_ACTION_WAIT ? "waiting for" : rc_action_kind_to_string(a->kind),
                                 a->logical_id ? " " : "", strempty(a->logical_id), p->dry_run ? " (DryRun)" : "");
                        return;
                }
}

/*
 * One pass. 0: done (possibly with nothing to do), negative: stopped early (p->error
 * says why when it is not an errno story). Never acts when p->plan_only.
 */
/* For each manager seat with no volume tagged for it in the listing: DescribeVolumes by
 * its last known volume id. Only EC2's answer about that id may say "lost for good". */
static int pass_probe_volumes(Pass *p) {
        RcWorld *w = &p->world;

        for (size_t i = 0; i < p->history.n_seats; i++)
                p->history.seats[i].volume_probe = RC_VOLUME_PROBE_UNKNOWN;
        if (!w->volumes_ok)
                return 0;
        STRV_FOREACH(m, p->managers) {
                _cleanup_(ec2_volume_list_done) Ec2VolumeList l = {};
                RcSeatMemory *s = rc_history_seat(&p->history, *m, false);
                bool listed = false;
                int r;

                for (size_t i = 0; i < w->volumes.n && !listed; i++)
                        listed = streq_ptr(ec2_tags_get(w->volumes.items[i].tags, EC2_TAG_LOGICAL_ID), *m);
                if (listed || !s || !s->volume_id)
                        continue;
                if (pass_stopped(p))
                        return -ECANCELED;
                char *ids[] = { s->volume_id, NULL };
                r = ec2_describe_volumes(p->clients.ec2, ids, NULL, &l);
                if (r < 0 && ec2_code(p) == EC2_ERR_INVALID_VOLUME_NOT_FOUND)
                        s->volume_probe = RC_VOLUME_PROBE_NOT_FOUND;
                else if (r < 0)
                        log_debug("Reconcile: %s: cannot describe its volume %s; not taken as lost.", *m, s->volume_id);
                else if (l.n == 0 || l.items[0].state == EC2_VOLUME_DELETED)
                        s->volume_probe = RC_VOLUME_PROBE_NOT_FOUND;
                else if (l.items[0].state == EC2_VOLUME_ERROR)
                        s->volume_probe = RC_VOLUME_PROBE_ERROR;
                else
                        s->volume_probe = RC_VOLUME_PROBE_EXISTS;
        }
        return 0;
}

/* A REPORT of a seat past its deadline: logged once per incident. */
static void pass_log_stuck(Pass *p, uint64_t now) {
        for (size_t i = 0; p->planned && i < p->plan.n; i++) {
                const RcAction *a = &p->plan.actions[i];
                RcSeatMemory *s = a->seat_stuck ? rc_history_seat(&p->history, a->logical_id, false) : NULL;
                char secs[32];

                if (!s || s->stuck_logged)
                        continue;
                snprintf(secs, sizeof(secs), "%" PRIu64,
                         (uint64_t) (s->busy_since_usec && now > s->busy_since_usec ? (now - s->busy_since_usec) / USEC_PER_SEC : 0));
                log_struct(LOG_WARNING, 0, SK_MESSAGE_SEAT_STUCK,
                           LOG_FIELDS("SK_LOGICAL_ID", a->logical_id, "SK_BUSY_SEC", secs, "SK_REASON", a->reason),
                           "Reconcile: the recovery of manager %s has not progressed for %s s; other managers "
                           "may be repaired first.", a->logical_id, secs);
                s->stuck_logged = true;
        }
}

static int pass_run(Pass *p) {
        /* every streak, age and deadline on the monotonic clock: a step of the wall clock
         * neither fences nor waits; EC2's launch times alone are compared with wall */
        uint64_t now = now_usec(CLOCK_MONOTONIC), wall = now_usec(CLOCK_REALTIME);
        char why[256];
        RcSpec spec;
        int r;

        p->history.max_gap_usec = 2 * p->interval_usec + RC_GAP_SLACK_USEC;

        r = pass_observe_nodes(p, now);
        if (r < 0)
                return r;

        if (!p->world.leader) {
                bool lost = !p->world.any_leader && p->history.no_leader_since_usec &&
                            now >= p->history.no_leader_since_usec + p->quorum_loss_grace_usec;
                if (!lost) {
                        if (p->history.quorum_lost_logged && p->world.any_leader) {
                                p->history.quorum_lost_logged = false;
                                log_struct(LOG_NOTICE, 0, SK_MESSAGE_QUORUM_RESTORED, NULL,
                                           "The swarm has a leader again.");
                        }
                        if (!p->plan_only)
                                return 0; /* a follower watches, the leader acts */
                } else {
                        p->quorum_loss_mode = true;
                        if (!p->history.quorum_lost_logged) {
                                char secs[32];
                                snprintf(secs, sizeof(secs), "%" PRIu64,
                                         (uint64_t) ((now - p->history.no_leader_since_usec) / USEC_PER_SEC));
                                log_struct(LOG_WARNING, 0, SK_MESSAGE_QUORUM_LOST, LOG_FIELDS("SK_NO_LEADER_SEC", secs),
                                           "The swarm has had no leader for %s s: re-creating terminated managers "
                                           "whose volumes are intact, nothing else.", secs);
                                p->history.quorum_lost_logged = true;
                        }
                }
        } else if (p->history.quorum_lost_logged) {
                p->history.quorum_lost_logged = false;
                log_struct(LOG_NOTICE, 0, SK_MESSAGE_QUORUM_RESTORED, NULL, "The swarm has a leader again.");
        }

        if (pass_stopped(p))
                return -ECANCELED;
        if (!p->plan_only && !p->quorum_loss_mode && p->world.nodes_ok && p->history.n_inflight == 0 &&
            p->history.n_recovering == 0 && p->history.n_backoff == 0 && !p->history.unmarked_volumes &&
            now < p->history.ec2_observed_usec + RC_EC2_FULL_INTERVAL_USEC &&
            rc_swarm_complete(p->world.nodes, p->world.n_nodes, p->managers, p->workers)) {
                log_debug("Reconcile: the swarm is complete; EC2 not asked this pass.");
                return 0;
        }
        p->history.ec2_observed_usec = now;
        p->amiss = !rc_swarm_complete(p->world.nodes, p->world.n_nodes, p->managers, p->workers) ||
                   p->history.n_inflight > 0 || p->history.n_recovering > 0;
        r = pass_observe_ec2(p);
        if (r == -ECANCELED)
                return r;
        /* a failed listing is recorded as such: the planner never calls it "missing" */
        rc_history_prune_inflight(&p->history, &p->world, now, RC_INFLIGHT_MAX_AGE_USEC);
        pass_node_back(p, now);
        r = rc_history_remember_volumes(&p->history, &p->world);
        if (r < 0)
                return r;
        if (p->world.volumes_ok)
                p->history.unmarked_volumes = rc_world_unmarked_volumes(&p->world, p->managers);
        if (p->world.instances_ok && p->world.volumes_ok && p->world.subnets_ok && pass_probe_volumes(p) == -ECANCELED)
                return -ECANCELED;

        r = rc_world_observe(&p->world, &p->history, now, p->engine_manager, &p->obs);
        if (r < 0)
                return r;
        p->obs.self_instance_id = p->self_instance_id;
        p->obs.realtime_usec = wall;
        spec = (RcSpec){
                .cluster = p->cluster,
                .managers = (const char *const *) p->managers,
                .n_managers = strv_length(p->managers),
                .bootstrap = p->bootstrap,
                .workers = p->workers,
                .grace_usec = p->grace_usec,
                .quorum_loss_grace_usec = p->quorum_loss_grace_usec,
                .stable_usec = p->stable_usec,
                .launch_settle_usec = RC_LAUNCH_SETTLE_USEC,
                .seat_deadline_usec = p->seat_deadline_usec,
        };
        r = rc_plan(&spec, &p->obs, &p->plan);
        if (r < 0)
                return pass_fail(p, "the planner refused: %s", strerror(-r));
        p->planned = true;
        pass_set_status(p);
        if (p->plan_only)
                return 0;
        pass_log_plan(p);
        /* a seat's deadline counts only passes that planned its managers */
        if (p->obs.leader && p->obs.quorum && !p->quorum_loss_mode && p->obs.instances_ok && p->obs.volumes_ok &&
            p->obs.subnets_ok && p->obs.nodes_ok &&
            !(p->plan.n == 1 && p->plan.actions[0].kind == RC_ACTION_WAIT && !p->plan.actions[0].logical_id)) {
                pass_log_stuck(p, now);
                rc_history_update_seats(&p->history, &p->plan, p->managers, now);
        }
        if (p->dry_run)
                return 0;

        for (size_t i = 0; i < p->plan.n; i++) {
                const RcAction *a = &p->plan.actions[i];

                if (a->kind == RC_ACTION_WAIT || a->kind == RC_ACTION_REPORT)
                        continue;
                if (pass_stopped(p))
                        return -ECANCELED;
                /* every action left changes EC2 or the swarm */
                why[0] = 0;
                r = pass_confirm(p, a, why, sizeof(why));
                if (r == RC_CONFIRM_SKIP) {
                        log_struct(LOG_NOTICE, 0, SK_MESSAGE_ACTION_SKIPPED,
                                   LOG_FIELDS("SK_ACTION", rc_action_kind_to_string(a->kind), "SK_LOGICAL_ID",
                                              a->logical_id, "SK_NODE_ID", a->node_id, "SK_REASON", why),
                                   "Reconcile: %s of node %s skipped: %s; the next pass decides again.",
                                   rc_action_kind_to_string(a->kind), strempty(a->node_id), why);
                        p->skipped++;
                        p->plan_changed = true; /* soon again */
                        continue;
                }
                if (r <= 0) {
                        log_warning("Reconcile: %s not confirmed right before %s; stopping this pass.",
                                    p->quorum_loss_mode ? "the absence of a leader" : "leadership",
                                    rc_action_kind_to_string(a->kind));
                        return -EPERM;
                }
                r = pass_act(p, a, now_usec(CLOCK_MONOTONIC));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- the daemon's reconciler (loop side) --------------------------------------------------- */

struct Reconciler {
        sd_event *event;
        Leader *leader;
        const Config *config;
        char *node_id;
        bool manager;
        bool was_leader;

        sd_event_source *timer;
        sd_event_source *deadline;
        Job *job;
        bool again;
        uint64_t amiss_since;       /* CLOCK_MONOTONIC: passes found the swarm amiss since */
        uint64_t plan_changed_at;   /* CLOCK_MONOTONIC: a pass last planned something new */
        bool pass_amiss;
        char *last_error;           /* a failing pass warns once per distinct reason */

        RcHistory history;
        RcClients clients;          /* between passes; lent to the one running */
        char *status;
        bool idle_logged;
        char *state_file;

        ReconcilerStatusHandler status_cb;
        void *status_userdata;
};

static void reconciler_schedule(Reconciler *r, uint64_t usec);

static void reconciler_set_status_text(Reconciler *r, const char *text) {
        if (isempty(text))
                text = NULL;
        if (streq_ptr(r->status, text))
                return;
        (void) free_and_strdup(&r->status, text);
        if (r->status_cb)
                r->status_cb(r, r->status_userdata);
}

/* What `status` reads: in flight, the last plan, the reconciler's state. No secrets. */
/* A CLOCK_MONOTONIC time as wall-clock time, for readers in other processes (0 stays 0). */
static uint64_t mono_to_wall(uint64_t t) {
        uint64_t mono = now_usec(CLOCK_MONOTONIC), wall = now_usec(CLOCK_REALTIME);

        if (t == 0 || t > mono || mono - t > wall)
                return 0;
        return wall - (mono - t);
}

static void reconciler_write_state(Reconciler *r, const Pass *p, int result) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *inflight = json_object_new_array(), *plan = json_object_new_array();

        if (!r->state_file || !o || !inflight || !plan) {
                json_object_put(inflight);
                json_object_put(plan);
                return;
        }
        json_object_object_add(o, "time_usec", json_object_new_int64((int64_t) now_usec(CLOCK_REALTIME)));
        json_object_object_add(o, "result", json_object_new_string(result < 0 ? (p->error[0] ? p->error : strerror(-result)) : "ok"));
        json_object_object_add(o, "leader", json_object_new_boolean(p->world.leader));
        json_object_object_add(o, "quorum_loss_mode", json_object_new_boolean(p->quorum_loss_mode));
        json_object_object_add(o, "status", r->status ? json_object_new_string(r->status) : NULL);
        json_object_object_add(o, "no_leader_since_usec", json_object_new_int64((int64_t) mono_to_wall(r->history.no_leader_since_usec)));
        for (size_t i = 0; i < r->history.n_inflight; i++) {
                const RcInflightEntry *e = &r->history.inflight[i];
                static const char *const kinds[] = { "launch", "attach", "fence", "create-volume", "drain" };
                json_object *x = json_object_new_object();
                if (!x)
                        return;
                json_object_object_add(x, "kind", json_object_new_string(e->kind < ELEMENTSOF(kinds) ? kinds[e->kind] : "?"));
                json_object_object_add(x, "logical_id", e->logical_id ? json_object_new_string(e->logical_id) : NULL);
                json_object_object_add(x, "instance_id", e->instance_id ? json_object_new_string(e->instance_id) : NULL);
                json_object_object_add(x, "volume_id", e->volume_id ? json_object_new_string(e->volume_id) : NULL);
                json_object_object_add(x, "since_usec", json_object_new_int64((int64_t) mono_to_wall(e->since_usec)));
                json_object_array_add(inflight, x);
        }
        json_object_object_add(o, "inflight", inflight);
        STRV_FOREACH(l, r->history.logged)
                json_object_array_add(plan, json_object_new_string(*l));
        json_object_object_add(o, "plan", plan);
        {
                const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
                int k = write_file_atomic(r->state_file, text, strlen(text), 0644);
                if (k < 0)
                        log_debug_errno(k, "Cannot write %s: %m", r->state_file);
        }
}

static int reconciler_work(Job *j, void *userdata) {
        Pass *p = userdata;
        p->cancel = job_cancel_flag(j);
        return pass_run(p);
}

static void reconciler_done(Job *j, int result, void *userdata) {
        Pass *p = userdata;
        Reconciler *r = p->owner;
        rc_history_done(&r->history);
        r->history = p->history;
        p->history = (RcHistory){};
        uint64_t mono = now_usec(CLOCK_MONOTONIC), next;
        char why[300] = "";

        r->deadline = sd_event_source_disable_unref(r->deadline);
        if (result == -ECANCELED)
                log_info("Reconcile: pass cancelled (%s).", pass_stopped(p) && !atomic_load(p->cancel)
                                                                ? "deadline" : "leadership lost or shutting down");
        else if (result < 0 && result != -EPERM)
                snprintf(why, sizeof(why), "%s", p->error[0] ? p->error : strerror(-result));
        if (why[0] && !streq_ptr(why, r->last_error))
                log_warning("Reconcile: pass stopped: %s", why);
        else if (why[0])
                log_debug("Reconcile: pass stopped: %s", why);
        (void) free_and_strdup(&r->last_error, why[0] ? why : NULL);
        reconciler_set_status_text(r, result == -ECANCELED ? NULL : p->status);
        reconciler_write_state(r, p, result);
        r->pass_amiss = p->amiss;
        if (p->plan_changed)
                r->plan_changed_at = mono;
        r->job = job_free(r->job);
        if (p->clients.key) {
                rc_clients_done(&r->clients);
                r->clients = p->clients;
                p->clients = (RcClients){};
        }
        pass_free(p);

        next = (uint64_t) r->config->interval_sec * USEC_PER_SEC;
        if (r->pass_amiss) {
                if (!r->amiss_since)
                        r->amiss_since = mono;
                if (mono < r->amiss_since + RC_FAST_WINDOW_USEC) {
                        uint64_t fast = mono < r->plan_changed_at + RC_FAST_QUIET_USEC ? RC_FAST_INTERVAL_USEC
                                                                                    : RC_STEADY_INTERVAL_USEC;
                        if (next > fast)
                                next = fast;
                }
        } else
                r->amiss_since = 0;
        if (r->again) {
                r->again = false;
                next = RC_KICK_DELAY_USEC;
        }
        reconciler_schedule(r, next);
}

static int reconciler_on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Reconciler *r = userdata;
        if (r->job)
                job_cancel(r->job);
        return 0;
}

static bool reconciler_eligible(Reconciler *r) {
        const Config *c = r->config;

        if (c->role != ROLE_MANAGER || !r->node_id || !r->manager)
                return false;
        if (!config_launch_configured(c, ROLE_MANAGER)) {
                if (!r->idle_logged)
                        log_info("Reconcile: launching is not configured (%s): this agent does not re-create "
                                 "managers or scale workers.", config_launch_missing(c, ROLE_MANAGER));
                r->idle_logged = true;
                return false;
        }
        r->idle_logged = false;
        return true;
}

static int reconciler_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Reconciler *r = userdata;
        _cleanup_(pass_freep) Pass *p = NULL;
        int k;

        if (r->job) {
                r->again = true;
                return 0;
        }
        if (!reconciler_eligible(r)) {
                reconciler_set_status_text(r, NULL);
                reconciler_schedule(r, (uint64_t) r->config->interval_sec * USEC_PER_SEC);
                return 0;
        }
        k = pass_new(r->config, &r->history, &p);
        if (k < 0) {
                log_warning_errno(k, "Reconcile: cannot prepare a pass: %m");
                reconciler_schedule(r, (uint64_t) r->config->interval_sec * USEC_PER_SEC);
                return 0;
        }
        p->owner = r;
        if (r->clients.key) {
                _cleanup_(freep) char *key = NULL;
                if (pass_clients_key(p, &key) >= 0 && streq(key, r->clients.key)) {
                        p->clients = r->clients;
                        r->clients = (RcClients){};
                } else
                        rc_clients_done(&r->clients);
        }
        k = job_start(r->event, "reconcile", reconciler_work, reconciler_done, p, &r->job);
        if (k < 0) {
                log_warning_errno(k, "Reconcile: cannot start a pass: %m");
                reconciler_schedule(r, (uint64_t) r->config->interval_sec * USEC_PER_SEC);
                return 0;
        }
        TAKE_PTR(p); /* the job's until done() */
        k = sd_event_add_time_relative(r->event, &r->deadline, CLOCK_MONOTONIC, RC_PASS_DEADLINE_USEC, 0,
                                       reconciler_on_deadline, r);
        if (k < 0)
                log_debug_errno(k, "Reconcile: no deadline timer: %m");
        return 0;
}

static void reconciler_schedule(Reconciler *r, uint64_t usec) {
        int k = event_timer_arm(r->event, &r->timer, now_usec(CLOCK_MONOTONIC) + usec, 100 * USEC_PER_MSEC, true,
                                reconciler_on_timer, r, "reconcile");
        if (k < 0)
                log_warning_errno(k, "Reconcile: cannot arm the timer: %m");
}

static void reconciler_on_leader(Leader *l, void *userdata) {
        Reconciler *r = userdata;
        bool now = leader_is_leader(l);

        if (now == r->was_leader)
                return;
        r->was_leader = now;
        if (now)
                reconciler_schedule(r, 100 * USEC_PER_MSEC);
        else if (r->job) {
                log_info("Reconcile: leadership lost; cancelling the pass in flight.");
                job_cancel(r->job);
        }
}

int reconciler_new(sd_event *event, Leader *leader, const Config *config, Reconciler **ret) {
        _cleanup_(reconciler_freep) Reconciler *r = calloc(1, sizeof(Reconciler));
        const char *rt = getenv("RUNTIME_DIRECTORY");
        int k;

        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(event);
        r->leader = leader;
        r->config = config;
        if (!isempty(rt)) {
                /* RUNTIME_DIRECTORY may list several, separated by ':' */
                size_t n = strcspn(rt, ":");
                if (asprintf(&r->state_file, "%.*s/state.json", (int) n, rt) < 0)
                        return -ENOMEM;
        }
        k = leader_subscribe(leader, reconciler_on_leader, r);
        if (k < 0)
                return k;
        reconciler_schedule(r, (uint64_t) config->interval_sec * USEC_PER_SEC);
        *ret = TAKE_PTR(r);
        return 0;
}

void reconciler_cancel(Reconciler *r) {
        if (r && r->job)
                job_cancel(r->job);
}

Reconciler *reconciler_free(Reconciler *r) {
        if (!r)
                return NULL;
        if (r->leader)
                leader_unsubscribe(r->leader, reconciler_on_leader, r);
        /* a pass still running is cancelled; past the grace its thread is left alone
         * (and its Pass with it): only at shutdown */
        if (r->job)
                job_set_grace(r->job, RC_EXIT_GRACE_USEC);
        r->job = job_free(r->job);
        sd_event_source_disable_unref(r->timer);
        sd_event_source_disable_unref(r->deadline);
        sd_event_unref(r->event);
        rc_history_done(&r->history);
        rc_clients_done(&r->clients);
        free(r->node_id);
        free(r->status);
        free(r->last_error);
        free(r->state_file);
        free(r);
        return NULL;
}

void reconciler_set_status_handler(Reconciler *r, ReconcilerStatusHandler cb, void *userdata) {
        r->status_cb = cb;
        r->status_userdata = userdata;
}

void reconciler_set_config(Reconciler *r, const Config *config) {
        r->config = config;
        r->idle_logged = false;
        reconciler_schedule(r, RC_KICK_DELAY_USEC);
}

void reconciler_set_node(Reconciler *r, const char *node_id, bool manager) {
        bool changed = !streq_ptr(r->node_id, node_id) || r->manager != manager;

        if (!changed)
                return;
        (void) free_and_strdup(&r->node_id, node_id);
        r->manager = manager;
        if (!node_id || !manager) {
                if (r->job)
                        job_cancel(r->job);
                reconciler_set_status_text(r, NULL);
        } else
                reconciler_schedule(r, RC_KICK_DELAY_USEC);
}

void reconciler_kick(Reconciler *r) {
        if (r->job) {
                r->again = true;
                return;
        }
        reconciler_schedule(r, RC_KICK_DELAY_USEC);
}

const char *reconciler_status(const Reconciler *r) {
        return r ? r->status : NULL;
}

/* ---- `plan` and the desired-against-actual overview ---------------------------------------- */

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

static const char *dash(const char *s) {
        return isempty(s) ? "-" : s;
}

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
                STRV_FOREACH(m, p->managers) {
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
                json_object_object_add(wo, "desired", json_object_new_int((int) p->workers));
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
        STRV_FOREACH(m, p->managers) {
                const Ec2Instance *i = overview_instance(w, *m);
                const Ec2Volume *v = overview_volume(w, *m);
                const DockerNode *n = overview_node(w, *m);
                printf("%-16s %-20s %-14s %-22s %-10s %-26s %-8s %-12s %s\n", *m, dash(i ? i->instance_id : NULL),
                       !w->instances_ok ? "?" : dash(i ? ec2_instance_state_to_string(i->state) : NULL),
                       dash(v ? v->volume_id : NULL),
                       !w->volumes_ok ? "?" : dash(v ? ec2_volume_state_to_string(v->state) : NULL),
                       dash(n ? n->id : NULL), !w->nodes_ok ? "?" : dash(n ? n->state : NULL),
                       dash(n ? n->reachability : NULL), n && n->leader ? "yes" : "-");
        }
        printf("\nWorkers: %u desired, %u instances running or pending, %u nodes ready.\n", p->workers, wi, wn);
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
        return o;
}

static int pass_observe_only(const Config *c, Pass **ret) {
        _cleanup_(pass_freep) Pass *p = NULL;
        int r;

        r = pass_new(c, NULL, &p);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        p->plan_only = true;
        r = pass_run(p);
        if (r < 0 && !p->engine_manager)
                return log_error("Cannot observe the swarm: %s", p->error[0] ? p->error : strerror(-r)), -ENOTCONN;
        if (r < 0 && !p->planned)
                return log_error("Cannot plan: %s", p->error[0] ? p->error : strerror(-r)), r;
        *ret = TAKE_PTR(p);
        return 0;
}

int verb_plan(Config *c, const ConfigArgs *args, bool json) {
        _cleanup_(pass_freep) Pass *p = NULL;
        int r;

        (void) args;
        r = pass_observe_only(c, &p);
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
                json_object_object_add(root, "dry_run", json_object_new_boolean(p->dry_run));
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
                printf("\nPlan (%zu action%s):\n", p->plan.n, p->plan.n == 1 ? "" : "s");
                for (size_t i = 0; i < p->plan.n; i++) {
                        char line[512];
                        rc_action_describe(&p->plan.actions[i], line, sizeof(line));
                        printf("  %zu. %s\n", i + 1, line);
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
        int r;

        if (!config_launch_configured(c, ROLE_MANAGER))
                return 0;
        r = pass_new(c, NULL, &p);
        if (r < 0)
                return r;
        p->plan_only = true;
        r = pass_run(p);
        (void) read_state_file(&state);

        if (root) {
                json_object *d = json_object_new_object();
                if (!d)
                        return -ENOMEM;
                json_object_object_add(root, "desired", d);
                if (r < 0 && !p->planned)
                        json_object_object_add(d, "error", json_object_new_string(p->error[0] ? p->error : strerror(-r)));
                else if (overview_print(p, d) < 0)
                        return -ENOMEM;
                json_object_object_add(root, "reconciler", TAKE_PTR(state));
                return 0;
        }

        printf("\nDesired against actual (cluster %s):\n", strempty(c->cluster_name));
        if (r < 0 && !p->planned)
                printf("  cannot observe: %s\n", p->error[0] ? p->error : strerror(-r));
        else
                (void) overview_print(p, NULL);
        if (state) {
                json_object *v, *arr;
                int64_t t = json_object_object_get_ex(state, "time_usec", &v) ? json_object_get_int64(v) : 0;
                printf("\nThis host's reconciler (last pass %" PRId64 " s ago): %s\n",
                       t > 0 && (uint64_t) t <= now ? (int64_t) ((now - (uint64_t) t) / USEC_PER_SEC) : -1,
                       json_object_object_get_ex(state, "status", &v) && json_object_get_string(v)
                               ? json_object_get_string(v) : "idle");
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
                                printf("  %-14s %-16s %-20s %-22s %" PRId64 " s\n", dash(json_object_get_string(k)),
                                       dash(l ? json_object_get_string(l) : NULL), dash(in ? json_object_get_string(in) : NULL),
                                       dash(vo ? json_object_get_string(vo) : NULL),
                                       s0 > 0 && (uint64_t) s0 <= now ? (int64_t) ((now - (uint64_t) s0) / USEC_PER_SEC) : 0);
                        }
                } else
                        printf("Nothing in flight.\n");
        }
        return 0;
}
