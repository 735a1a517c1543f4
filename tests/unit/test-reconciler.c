/* SPDX-License-Identifier: MIT */
/*
 * The executor's pure parts: the drop-in and cloud-init multipart user-data a launched
 * host gets (the join token only when asked, nothing host-specific, deterministic, the
 * base user-data kept as its own part), the observation built from EC2 and engine
 * listings (a terminated instance's address is never identity), the history kept across
 * passes (Down+Unreachable since, healthy since, in flight, backoff, recovery).
 */
#include "reconciler.h"
#include "test.h"

#define TOKEN "SWMTKN-1-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefgh-0123456789abcdefghijklmno"

static Config *test_config(void) {
        Config *c = NULL;
        static const char *const sets[] = {
                "Cluster.Name=prod", "Cluster.Managers=10.0.1.11,10.0.1.12,10.0.1.13",
                "Cluster.BootstrapManager=10.0.1.11", "Cluster.Workers=2", "AWS.Region=eu-west-1",
                "Host.InstanceId=i-0123456789abcdef0", "Host.PrivateIp=10.0.1.11", "Volume.Id=vol-0123456789abcdef0",
                "Launch.ImageId=ami-12345678", "Launch.InstanceType=t3.small", "Launch.SubnetIds=subnet-aaaaaaaa",
                "Launch.UserData=/etc/swarmkeeper/base.txt", "Reconcile.GraceSec=90",
                "Reconcile.StableSec=7",
        };
        CHECK_INT(config_new(&c), 0);
        for (size_t i = 0; c && i < ELEMENTSOF(sets); i++)
                CHECK_INT(config_set(c, sets[i]), 0);
        return c;
}

static void test_cluster_conf(void) {
        _cleanup_(config_freep) Config *c = test_config();
        _cleanup_(erase_and_freep) char *m = NULL, *w = NULL;

        CHECK_INT(rc_cluster_conf(c, "manager", NULL, true, &m), 0);
        CHECK(m && strstr(m, "[Cluster]\nRole=manager\nName=prod\nManagers=10.0.1.11,10.0.1.12,10.0.1.13\n"));
        CHECK(m && strstr(m, "BootstrapManager=10.0.1.11\n"));
        CHECK(m && strstr(m, "[AWS]\nRegion=eu-west-1\n"));
        CHECK(m && strstr(m, "GraceSec=90\n"));
        /* every [Reconcile] key: a launched manager may lead next */
        CHECK(m && strstr(m, "StableSec=7\n"));
        CHECK(m && strstr(m, "ImageId=ami-12345678\n"));
        CHECK(m && strstr(m, "UserData=" RC_BASE_USER_DATA_PATH "\n"));
        /* nothing host-specific, no token unless asked, not the leader's own base path */
        CHECK(m && !strstr(m, "JoinToken"));
        CHECK(m && !strstr(m, "InstanceId"));
        CHECK(m && !strstr(m, "PrivateIp"));
        CHECK(m && !strstr(m, "vol-0123456789abcdef0"));
        CHECK(m && !strstr(m, "/etc/swarmkeeper/base.txt"));
        CHECK(m && !strstr(m, "[Host]"));

        CHECK_INT(rc_cluster_conf(c, "worker", TOKEN, false, &w), 0);
        CHECK(w && strstr(w, "Role=worker\n"));
        CHECK(w && strstr(w, "\n[Cluster]\nJoinToken=" TOKEN "\n"));
        CHECK(w && !strstr(w, "UserData="));

        /* what the host reads back parses, with the token and the role */
        {
                _cleanup_(config_freep) Config *back = NULL;
                CHECK_INT(config_new(&back), 0);
                CHECK_INT(config_parse_text(back, w, "50-cluster.conf"), 0);
                CHECK_INT(back->role, ROLE_WORKER);
                CHECK_STR(back->join_token, TOKEN);
                CHECK_STR(back->cluster_name, "prod");
                CHECK_INT(back->workers, 2);
                CHECK_INT(strv_length(back->managers), 3);
        }
        CHECK_INT(rc_cluster_conf(c, "manager", "bad\ntoken", false, &m), -EINVAL);
}

