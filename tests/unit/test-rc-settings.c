/* SPDX-License-Identifier: MIT */
/*
 * The reconcile executor's settings (agent/rc-settings.c): every value taken from a
 * Config, none of it pointing into that Config (a reload frees it), the same after the
 * Config is changed or freed, shared by reference (a pass in flight keeps the settings it
 * started with while a reload makes new ones), and the planner's RcSpec borrowed from it.
 */
#include "config.h"
#include "pass.h"
#include "rc-settings.h"
#include "test.h"

static const char full_text[] =
        "[Cluster]\n"
        "Name=prod\n"
        "Managers=10.0.1.11,10.0.1.12,10.0.1.13\n"
        "BootstrapManager=10.0.1.11\n"
        "Workers=4\n"
        "[Host]\n"
        "InstanceId=i-0123456789abcdef0\n"
        "PrivateIp=10.0.1.11\n"
        "[Volume]\n"
        "SizeGiB=80\n"
        "Type=gp2\n"
        "Encrypted=no\n"
        "KmsKeyId=alias/sk\n"
        "[Engine]\n"
        "Socket=/run/test-docker.sock\n"
        "[AWS]\n"
        "Region=eu-west-1\n"
        "Endpoint=http://127.0.0.1:9000\n"
        "MetadataEndpoint=http://127.0.0.1:9001\n"
        "AllowPlainHttp=yes\n"
        "[Launch]\n"
        "Template=lt-0123456789abcdef0\n"
        "ImageId=ami-12345678\n"
        "InstanceType=t3.small\n"
        "SecurityGroupIds=sg-11111111,sg-22222222\n"
        "InstanceProfile=sk-manager\n"
        "WorkerInstanceProfile=sk-worker\n"
        "SubnetIds=subnet-aaaaaaaa,subnet-bbbbbbbb\n"
        "KeyName=ops\n"
        "UserData=/etc/swarmkeeper/base.txt\n"
        "[Reconcile]\n"
        "IntervalSec=20\n"
        "GraceSec=90\n"
        "QuorumLossGraceSec=150\n"
        "StableSec=7\n"
        "DryRun=yes\n"
        "SeatDeadlineSec=400\n";

static Config *config_from_text(const char *text) {
        Config *c = NULL;

        CHECK_INT(config_new(&c), 0);
        if (c)
                CHECK_INT(config_parse_text(c, text, "t.conf"), 0);
        return c;
}

/* rc_settings_new() on a Config from text, each step a check: the settings (NULL when the
 * Config or they could not be made), the Config in *ret_config for the caller to free. */
static RcSettings *settings_from_text(const char *text, Config **ret_config) {
        RcSettings *s = NULL;

        *ret_config = config_from_text(text);
        if (*ret_config)
                CHECK_INT(rc_settings_new(*ret_config, &s), 0);
        return s;
}

