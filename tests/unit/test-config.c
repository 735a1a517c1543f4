/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "test.h"

/* Capture what the code under test writes to stderr. */
static int saved_stderr = -1;
static char capture_path[] = "/tmp/test-config-stderr-XXXXXX";

static void capture_begin(void) {
        int fd = mkstemp(capture_path);
        fflush(stderr);
        saved_stderr = dup(STDERR_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
}

static char *capture_end(void) {
        char *text = NULL;
        fflush(stderr);
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        (void) read_full_file(capture_path, &text, NULL);
        unlink(capture_path);
        strcpy(capture_path, "/tmp/test-config-stderr-XXXXXX");
        return text;
}

/* config_verify() of a config file's text ("t.conf"): its result, what it logged in *ret_err. */
static int verify_text(const char *text, char **ret_err) {
        _cleanup_(config_freep) Config *c = NULL;
        int r;

        CHECK_INT(config_new(&c), 0);
        CHECK_INT(config_parse_text(c, text, "t.conf"), 0);
        capture_begin();
        r = config_verify(c);
        *ret_err = capture_end();
        return r;
}

static void test_defaults(void) {
        _cleanup_(config_freep) Config *c = NULL;

        CHECK_INT(config_new(&c), 0);
        CHECK_INT(c->role, ROLE_MANAGER);
        CHECK_STR(c->mount_point, "/var/lib/docker");
        CHECK_STR(c->device, "auto");
        CHECK_INT(c->file_system, FS_EXT4);
        CHECK_STR(c->mount_options, "defaults");
        CHECK_INT(c->attach_timeout_sec, 600);
        /* a new data volume as the stack makes one: 50 GiB gp3, encrypted, the default key */
        CHECK_INT(c->volume_size_gib, 50);
        CHECK_STR(c->volume_type, "gp3");
        CHECK_INT(c->volume_encrypted, true);
        CHECK_STR(c->volume_kms_key_id, "");
        CHECK_STR(c->daemon_config, "/etc/docker/daemon.json");
        CHECK_STR(c->socket, "/run/docker.sock");
        CHECK_STR(c->unit, "docker.service");
        CHECK_STR(c->metadata_endpoint, "http://169.254.169.254");
        CHECK_INT(c->interval_sec, 30);
        CHECK_INT(c->grace_sec, 60);
        CHECK_INT(c->quorum_loss_grace_sec, 120);
        CHECK_INT(c->stable_sec, 30);
        CHECK_INT(c->allow_plain_http, false);
        CHECK_STR(c->launch_template, "");
        CHECK_STR(c->launch_template_version, "$Default");
        CHECK_STR(c->image_id, "");
        CHECK_STR(c->instance_type, "");
        CHECK_INT(strv_length(c->security_group_ids), 0);
        CHECK_STR(c->instance_profile, "");
        CHECK_STR(c->worker_launch_template, "");
        CHECK_STR(c->worker_launch_template_version, "$Default");
        CHECK_STR(c->worker_instance_profile, "");
        CHECK_INT(strv_length(c->subnet_ids), 0);
        CHECK_STR(c->key_name, "");
        CHECK_STR(c->user_data, "");
        CHECK_INT(c->dry_run, false);
        CHECK_INT(c->workers, 0);
        CHECK_INT(c->log_level, LOG_INFO);
        CHECK_INT(strv_length(c->managers), 0);
        CHECK_STR(c->source[CONFIG_VOLUME_MOUNT_POINT], "default");
}

static void test_full_file(void) {
        _cleanup_(config_freep) Config *c = NULL;
        const char *text =
                "# comment\n"
                "; another comment\n"
                "[Cluster]\n"
                "Name = prod-1\n"
                "Role=worker\n"
                "Managers=10.0.1.10, 10.0.2.10,\\\n"
                "   10.0.3.10\n"
                "BootstrapManager=10.0.1.10\n"
                "Workers=5\n"
                "JoinToken=SWMTKN-1-abc-def\n"
                "\n"
                "[Host]\n"
                "InstanceId=i-0123456789abcdef0\n"
                "PrivateIp=10.0.1.10\n"
                "AvailabilityZone=us-east-1a\n"
                "[Volume]\n"
                "Id=vol-0123456789abcdef0\n"
                "Device=/dev/xvdf\n"
                "MountPoint=/srv/docker\n"
                "FileSystem=xfs\n"
                "MountOptions=noatime,nodiratime\n"
                "AttachTimeoutSec=5\n"
                "[Engine]\n"
                "DaemonConfig=/tmp/daemon.json\n"
                "Labels=zone=a, tier=db\n"
                "Socket=/run/d.sock\n"
                "Unit=dockerd.service\n"
                "[AWS]\n"
                "Region=us-east-1\n"
                "Endpoint=http://127.0.0.1:9999\n"
                "MetadataEndpoint=http://127.0.0.1:9999\n"
                "AllowPlainHttp=yes\n"
                "[Launch]\n"
                "Template=lt-0123456789abcdef0\n"
                "TemplateVersion=$Latest\n"
                "ImageId=ami-0123abcd\n"
                "InstanceType=t3.medium\n"
                "SecurityGroupIds=sg-0123456789abcdef0, sg-01234567\n"
                "InstanceProfile=arn:aws:iam::123456789012:instance-profile/sk/manager\n"
                "SubnetIds=subnet-0123456789abcdef0,subnet-89abcdef\n"
                "KeyName=ops key\n"
                "UserData=/etc/swarmkeeper/user-data\n"
                "[Reconcile]\n"
                "IntervalSec=10\n"
                "GraceSec=90\n"
                "QuorumLossGraceSec=40\n"
                "StableSec=45\n"
                "DryRun=yes\n"
                "[Log]\n"
                "Level=debug\n";

        CHECK_INT(config_new(&c), 0);
        CHECK_INT(config_parse_text(c, text, "t.conf"), 0);
        CHECK_STR(c->cluster_name, "prod-1");
        CHECK_INT(c->role, ROLE_WORKER);
        CHECK_INT(strv_length(c->managers), 3);
        CHECK_STR(c->managers[2], "10.0.3.10");
        CHECK_STR(c->source[CONFIG_CLUSTER_MANAGERS], "t.conf:6"); /* continuation: first line */
        CHECK_STR(c->bootstrap_manager, "10.0.1.10");
        CHECK_STR(c->source[CONFIG_CLUSTER_BOOTSTRAP], "t.conf:8");
        CHECK_INT(c->workers, 5);
        CHECK_STR(c->join_token, "SWMTKN-1-abc-def");
        CHECK_STR(c->instance_id, "i-0123456789abcdef0");
        CHECK_STR(c->availability_zone, "us-east-1a");
        CHECK_STR(c->volume_id, "vol-0123456789abcdef0");
        CHECK_STR(c->device, "/dev/xvdf");
        CHECK_STR(c->mount_point, "/srv/docker");
        CHECK_INT(c->file_system, FS_XFS);
        CHECK_STR(c->mount_options, "noatime,nodiratime");
        CHECK_INT(c->attach_timeout_sec, 5);
        CHECK_INT(strv_length(c->labels), 2);
        CHECK_STR(c->labels[1], "tier=db");
        CHECK_STR(c->unit, "dockerd.service");
        CHECK_STR(c->endpoint, "http://127.0.0.1:9999");
        CHECK_INT(c->interval_sec, 10);
        CHECK_INT(c->quorum_loss_grace_sec, 40);
        CHECK_INT(c->grace_sec, 90);
        CHECK_INT(c->stable_sec, 45);
        CHECK_INT(c->allow_plain_http, true);
        CHECK_STR(c->launch_template, "lt-0123456789abcdef0");
        CHECK_STR(c->launch_template_version, "$Latest");
        CHECK_STR(c->image_id, "ami-0123abcd");
        CHECK_STR(c->instance_type, "t3.medium");
        CHECK_INT(strv_length(c->security_group_ids), 2);
        CHECK_STR(c->security_group_ids[1], "sg-01234567");
        CHECK_STR(c->instance_profile, "arn:aws:iam::123456789012:instance-profile/sk/manager");
        CHECK_INT(strv_length(c->subnet_ids), 2);
        CHECK_STR(c->subnet_ids[0], "subnet-0123456789abcdef0");
        CHECK_STR(c->key_name, "ops key");
        CHECK_STR(c->user_data, "/etc/swarmkeeper/user-data");
        CHECK_INT(c->dry_run, true);
        CHECK_INT(c->log_level, LOG_DEBUG);
        CHECK_INT(config_verify(c), 0);
}

/* Every bad value: -EINVAL, and the message names origin:line, the key and why. */
static void test_bad_values(void) {
        static const struct {
                const char *text, *expect;
        } cases[] = {
                { "[Cluster]\nRole=boss\n", "t.conf:2: Cluster.Role=boss must be 'manager' or 'worker'" },
                { "[Cluster]\nName=has space\n", "t.conf:2: Cluster.Name=has space may contain only" },
                { "[Cluster]\nManagers=10.0.0.1,nope\n", "Cluster.Managers=10.0.0.1,nope has an element that is not an IPv4" },
                { "[Cluster]\nManagers=10.0.0.1,10.0.0.1\n", "lists an address twice" },
                { "[Cluster]\nWorkers=-1\n", "t.conf:2: Cluster.Workers=-1 is not a non-negative integer" },
                { "[Cluster]\nWorkers=99999999999\n", "Cluster.Workers=99999999999 is out of range" },
                { "[Cluster]\nBootstrapManager=10.0.0\n", "is not an IPv4 address" },
                { "[Cluster]\nJoinToken=secret-but-wrong\n", "Cluster.JoinToken=(hidden) is not a Swarm join token" },
                { "[Cluster]\nJoinToken=SWMTKN-1-\n", "Cluster.JoinToken=(hidden) is not a Swarm join token" },
                { "[Cluster]\nJoinToken=SWMTKN-1-abc def\n", "Cluster.JoinToken=(hidden) is not a Swarm join token" },
                { "[Host]\nPrivateIp=300.1.1.1\n", "Host.PrivateIp=300.1.1.1 is not an IPv4 address" },
                { "[Host]\nInstanceId=x-123\n", "Host.InstanceId=x-123 is not an EC2 instance id" },
                { "[Volume]\nId=vol-xyz\n", "Volume.Id=vol-xyz is not an EBS volume id" },
                { "[Volume]\nDevice=xvdf\n", "Volume.Device=xvdf must be 'auto' or an absolute device path" },
                { "[Volume]\nMountPoint=var/lib/docker\n", "is not an absolute path" },
                { "[Volume]\nFileSystem=btrfs\n", "Volume.FileSystem=btrfs must be 'ext4' or 'xfs'" },
                { "[Volume]\nMountOptions=\n", "Volume.MountOptions= must not be empty" },
                { "[Volume]\nAttachTimeoutSec=ten\n", "is not a non-negative integer" },
                { "[Engine]\nLabels=novalue\n", "must be a comma separated list of key=value" },
                { "[Engine]\nLabels=swarmkeeper.role=x\n", "must not set labels in the swarmkeeper. namespace" },
                { "[Engine]\nUnit=docker\n", "is not a service unit name" },
                { "[AWS]\nEndpoint=ftp://x\n", "AWS.Endpoint=ftp://x is not an http:// or https:// URL" },
                { "[AWS]\nEndpoint=http://localhost:1@evil.example/\n", "without user information" },
                { "[AWS]\nMetadataEndpoint=http://u:p@127.0.0.1/\n", "without user information" },
                { "[AWS]\nMetadataEndpoint=\n", "is not an http:// or https:// URL" },
                { "[Reconcile]\nIntervalSec=0\n", "Reconcile.IntervalSec=0 must be at least 1" },
                { "[Reconcile]\nDryRun=maybe\n", "Reconcile.DryRun=maybe is not a boolean" },
                { "[Log]\nLevel=loud\n", "Log.Level=loud must be one of" },
                { "[Cluster]\nManagers= , \n", "t.conf:2: Cluster.Managers=, lists no address" },
                { "[Reconcile]\nGraceSec=59\n", "t.conf:2: Reconcile.GraceSec=59 must be at least 60" },
                { "[Reconcile]\nGraceSec=0\n", "Reconcile.GraceSec=0 must be at least 60" },
                { "[Reconcile]\nStableSec=x\n", "Reconcile.StableSec=x is not a non-negative integer" },
                { "[AWS]\nAllowPlainHttp=sometimes\n", "AWS.AllowPlainHttp=sometimes is not a boolean" },
                { "[Launch]\nTemplate=lt-xyz\n", "Launch.Template=lt-xyz is not a launch template id" },
                { "[Launch]\nTemplate=lt-0123\n", "Launch.Template=lt-0123 is not a launch template id (lt- and 8 or 17 hex digits)" },
                { "[Launch]\nTemplate=a b\n", "Launch.Template=a b is neither" },
                { "[Launch]\nTemplate=ab\n", "Launch.Template=ab is neither" },
                { "[Launch]\nTemplateVersion=latest\n", "Launch.TemplateVersion=latest must be $Default, $Latest or a version number" },
                { "[Launch]\nTemplateVersion=0\n", "must be $Default, $Latest or a version number" },
                { "[Launch]\nImageId=ami-12\n", "Launch.ImageId=ami-12 is not an AMI id" },
                { "[Launch]\nImageId=vol-01234567\n", "is not an AMI id" },
                { "[Launch]\nInstanceType=t3\n", "Launch.InstanceType=t3 is not an instance type" },
                { "[Launch]\nInstanceType=T3.Micro\n", "is not an instance type" },
                { "[Launch]\nSecurityGroupIds=sg-01234567,sg-1\n", "Launch.SecurityGroupIds=sg-01234567,sg-1 has an element that is not a security group id" },
                { "[Launch]\nSecurityGroupIds=sg-01234567,sg-01234567\n", "lists an id twice" },
                { "[Launch]\nSecurityGroupIds=,\n", "Launch.SecurityGroupIds=, lists no id" },
                { "[Launch]\nSubnetIds=subnet-0123456g\n", "Launch.SubnetIds=subnet-0123456g has an element that is not a subnet id" },
                { "[Launch]\nSubnetIds=sg-01234567\n", "is not a subnet id" },
                { "[Launch]\nInstanceProfile=has space\n", "Launch.InstanceProfile=has space is neither an instance profile name" },
                { "[Launch]\nInstanceProfile=arn:aws:iam::1234:instance-profile/x\n", "is not an instance profile ARN" },
                { "[Launch]\nInstanceProfile=arn:aws:iam::123456789012:role/x\n", "is not an instance profile ARN" },
                { "[Launch]\nKeyName=tab\there\n", "Launch.KeyName" },
                { "[Launch]\nUserData=relative/path\n", "Launch.UserData=relative/path is not an absolute path" },
                { "[Launch]\nWorkerTemplate=lt-xyz\n", "Launch.WorkerTemplate=lt-xyz is not a launch template id" },
                { "[Launch]\nWorkerTemplateVersion=latest\n", "Launch.WorkerTemplateVersion=latest must be $Default" },
                { "[Launch]\nWorkerInstanceProfile=has space\n", "Launch.WorkerInstanceProfile=has space is neither" },
                { "[Volume]\nSizeGiB=0\n", "t.conf:2: Volume.SizeGiB=0 is out of range (1 to 16384 GiB)" },
                { "[Volume]\nSizeGiB=16385\n", "Volume.SizeGiB=16385 is out of range (1 to 16384 GiB)" },
                { "[Volume]\nSizeGiB=big\n", "Volume.SizeGiB=big is not a non-negative integer" },
                { "[Volume]\nType=gp4\n", "t.conf:2: Volume.Type=gp4 is not an EBS volume type" },
                { "[Volume]\nType=GP3\n", "Volume.Type=GP3 is not an EBS volume type" },
                { "[Volume]\nType=io2\n", "Volume.Type=io2 needs provisioned IOPS" },
                { "[Volume]\nType=io1\n", "Volume.Type=io1 needs provisioned IOPS" },
                { "[Volume]\nEncrypted=perhaps\n", "Volume.Encrypted=perhaps is not a boolean" },
                { "[Volume]\nKmsKeyId=my-key\n", "t.conf:2: Volume.KmsKeyId=my-key is not a KMS key" },
                { "[Volume]\nKmsKeyId=1234abcd-12ab-34cd-56ef-1234567890a\n", "is not a KMS key" },
                { "[Volume]\nKmsKeyId=1234ABCD-12AB-34CD-56EF-1234567890AB\n", "is not a KMS key" },
                { "[Volume]\nKmsKeyId=alias/\n", "Volume.KmsKeyId=alias/ is not a KMS key" },
                { "[Volume]\nKmsKeyId=alias/a b\n", "is not a KMS key" },
                { "[Volume]\nKmsKeyId=arn:aws:iam::123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\n",
                  "is not a KMS key" },
                { "[Volume]\nKmsKeyId=arn:aws:kms:us-east-1:1234:key/1234abcd-12ab-34cd-56ef-1234567890ab\n",
                  "is not a KMS key" },
                { "[Volume]\nKmsKeyId=arn:aws:kms:us-east-1:123456789012:key/nope\n", "is not a KMS key" },
                { "[Cluster\nName=x\n", "t.conf:1: Invalid section header" },
                { "[Cluster]\njust words\n", "t.conf:2: Line is neither" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(freep) char *err = NULL;
                int r;

                CHECK_INT(config_new(&c), 0);
                capture_begin();
                r = config_parse_text(c, cases[i].text, "t.conf");
                err = capture_end();
                CHECK_INT(r, -EINVAL);
                if (!err || !strstr(err, cases[i].expect)) {
                        fprintf(stderr, "case %zu: expected '%s' in: %s\n", i, cases[i].expect, strempty(err));
                        test_failures++;
                }
                /* the join token never shows up in a message */
                CHECK(!err || !strstr(err, "secret-but-wrong"));
        }
}

static void test_unknown_keys_warn(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(freep) char *err = NULL;
        int r;

        CHECK_INT(config_new(&c), 0);
        capture_begin();
        r = config_parse_text(c, "[Cluster]\nNmae=x\n[Bogus]\nA=b\nOrphan=1\n", "t.conf");
        err = capture_end();
        CHECK_INT(r, 0);
        CHECK(err && strstr(err, "warning: t.conf:2: Unknown key Nmae in [Cluster], ignoring."));
        CHECK(err && strstr(err, "t.conf:3: Unknown section [Bogus], ignoring."));
        CHECK_STR(c->cluster_name, "");
}

/* Valid values of the [Launch] keys that the bad-value table does not cover. */
static void test_launch_values(void) {
        static const struct {
                ConfigKeyId id;
                const char *value;
        } ok[] = {
                { CONFIG_LAUNCH_TEMPLATE, "lt-01234567" },
                { CONFIG_LAUNCH_TEMPLATE, "swarm-managers" },
                { CONFIG_LAUNCH_TEMPLATE, "team/sk_(prod).v2" },
                { CONFIG_LAUNCH_TEMPLATE, "" },
                { CONFIG_LAUNCH_TEMPLATE_VERSION, "$Default" },
                { CONFIG_LAUNCH_TEMPLATE_VERSION, "12" },
                { CONFIG_LAUNCH_IMAGE_ID, "ami-0123456789abcdef0" },
                { CONFIG_LAUNCH_INSTANCE_TYPE, "u-6tb1.metal" },
                { CONFIG_LAUNCH_INSTANCE_PROFILE, "sk-manager" },
                { CONFIG_LAUNCH_INSTANCE_PROFILE, "arn:aws-us-gov:iam::123456789012:instance-profile/sk" },
                { CONFIG_LAUNCH_SECURITY_GROUPS, "" },
                { CONFIG_LAUNCH_SUBNETS, " subnet-01234567 , " },
                { CONFIG_LAUNCH_KEY_NAME, "" },
                { CONFIG_LAUNCH_WORKER_TEMPLATE, "sk-workers" },
                { CONFIG_LAUNCH_WORKER_TEMPLATE, "lt-0123456789abcdef0" },
                { CONFIG_LAUNCH_WORKER_TEMPLATE_VERSION, "$Latest" },
                { CONFIG_LAUNCH_WORKER_INSTANCE_PROFILE, "sk-worker" },
                { CONFIG_LAUNCH_WORKER_INSTANCE_PROFILE, "arn:aws:iam::123456789012:instance-profile/team/sk-worker" },
                { CONFIG_VOLUME_SIZE, "1" },
                { CONFIG_VOLUME_SIZE, "16384" },
                { CONFIG_VOLUME_TYPE, "gp2" },
                { CONFIG_VOLUME_TYPE, "standard" },
                { CONFIG_VOLUME_ENCRYPTED, "no" },
                { CONFIG_VOLUME_KMS_KEY_ID, "1234abcd-12ab-34cd-56ef-1234567890ab" },
                { CONFIG_VOLUME_KMS_KEY_ID, "mrk-1234abcd12ab34cd56ef1234567890ab" },
                { CONFIG_VOLUME_KMS_KEY_ID, "alias/aws/ebs" },
                { CONFIG_VOLUME_KMS_KEY_ID, "alias/team_sk-prod" },
                { CONFIG_VOLUME_KMS_KEY_ID, "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" },
                { CONFIG_VOLUME_KMS_KEY_ID, "arn:aws-cn:kms:cn-north-1:123456789012:alias/sk" },
                { CONFIG_VOLUME_KMS_KEY_ID, "" },
        };
        _cleanup_(config_freep) Config *c = NULL;

        CHECK_INT(config_new(&c), 0);
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                int r = config_set_value(c, ok[i].id, ok[i].value, "test");
                if (r != 0)
                        fprintf(stderr, "case %zu: %s=%s refused\n", i, config_key_name(ok[i].id), ok[i].value);
                CHECK_INT(r, 0);
        }
        CHECK_INT(strv_length(c->subnet_ids), 1);
        CHECK_STR(config_key_name(CONFIG_LAUNCH_USER_DATA), "Launch.UserData");
}

/* Warnings that say why, and what launching needs. */
static void test_manager_count_and_launch(void) {
        static const struct {
                const char *text;
                const char *expect;   /* in the output; NULL: no warning at all */
        } cases[] = {
                { "[Cluster]\nManagers=10.0.0.1,10.0.0.2,10.0.0.3\n[Launch]\nTemplate=sk-managers\nSubnetIds=subnet-01234567\n", NULL },
                { "[Cluster]\nManagers=10.0.0.1,10.0.0.2\n[Launch]\nTemplate=sk-managers\nSubnetIds=subnet-01234567\n",
                  "t.conf:2: Cluster.Managers= lists 2 managers: an even count adds no fault tolerance" },
                { "[Cluster]\nManagers=10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.0.0.6,10.0.0.7,10.0.0.8,10.0.0.9\n"
                  "[Launch]\nImageId=ami-01234567\nInstanceType=t3.small\nSubnetIds=subnet-01234567\n",
                  "lists 9 managers: more than 7 slows Raft down" },
                { "[Cluster]\nManagers=10.0.0.1\n",
                  "No launch configuration (Launch.Template= (or Launch.ImageId= and Launch.InstanceType=) and Launch.SubnetIds=)" },
                { "[Cluster]\nManagers=10.0.0.1\n[Launch]\nImageId=ami-01234567\nSubnetIds=subnet-01234567\n",
                  "No launch configuration (Launch.InstanceType= (or Launch.Template=))" },
                { "[Cluster]\nManagers=10.0.0.1\n[Launch]\nTemplate=sk-managers\n", "No launch configuration (Launch.SubnetIds=)" },
                /* a worker never launches: no warning; no managers listed: nothing to warn about */
                { "[Cluster]\nRole=worker\nManagers=10.0.0.1\n", NULL },
                { "[Cluster]\nName=x\n", NULL },
                { "[Cluster]\nManagers=10.0.0.1\n[Launch]\nTemplate=sk-managers\nSubnetIds=subnet-01234567\nTemplateVersion=3\n", NULL },
                { "[Cluster]\nManagers=10.0.0.1\n[Launch]\nImageId=ami-01234567\nInstanceType=t3.small\nSubnetIds=subnet-01234567\nTemplateVersion=3\n",
                  "t.conf:7: Launch.TemplateVersion= without Launch.Template=, ignoring." },
                /* workers: only the managers' template set, workers wanted: none is launched */
                { "[Cluster]\nManagers=10.0.0.1\nWorkers=2\n[Launch]\nTemplate=sk-managers\nSubnetIds=subnet-01234567\n",
                  "t.conf:3: Cluster.Workers=2 but no launch configuration for workers (Launch.WorkerTemplate= (or "
                  "Launch.ImageId= and Launch.InstanceType=)" },
                { "[Cluster]\nManagers=10.0.0.1\nWorkers=2\n[Launch]\nTemplate=sk-managers\nImageId=ami-01234567\n"
                  "SubnetIds=subnet-01234567\n",
                  "Cluster.Workers=2 but no launch configuration for workers (Launch.InstanceType= (or Launch.WorkerTemplate=);" },
                { "[Cluster]\nManagers=10.0.0.1\nWorkers=2\n[Launch]\nTemplate=sk-managers\nWorkerTemplate=sk-workers\n"
                  "SubnetIds=subnet-01234567\n", NULL },
                { "[Cluster]\nManagers=10.0.0.1\nWorkers=2\n[Launch]\nTemplate=sk-managers\nImageId=ami-01234567\n"
                  "InstanceType=t3.small\nSubnetIds=subnet-01234567\n", NULL },
                { "[Cluster]\nManagers=10.0.0.1\n[Launch]\nTemplate=sk-managers\nSubnetIds=subnet-01234567\n", NULL },
                { "[Cluster]\nManagers=10.0.0.1\n[Launch]\nTemplate=sk-managers\nSubnetIds=subnet-01234567\n"
                  "WorkerTemplateVersion=4\n",
                  "t.conf:6: Launch.WorkerTemplateVersion= without Launch.WorkerTemplate=, ignoring." },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(freep) char *err = NULL;
                int r = verify_text(cases[i].text, &err);

                CHECK_INT(r, 0); /* warnings only */
                if (cases[i].expect ? !err || !strstr(err, cases[i].expect) : !err || *err) {
                        fprintf(stderr, "case %zu: expected '%s' in: %s\n", i, strempty(cases[i].expect), strempty(err));
                        test_failures++;
                }
        }
}

static void test_verify_launch(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(freep) char *e1 = NULL, *e2 = NULL, *e3 = NULL;

        CHECK_INT(config_new(&c), 0);
        capture_begin();
        CHECK_INT(config_verify_launch(c), -EINVAL);
        e1 = capture_end();
        CHECK(e1 && strstr(e1, "default: Cluster.Managers= lists no manager: refusing to launch."));

        CHECK_INT(config_set(c, "Cluster.Managers=10.0.0.1"), 0);
        CHECK_INT(config_set(c, "Launch.ImageId=ami-01234567"), 0);
        capture_begin();
        CHECK_INT(config_verify_launch(c), -EINVAL);
        e2 = capture_end();
        CHECK(e2 && strstr(e2, "Launch configuration incomplete: Launch.InstanceType= (or Launch.Template=) and Launch.SubnetIds= must be set"));

        CHECK_INT(config_set(c, "Launch.InstanceType=m5.large"), 0);
        CHECK_INT(config_set(c, "Launch.Template=lt-01234567"), 0);
        CHECK_INT(config_set(c, "Launch.ImageId="), 0);
        capture_begin();
        CHECK_INT(config_verify_launch(c), -EINVAL);
        e3 = capture_end();
        CHECK(e3 && strstr(e3, "Launch configuration incomplete: Launch.SubnetIds= must be set"));

        CHECK_INT(config_set(c, "Launch.SubnetIds=subnet-01234567"), 0);
        CHECK_INT(config_verify_launch(c), 0);
}

/* Launch.UserData is checked when the configuration is loaded, on managers only. */
static void test_user_data(void) {
        char dir[] = "/tmp/test-config-ud-XXXXXX", ud[300], big[300], set[400], cmd[400];
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        FILE *f;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(ud, sizeof(ud), "%s/user-data", dir);
        snprintf(big, sizeof(big), "%s/big", dir);
        f = fopen(ud, "we");
        fputs("#cloud-config\n", f);
        fclose(f);
        f = fopen(big, "we");
        for (unsigned i = 0; i < CONFIG_USER_DATA_MAX + 1; i++)
                fputc('x', f);
        fclose(f);

        {
                _cleanup_(config_freep) Config *c = NULL;
                snprintf(set, sizeof(set), "Launch.UserData=%s", ud);
                char *sets[] = { set, NULL };
                CHECK_INT(config_load(&c, "/dev/null", "/nonexistent", sets), 0);
                CHECK_INT(config_read_user_data(c, &text, &size), 0);
                CHECK_STR(text, "#cloud-config\n");
                CHECK_INT(size, 14);
        }
        static const struct {
                const char *file, *why;
        } bad[] = {
                { "missing", "cannot be read: No such file or directory" },
                { "big", "is larger than 16384 bytes" },
                { "", "is not a regular file" }, /* the directory itself */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(freep) char *err = NULL;
                char expect[600];
                snprintf(set, sizeof(set), "Launch.UserData=%s%s%s", dir, *bad[i].file ? "/" : "", bad[i].file);
                char *sets[] = { set, NULL };
                capture_begin();
                CHECK_INT(config_load(&c, "/dev/null", "/nonexistent", sets), -EINVAL);
                err = capture_end();
                CHECK(c == NULL);
                snprintf(expect, sizeof(expect), "--set: %s %s", set, bad[i].why);
                if (!err || !strstr(err, expect)) {
                        fprintf(stderr, "user data case %zu: expected '%s' in: %s\n", i, expect, strempty(err));
                        test_failures++;
                }
        }
        /* a worker never launches: its UserData is not read */
        {
                _cleanup_(config_freep) Config *c = NULL;
                snprintf(set, sizeof(set), "Launch.UserData=%s/missing", dir);
                char *sets[] = { set, (char *) "Cluster.Role=worker", NULL };
                CHECK_INT(config_load(&c, "/dev/null", "/nonexistent", sets), 0);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK_INT(system(cmd), 0);
}

static void test_cross_checks(void) {
        _cleanup_(config_freep) Config *c = NULL, *d = NULL;
        _cleanup_(freep) char *err = NULL;

        CHECK_INT(config_new(&c), 0);
        CHECK_INT(config_parse_text(c, "[Cluster]\nManagers=10.0.0.1,10.0.0.2\nBootstrapManager=10.0.0.3\n", "t.conf"), 0);
        capture_begin();
        CHECK_INT(config_verify(c), -EINVAL);
        err = capture_end();
        CHECK(err && strstr(err, "t.conf:3: Cluster.BootstrapManager=10.0.0.3 is not one of Cluster.Managers= (t.conf:2)"));

        CHECK_INT(config_new(&d), 0);
        CHECK_INT(config_parse_text(d, "[Cluster]\nManagers=10.0.0.1\n[Host]\nPrivateIp=10.0.0.9\n", "t.conf"), 0);
        capture_begin();
        CHECK_INT(config_verify(d), -EINVAL);
        free(capture_end());
        CHECK_INT(config_set(d, "Cluster.Role=worker"), 0);
        CHECK_INT(config_verify(d), 0); /* a worker's IP need not be a manager's */
}

/* Errors across keys of [Volume] and [Launch]: each names its keys and where they came from. */
static void test_volume_and_worker_checks(void) {
        static const struct {
                const char *text, *expect; /* expect NULL: valid */
        } cases[] = {
                { "[Volume]\nType=st1\nSizeGiB=100\n",
                  "t.conf:3: Volume.SizeGiB=100 is out of range for Volume.Type=st1 (t.conf:2): EC2 makes st1 volumes of 125 to 16384 GiB." },
                { "[Volume]\nType=sc1\n", "default: Volume.SizeGiB=50 is out of range for Volume.Type=sc1" },
                { "[Volume]\nType=standard\nSizeGiB=2000\n", "Volume.SizeGiB=2000 is out of range for Volume.Type=standard" },
                { "[Volume]\nType=st1\nSizeGiB=125\n", NULL },
                { "[Volume]\nType=gp2\nSizeGiB=16384\n", NULL },
                { "[Volume]\nEncrypted=no\nKmsKeyId=alias/sk\n",
                  "t.conf:3: Volume.KmsKeyId= is set but Volume.Encrypted=no (t.conf:2)" },
                { "[Volume]\nEncrypted=no\n", NULL },
                { "[Volume]\nKmsKeyId=alias/sk\n", NULL },
                { "[Launch]\nTemplate=sk-managers\nWorkerTemplate=sk-managers\n",
                  "t.conf:3: Launch.WorkerTemplate=sk-managers is the managers' Launch.Template= (t.conf:2)" },
                { "[Launch]\nInstanceProfile=sk-manager\nWorkerInstanceProfile=sk-manager\n",
                  "t.conf:3: Launch.WorkerInstanceProfile=sk-manager is the managers' Launch.InstanceProfile= (t.conf:2)" },
                { "[Launch]\nInstanceProfile=arn:aws:iam::123456789012:instance-profile/sk-manager\n"
                  "WorkerInstanceProfile=sk-manager\n",
                  "Launch.WorkerInstanceProfile=sk-manager is the managers' Launch.InstanceProfile=" },
                { "[Launch]\nInstanceProfile=sk-manager\nWorkerInstanceProfile=sk-worker\n", NULL },
                { "[Launch]\nTemplate=sk-managers\nWorkerTemplate=sk-workers\n", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(freep) char *err = NULL;
                int r = verify_text(cases[i].text, &err);

                CHECK_INT(r, cases[i].expect ? -EINVAL : 0);
                if (cases[i].expect && (!err || !strstr(err, cases[i].expect))) {
                        fprintf(stderr, "case %zu: expected '%s' in: %s\n", i, cases[i].expect, strempty(err));
                        test_failures++;
                }
        }
}

/* "Launching is configured": one definition, per role (the reconciler asks the same). */
static void test_launch_configured(void) {
        static const struct {
                const char *text;
                bool manager, worker;
        } cases[] = {
                { "", false, false },
                { "[Launch]\nSubnetIds=subnet-01234567\n", false, false },
                /* ImageId without InstanceType launches nothing, in either role */
                { "[Launch]\nImageId=ami-01234567\nSubnetIds=subnet-01234567\n", false, false },
                { "[Launch]\nImageId=ami-01234567\nInstanceType=t3.small\n", false, false },
                { "[Launch]\nImageId=ami-01234567\nInstanceType=t3.small\nSubnetIds=subnet-01234567\n", true, true },
                /* the managers' template is never a worker's */
                { "[Launch]\nTemplate=sk-managers\nSubnetIds=subnet-01234567\n", true, false },
                { "[Launch]\nTemplate=sk-managers\nImageId=ami-01234567\nSubnetIds=subnet-01234567\n", true, false },
                { "[Launch]\nWorkerTemplate=sk-workers\nSubnetIds=subnet-01234567\n", false, true },
                { "[Launch]\nTemplate=sk-managers\nWorkerTemplate=sk-workers\nSubnetIds=subnet-01234567\n", true, true },
        };

        /* Each row with Cluster.Managers=, and without: no seat, nothing is launched. */
        for (size_t i = 0; i < 2 * ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(freep) char *text = NULL;
                bool seats = i < ELEMENTSOF(cases);
                size_t k = i % ELEMENTSOF(cases);
                bool manager = seats && cases[k].manager, worker = seats && cases[k].worker;

                CHECK(asprintf(&text, "%s%s", seats ? "[Cluster]\nManagers=10.0.1.10\n" : "", cases[k].text) >= 0);
                CHECK_INT(config_new(&c), 0);
                CHECK_INT(config_parse_text(c, text, "t.conf"), 0);
                if (config_launch_configured(c, ROLE_MANAGER) != manager ||
                    config_launch_configured(c, ROLE_WORKER) != worker) {
                        fprintf(stderr, "case %zu%s: expected manager=%d worker=%d\n", k,
                                seats ? "" : " without Cluster.Managers", manager, worker);
                        test_failures++;
                }
                CHECK_INT(streq(config_launch_missing(c, ROLE_MANAGER), "nothing"), manager);
                CHECK_INT(streq(config_launch_missing(c, ROLE_WORKER), "nothing"), worker);
                if (!seats)
                        CHECK_STR(config_launch_missing(c, ROLE_MANAGER), "Cluster.Managers=");
        }
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        fputs(text, f);
        fclose(f);
}

static void test_load_order(void) {
        _cleanup_(config_freep) Config *c = NULL;
        char dir[] = "/tmp/test-config-XXXXXX", main_path[256], dropins[256], p[300];
        char *sets[] = { (char *) "Reconcile.GraceSec=99", (char *) "Bogus.Key=1", NULL };
        _cleanup_(freep) char *dump = NULL;
        size_t dump_size = 0;
        FILE *f;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(main_path, sizeof(main_path), "%s/swarmkeeper.conf", dir);
        snprintf(dropins, sizeof(dropins), "%s/swarmkeeper.conf.d", dir);
        mkdir(dropins, 0755);
        write_text(main_path, "[Cluster]\nName=base\nJoinToken=SWMTKN-1-topsecret\n[Reconcile]\nGraceSec=61\nIntervalSec=7\n");
        CHECK_INT(chmod(main_path, 0600), 0); /* it holds a token */
        snprintf(p, sizeof(p), "%s/20-b.conf", dropins);
        write_text(p, "[Cluster]\nName=from-b\n");
        snprintf(p, sizeof(p), "%s/10-a.conf", dropins);
        write_text(p, "[Cluster]\nName=from-a\n[Reconcile]\nIntervalSec=8\n");
        snprintf(p, sizeof(p), "%s/30-ignored.txt", dropins);
        write_text(p, "[Cluster]\nName=not-a-conf\n");

        capture_begin();
        CHECK_INT(config_load(&c, main_path, dropins, sets), 0);
        free(capture_end());
        CHECK_STR(c->cluster_name, "from-b"); /* lexical order, later wins */
        CHECK_INT(c->interval_sec, 8);
        CHECK_INT(c->grace_sec, 99); /* --set wins over all */
        CHECK_STR(c->source[CONFIG_RECONCILE_GRACE], "--set");
        snprintf(p, sizeof(p), "%s/20-b.conf:2", dropins);
        CHECK_STR(c->source[CONFIG_CLUSTER_NAME], p);
        CHECK_INT(strv_length(c->files), 3);

        /* config dump: sources shown, secret hidden */
        f = open_memstream(&dump, &dump_size);
        config_dump(c, f);
        fclose(f);
        CHECK(strstr(dump, "Name=from-b") != NULL);
        CHECK(strstr(dump, "(set, hidden)") != NULL);
        CHECK(strstr(dump, "topsecret") == NULL);
        CHECK(strstr(dump, "# --set") != NULL);

        /* a bad drop-in: -EINVAL */
        snprintf(p, sizeof(p), "%s/40-bad.conf", dropins);
        write_text(p, "[Volume]\nFileSystem=ntfs\n");
        {
                _cleanup_(config_freep) Config *bad = NULL;
                _cleanup_(freep) char *err = NULL;
                capture_begin();
                CHECK_INT(config_load(&bad, main_path, dropins, NULL), -EINVAL);
                err = capture_end();
                CHECK(err && strstr(err, "40-bad.conf:2: Volume.FileSystem=ntfs"));
                CHECK(bad == NULL);
        }
        /* --config given but missing: -EINVAL naming the file */
        {
                _cleanup_(config_freep) Config *bad = NULL;
                _cleanup_(freep) char *err = NULL;
                capture_begin();
                CHECK_INT(config_load(&bad, "/nonexistent/sk.conf", dropins, NULL), -EINVAL);
                err = capture_end();
                CHECK(err && strstr(err, "/nonexistent/sk.conf"));
        }
        /* --set malformed */
        {
                _cleanup_(config_freep) Config *bad = NULL;
                char *badset[] = { (char *) "ClusterName=x", NULL };
                capture_begin();
                CHECK_INT(config_load(&bad, "/dev/null", "/nonexistent", badset), -EINVAL);
                free(capture_end());
        }
        snprintf(p, sizeof(p), "rm -rf '%s'", dir);
        CHECK_INT(system(p), 0);
}

/* Run fn with stderr captured; the text it wrote. */
#define CAPTURE(stmt)                      \
        ({                                 \
                capture_begin();           \
                stmt;                      \
                capture_end();             \
        })

/* Issue 10: no error or warning ever echoes a secret value, whatever the mistake. */
static void test_secrets_never_echoed(void) {
        static const char *const texts[] = {
                "[Cluster] JoinToken=SWMTKN-1-leaka\n",               /* bad section header */
                "[Cluster]JoinToken=SWMTKN-1-leakb\n",
                "[SWMTKN-1-leakc]\nA=b\n",                            /* unknown section */
                "[Cluster]\nJoinToken SWMTKN-1-leakd=x\n",            /* unknown key */
                "[Cluster]\nJoinToken: SWMTKN-1-leake\n",             /* neither key=value nor comment */
                "SWMTKN-1-leakf=x\n",                                 /* key outside a section */
                "[Cluster]\nRole=SWMTKN-1-leakg\n",                   /* bad value of a plain key */
                "[Cluster]\nJoinToken=xx\\\n  SWMTKN-1-leakh\n",      /* continuation into a bad token */
                "[Cluster]\nJoinToken=SWMTKN-1-leaki\nManagers=SWMTKN-1-leaki\n",
                "[Host]\nPrivateIp=swmtkn-1-leakj\n",
        };
        static const char *const sets[] = {
                "JoinToken=SWMTKN-1-leak1",           /* no section */
                "SWMTKN-1-leak2",                     /* no key at all */
                "=SWMTKN-1-leak3",
                "Cluster.JoinToken SWMTKN-1-leak4",   /* no '=' */
                "Cluster.Jointoken=SWMTKN-1-leak5",   /* unknown key */
                "Cluster.JoinToken=bad-leak6",        /* bad token */
                "Cluster.Role=SWMTKN-1-leak7",        /* a token as another key's value */
                "SWMTKN-1-leak8.x=y",
        };

        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(freep) char *err = NULL, *dump = NULL;
                size_t dump_size = 0;
                FILE *f;

                CHECK_INT(config_new(&c), 0);
                err = CAPTURE((void) config_parse_text(c, texts[i], "t.conf"));
                CHECK(err && *err); /* each mistake is reported */
                f = open_memstream(&dump, &dump_size);
                config_dump(c, f);
                fclose(f);
                if (!err || strcasestr(err, "leak") || strcasestr(dump, "leak")) {
                        fprintf(stderr, "text %zu leaks a secret: %s%s\n", i, strempty(err), dump);
                        test_failures++;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(sets); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(freep) char *err = NULL;

                CHECK_INT(config_new(&c), 0);
                err = CAPTURE((void) config_set(c, sets[i]));
                CHECK(err && *err);
                if (!err || strcasestr(err, "leak")) {
                        fprintf(stderr, "--set %zu leaks a secret: %s\n", i, strempty(err));
                        test_failures++;
                }
        }
        /* what is safe to show is still shown */
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(freep) char *err = NULL;
                CHECK_INT(config_new(&c), 0);
                err = CAPTURE((void) config_set(c, "ClusterName=x"));
                CHECK(err && strstr(err, "--set ClusterName=…: expected Section.Key=value."));
        }
}

/* Issue 10: a file holding JoinToken that others can read is refused, naming file and mode. */
static void test_secret_file_mode(void) {
        static const struct {
                const char *text;
                mode_t mode;
                bool ok;
        } cases[] = {
                { "[Cluster]\nJoinToken=SWMTKN-1-abc\n", 0600, true },
                { "[Cluster]\nJoinToken=SWMTKN-1-abc\n", 0400, true },
                { "[Cluster]\nJoinToken=SWMTKN-1-abc\n", 0644, false },
                { "[Cluster]\nJoinToken=SWMTKN-1-abc\n", 0640, false },
                { "[Cluster]\nJoinToken=SWMTKN-1-abc\n", 0604, false },
                { "[Cluster]\nJoinToken=SWMTKN-1-abc\n", 0620, false },
                { "[Cluster]\nJoinToken=\n", 0644, true },   /* holds no secret */
                { "[Cluster]\nName=x\n", 0644, true },
        };
        char dir[] = "/tmp/test-config-mode-XXXXXX", path[300], dropins[300], cmd[400];

        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/sk.conf", dir);
        snprintf(dropins, sizeof(dropins), "%s/conf.d", dir);
        CHECK_INT(mkdir(dropins, 0755), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(freep) char *err = NULL;
                char expect[400];
                int r;

                write_text(path, cases[i].text);
                CHECK_INT(chmod(path, cases[i].mode), 0);
                err = CAPTURE(r = config_load(&c, path, "/nonexistent", NULL));
                CHECK_INT(r, cases[i].ok ? 0 : -EINVAL);
                snprintf(expect, sizeof(expect), "%s: holds Cluster.JoinToken but has mode %04o", path,
                         (unsigned) cases[i].mode);
                if (!cases[i].ok && (!err || !strstr(err, expect))) {
                        fprintf(stderr, "mode case %zu: expected '%s' in: %s\n", i, expect, strempty(err));
                        test_failures++;
                }
                CHECK(!err || !strstr(err, "SWMTKN-1-abc"));
        }
        /* a drop-in too */
        {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(freep) char *err = NULL;
                char p[400];
                int r;
                snprintf(p, sizeof(p), "%s/50-token.conf", dropins);
                write_text(p, "[Cluster]\nJoinToken=SWMTKN-1-abc\n");
                CHECK_INT(chmod(p, 0644), 0);
                err = CAPTURE(r = config_load(&c, "/dev/null", dropins, NULL));
                CHECK_INT(r, -EINVAL);
                CHECK(err && strstr(err, "50-token.conf: holds Cluster.JoinToken but has mode 0644"));
                CHECK_INT(chmod(p, 0600), 0);
                config_free(TAKE_PTR(c));
                CHECK_INT(config_load(&c, "/dev/null", dropins, NULL), 0);
        }
        /* owned by someone else (only root can make such a file) */
        if (geteuid() == 0) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(freep) char *err = NULL;
                int r;
                write_text(path, "[Cluster]\nJoinToken=SWMTKN-1-abc\n");
                CHECK_INT(chmod(path, 0600), 0);
                CHECK_INT(chown(path, 4242, 4242), 0);
                err = CAPTURE(r = config_load(&c, path, "/nonexistent", NULL));
                CHECK_INT(r, -EINVAL);
                CHECK(err && strstr(err, "has mode 0600, owner uid 4242"));
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK_INT(system(cmd), 0);
}

/* Issue 10: a NUL byte is an error naming file:line, not the end of the file. */
static void test_nul_byte(void) {
        static const char text[] = "[Cluster]\nName=a\n\0[Volume]\nFileSystem=btrfs\n";
        char path[] = "/tmp/test-config-nul-XXXXXX";
        _cleanup_(config_freep) Config *c = NULL, *d = NULL;
        _cleanup_(freep) char *err = NULL, *err2 = NULL, *expect = NULL;
        int fd, r;

        fd = mkstemp(path);
        CHECK(fd >= 0);
        CHECK_INT(write(fd, text, sizeof(text) - 1), (ssize_t) sizeof(text) - 1);
        close(fd);
        err = CAPTURE(r = config_load(&c, path, "/nonexistent", NULL));
        CHECK_INT(r, -EINVAL);
        CHECK(asprintf(&expect, "%s:3: Contains a NUL byte", path) > 0);
        CHECK(err && strstr(err, expect));
        CHECK(c == NULL);
        unlink(path);

        CHECK_INT(config_new(&d), 0);
        err2 = CAPTURE(r = config_parse_buffer(d, "x\n\n\n\0", 4 + 1, "b.conf"));
        CHECK_INT(r, -EINVAL);
        CHECK(err2 && strstr(err2, "b.conf:4: Contains a NUL byte"));
}

/* Issue 10: the configuration keeps one copy of a secret, and wipes it on request. */
static void test_secret_copies(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(freep) char *dump = NULL;
        size_t dump_size = 0;
        FILE *f;

        CHECK_INT(config_new(&c), 0);
        CHECK_INT(config_set(c, "Cluster.JoinToken=SWMTKN-1-onlyonce"), 0);
        CHECK_STR(c->join_token, "SWMTKN-1-onlyonce");
        CHECK(c->raw[CONFIG_CLUSTER_JOIN_TOKEN] && !strstr(c->raw[CONFIG_CLUSTER_JOIN_TOKEN], "onlyonce"));
        for (size_t i = 0; i < _CONFIG_KEY_MAX; i++)
                CHECK(!c->raw[i] || !strstr(c->raw[i], "onlyonce"));

        CHECK_INT(config_erase_secret(c, CONFIG_CLUSTER_JOIN_TOKEN), 0);
        CHECK_STR(c->join_token, "");
        CHECK_STR(c->source[CONFIG_CLUSTER_JOIN_TOKEN], "erased after use");
        CHECK_INT(config_erase_secret(c, CONFIG_CLUSTER_NAME), -EINVAL);
        f = open_memstream(&dump, &dump_size);
        config_dump(c, f);
        fclose(f);
        CHECK(strstr(dump, "JoinToken=(erased after use)") != NULL);
        CHECK(strstr(dump, "onlyonce") == NULL);
}

/* The parser is linear (scripts/bench-config-parse.sh times it); here: large inputs
 * parse correctly, with continuation chains and whitespace runs. */
static void test_large_input(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(freep) char *text = NULL;
        size_t n = 0, cap = 700 * 1024;
        char *p;

        text = p = malloc(cap);
        CHECK(text != NULL);
        if (!text)
                return;
        memset(p, ' ', 200 * 1024);
        p += 200 * 1024;
        p = stpcpy(p, "\n[Cluster]\nManagers=10.0.0.1");
        for (unsigned i = 0; i < 20000; i++)
                p = stpcpy(p, " \\\n   ");
        p = stpcpy(p, ",10.0.0.2,10.0.0.3\n");
        memset(p, '\t', 100 * 1024);
        p += 100 * 1024;
        p = stpcpy(p, "Name=big");
        memset(p, ' ', 100 * 1024);
        p += 100 * 1024;
        *p = 0;
        n = (size_t) (p - text);
        CHECK(n < cap);
        CHECK_INT(config_new(&c), 0);
        CHECK_INT(config_parse_buffer(c, text, n, "big.conf"), 0);
        CHECK_INT(strv_length(c->managers), 3);
        CHECK_STR(c->managers[2], "10.0.0.3");
        CHECK_STR(c->source[CONFIG_CLUSTER_MANAGERS], "big.conf:3");
        CHECK_STR(c->cluster_name, "big");
}

int main(void) {
        test_defaults();
        test_full_file();
        test_bad_values();
        test_unknown_keys_warn();
        test_cross_checks();
        test_volume_and_worker_checks();
        test_launch_configured();
        test_launch_values();
        test_manager_count_and_launch();
        test_verify_launch();
        test_user_data();
        test_secrets_never_echoed();
        test_secret_file_mode();
        test_nul_byte();
        test_secret_copies();
        test_large_input();
        test_load_order();
        return test_done("test-config");
}