/* Decode the base64 "content: " of the write_files entry for path. */
static char *written_file(const char *ud, const char *path) {
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char needle[256];
        const char *p, *e;
        char *out;
        size_t n = 0;
        uint32_t acc = 0;
        int bits = 0;

        snprintf(needle, sizeof(needle), "- path: %s\n", path);
        p = strstr(ud, needle);
        if (!p)
                return NULL;
        p = strstr(p, "content: ");
        if (!p)
                return NULL;
        p += strlen("content: ");
        e = strchr(p, '\n');
        out = calloc(1, (size_t) (e - p) + 1);
        for (; p < e && *p != '='; p++) {
                const char *k = strchr(tbl, *p);
                if (!k)
                        break;
                acc = (acc << 6) | (uint32_t) (k - tbl);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (char) ((acc >> bits) & 0xff);
                }
        }
        return out;
}

static void test_user_data(void) {
        static const char conf[] = "[Cluster]\nName=prod\nJoinToken=" TOKEN "\n";
        static const char script[] = "#!/bin/sh\necho hello from the base user-data\n";
        static const char mime[] = "Content-Type: text/cloud-config\nMIME-Version: 1.0\n\n#cloud-config\nlocale: false\n";
        _cleanup_(erase_and_freep) char *ud = NULL, *ud2 = NULL, *f = NULL, *b = NULL;
        size_t n = 0, n2 = 0;

        /* no base: one cloud-config part */
        CHECK_INT(rc_user_data_build(conf, NULL, 0, &ud, &n), 0);
        CHECK_INT(strlen(ud), n);
        CHECK(startswith(ud, "Content-Type: multipart/mixed; boundary=\"" RC_MIME_BOUNDARY "\"\n"));
        CHECK(strstr(ud, "Content-Type: text/cloud-config"));
        CHECK(strstr(ud, "#cloud-config\nwrite_files:\n  - path: " RC_CLUSTER_DROPIN "\n"));
        CHECK(strstr(ud, "permissions: '0600'"));
        CHECK(endswith(ud, "--" RC_MIME_BOUNDARY "--\n"));
        CHECK(!strstr(ud, RC_BASE_USER_DATA_PATH));
        f = written_file(ud, RC_CLUSTER_DROPIN);
        CHECK_STR(f, conf);
        erase_and_free(ud);
        ud = NULL;

        /* a shell script base: written for the host's own launches, and its own part */
        CHECK_INT(rc_user_data_build(conf, script, strlen(script), &ud, &n), 0);
        CHECK(strstr(ud, "Content-Type: text/x-shellscript"));
        CHECK(strstr(ud, "Content-Transfer-Encoding: base64"));
        b = written_file(ud, RC_BASE_USER_DATA_PATH);
        CHECK_STR(b, script);
        /* deterministic: a ClientToken retry sends the same bytes */
        CHECK_INT(rc_user_data_build(conf, script, strlen(script), &ud2, &n2), 0);
        CHECK_INT(n, n2);
        CHECK(ud2 && memcmp(ud, ud2, n) == 0);
        erase_and_free(ud);
        ud = NULL;

        /* a MIME entity as base goes in as it is */
        CHECK_INT(rc_user_data_build(conf, mime, strlen(mime), &ud, &n), 0);
        CHECK(strstr(ud, "\n--" RC_MIME_BOUNDARY "\nContent-Type: text/cloud-config\nMIME-Version: 1.0\n\n#cloud-config\nlocale: false\n--" RC_MIME_BOUNDARY "--\n"));
        erase_and_free(ud);
        ud = NULL;

        /* a cloud-config base */
        CHECK_INT(rc_user_data_build(conf, "#cloud-config\n{}\n", 17, &ud, &n), 0);
        CHECK(strstr(ud, "filename=\"base-user-data\""));

        /* what cloud-init cannot type, a base carrying our boundary, too big for EC2 */
        CHECK_INT(rc_user_data_build(conf, "echo hi\n", 8, &ud2, &n2), -EMEDIUMTYPE);
        CHECK_INT(rc_user_data_build(conf, "#!/bin/sh\n# " RC_MIME_BOUNDARY "\n", 12 + strlen(RC_MIME_BOUNDARY) + 1,
                                     &ud2, &n2),
                  -EBADMSG);
        {
                size_t big = 8000;
                char *x = malloc(big + 1);
                memset(x, 'x', big);
                memcpy(x, "#!/bin/sh\n", 10);
                x[big] = 0;
                CHECK_INT(rc_user_data_build(conf, x, big, &ud2, &n2), -E2BIG);
                free(x);
        }
        CHECK_INT(rc_user_data_build(NULL, NULL, 0, &ud2, &n2), -EINVAL);
}

