/* SPDX-License-Identifier: MIT */
#include <json-c/json.h>
#include <sys/stat.h>

#include "config.h"
#include "engine.h"
#include "test.h"

static char *const ours[] = { (char *) "swarmkeeper.cluster=prod", (char *) "swarmkeeper.logical-id=10.0.1.10",
                              NULL };

static void test_merge_new_file(void) {
        _cleanup_(freep) char *out = NULL;
        CHECK_INT(engine_labels_merge(NULL, ours, NULL, &out), 0);
        CHECK(out && strstr(out, "\"swarmkeeper.cluster=prod\""));
        CHECK(out && strstr(out, "\"swarmkeeper.logical-id=10.0.1.10\""));
}

static void test_merge_keeps_foreign(void) {
        const char *in = "{ \"log-driver\": \"journald\", \"storage-driver\": \"overlay2\",\n"
                         "  \"labels\": [\"rack=r1\", \"swarmkeeper.cluster=old\"],\n"
                         "  \"default-ulimits\": { \"nofile\": { \"Name\": \"nofile\", \"Hard\": 64000, \"Soft\": 64000 } } }";
        _cleanup_(freep) char *out = NULL, *again = NULL;
        json_object *root, *labels;

        CHECK_INT(engine_labels_merge(in, ours, NULL, &out), 0);
        CHECK(out != NULL);
        if (!out)
                return;
        root = json_tokener_parse(out);
        CHECK(root != NULL);
        CHECK_STR(json_object_get_string(json_object_object_get(root, "log-driver")), "journald");
        CHECK_STR(json_object_get_string(json_object_object_get(root, "storage-driver")), "overlay2");
        CHECK(json_object_object_get(root, "default-ulimits") != NULL);
        labels = json_object_object_get(root, "labels");
        CHECK_INT(json_object_array_length(labels), 3);
        CHECK_STR(json_object_get_string(json_object_array_get_idx(labels, 0)), "rack=r1");
        /* replaced in place, not duplicated */
        CHECK_STR(json_object_get_string(json_object_array_get_idx(labels, 1)), "swarmkeeper.cluster=prod");
        CHECK_STR(json_object_get_string(json_object_array_get_idx(labels, 2)), "swarmkeeper.logical-id=10.0.1.10");
        json_object_put(root);

        /* idempotent: a second merge changes nothing */
        CHECK_INT(engine_labels_merge(out, ours, NULL, &again), 0);
        CHECK(again == NULL);
}

static void test_merge_rejects(void) {
        static const char *const bad[] = {
                "{ \"labels\": ", "[1,2]", "{\"labels\": \"a=b\"}", "{\"labels\": [1]}", "not json",
                "{} trailing", "{\"a\":1,}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *out = (char *) 0x1;
                int r = engine_labels_merge(bad[i], ours, NULL, &out);
                if (r != -EBADMSG) {
                        fprintf(stderr, "input %zu (%s): got %d\n", i, bad[i], r);
                        test_failures++;
                }
                CHECK(out == (char *) 0x1); /* untouched on failure */
        }
        /* "{}" works */
        _cleanup_(freep) char *o1 = NULL;
        CHECK_INT(engine_labels_merge("{}\n", ours, NULL, &o1), 0);
        CHECK(o1 != NULL);
        /* a whitespace-only file (one newline, spaces, CRLF) counts as no file: the same
         * output as NULL and "" (json-c alone says "unexpected end of data" for these) */
        _cleanup_(freep) char *o_none = NULL;
        CHECK_INT(engine_labels_merge(NULL, ours, NULL, &o_none), 0);
        CHECK(o_none != NULL);
        const char *blank[] = { "", "\n", "  \n\t \r\n", " " };
        for (size_t i = 0; i < ELEMENTSOF(blank); i++) {
                _cleanup_(freep) char *ob = NULL;
                CHECK_INT(engine_labels_merge(blank[i], ours, NULL, &ob), 0);
                CHECK_STR(ob, o_none);
        }
}

