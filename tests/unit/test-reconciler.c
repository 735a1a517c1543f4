/* SPDX-License-Identifier: MIT */
/*
 * The executor's pure parts: the drop-in and cloud-init multipart user-data a launched
 * host gets (the join token only when asked, nothing host-specific, deterministic, the
 * base user-data kept as its own part), the observation built from EC2 and engine
 * listings (a terminated instance's address is never identity), the history kept across
 * passes (Down+Unreachable since, healthy since, in flight, backoff, recovery).
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "act.h"
#include "json-util.h"
#include "leader.h"
#include "overview.h"
#include "rc-history.h"
#include "test.h"
#include "user-data.h"

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

/* The managers' profile and template reach a manager's drop-in, never a worker's. */
static void test_cluster_conf_profiles(void) {
        _cleanup_(config_freep) Config *c = test_config();
        _cleanup_(erase_and_freep) char *m = NULL, *w = NULL;

        CHECK_INT(config_set(c, "Launch.Template=sk-managers"), 0);
        CHECK_INT(config_set(c, "Launch.InstanceProfile=sk-manager-profile"), 0);
        CHECK_INT(config_set(c, "Launch.WorkerTemplate=sk-workers"), 0);
        CHECK_INT(config_set(c, "Launch.WorkerInstanceProfile=sk-worker-profile"), 0);
        CHECK_INT(config_set(c, "Launch.SecurityGroupIds=sg-01234567"), 0);
        CHECK_INT(config_set(c, "Volume.KmsKeyId=alias/sk"), 0);
        CHECK_INT(config_set(c, "Volume.SizeGiB=80"), 0);

        CHECK_INT(rc_cluster_conf(c, "manager", NULL, false, &m), 0);
        CHECK(m && strstr(m, "\nInstanceProfile=sk-manager-profile\n"));
        CHECK(m && strstr(m, "\nTemplate=sk-managers\n"));
        CHECK(m && strstr(m, "\nWorkerTemplate=sk-workers\n"));
        CHECK(m && strstr(m, "\nWorkerInstanceProfile=sk-worker-profile\n"));
        CHECK(m && strstr(m, "\nSizeGiB=80\n"));
        CHECK(m && strstr(m, "\nKmsKeyId=alias/sk\n"));

        CHECK_INT(rc_cluster_conf(c, "worker", NULL, false, &w), 0);
        CHECK(w && !strstr(w, "sk-manager-profile"));
        CHECK(w && !strstr(w, "sk-managers"));
        CHECK(w && !strstr(w, "InstanceProfile"));
        CHECK(w && !strstr(w, "Template"));
        CHECK(w && !strstr(w, "alias/sk"));
        /* what a worker needs still is there */
        CHECK(w && strstr(w, "Managers=10.0.1.11,10.0.1.12,10.0.1.13\n"));
        CHECK(w && strstr(w, "[AWS]\nRegion=eu-west-1\n"));
        CHECK(w && strstr(w, "FileSystem=ext4\n"));
        CHECK(w && strstr(w, "IntervalSec=30\n"));
}