static char *S(const char *s) {
        return strdup(s);
}

static char **tags(const char *lid, const char *role) {
        char **t = NULL;
        strv_extend(&t, EC2_TAG_CLUSTER);
        strv_extend(&t, "prod");
        if (lid) {
                strv_extend(&t, EC2_TAG_LOGICAL_ID);
                strv_extend(&t, lid);
        }
        strv_extend(&t, EC2_TAG_ROLE);
        strv_extend(&t, role);
        return t;
}

static void node(DockerNode *n, const char *id, const char *lid, bool manager, const char *state, const char *reach,
                 bool leader) {
        *n = (DockerNode){ .id = S(id), .logical_id = lid ? S(lid) : NULL, .role = S(manager ? "manager" : "worker"),
                           .state = S(state), .availability = S("active"), .manager = manager, .leader = leader,
                           .reachability = reach ? S(reach) : NULL };
}

static void test_observation(void) {
        _cleanup_(rc_world_done) RcWorld w = {};
        _cleanup_(rc_history_done) RcHistory h = {};
        RcObservation o;

        w.instances_ok = w.volumes_ok = w.subnets_ok = w.nodes_ok = true;
        w.instances.n = 3;
        w.instances.items = calloc(3, sizeof(Ec2Instance));
        w.instances.items[0] = (Ec2Instance){ .instance_id = S("i-0aaa"), .state = EC2_INSTANCE_RUNNING,
                                              .private_ip = S("10.0.1.11"), .subnet_id = S("subnet-a"),
                                              .tags = tags("10.0.1.11", "manager") };
        /* terminated: EC2 drops the address; even if an answer still carried one, not identity */
        w.instances.items[1] = (Ec2Instance){ .instance_id = S("i-0bbb"), .state = EC2_INSTANCE_TERMINATED,
                                              .private_ip = S("10.0.1.99"), .subnet_id = S("subnet-a"),
                                              .tags = tags("10.0.1.12", "manager") };
        w.instances.items[2] = (Ec2Instance){ .instance_id = S("i-0ccc"), .state = EC2_INSTANCE_SHUTTING_DOWN,
                                              .tags = tags(NULL, "worker") };
        w.volumes.n = 2;
        w.volumes.items = calloc(2, sizeof(Ec2Volume));
        w.volumes.items[0] = (Ec2Volume){ .volume_id = S("vol-1"), .state = EC2_VOLUME_IN_USE, .tags = tags("10.0.1.11", "manager"),
                                          .n_attachments = 1, .attachments = calloc(1, sizeof(Ec2Attachment)) };
        w.volumes.items[0].attachments[0] = (Ec2Attachment){ .volume_id = S("vol-1"), .instance_id = S("i-0aaa"),
                                                             .state = EC2_ATTACHMENT_ATTACHED };
        w.volumes.items[1] = (Ec2Volume){ .volume_id = S("vol-2"), .state = EC2_VOLUME_AVAILABLE, .tags = tags("10.0.1.12", "manager") };
        w.n_subnets = 1;
        w.subnets = calloc(1, sizeof(RcSubnetInfo));
        w.subnets[0] = (RcSubnetInfo){ .id = S("subnet-a"), .cidr = S("10.0.1.0/24"), .availability_zone = S("eu-west-1a") };
        w.n_nodes = 3;
        w.nodes = calloc(3, sizeof(DockerNode));
        node(&w.nodes[0], "n1", "10.0.1.11", true, "ready", "reachable", true);
        node(&w.nodes[1], "n2", "10.0.1.12", true, "down", "unreachable", false);
        node(&w.nodes[2], "n3", NULL, false, "ready", NULL, false);
        w.node_instance_ids = calloc(3, sizeof(char *));
        w.node_instance_ids[0] = S("i-0aaa");

        CHECK_INT(rc_history_update_nodes(&h, w.nodes, w.n_nodes, 1000), 0);
        CHECK_INT(rc_history_add_inflight(&h, RC_INFLIGHT_LAUNCH, "10.0.1.12", "i-0ddd", "vol-2", 900), 0);
        h.no_leader_since_usec = 0;

        CHECK_INT(rc_world_observe(&w, &h, 2000, true, &o), 0);
        CHECK_INT(o.now_usec, 2000);
        CHECK(o.instances_ok && o.volumes_ok && o.subnets_ok && o.nodes_ok && o.self_manager);
        CHECK_INT(o.n_instances, 3);
        CHECK_STR(o.instances[0].logical_id, "10.0.1.11");
        CHECK_STR(o.instances[0].private_ip, "10.0.1.11");
        CHECK_STR(o.instances[0].role, "manager");
        CHECK_STR(o.instances[0].cluster, "prod");
        CHECK_INT(o.instances[1].state, RC_INSTANCE_TERMINATED);
        CHECK_STR(o.instances[1].logical_id, "10.0.1.12");
        CHECK(o.instances[1].private_ip == NULL);
        CHECK(o.instances[1].subnet_id == NULL);
        CHECK_INT(o.instances[2].state, RC_INSTANCE_SHUTTING_DOWN);
        CHECK(o.instances[2].logical_id == NULL);
        CHECK_INT(o.n_volumes, 2);
        CHECK_INT(o.volumes[0].state, RC_VOLUME_IN_USE);
        CHECK_INT(o.volumes[0].n_attached, 1);
        CHECK_STR(o.volumes[0].attached_to[0], "i-0aaa");
        CHECK_INT(o.volumes[1].n_attached, 0);
        CHECK_STR(o.volumes[1].logical_id, "10.0.1.12");
        CHECK_INT(o.n_subnets, 1);
        CHECK_STR(o.subnets[0].cidr, "10.0.1.0/24");
        CHECK_INT(o.n_nodes, 3);
        CHECK(o.nodes[0].manager && o.nodes[0].leader);
        CHECK_INT(o.nodes[0].state, RC_NODE_READY);
        CHECK_INT(o.nodes[0].reachability, RC_REACH_REACHABLE);
        CHECK_STR(o.nodes[0].instance_id, "i-0aaa");
        CHECK_INT(o.nodes[0].healthy_since_usec, 1000);
        CHECK_INT(o.nodes[0].bad_since_usec, 0);
        CHECK_INT(o.nodes[1].state, RC_NODE_DOWN);
        CHECK_INT(o.nodes[1].reachability, RC_REACH_UNREACHABLE);
        CHECK_INT(o.nodes[1].bad_since_usec, 1000);
        CHECK_INT(o.nodes[2].reachability, RC_REACH_NONE);
        CHECK(!o.nodes[2].manager);
        CHECK_INT(o.n_inflight, 1);
        CHECK_STR(o.inflight[0].instance_id, "i-0ddd");
        CHECK_INT(o.inflight[0].since_usec, 900);

        /* a failed listing is "not taken", never "nothing there" */
        w.instances_ok = false;
        CHECK_INT(rc_world_observe(&w, &h, 2000, false, &o), 0);
        CHECK(!o.instances_ok);
        CHECK_INT(o.n_instances, 0);
        CHECK(!o.self_manager);

        /* leadership and majority from the listing */
        {
                bool leader, quorum, any;
                rc_leadership_from_nodes(w.nodes, w.n_nodes, "n1", &leader, &quorum, &any);
                CHECK(leader && !quorum && any); /* 1 of 2 managers reachable: no majority */
                rc_leadership_from_nodes(w.nodes, w.n_nodes, "n2", &leader, &quorum, &any);
                CHECK(!leader && any);
                CHECK_INT(free_and_strdup(&w.nodes[1].reachability, "reachable"), 0);
                rc_leadership_from_nodes(w.nodes, w.n_nodes, "n1", &leader, &quorum, &any);
                CHECK(leader && quorum);
                rc_leadership_from_nodes(w.nodes, 0, "n1", &leader, &quorum, &any);
                CHECK(!leader && !quorum && !any);
        }
}