static void test_write_labels(void) {
        _cleanup_(config_freep) Config *c = NULL;
        char dir[] = "/tmp/test-engine-XXXXXX", path[256], cmd[300];
        _cleanup_(freep) char *text = NULL;
        struct stat st, st2;
        FILE *f;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/etc/docker/daemon.json", dir);
        CHECK_INT(config_new(&c), 0);
        CHECK_INT(config_set(c, "Cluster.Name=prod"), 0);
        CHECK_INT(config_set(c, "Host.PrivateIp=10.0.1.10"), 0);
        CHECK_INT(config_set(c, "Host.InstanceId=i-0123456789abcdef0"), 0);
        CHECK_INT(config_set(c, "Engine.Labels=zone=a"), 0);
        CHECK_INT(config_set_value(c, CONFIG_ENGINE_DAEMON_CONFIG, path, "test"), 0);

        /* missing file and directory: created */
        CHECK_INT(engine_write_labels(c, false), 1);
        CHECK_INT(read_full_file(path, &text, NULL), 0);
        CHECK(strstr(text, "swarmkeeper.role=manager") && strstr(text, "swarmkeeper.instance-id=i-0123456789abcdef0") &&
              strstr(text, "\"zone=a\""));
        CHECK_INT(stat(path, &st), 0);
        CHECK_INT(st.st_mode & 07777, 0644);
        /* dry run: reports, writes nothing */
        CHECK_INT(config_set(c, "Engine.Labels=zone=b"), 0);
        CHECK_INT(engine_write_labels(c, true), 1);
        CHECK_INT(config_set(c, "Engine.Labels=zone=a"), 0);
        CHECK_INT(engine_write_labels(c, true), 0);
        /* second run: unchanged, not rewritten */
        CHECK_INT(engine_write_labels(c, false), 0);
        CHECK_INT(stat(path, &st2), 0);
        CHECK_INT(st.st_ino, st2.st_ino);

        /* existing file with mode 0600 and a foreign key: mode kept */
        f = fopen(path, "we");
        fputs("{\"debug\": true}\n", f);
        fclose(f);
        chmod(path, 0600);
        CHECK_INT(engine_write_labels(c, false), 1);
        CHECK_INT(stat(path, &st), 0);
        CHECK_INT(st.st_mode & 07777, 0600);
        free(text);
        text = NULL;
        CHECK_INT(read_full_file(path, &text, NULL), 0);
        CHECK(strstr(text, "\"debug\": true") != NULL);

        /* invalid JSON: -EBADMSG and the file is left byte for byte */
        f = fopen(path, "we");
        fputs("{\"debug\": tru", f);
        fclose(f);
        CHECK_INT(engine_write_labels(c, false), -EBADMSG);
        free(text);
        text = NULL;
        CHECK_INT(read_full_file(path, &text, NULL), 0);
        CHECK_STR(text, "{\"debug\": tru");

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK_INT(system(cmd), 0);
}

/* Labels listed in `unset` go, every occurrence; the rest stays in its order. */
static void test_merge_unset(void) {
        static char *const unset[] = { (char *) "swarmkeeper.logical-id", NULL };
        static char *const set[] = { (char *) "swarmkeeper.role=worker", NULL };
        const char *in = "{\"labels\": [\"swarmkeeper.logical-id=10.0.1.10\", \"rack=r1\", "
                         "\"swarmkeeper.logical-id-extra=x\", \"swarmkeeper.logical-id\", "
                         "\"swarmkeeper.logical-id=10.0.1.11\", \"swarmkeeper.role=manager\"]}";
        _cleanup_(freep) char *out = NULL, *again = NULL, *none = NULL;
        json_object *root, *labels;

        CHECK_INT(engine_labels_merge(in, set, unset, &out), 0);
        CHECK(out != NULL);
        if (!out)
                return;
        root = json_tokener_parse(out);
        labels = json_object_object_get(root, "labels");
        CHECK_INT(json_object_array_length(labels), 3);
        CHECK_STR(json_object_get_string(json_object_array_get_idx(labels, 0)), "rack=r1");
        CHECK_STR(json_object_get_string(json_object_array_get_idx(labels, 1)), "swarmkeeper.logical-id-extra=x");
        CHECK_STR(json_object_get_string(json_object_array_get_idx(labels, 2)), "swarmkeeper.role=worker");
        json_object_put(root);
        /* idempotent */
        CHECK_INT(engine_labels_merge(out, set, unset, &again), 0);
        CHECK(again == NULL);
        /* nothing to unset: unchanged */
        CHECK_INT(engine_labels_merge("{\"labels\": [\"swarmkeeper.role=worker\"]}", set, unset, &none), 0);
        CHECK(none == NULL);
}

static bool has_label(char *const *l, const char *want) {
        STRV_FOREACH(i, l)
                if (streq(*i, want))
                        return true;
        return false;
}