static void check_full(const RcSettings *s) {
        CHECK_STR(s->cluster, "prod");
        CHECK_INT(strv_length(s->managers), 3);
        CHECK(strv_contains(s->managers, "10.0.1.12"));
        CHECK_STR(s->bootstrap, "10.0.1.11");
        CHECK_INT(s->workers, 4);
        CHECK_INT(s->interval_usec, 20 * USEC_PER_SEC);
        CHECK_INT(s->grace_usec, 90 * USEC_PER_SEC);
        CHECK_INT(s->quorum_loss_grace_usec, 150 * USEC_PER_SEC);
        CHECK_INT(s->stable_usec, 7 * USEC_PER_SEC);
        CHECK_INT(s->seat_deadline_usec, 400 * USEC_PER_SEC);
        CHECK_STR(s->socket, "/run/test-docker.sock");
        CHECK_STR(s->region, "eu-west-1");
        CHECK_STR(s->endpoint, "http://127.0.0.1:9000");
        CHECK_STR(s->metadata_endpoint, "http://127.0.0.1:9001");
        CHECK_INT(s->allow_plain_http, true);
        CHECK_INT(s->dry_run, true);
        CHECK_STR(s->self_instance_id, "i-0123456789abcdef0");
        /* the managers' template and profile; a worker's own profile, never the managers' template */
        CHECK_INT(s->launch_manager.configured, true);
        CHECK_STR(s->launch_manager.template_id, "lt-0123456789abcdef0");
        CHECK_STR(s->launch_manager.instance_profile, "sk-manager");
        CHECK_STR(s->launch_manager.image_id, "ami-12345678");
        CHECK_INT(s->launch_worker.configured, true);
        CHECK(s->launch_worker.template_id == NULL && s->launch_worker.template_name == NULL);
        CHECK_STR(s->launch_worker.instance_profile, "sk-worker");
        CHECK_INT(s->volume.size_gib, 80);
        CHECK_STR(s->volume.type, "gp2");
        CHECK_INT(s->volume.encrypted, false);
        CHECK_STR(s->volume.kms_key_id, "alias/sk");
        CHECK_STR(s->key_name, "ops");
        CHECK_STR(s->user_data_path, "/etc/swarmkeeper/base.txt");
        CHECK_INT(strv_length(s->security_groups), 2);
        CHECK(strv_contains(s->security_groups, "sg-22222222"));
        CHECK_INT(strv_length(s->subnet_ids), 2);
        CHECK(strv_contains(s->subnet_ids, "subnet-bbbbbbbb"));
        /* the drop-ins, each for its role, without a join token */
        CHECK(s->conf_manager && strstr(s->conf_manager, "Role=manager\n"));
        CHECK(s->conf_worker && strstr(s->conf_worker, "Role=worker\n"));
        CHECK(s->conf_manager && !strstr(s->conf_manager, "JoinToken"));
        CHECK(s->conf_worker && !strstr(s->conf_worker, "JoinToken"));
}

/* Every value from the Config; none of the strings is the Config's own. */
static void test_values(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(rc_settings_unrefp) RcSettings *s = settings_from_text(full_text, &c);

        if (!s)
                return;
        check_full(s);
        CHECK(s->cluster != c->cluster_name);
        CHECK(s->managers != c->managers && s->managers[0] != c->managers[0]);
        CHECK(s->socket != c->socket);
        CHECK(s->subnet_ids != c->subnet_ids && s->subnet_ids[0] != c->subnet_ids[0]);
        CHECK(s->security_groups != c->security_group_ids);
        CHECK(s->key_name != c->key_name);
        CHECK(s->user_data_path != c->user_data);
}

/* Empty keys: NULL, not "" (none configured), and no launch without Launch.*. */
static void test_unset(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(rc_settings_unrefp) RcSettings *s = settings_from_text("[Cluster]\nName=dev\nManagers=10.0.1.11\n", &c);

        if (!s)
                return;
        CHECK_STR(s->cluster, "dev");
        CHECK_INT(strv_length(s->managers), 1);
        CHECK_INT(s->workers, 0);
        CHECK(s->key_name == NULL);
        CHECK(s->user_data_path == NULL);
        CHECK(s->self_instance_id == NULL);
        CHECK(s->security_groups == NULL);
        CHECK(s->subnet_ids == NULL);
        CHECK_INT(s->launch_manager.configured, false);
        CHECK_INT(s->launch_worker.configured, false);
        CHECK_INT(s->dry_run, false);
        CHECK_INT(s->allow_plain_http, false);
        /* the defaults of the configuration */
        CHECK_INT(s->interval_usec, 30 * USEC_PER_SEC);
        CHECK_INT(s->seat_deadline_usec, 300 * USEC_PER_SEC);
        CHECK_STR(s->volume.type, "gp3");
}

/* The Config changed and then freed (what a reload does to the old one): the settings made
 * before are as they were; settings made from the changed Config differ. */