static void test_history(void) {
        _cleanup_(rc_history_done) RcHistory h = {}, copy = {};
        DockerNode n[2];
        uint64_t started = 0;

        node(&n[0], "n1", "10.0.1.11", true, "down", "unreachable", false);
        node(&n[1], "n2", NULL, false, "ready", NULL, false);
        CHECK_INT(rc_history_update_nodes(&h, n, 2, 100), 0);
        CHECK_INT(h.n_marks, 2);
        CHECK_INT(h.marks[0].bad_since_usec, 100);
        CHECK_INT(h.marks[1].healthy_since_usec, 100);
        /* still bad: the first time is kept */
        CHECK_INT(rc_history_update_nodes(&h, n, 2, 200), 0);
        CHECK_INT(h.marks[0].bad_since_usec, 100);
        /* Down but Reachable is not bad: the streak breaks */
        CHECK_INT(free_and_strdup(&n[0].reachability, "reachable"), 0);
        CHECK_INT(rc_history_update_nodes(&h, n, 2, 300), 0);
        CHECK_INT(h.marks[0].bad_since_usec, 0);
        CHECK_INT(free_and_strdup(&n[0].reachability, "unreachable"), 0);
        CHECK_INT(rc_history_update_nodes(&h, n, 2, 400), 0);
        CHECK_INT(h.marks[0].bad_since_usec, 400);
        /* drained since */
        CHECK_INT(free_and_strdup(&n[1].availability, "drain"), 0);
        CHECK_INT(rc_history_update_nodes(&h, n, 2, 450), 0);
        CHECK_INT(h.marks[1].drained_since_usec, 450);
        /* healthy, then "unknown" but Reachable (a new leader has not heard from it yet):
         * the streak holds; then Down: it breaks */
        CHECK_INT(free_and_strdup(&n[0].state, "ready"), 0);
        CHECK_INT(free_and_strdup(&n[0].reachability, "reachable"), 0);
        CHECK_INT(rc_history_update_nodes(&h, n, 2, 460), 0);
        CHECK_INT(h.marks[0].healthy_since_usec, 460);
        CHECK_INT(free_and_strdup(&n[0].state, "unknown"), 0);
        CHECK_INT(rc_history_update_nodes(&h, n, 2, 470), 0);
        CHECK_INT(h.marks[0].healthy_since_usec, 460);
        CHECK_INT(free_and_strdup(&n[0].state, "down"), 0);
        CHECK_INT(rc_history_update_nodes(&h, n, 2, 480), 0);
        CHECK_INT(h.marks[0].healthy_since_usec, 0);
        CHECK_INT(free_and_strdup(&n[0].state, "unknown"), 0);
        CHECK_INT(rc_history_update_nodes(&h, n, 2, 490), 0);
        CHECK_INT(h.marks[0].healthy_since_usec, 0); /* unknown never starts a streak */
        /* a node gone from the listing is forgotten */
        CHECK_INT(rc_history_update_nodes(&h, n, 1, 500), 0);
        CHECK_INT(h.n_marks, 1);

        /* backoff: not before base, never past the cap, reset forgets */
        CHECK(rc_history_backoff_ready(&h, "10.0.1.12", 0));
        for (unsigned i = 0; i < 12; i++) {
                uint64_t now = 1000000000ULL;
                CHECK_INT(rc_history_backoff_fail(&h, "10.0.1.12", now), 0);
                CHECK(!rc_history_backoff_ready(&h, "10.0.1.12", now + RC_BACKOFF_BASE_USEC - 1));
                CHECK(rc_history_backoff_ready(&h, "10.0.1.12", now + RC_BACKOFF_CAP_USEC + RC_BACKOFF_BASE_USEC));
        }
        CHECK(rc_history_backoff_ready(&h, "10.0.1.13", 1000000000ULL));
        /* InvalidIPAddress.InUse: the address comes free within about a minute; retried
         * every 10-15 s however often it failed */
        for (unsigned i = 0; i < 12; i++) {
                uint64_t now = 1000000000ULL;
                CHECK_INT(rc_history_backoff_fail_cap(&h, "10.0.1.14", now, RC_BACKOFF_IP_IN_USE_CAP_USEC), 0);
                CHECK(!rc_history_backoff_ready(&h, "10.0.1.14", now + RC_BACKOFF_BASE_USEC - 1));
                CHECK(rc_history_backoff_ready(&h, "10.0.1.14", now + RC_BACKOFF_IP_IN_USE_CAP_USEC));
        }
        rc_history_backoff_reset(&h, "10.0.1.14");
        rc_history_backoff_reset(&h, "10.0.1.12");
        CHECK(rc_history_backoff_ready(&h, "10.0.1.12", 0));
        CHECK_INT(h.n_backoff, 0);

        /* recovery: back only once healthy after the start */
        CHECK_INT(rc_history_recovery_start(&h, "10.0.1.11", 1000), 0);
        CHECK_INT(rc_history_recovery_start(&h, "10.0.1.11", 2000), 0); /* the first start counts */
        CHECK_INT(h.n_recovering, 1);
        CHECK_INT(rc_history_recovery_done(&h, "10.0.1.11", 900, &started), 0);  /* healthy since before */
        CHECK_INT(rc_history_recovery_done(&h, "10.0.1.11", 0, &started), 0);
        CHECK_INT(rc_history_recovery_done(&h, "10.0.1.12", 5000, &started), 0);
        CHECK_INT(rc_history_add_inflight(&h, RC_INFLIGHT_FENCE, "10.0.1.11", "i-1", NULL, 1000), 0);
        CHECK_INT(rc_history_copy(&h, &copy), 0);
        CHECK_INT(copy.n_recovering, 1);
        CHECK_INT(copy.n_inflight, 1);
        CHECK_STR(copy.inflight[0].instance_id, "i-1");
        CHECK_INT(rc_history_recovery_done(&h, "10.0.1.11", 5000, &started), 1);
        CHECK_INT(started, 1000);
        CHECK_INT(h.n_recovering, 0);
        CHECK_INT(copy.n_recovering, 1); /* a deep copy */

        for (size_t i = 0; i < 2; i++)
                docker_node_done(&n[i]);
}

