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

static void test_defaults(void) {
        _cleanup_(config_freep) Config *c = NULL;

        CHECK_INT(config_new(&c), 0);
        CHECK_INT(c->role, ROLE_MANAGER);
        CHECK_STR(c->mount_point, "/var/lib/docker");
        CHECK_STR(c->device, "auto");
        CHECK_INT(c->file_system, FS_EXT4);
        CHECK_STR(c->mount_options, "defaults");
        CHECK_INT(c->attach_timeout_sec, 600);
        CHECK_STR(c->daemon_config, "/etc/docker/daemon.json");
        CHECK_STR(c->socket, "/run/docker.sock");
        CHECK_STR(c->unit, "docker.service");
        CHECK_STR(c->metadata_endpoint, "http://169.254.169.254");
        CHECK_INT(c->interval_sec, 30);
        CHECK_INT(c->grace_sec, 60);
        CHECK_INT(c->quorum_loss_grace_sec, 120);
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
                "[Reconcile]\n"
                "IntervalSec=10\n"
                "GraceSec=20\n"
                "QuorumLossGraceSec=40\n"
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
                { "[AWS]\nMetadataEndpoint=\n", "is not an http:// or https:// URL" },
                { "[Reconcile]\nIntervalSec=0\n", "Reconcile.IntervalSec=0 must be at least 1" },
                { "[Reconcile]\nDryRun=maybe\n", "Reconcile.DryRun=maybe is not a boolean" },
                { "[Log]\nLevel=loud\n", "Log.Level=loud must be one of" },
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
        write_text(main_path, "[Cluster]\nName=base\nJoinToken=SWMTKN-1-topsecret\n[Reconcile]\nGraceSec=10\nIntervalSec=7\n");
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

int main(void) {
        test_defaults();
        test_full_file();
        test_bad_values();
        test_unknown_keys_warn();
        test_cross_checks();
        test_load_order();
        return test_done("test-config");
}