/* Only a manager carries swarmkeeper.logical-id (issue 14: a worker labelled with a
 * manager's logical id blocked that manager's recovery). */
static void test_labels_for_role(void) {
        _cleanup_(config_freep) Config *c = NULL;

        CHECK_INT(config_new(&c), 0);
        CHECK_INT(config_set(c, "Cluster.Name=prod"), 0);
        CHECK_INT(config_set(c, "Host.PrivateIp=10.0.1.10"), 0);
        CHECK_INT(config_set(c, "Host.InstanceId=i-0123456789abcdef0"), 0);
        for (int worker = 0; worker <= 1; worker++) {
                _cleanup_(strv_freep) char **l = NULL, **unset = NULL;
                CHECK_INT(config_set(c, worker ? "Cluster.Role=worker" : "Cluster.Role=manager"), 0);
                CHECK_INT(engine_labels_for(c, &l, &unset), 0);
                CHECK_INT(has_label(l, "swarmkeeper.logical-id=10.0.1.10"), !worker);
                CHECK_INT(has_label(unset, "swarmkeeper.logical-id"), worker);
                CHECK(has_label(l, "swarmkeeper.instance-id=i-0123456789abcdef0"));
                CHECK(has_label(l, "swarmkeeper.cluster=prod"));
                CHECK(has_label(l, worker ? "swarmkeeper.role=worker" : "swarmkeeper.role=manager"));
                STRV_FOREACH(i, l)
                        CHECK(!worker || !startswith(*i, "swarmkeeper.logical-id"));
        }
}

/* A worker's daemon.json: written without a logical id, and one that an earlier run
 * (an older version, or this host as a manager) left is removed. */
static void test_write_labels_worker(void) {
        _cleanup_(config_freep) Config *c = NULL;
        char dir[] = "/tmp/test-engine-XXXXXX", path[256], cmd[300];
        _cleanup_(freep) char *text = NULL;
        FILE *f;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/daemon.json", dir);
        CHECK_INT(config_new(&c), 0);
        CHECK_INT(config_set(c, "Cluster.Name=prod"), 0);
        CHECK_INT(config_set(c, "Cluster.Role=worker"), 0);
        CHECK_INT(config_set(c, "Host.PrivateIp=10.0.1.50"), 0);
        CHECK_INT(config_set(c, "Host.InstanceId=i-0123456789abcdef0"), 0);
        CHECK_INT(config_set_value(c, CONFIG_ENGINE_DAEMON_CONFIG, path, "test"), 0);

        /* a fresh file */
        CHECK_INT(engine_write_labels(c, false), 1);
        CHECK_INT(read_full_file(path, &text, NULL), 0);
        CHECK(text && !strstr(text, "swarmkeeper.logical-id"));
        CHECK(text && strstr(text, "\"swarmkeeper.instance-id=i-0123456789abcdef0\""));
        CHECK(text && strstr(text, "\"swarmkeeper.role=worker\""));

        /* a stale one, as a worker labelled itself before */
        f = fopen(path, "we");
        CHECK(f != NULL);
        if (f) {
                fputs("{\"debug\": true, \"labels\": [\"swarmkeeper.cluster=prod\", \"swarmkeeper.logical-id=10.0.1.10\", "
                      "\"swarmkeeper.role=worker\", \"swarmkeeper.instance-id=i-0123456789abcdef0\", \"rack=r1\"]}\n",
                      f);
                fclose(f);
        }
        CHECK_INT(engine_write_labels(c, true), 1);
        CHECK_INT(engine_write_labels(c, false), 1);
        free(text);
        text = NULL;
        CHECK_INT(read_full_file(path, &text, NULL), 0);
        CHECK(text && !strstr(text, "swarmkeeper.logical-id"));
        CHECK(text && strstr(text, "\"rack=r1\"") && strstr(text, "\"debug\": true"));
        CHECK(text && strstr(text, "\"swarmkeeper.instance-id=i-0123456789abcdef0\""));
        /* and then nothing changes */
        CHECK_INT(engine_write_labels(c, false), 0);

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK_INT(system(cmd), 0);
}

int main(void) {
        test_merge_new_file();
        test_merge_keeps_foreign();
        test_merge_rejects();
        test_write_labels();
        test_merge_unset();
        test_labels_for_role();
        test_write_labels_worker();
        return test_done("test-engine");
}