/* Issue 14: what proves a seat's instance, state and member reaches the planner. */
static void test_observation_identity(void) {
        _cleanup_(rc_world_done) RcWorld w = {};
        _cleanup_(rc_history_done) RcHistory h = {}, copy = {};
        RcObservation o;
        char t[40];

        w.instances_ok = w.volumes_ok = w.subnets_ok = w.nodes_ok = true;
        w.instances.n = 2;
        w.instances.items = calloc(2, sizeof(Ec2Instance));
        w.instances.items[0] = (Ec2Instance){ .instance_id = S("i-0aaa"), .state = EC2_INSTANCE_RUNNING,
                                              .private_ip = S("10.0.1.11"), .client_token = S("sk-0123"),
                                              .tags = tags("10.0.1.11", "manager") };
        w.instances.items[1] = (Ec2Instance){ .instance_id = S("i-0bbb"), .state = EC2_INSTANCE_RUNNING,
                                              .client_token = S(""), .tags = tags(NULL, "worker") };
        w.volumes.n = 4;
        w.volumes.items = calloc(4, sizeof(Ec2Volume));
        w.volumes.items[0] = (Ec2Volume){ .volume_id = S("vol-1"), .state = EC2_VOLUME_AVAILABLE, .tags = tags("10.0.1.11", "manager") };
        strv_extend(&w.volumes.items[0].tags, EC2_TAG_HAS_STATE);
        strv_extend(&w.volumes.items[0].tags, "yes");
        strv_extend(&w.volumes.items[0].tags, EC2_TAG_GENERATION);
        strv_extend(&w.volumes.items[0].tags, "18446744073709551615");
        w.volumes.items[1] = (Ec2Volume){ .volume_id = S("vol-2"), .state = EC2_VOLUME_AVAILABLE, .tags = tags("10.0.1.12", "manager") };
        strv_extend(&w.volumes.items[1].tags, EC2_TAG_HAS_STATE);
        strv_extend(&w.volumes.items[1].tags, "true"); /* only "yes" */
        strv_extend(&w.volumes.items[1].tags, EC2_TAG_GENERATION);
        strv_extend(&w.volumes.items[1].tags, "18446744073709551616"); /* overflows: 0 */
        w.volumes.items[2] = (Ec2Volume){ .volume_id = S("vol-3"), .state = EC2_VOLUME_AVAILABLE, .tags = tags("10.0.1.13", "manager") };
        strv_extend(&w.volumes.items[2].tags, EC2_TAG_GENERATION);
        strv_extend(&w.volumes.items[2].tags, "07");
        w.volumes.items[3] = (Ec2Volume){ .volume_id = S("vol-4"), .state = EC2_VOLUME_AVAILABLE, .tags = tags("10.0.1.14", "manager") };
        strv_extend(&w.volumes.items[3].tags, EC2_TAG_GENERATION);
        strv_extend(&w.volumes.items[3].tags, "12");
        w.n_nodes = 2;
        w.nodes = calloc(2, sizeof(DockerNode));
        node(&w.nodes[0], "n1", NULL, true, "ready", "reachable", true);
        w.nodes[0].manager_addr = S("10.0.1.11:2377");
        w.nodes[0].addr = S("10.0.1.11");
        node(&w.nodes[1], "n2", "10.0.1.11", false, "ready", NULL, false);
        w.nodes[1].manager_addr = S("10.0.9.9:2377"); /* not a member: never passed on */

        for (unsigned i = 0; i < RC_DEAD_TOKENS_MAX + 2; i++) {
                snprintf(t, sizeof(t), "sk-dead-%u", i);
                CHECK_INT(rc_history_add_dead_token(&h, t), 0);
        }
        CHECK_INT(rc_history_add_dead_token(&h, "sk-dead-65"), 0); /* known: not twice */
        CHECK_INT(strv_length(h.dead_tokens), RC_DEAD_TOKENS_MAX);
        CHECK_STR(h.dead_tokens[0], "sk-dead-2"); /* the oldest went */
        CHECK_INT(rc_history_add_dead_token(&h, ""), -EINVAL);
        CHECK_INT(rc_history_copy(&h, &copy), 0);
        CHECK_INT(strv_length(copy.dead_tokens), RC_DEAD_TOKENS_MAX);

        CHECK_INT(rc_world_observe(&w, &copy, 2000, true, &o), 0);
        CHECK_STR(o.instances[0].client_token, "sk-0123");
        CHECK(o.instances[1].client_token == NULL);
        CHECK(o.volumes[0].has_state);
        CHECK(o.volumes[0].generation == UINT64_MAX);
        CHECK(!o.volumes[1].has_state);
        CHECK(o.volumes[1].generation == 0);
        CHECK(o.volumes[2].generation == 0);
        CHECK(o.volumes[3].generation == 12);
        CHECK_STR(o.nodes[0].manager_addr, "10.0.1.11:2377");
        CHECK_STR(o.nodes[0].addr, "10.0.1.11");
        CHECK(o.nodes[1].manager_addr == NULL);
        CHECK_INT(o.n_dead_client_tokens, RC_DEAD_TOKENS_MAX);
        CHECK_STR(o.dead_client_tokens[RC_DEAD_TOKENS_MAX - 1], "sk-dead-65");
}