/* What a manager's and a worker's RunInstances are given. */
static void test_launch_conf(void) {
        _cleanup_(config_freep) Config *c = test_config();
        RcLaunchConf m = {}, w = {};

        /* ImageId + InstanceType, no worker keys: workers get the image and type, and no profile */
        CHECK_INT(config_set(c, "Launch.InstanceProfile=sk-manager-profile"), 0);
        CHECK_INT(rc_launch_conf(c, ROLE_MANAGER, &m), 0);
        CHECK_INT(rc_launch_conf(c, ROLE_WORKER, &w), 0);
        CHECK(m.configured && w.configured);
        CHECK_STR(m.image_id, "ami-12345678");
        CHECK_STR(m.instance_type, "t3.small");
        CHECK_STR(m.instance_profile, "sk-manager-profile");
        CHECK(!m.template_id && !m.template_name && !m.template_version);
        CHECK_STR(w.image_id, "ami-12345678");
        CHECK_STR(w.instance_type, "t3.small");
        CHECK(!w.instance_profile);
        CHECK(!w.template_id && !w.template_name && !w.template_version);
        rc_launch_conf_done(&m);
        rc_launch_conf_done(&w);

        /* the managers' template too: still never a worker's */
        CHECK_INT(config_set(c, "Launch.Template=lt-0123456789abcdef0"), 0);
        CHECK_INT(config_set(c, "Launch.TemplateVersion=7"), 0);
        CHECK_INT(rc_launch_conf(c, ROLE_MANAGER, &m), 0);
        CHECK_INT(rc_launch_conf(c, ROLE_WORKER, &w), 0);
        CHECK_STR(m.template_id, "lt-0123456789abcdef0");
        CHECK_STR(m.template_version, "7");
        CHECK(!m.template_name);
        CHECK(w.configured);
        CHECK(!w.template_id && !w.template_name && !w.template_version);
        CHECK(!w.instance_profile);
        rc_launch_conf_done(&m);
        rc_launch_conf_done(&w);

        /* the workers' own template and profile */
        CHECK_INT(config_set(c, "Launch.WorkerTemplate=sk-workers"), 0);
        CHECK_INT(config_set(c, "Launch.WorkerInstanceProfile=sk-worker-profile"), 0);
        CHECK_INT(rc_launch_conf(c, ROLE_WORKER, &w), 0);
        CHECK_STR(w.template_name, "sk-workers");
        CHECK_STR(w.template_version, "$Default");
        CHECK(!w.template_id);
        CHECK_STR(w.instance_profile, "sk-worker-profile");
        rc_launch_conf_done(&w);

        /* only the managers' template: workers are not launched at all */
        CHECK_INT(config_set(c, "Launch.WorkerTemplate="), 0);
        CHECK_INT(config_set(c, "Launch.ImageId="), 0);
        CHECK_INT(rc_launch_conf(c, ROLE_MANAGER, &m), 0);
        CHECK_INT(rc_launch_conf(c, ROLE_WORKER, &w), 0);
        CHECK(m.configured);
        CHECK(!w.configured);
        CHECK(!w.template_id && !w.template_name && !w.image_id && !w.instance_type && !w.instance_profile);
        rc_launch_conf_done(&m);
        rc_launch_conf_done(&w);

        /* ImageId without InstanceType: nothing is launched (EC2 would pick a type) */
        CHECK_INT(config_set(c, "Launch.Template="), 0);
        CHECK_INT(config_set(c, "Launch.ImageId=ami-12345678"), 0);
        CHECK_INT(config_set(c, "Launch.InstanceType="), 0);
        CHECK_INT(rc_launch_conf(c, ROLE_MANAGER, &m), 0);
        CHECK_INT(rc_launch_conf(c, ROLE_WORKER, &w), 0);
        CHECK(!m.configured && !w.configured);
        CHECK(!m.image_id);
        rc_launch_conf_done(&m);
        rc_launch_conf_done(&w);
}

/* A manager's new data volume: the configured size, type and encryption, not 20 GiB in clear. */
static void test_volume_conf(void) {
        _cleanup_(config_freep) Config *c = test_config();
        RcVolumeConf v = {};

        CHECK_INT(rc_volume_conf(c, &v), 0);
        CHECK_INT(v.size_gib, 50);
        CHECK_STR(v.type, "gp3");
        CHECK(v.encrypted);
        CHECK(!v.kms_key_id);
        rc_volume_conf_done(&v);

        CHECK_INT(config_set(c, "Volume.SizeGiB=200"), 0);
        CHECK_INT(config_set(c, "Volume.Type=st1"), 0);
        CHECK_INT(config_set(c, "Volume.KmsKeyId=arn:aws:kms:eu-west-1:123456789012:alias/sk"), 0);
        CHECK_INT(rc_volume_conf(c, &v), 0);
        CHECK_INT(v.size_gib, 200);
        CHECK_STR(v.type, "st1");
        CHECK(v.encrypted);
        CHECK_STR(v.kms_key_id, "arn:aws:kms:eu-west-1:123456789012:alias/sk");
        rc_volume_conf_done(&v);
}

/* ImageId without InstanceType is not "launching configured" for the reconciler either:
 * `status` shows no desired state (the old reconciler asked the engine and EC2 for one). */
static void test_status_not_configured(void) {
        _cleanup_(config_freep) Config *c = test_config();
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();

        CHECK_INT(config_set(c, "Launch.InstanceType="), 0);
        CHECK_INT(config_set(c, "Engine.Socket=/nonexistent/swarmkeeper-test.sock"), 0);
        CHECK_INT(config_set(c, "AWS.Endpoint=http://127.0.0.1:9"), 0);
        CHECK_INT(reconciler_status_overview(c, root), 0);
        CHECK(!json_object_object_get_ex(root, "desired", NULL));
}