static void test_immutable(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(rc_settings_unrefp) RcSettings *before = settings_from_text(full_text, &c), *after = NULL;

        if (!c)
                return;
        CHECK_INT(config_set(c, "Cluster.Name=staging"), 0);
        CHECK_INT(config_set(c, "Cluster.Managers=10.0.2.11"), 0);
        CHECK_INT(config_set(c, "Cluster.Workers=9"), 0);
        CHECK_INT(config_set(c, "Launch.SubnetIds=subnet-cccccccc"), 0);
        CHECK_INT(config_set(c, "Launch.KeyName=other"), 0);
        CHECK_INT(config_set(c, "Reconcile.DryRun=no"), 0);
        CHECK_INT(rc_settings_new(c, &after), 0);
        c = config_free(c);
        if (!before || !after)
                return;
        check_full(before);
        CHECK_STR(after->cluster, "staging");
        CHECK_INT(strv_length(after->managers), 1);
        CHECK_INT(after->workers, 9);
        CHECK(strv_length(after->subnet_ids) == 1 && streq(after->subnet_ids[0], "subnet-cccccccc"));
        CHECK_STR(after->key_name, "other");
        CHECK_INT(after->dry_run, false);
        CHECK(after->conf_manager && strstr(after->conf_manager, "Name=staging\n"));
}

/* A reference per holder: freed with the last one. */
static void test_ref(void) {
        _cleanup_(config_freep) Config *c = NULL;
        RcSettings *s = settings_from_text(full_text, &c);

        if (!s)
                return;
        CHECK_INT(atomic_load(&s->n_ref), 1);
        CHECK(rc_settings_ref(s) == s);
        CHECK_INT(atomic_load(&s->n_ref), 2);
        CHECK(rc_settings_unref(s) == NULL);
        CHECK_INT(atomic_load(&s->n_ref), 1);
        check_full(s); /* still there for the other holder */
        CHECK(rc_settings_ref(NULL) == NULL);
        CHECK(rc_settings_unref(NULL) == NULL);
        CHECK(rc_settings_unref(s) == NULL); /* the last: freed (a leak checker sees it) */
}

/* A pass holds its own reference: the loop drops its settings on a reload and makes new
 * ones, and the pass in flight still reads the old. */
static void test_pass_keeps_settings(void) {
        _cleanup_(config_freep) Config *reloaded = NULL, *c = NULL;
        _cleanup_(rc_settings_unrefp) RcSettings *loop = settings_from_text(full_text, &c);
        _cleanup_(pass_freep) Pass *p = NULL;

        if (!loop)
                return;
        CHECK_INT(pass_new(loop, NULL, &p), 0);
        if (!p)
                return;
        CHECK(p->settings == loop);
        CHECK_INT(atomic_load(&loop->n_ref), 2);

        /* the reload: a new Config, the old freed, the loop's settings replaced */
        reloaded = config_from_text("[Cluster]\nName=reloaded\nManagers=10.0.9.1\nWorkers=1\n");
        c = config_free(c);
        loop = rc_settings_unref(loop);
        CHECK_INT(rc_settings_new(reloaded, &loop), 0);
        if (!loop)
                return;
        CHECK_STR(loop->cluster, "reloaded");
        CHECK(p->settings != loop);
        CHECK_INT(atomic_load(&p->settings->n_ref), 1); /* the pass's alone */
        check_full(p->settings);
}

/* The planner's spec: the settings' values, its strings borrowed. */
static void test_spec(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(rc_settings_unrefp) RcSettings *s = settings_from_text(full_text, &c);
        RcSpec spec;

        if (!s)
                return;
        rc_settings_spec(s, &spec);
        CHECK(spec.cluster == s->cluster);
        CHECK(spec.managers == (const char *const *) s->managers);
        CHECK_INT(spec.n_managers, 3);
        CHECK(spec.bootstrap == s->bootstrap);
        CHECK_INT(spec.workers, 4);
        CHECK_INT(spec.grace_usec, 90 * USEC_PER_SEC);
        CHECK_INT(spec.quorum_loss_grace_usec, 150 * USEC_PER_SEC);
        CHECK_INT(spec.stable_usec, 7 * USEC_PER_SEC);
        CHECK_INT(spec.seat_deadline_usec, 400 * USEC_PER_SEC);
        CHECK_INT(spec.launch_settle_usec, RC_LAUNCH_SETTLE_USEC);
        /* the planner's own defaults */
        CHECK_INT(spec.drain_usec, 0);
        CHECK_INT(spec.join_timeout_usec, 0);
}

int main(void) {
        test_values();
        test_unset();
        test_immutable();
        test_ref();
        test_pass_keeps_settings();
        test_spec();
        return test_done("rc-settings");
}