static void test_swarm_complete(void) {
        DockerNode n[3];
        char *managers[] = { (char *) "10.0.1.11", (char *) "10.0.1.12", NULL };

        node(&n[0], "n1", "10.0.1.11", true, "ready", "reachable", true);
        node(&n[1], "n2", "10.0.1.12", true, "ready", "reachable", false);
        node(&n[2], "n3", NULL, false, "ready", NULL, false);
        CHECK(rc_swarm_complete(n, 3, managers, 1));
        CHECK(!rc_swarm_complete(n, 3, managers, 2));  /* a worker short */
        CHECK(!rc_swarm_complete(n, 2, managers, 1));
        CHECK(!rc_swarm_complete(n + 1, 2, managers, 1)); /* a manager missing */
        CHECK_INT(free_and_strdup(&n[1].reachability, "unreachable"), 0);
        CHECK(!rc_swarm_complete(n, 3, managers, 1));   /* Unreachable */
        CHECK_INT(free_and_strdup(&n[1].reachability, "reachable"), 0);
        CHECK_INT(free_and_strdup(&n[2].state, "down"), 0);
        CHECK(!rc_swarm_complete(n, 3, managers, 1));   /* a Down worker */
        for (size_t i = 0; i < 3; i++)
                docker_node_done(&n[i]);
}