static void test_cluster_conf(void) {
        _cleanup_(config_freep) Config *c = test_config();
        _cleanup_(erase_and_freep) char *m = NULL, *w = NULL;

        CHECK_INT(rc_cluster_conf(c, "manager", NULL, true, &m), 0);
        CHECK(m && strstr(m, "[Cluster]\nRole=manager\nName=prod\nManagers=10.0.1.11,10.0.1.12,10.0.1.13\n"));
        /* a launched host is never the bootstrap manager: it never inits a second swarm */
        CHECK(m && !strstr(m, "BootstrapManager"));
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

        /* a manager may lead next: it gets how to make a manager's volume */
        CHECK(m && strstr(m, "SizeGiB=50\nType=gp3\nEncrypted=yes\n"));

        CHECK_INT(rc_cluster_conf(c, "worker", TOKEN, false, &w), 0);
        CHECK(w && strstr(w, "Role=worker\n"));
        CHECK(w && strstr(w, "\n[Cluster]\nJoinToken=" TOKEN "\n"));
        CHECK(w && !strstr(w, "UserData="));
        CHECK(w && !strstr(w, "BootstrapManager"));
        /* a worker never launches: no [Launch] at all, nor the volume-making keys */
        CHECK(w && !strstr(w, "[Launch]"));
        CHECK(w && !strstr(w, "ImageId"));
        CHECK(w && !strstr(w, "SizeGiB"));

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
        RcMemory m;

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
        w.nodes[0].instance_id = S("i-0aaa");
        w.nodes[0].created_usec = 1234 * USEC_PER_SEC;

        CHECK_INT(rc_history_update_nodes(&h, w.nodes, w.n_nodes, 1000), 0);
        CHECK_INT(rc_history_add_inflight(&h, RC_INFLIGHT_LAUNCH, "10.0.1.12", "i-0ddd", "vol-2", 900), 0);
        h.no_leader_since_usec = 0;

        CHECK_INT(rc_world_observe(&w, &h, 2000, true, true, &o, &m), 0);
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
        CHECK_INT(o.nodes[0].created_usec, 1234 * USEC_PER_SEC); /* issue 14: CreatedAt reaches the planner */
        CHECK(!o.nodes[1].instance_id && o.nodes[1].created_usec == 0);
        /* the streaks are memory (issue 15), by node id */
        CHECK_INT(m.n_streaks, 3);
        for (size_t i = 0; i < m.n_streaks; i++) {
                const RcNodeStreak *k = &m.streaks[i];
                if (streq_ptr(k->node_id, o.nodes[0].id))
                        CHECK(k->healthy_since_usec == 1000 && k->bad_since_usec == 0);
                else if (streq_ptr(k->node_id, o.nodes[1].id))
                        CHECK_INT(k->bad_since_usec, 1000);
        }
        CHECK_INT(o.nodes[1].state, RC_NODE_DOWN);
        CHECK_INT(o.nodes[1].reachability, RC_REACH_UNREACHABLE);
        CHECK_INT(o.nodes[2].reachability, RC_REACH_NONE);
        CHECK(!o.nodes[2].manager);
        CHECK_INT(m.n_inflight, 1);
        CHECK_STR(m.inflight[0].instance_id, "i-0ddd");
        CHECK_INT(m.inflight[0].since_usec, 900);

        /* a failed listing is "not taken", never "nothing there" */
        w.instances_ok = false;
        CHECK_INT(rc_world_observe(&w, &h, 2000, false, true, &o, &m), 0);
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
        h.tokens_rotated_swarm_usec = 4242; /* issue 14: the rotation on the swarm's clock is kept */
        CHECK_INT(rc_history_copy(&h, &copy), 0);
        CHECK_INT(copy.tokens_rotated_swarm_usec, 4242);
        {
                _cleanup_(rc_world_done) RcWorld w = { .instances_ok = true, .volumes_ok = true, .subnets_ok = true,
                                                       .nodes_ok = true };
                RcObservation o;
                RcMemory m;

                CHECK_INT(rc_world_observe(&w, &copy, 5000, true, true, &o, &m), 0);
                CHECK_INT(m.tokens_rotated_swarm_usec, 4242);
        }
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
        RcMemory m;
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

        CHECK_INT(rc_world_observe(&w, &copy, 2000, true, true, &o, &m), 0);
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
        CHECK_INT(m.n_dead_client_tokens, RC_DEAD_TOKENS_MAX);
        CHECK_STR(m.dead_client_tokens[RC_DEAD_TOKENS_MAX - 1], "sk-dead-65");
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

/* Issue 14: evidence must be continuous. Two listings far apart, or a new Leader, restart
 * the Down streak: a manager that was Down 600 s ago and Down now was not watched in
 * between; the planner fed from that history does not fence it. */
static void test_streak_restarts(void) {
        _cleanup_(rc_history_done) RcHistory h = { .max_gap_usec = 90 * USEC_PER_SEC };
        DockerNode n[2];
        const uint64_t t0 = 1000 * USEC_PER_SEC;

        node(&n[0], "n1", "10.0.1.11", true, "ready", "reachable", true);
        node(&n[1], "n2", "10.0.1.12", true, "down", "unreachable", false);
        /* watched every 30 s: the streak holds */
        CHECK_INT(rc_history_update_nodes(&h, n, 2, t0), 0);
        CHECK_INT(rc_history_update_nodes(&h, n, 2, t0 + 30 * USEC_PER_SEC), 0);
        CHECK_INT(h.marks[1].bad_since_usec, t0);
        CHECK_INT(h.marks[0].healthy_since_usec, t0);
        /* the next listing 600 s later: every streak starts again */
        CHECK_INT(rc_history_update_nodes(&h, n, 2, t0 + 630 * USEC_PER_SEC), 0);
        CHECK_INT(h.marks[1].bad_since_usec, t0 + 630 * USEC_PER_SEC);
        CHECK_INT(h.marks[0].healthy_since_usec, t0 + 630 * USEC_PER_SEC);
        /* a new Leader (n2 leads… here n1 stops leading and a third node does): the Down
         * streak starts again, the healthy one survives */
        CHECK_INT(rc_history_update_nodes(&h, n, 2, t0 + 660 * USEC_PER_SEC), 0);
        n[0].leader = false;
        CHECK_INT(free_and_strdup(&n[1].state, "down"), 0);
        {
                DockerNode three[3];
                memcpy(three, n, sizeof(n));
                node(&three[2], "n3", "10.0.1.13", true, "ready", "reachable", true);
                CHECK_INT(rc_history_update_nodes(&h, three, 3, t0 + 690 * USEC_PER_SEC), 0);
                CHECK_INT(h.marks[1].bad_since_usec, t0 + 690 * USEC_PER_SEC);
                CHECK_INT(h.marks[0].healthy_since_usec, t0 + 630 * USEC_PER_SEC);
                CHECK_STR(h.leader_node_id, "n3");
                /* the same Leader again: no restart */
                CHECK_INT(rc_history_update_nodes(&h, three, 3, t0 + 720 * USEC_PER_SEC), 0);
                CHECK_INT(h.marks[1].bad_since_usec, t0 + 690 * USEC_PER_SEC);
                docker_node_done(&three[2]);
        }
        /* a clock that went backwards (never on CLOCK_MONOTONIC, but not trusted): restart */
        CHECK_INT(rc_history_update_nodes(&h, n, 2, t0), 0);
        CHECK_INT(h.marks[1].bad_since_usec, t0);
        /* a clock step of an hour between two passes 30 s apart (the old code read the wall
         * clock): now jumps by 3600 s; the Down streak does not span it */
        CHECK_INT(rc_history_update_nodes(&h, n, 2, t0 + 3600 * USEC_PER_SEC), 0);
        CHECK_INT(h.marks[1].bad_since_usec, t0 + 3600 * USEC_PER_SEC);
        for (size_t i = 0; i < 2; i++)
                docker_node_done(&n[i]);
}

/* The whole chain, history → observation → plan, for the row of issue 14: a manager Down
 * and Unreachable in one listing and in the next, 600 s apart, with GraceSec 120: old
 * code fenced it; now the streak is 0 s old and the plan waits. */
static void test_far_apart_no_fence(void) {
        _cleanup_(rc_world_done) RcWorld w = {};
        _cleanup_(rc_history_done) RcHistory h = { .max_gap_usec = 90 * USEC_PER_SEC };
        static const char *const managers[] = { "10.0.1.11", "10.0.1.12", "10.0.1.13" };
        const uint64_t t0 = 5000 * USEC_PER_SEC, t1 = t0 + 600 * USEC_PER_SEC;
        RcSpec spec = { .cluster = "prod", .managers = managers, .n_managers = 3, .grace_usec = 120 * USEC_PER_SEC,
                        .stable_usec = 30 * USEC_PER_SEC, .launch_settle_usec = 90 * USEC_PER_SEC };
        RcObservation o;
        RcMemory m;
        RcPlan plan = {};

        w.instances_ok = w.volumes_ok = w.subnets_ok = w.nodes_ok = w.leader = w.quorum = true;
        w.instances.n = w.volumes.n = w.n_nodes = 3;
        w.instances.items = calloc(3, sizeof(Ec2Instance));
        w.volumes.items = calloc(3, sizeof(Ec2Volume));
        w.nodes = calloc(3, sizeof(DockerNode));
        for (size_t i = 0; i < 3; i++) {
                char iid[16], vid[16], nid[16];
                snprintf(iid, sizeof(iid), "i-%zu", i);
                snprintf(vid, sizeof(vid), "vol-%zu", i);
                snprintf(nid, sizeof(nid), "n%zu", i);
                w.instances.items[i] = (Ec2Instance){ .instance_id = S(iid), .state = EC2_INSTANCE_RUNNING,
                                                      .private_ip = S(managers[i]), .subnet_id = S("subnet-a"),
                                                      .launch_time_usec = 1, .tags = tags(managers[i], "manager") };
                w.volumes.items[i] = (Ec2Volume){ .volume_id = S(vid), .state = EC2_VOLUME_IN_USE,
                                                  .tags = tags(managers[i], "manager"), .n_attachments = 1,
                                                  .attachments = calloc(1, sizeof(Ec2Attachment)) };
                /* the volumes have held swarm state: nothing to mark */
                strv_extend(&w.volumes.items[i].tags, EC2_TAG_HAS_STATE);
                strv_extend(&w.volumes.items[i].tags, "yes");
                w.volumes.items[i].attachments[0] = (Ec2Attachment){ .volume_id = S(vid), .instance_id = S(iid),
                                                                     .state = EC2_ATTACHMENT_ATTACHED };
                node(&w.nodes[i], nid, managers[i], true, i == 1 ? "down" : "ready", i == 1 ? "unreachable" : "reachable", i == 0);
                w.nodes[i].instance_id = S(iid);
        }
        CHECK_INT(rc_history_update_nodes(&h, w.nodes, 3, t0), 0);
        CHECK_INT(rc_history_update_nodes(&h, w.nodes, 3, t1), 0);
        CHECK_INT(rc_world_observe(&w, &h, t1, true, true, &o, &m), 0);
        o.self_instance_id = "i-0";
        m.tokens_rotated_swarm_usec = 1000 * USEC_PER_SEC; /* after the launches: no rotation due */
        CHECK_INT(rc_plan(&spec, &o, &m, &plan), 0);
        for (size_t i = 0; i < plan.n; i++) {
                CHECK(plan.actions[i].kind == RC_ACTION_WAIT);
                if (streq_ptr(plan.actions[i].logical_id, "10.0.1.12"))
                        CHECK(strstr(plan.actions[i].reason, "Down and Unreachable for 0s"));
        }
        CHECK(plan.n >= 1);
        rc_plan_done(&plan);

        /* watched throughout (every 60 s): fenced once GraceSec has passed */
        for (uint64_t t = t1 + 60 * USEC_PER_SEC; t <= t1 + 180 * USEC_PER_SEC; t += 60 * USEC_PER_SEC)
                CHECK_INT(rc_history_update_nodes(&h, w.nodes, 3, t), 0);
        CHECK_INT(rc_world_observe(&w, &h, t1 + 180 * USEC_PER_SEC, true, true, &o, &m), 0);
        o.self_instance_id = "i-0";
        m.tokens_rotated_swarm_usec = 1000 * USEC_PER_SEC;
        CHECK_INT(rc_plan(&spec, &o, &m, &plan), 0);
        CHECK(plan.n == 1 && plan.actions[0].kind == RC_ACTION_FENCE);
        rc_plan_done(&plan);
}

/* Seats: busy since starts when the seat holds the slot, holds while it is pending (even
 * released), resets once it needs nothing; volume ids remembered from the listing. */
static void test_seats(void) {
        _cleanup_(rc_history_done) RcHistory h = {}, copy = {};
        _cleanup_(rc_world_done) RcWorld w = {};
        char *managers[] = { (char *) "10.0.1.11", (char *) "10.0.1.12", NULL };
        RcAction acts[2] = {};
        RcPlan plan = { .actions = acts, .n = 2 };

        acts[0] = (RcAction){ .kind = RC_ACTION_LAUNCH_MANAGER, .logical_id = "10.0.1.12", .holds_slot = true, .seat_pending = true };
        acts[1] = (RcAction){ .kind = RC_ACTION_WAIT, .logical_id = "10.0.1.11", .seat_pending = true };
        rc_history_update_seats(&h, &plan, managers, 100);
        CHECK(rc_history_seat(&h, "10.0.1.12", false) && rc_history_seat(&h, "10.0.1.12", false)->busy_since_usec == 100);
        CHECK(!rc_history_seat(&h, "10.0.1.11", false)); /* waiting behind: no clock */
        rc_history_update_seats(&h, &plan, managers, 200);
        CHECK_INT(rc_history_seat(&h, "10.0.1.12", false)->busy_since_usec, 100);
        /* released (stuck) but still pending: the clock holds */
        acts[0] = (RcAction){ .kind = RC_ACTION_REPORT, .logical_id = "10.0.1.12", .seat_pending = true, .seat_stuck = true };
        rc_history_update_seats(&h, &plan, managers, 300);
        CHECK_INT(rc_history_seat(&h, "10.0.1.12", false)->busy_since_usec, 100);
        CHECK_INT(rc_history_copy(&h, &copy), 0);
        CHECK_INT(rc_history_seat(&copy, "10.0.1.12", false)->busy_since_usec, 100);
        /* settled: reset */
        plan.n = 0;
        rc_history_update_seats(&h, &plan, managers, 400);
        CHECK_INT(rc_history_seat(&h, "10.0.1.12", false)->busy_since_usec, 0);

        /* the volume id from the listing, kept once the listing no longer shows it */
        w.volumes_ok = true;
        w.volumes.n = 1;
        w.volumes.items = calloc(1, sizeof(Ec2Volume));
        w.volumes.items[0] = (Ec2Volume){ .volume_id = S("vol-12"), .state = EC2_VOLUME_AVAILABLE, .tags = tags("10.0.1.12", "manager") };
        CHECK_INT(rc_history_remember_volumes(&h, &w), 0);
        CHECK_STR(rc_history_seat(&h, "10.0.1.12", false)->volume_id, "vol-12");
        w.volumes.n = 0;
        CHECK_INT(rc_history_remember_volumes(&h, &w), 0);
        CHECK_STR(rc_history_seat(&h, "10.0.1.12", false)->volume_id, "vol-12");
        w.volumes.n = 1;
}

/* ---- a canned engine for the re-check right before a destructive call ------------------- */

static char eng_sock[108];
static char eng_body[] = "/tmp/test-reconciler-nodes-XXXXXX";
static pid_t eng_pid;

#define NODE(id, role, state, mgr) \
        "{\"ID\":\"" id "\",\"Version\":{\"Index\":7},\"Spec\":{\"Role\":\"" role "\",\"Availability\":\"active\"}," \
        "\"Status\":{\"State\":\"" state "\"}" mgr "}"
#define MS(leader, reach) ",\"ManagerStatus\":{\"Leader\":" leader ",\"Reachability\":\"" reach "\"}"

static void eng_set(const char *json) {
        FILE *f = fopen(eng_body, "w");
        CHECK(f != NULL);
        if (f) {
                fputs(json, f);
                fclose(f);
        }
}

static void eng_serve(int lfd) {
        for (;;) {
                char buf[4096], body[8192], resp[8400];
                size_t n = 0;
                int fd = accept(lfd, NULL, NULL);
                FILE *f;

                if (fd < 0)
                        _exit(0);
                (void) test_read_request(fd, buf, sizeof(buf));
                f = fopen(eng_body, "r");
                if (f) {
                        n = fread(body, 1, sizeof(body) - 1, f);
                        fclose(f);
                }
                body[n] = 0;
                if (startswith(buf, "GET ") && strstr(buf, "/nodes"))
                        snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
                else
                        snprintf(resp, sizeof(resp), "HTTP/1.1 404 X\r\nContent-Length: 2\r\n\r\n{}");
                (void) !write(fd, resp, strlen(resp));
                close(fd);
        }
}

static void test_confirm_action(void) {
        _cleanup_(docker_freep) Docker *d = NULL;
        RcAction fence = { .kind = RC_ACTION_FENCE, .logical_id = "10.0.1.12", .instance_id = "i-2", .node_id = "n2" };
        RcAction demote = { .kind = RC_ACTION_DEMOTE, .logical_id = "10.0.1.12", .node_id = "n2" };
        RcAction remove = { .kind = RC_ACTION_REMOVE_NODE, .logical_id = "10.0.1.12", .node_id = "n2" };
        RcAction launch = { .kind = RC_ACTION_LAUNCH_MANAGER, .logical_id = "10.0.1.12" };
        LeaderQuorum q = {};
        char why[256];
        int lfd, fd;

        snprintf(eng_sock, sizeof(eng_sock), "/tmp/test-reconciler-%d.sock", (int) getpid());
        fd = mkstemp(eng_body);
        CHECK(fd >= 0);
        close(fd);
        lfd = test_unix_listen(eng_sock);
        CHECK(lfd >= 0);
        eng_pid = fork();
        if (eng_pid == 0) {
                (void) signal(SIGPIPE, SIG_IGN);
                eng_serve(lfd);
                _exit(0);
        }
        close(lfd);
        CHECK_INT(docker_new(eng_sock, &d), 0);
        if (!d)
                goto out;

        /* n2 came back between the plan and the fence: this node leads with a majority
         * (what the old confirm asked, and it said go), but the fence is skipped */
        eng_set("[" NODE("n1", "manager", "ready", MS("true", "reachable")) "," NODE("n2", "manager", "ready", MS("false", "reachable"))
                "," NODE("n3", "manager", "ready", MS("false", "reachable")) "]");
        CHECK_INT(leader_confirm_blocking(d, "n1", &q), 1);
        CHECK(q.majority);
        CHECK_INT(rc_confirm_action(d, "n1", &fence, why, sizeof(why)), RC_CONFIRM_SKIP);
        CHECK(strstr(why, "n2"));
        CHECK_INT(rc_confirm_action(d, "n1", &demote, why, sizeof(why)), RC_CONFIRM_SKIP);
        CHECK_INT(rc_confirm_action(d, "n1", &launch, why, sizeof(why)), RC_CONFIRM_GO);

        /* still Down and Unreachable: go; another node leads: no */
        eng_set("[" NODE("n1", "manager", "ready", MS("true", "reachable")) "," NODE("n2", "manager", "down", MS("false", "unreachable"))
                "," NODE("n3", "manager", "ready", MS("false", "reachable")) "]");
        CHECK_INT(rc_confirm_action(d, "n1", &fence, why, sizeof(why)), RC_CONFIRM_GO);
        CHECK_INT(rc_confirm_action(d, "n1", &demote, why, sizeof(why)), RC_CONFIRM_GO);
        CHECK_INT(rc_confirm_action(d, "n1", &remove, why, sizeof(why)), RC_CONFIRM_SKIP); /* still a manager */
        CHECK_INT(rc_confirm_action(d, "n3", &fence, why, sizeof(why)), RC_CONFIRM_NO);

        /* demote: a third manager went Unreachable since the plan: 1 of 3 left would be no
         * majority of the rest… (the leader itself has no majority either: no) */
        eng_set("[" NODE("n1", "manager", "ready", MS("true", "reachable")) "," NODE("n2", "manager", "down", MS("false", "unreachable"))
                "," NODE("n3", "manager", "ready", MS("false", "unreachable")) "," NODE("n4", "manager", "ready", MS("false", "reachable"))
                "," NODE("n5", "manager", "ready", MS("false", "reachable")) "]");
        CHECK_INT(rc_confirm_action(d, "n1", &demote, why, sizeof(why)), RC_CONFIRM_GO); /* 3 of 5, 3 of the other 4 */
        eng_set("[" NODE("n1", "manager", "ready", MS("true", "reachable")) "," NODE("n2", "manager", "down", MS("false", "unreachable"))
                "," NODE("n3", "manager", "ready", MS("false", "unreachable")) "," NODE("n4", "manager", "ready", MS("false", "reachable"))
                "]");
        CHECK_INT(rc_confirm_action(d, "n1", &demote, why, sizeof(why)), RC_CONFIRM_NO); /* 2 of 4: no majority at all */

        /* remove: the demoted node is a worker now, listed only by GET /nodes; Ready again → skip */
        eng_set("[" NODE("n1", "manager", "ready", MS("true", "reachable")) "," NODE("n2", "worker", "ready", "")
                "," NODE("n3", "manager", "ready", MS("false", "reachable")) "]");
        CHECK_INT(rc_confirm_action(d, "n1", &remove, why, sizeof(why)), RC_CONFIRM_SKIP);
        eng_set("[" NODE("n1", "manager", "ready", MS("true", "reachable")) "," NODE("n2", "worker", "down", "")
                "," NODE("n3", "manager", "ready", MS("false", "reachable")) "]");
        CHECK_INT(rc_confirm_action(d, "n1", &remove, why, sizeof(why)), RC_CONFIRM_GO);
        /* gone already */
        eng_set("[" NODE("n1", "manager", "ready", MS("true", "reachable")) "," NODE("n3", "manager", "ready", MS("false", "reachable")) "]");
        CHECK_INT(rc_confirm_action(d, "n1", &remove, why, sizeof(why)), RC_CONFIRM_SKIP);
out:
        kill(eng_pid, SIGKILL);
        waitpid(eng_pid, NULL, 0);
        unlink(eng_sock);
        unlink(eng_body);
}

/* The steady state's shortcut (no EC2 while the swarm is complete) must not starve the
 * marking: a seat's volume not yet tagged has-state keeps EC2 asked every pass. Old code
 * skipped EC2 once the last manager had joined, so its volume stayed unmarked for up to
 * RC_EC2_FULL_INTERVAL_USEC, and quorum-loss mode would not re-create that seat. */
static void test_unmarked_volumes(void) {
        _cleanup_(rc_world_done) RcWorld w = {};
        char *managers[] = { (char *) "10.0.1.11", (char *) "10.0.1.12", NULL };

        w.volumes.n = 3;
        w.volumes.items = calloc(3, sizeof(Ec2Volume));
        /* an instance's root volume: no logical id (this crashed the agent once) */
        w.volumes.items[2] = (Ec2Volume){ .volume_id = S("vol-root"), .state = EC2_VOLUME_IN_USE, .tags = tags(NULL, "manager") };
        w.volumes.items[0] = (Ec2Volume){ .volume_id = S("vol-a"), .state = EC2_VOLUME_IN_USE, .tags = tags("10.0.1.11", "manager") };
        w.volumes.items[1] = (Ec2Volume){ .volume_id = S("vol-x"), .state = EC2_VOLUME_AVAILABLE, .tags = tags("10.0.9.9", "manager") };
        CHECK(!rc_world_unmarked_volumes(&w, managers)); /* no complete listing */
        w.volumes_ok = true;
        CHECK(rc_world_unmarked_volumes(&w, managers));
        strv_extend(&w.volumes.items[0].tags, EC2_TAG_HAS_STATE);
        strv_extend(&w.volumes.items[0].tags, "yes");
        /* marked; vol-x is no seat's (not in Cluster.Managers): nothing to mark */
        CHECK(!rc_world_unmarked_volumes(&w, managers));
        w.volumes.items[1].state = EC2_VOLUME_IN_USE;
        strv_free(w.volumes.items[1].tags);
        w.volumes.items[1].tags = tags("10.0.1.12", "manager");
        CHECK(rc_world_unmarked_volumes(&w, managers));
}

/* A restarted leader's agent (or a new leader) that never listed a lost volume still knows
 * which id to ask EC2 about: the node's own Spec label, written when its volume was marked.
 * Old code remembered volume ids only in the process that had listed them, so the
 * volume-lost path waited for ever after a restart. */
static void test_remember_volume_from_node(void) {
        _cleanup_(rc_world_done) RcWorld w = {};
        _cleanup_(rc_history_done) RcHistory h = {};
        RcSeatMemory *m;

        w.nodes_ok = true;
        w.n_nodes = 2;
        w.nodes = calloc(2, sizeof(DockerNode));
        node(&w.nodes[0], "n1", NULL, true, "down", "unreachable", false);
        w.nodes[0].manager_addr = S("10.0.1.12:2377");
        w.nodes[0].volume_id = S("vol-b");
        node(&w.nodes[1], "n2", NULL, false, "ready", NULL, false); /* a worker: no seat */
        w.nodes[1].volume_id = S("vol-w");
        CHECK_INT(rc_history_remember_volumes(&h, &w), 0);
        m = rc_history_seat(&h, "10.0.1.12", false);
        CHECK(m && streq_ptr(m->volume_id, "vol-b"));
        CHECK_INT(h.n_seats, 1);
}

int main(void) {
        test_remember_volume_from_node();
        test_unmarked_volumes();
        test_cluster_conf_profiles();
        test_launch_conf();
        test_volume_conf();
        test_status_not_configured();
        test_streak_restarts();
        test_far_apart_no_fence();
        test_seats();
        test_confirm_action();
        test_cluster_conf();
        test_user_data();
        test_observation();
        test_observation_identity();
        test_history();
        test_prune_inflight();
        return test_done("reconciler");
}