static void test_prune_inflight(void) {
        _cleanup_(rc_world_done) RcWorld w = {};
        _cleanup_(rc_history_done) RcHistory h = {};

        w.instances_ok = w.volumes_ok = true;
        w.instances.n = 1;
        w.instances.items = calloc(1, sizeof(Ec2Instance));
        w.instances.items[0] = (Ec2Instance){ .instance_id = S("i-new"), .state = EC2_INSTANCE_PENDING };
        CHECK_INT(rc_history_add_inflight(&h, RC_INFLIGHT_LAUNCH, "10.0.1.12", "i-new", "vol-2", 100), 0);
        CHECK_INT(rc_history_add_inflight(&h, RC_INFLIGHT_LAUNCH, "10.0.1.13", "i-unseen", "vol-3", 100), 0);
        /* pending and unseen: both still in flight */
        rc_history_prune_inflight(&h, &w, 200, 1000);
        CHECK_INT(h.n_inflight, 2);
        /* running: the launch is seen; the unseen one ages out */
        w.instances.items[0].state = EC2_INSTANCE_RUNNING;
        rc_history_prune_inflight(&h, &w, 1100, 1000);
        CHECK_INT(h.n_inflight, 0);
}

int main(void) {
        test_cluster_conf();
        test_user_data();
        test_observation();
        test_observation_identity();
        test_history();
        test_prune_inflight();
        test_swarm_complete();
        return test_done("reconciler");
}
