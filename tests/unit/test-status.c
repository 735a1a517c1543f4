/* SPDX-License-Identifier: MIT */
/*
 * `swarmkeeper status` (status.c) against a canned engine: the table and --json, the
 * order of the rows, the exit status when the engine cannot answer, and engine strings
 * made printable before they reach a terminal.
 */
#include "canned-engine.h"
#include "config.h"
#include "log.h"
#include "status.h"
#include "test.h"

static const char info_active_manager[] =
        "{\"Name\":\"mgr1\",\"Labels\":[\"swarmkeeper.logical-id=10.0.0.1\",\"x=y\"],"
        "\"Swarm\":{\"NodeID\":\"abc123\",\"NodeAddr\":\"10.0.0.1\",\"LocalNodeState\":\"active\","
        "\"ControlAvailable\":true,\"Error\":\"\",\"RemoteManagers\":[{\"NodeID\":\"abc123\",\"Addr\":\"10.0.0.1:2377\"},"
        "{\"NodeID\":\"def\",\"Addr\":\"10.0.0.2:2377\"}],\"Cluster\":{\"ID\":\"clu\"}}}";

/* Run `status` (table or --json) with Engine.Socket=socket; its stdout as text, its exit
 * status in *ret_exit. */
static char *status_run(const char *socket, bool json, int *ret_exit) {
        _cleanup_(config_freep) Config *c = NULL;
        TestCapture cap;

        CHECK_INT(config_new(&c), 0);
        if (!c)
                return NULL;
        CHECK_INT(free_and_strdup(&c->socket, socket), 0);
        test_stdout_begin(&cap);
        *ret_exit = verb_status(c, NULL, json);
        return test_stdout_end(&cap);
}

static char *status_output(bool json) {
        int r = -1;
        char *text = status_run(sock_path, json, &r);
        CHECK_INT(r, SK_EXIT_OK);
        return text;
}

/* Managers first, then by logical id; this node marked; a missing value is "-". */
static void test_table_and_json(void) {
        static const char nodes_json[] =
                "[{\"ID\":\"w1\",\"Version\":{\"Index\":1},\"Spec\":{\"Role\":\"worker\",\"Availability\":\"active\"},"
                "\"Description\":{\"Hostname\":\"wrk\",\"Engine\":{\"Labels\":{}}},\"Status\":{\"State\":\"ready\"}},"
                "{\"ID\":\"def\",\"Version\":{\"Index\":2},\"Spec\":{\"Role\":\"manager\",\"Availability\":\"drain\"},"
                "\"Description\":{\"Hostname\":\"mgr2\",\"Engine\":{\"Labels\":{\"swarmkeeper.logical-id\":\"10.0.0.2\"}}},"
                "\"Status\":{\"State\":\"down\"},\"ManagerStatus\":{\"Reachability\":\"unreachable\"}},"
                "{\"ID\":\"abc123\",\"Version\":{\"Index\":3},\"Spec\":{\"Role\":\"manager\",\"Availability\":\"active\"},"
                "\"Description\":{\"Hostname\":\"mgr1\",\"Engine\":{\"Labels\":{\"swarmkeeper.logical-id\":\"10.0.0.1\"}}},"
                "\"Status\":{\"State\":\"ready\",\"Addr\":\"10.0.0.1\"},"
                "\"ManagerStatus\":{\"Leader\":true,\"Reachability\":\"reachable\"}}]";
        _cleanup_(freep) char *ping = http_ok("OK"), *version = http_ok("{\"ApiVersion\":\"1.41\"}"),
                             *info = http_ok(info_active_manager), *nodes = http_ok(nodes_json), *table = NULL,
                             *json = NULL;
        const Canned canned[] = {
                { "GET /_ping", ping }, { "GET /version", version }, { "GET /v1.41/info", info },
                { "GET /v1.41/nodes", nodes },
        };
        static const char *const rows[] = {
                "LOGICAL-ID       NODE-ID                     HOSTNAME             ROLE     STATE    AVAILABILITY "
                "MANAGER      LEADER\n",
                "10.0.0.1         abc123 *                    mgr1                 manager  ready    active       "
                "reachable    yes\n",
                "10.0.0.2         def                         mgr2                 manager  down     drain        "
                "unreachable  -\n",
                "-                w1                          wrk                  worker   ready    active       "
                "-            -\n",
                "\n3 nodes; * = this node.\n",
        };

        server_start(canned, ELEMENTSOF(canned));
        table = status_output(false);
        json = status_output(true);
        server_stop();
        unlink(log_path);

        /* the rows in this order, nothing between them */
        const char *p = table;
        for (size_t i = 0; p && i < ELEMENTSOF(rows); i++) {
                if (!startswith(p, rows[i]))
                        fprintf(stderr, "status table, row %zu: expected\n%s\ngot\n%s\n", i, rows[i], p);
                CHECK(startswith(p, rows[i]) != NULL);
                p = startswith(p, rows[i]);
        }
        CHECK_STR(p, "");

        CHECK(json && strstr(json, "\"cluster_id\": \"clu\""));
        CHECK(json && strstr(json, "\"self\": \"abc123\""));
        /* the managers first in --json too; a worker's missing values are null */
        const char *a = json ? strstr(json, "\"id\": \"abc123\"") : NULL, *d = json ? strstr(json, "\"id\": \"def\"") : NULL,
                   *w = json ? strstr(json, "\"id\": \"w1\"") : NULL;
        CHECK(a && d && w && a < d && d < w);
        CHECK(json && strstr(json, "\"logical_id\": null,\n      \"id\": \"w1\""));
        CHECK(json && strstr(json, "\"manager_status\": \"unreachable\""));
}

/* Every engine that cannot give the node list: the exit status says which kind of failure,
 * and nothing is printed. */
static void test_exit_status(void) {
        static const char inactive[] = "{\"Swarm\":{\"LocalNodeState\":\"inactive\",\"NodeID\":\"\"}}";
        static const char worker[] =
                "{\"Swarm\":{\"NodeID\":\"w1\",\"LocalNodeState\":\"active\",\"ControlAvailable\":false}}";
        static const struct {
                const char *name, *ping, *info, *nodes;
                int exit;
        } cases[] = {
                { "all well, no nodes", "OK", info_active_manager, "[]", SK_EXIT_OK },
                { "ping answers nonsense", "NOPE", info_active_manager, "[]", SK_EXIT_ENGINE },
                { "no /info", "OK", NULL, "[]", SK_EXIT_ENGINE },
                { "not in a swarm", "OK", inactive, "[]", SK_EXIT_ENGINE },
                { "a worker's engine", "OK", worker, "[]", SK_EXIT_ENGINE },
                { "no node list", "OK", info_active_manager, NULL, SK_EXIT_ENGINE },
                { "a node list that is not one", "OK", info_active_manager, "{}", SK_EXIT_ENGINE },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_(freep) char *ping = http_ok(cases[k].ping), *version = http_ok("{\"ApiVersion\":\"1.41\"}"),
                                     *info = cases[k].info ? http_ok(cases[k].info) : NULL,
                                     *nodes = cases[k].nodes ? http_ok(cases[k].nodes) : NULL, *out = NULL;
                Canned canned[4] = { { "GET /_ping", ping }, { "GET /version", version } };
                size_t n = 2;
                int r = -1;

                if (info)
                        canned[n++] = (Canned) { "GET /v1.41/info", info };
                if (nodes)
                        canned[n++] = (Canned) { "GET /v1.41/nodes", nodes };
                server_start(canned, n);
                out = status_run(sock_path, false, &r);
                server_stop();
                unlink(log_path);
                if (r != cases[k].exit)
                        fprintf(stderr, "status, case '%s': exit %d, expected %d\n", cases[k].name, r, cases[k].exit);
                CHECK_INT(r, cases[k].exit);
                if (cases[k].exit == SK_EXIT_OK)
                        CHECK(out && strstr(out, "\n0 nodes; * = this node.\n"));
                else
                        CHECK_STR(out, "");
        }

        /* No engine at all; a socket that cannot be one. */
        _cleanup_(freep) char *out = NULL, *out2 = NULL;
        int r = -1;
        out = status_run("/nonexistent/docker.sock", false, &r);
        CHECK_INT(r, SK_EXIT_ENGINE);
        r = -1;
        out2 = status_run("", true, &r);
        CHECK_INT(r, SK_EXIT_CONFIG);
}


/* Engine strings (a node's hostname is whatever the host says) reach a terminal only as
 * printable text: no escape sequences, no control characters. */
static void test_status_sanitized(void) {
        static const char evil_node[] =
                "{\"ID\":\"abc123\",\"Version\":{\"Index\":42},"
                "\"Spec\":{\"Role\":\"manager\\n\",\"Availability\":\"active\"},"
                "\"Description\":{\"Hostname\":\"\\u001b]0;pwned\\u0007\\u001b[2Jhost\\u00e9\","
                "\"Engine\":{\"Labels\":{\"swarmkeeper.logical-id\":\"10.0.0.1\\r\"}}},"
                "\"Status\":{\"State\":\"ready\"},"
                "\"ManagerStatus\":{\"Leader\":true,\"Reachability\":\"reachable\\u009b\"}}";
        _cleanup_(freep) char *ping = http_ok("OK"), *version = http_ok("{\"ApiVersion\":\"1.41\"}"),
                             *info = http_ok(info_active_manager), *nodes = NULL, *table = NULL, *json = NULL;
        _cleanup_(freep) char *list = NULL;

        CHECK(asprintf(&list, "[%s]", evil_node) > 0);
        nodes = http_ok(list);
        const Canned canned[] = {
                { "GET /_ping", ping }, { "GET /version", version }, { "GET /v1.41/info", info },
                { "GET /v1.41/nodes", nodes },
        };
        server_start(canned, ELEMENTSOF(canned));
        table = status_output(false);
        json = status_output(true);
        server_stop();
        unlink(log_path);

        CHECK(table && strstr(table, "?]0;pwned??[2Jhost?? "));
        CHECK(table && strstr(table, "manager? "));
        CHECK(table && strstr(table, "10.0.0.1? "));
        CHECK(table && strstr(table, "reachable?? "));
        for (const char *p = table; p && *p; p++)
                if (*p != '\n' && ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)) {
                        fprintf(stderr, "status table: byte 0x%02x at %zu\n", (unsigned char) *p, (size_t) (p - table));
                        test_failures++;
                        break;
                }
        /* --json: json-c escapes them; the raw bytes never appear */
        CHECK(json && strstr(json, "\\u001b]0;pwned\\u0007"));
        CHECK(json && !strchr(json, 0x1b) && !strchr(json, 0x07));
}
/* status_printable(): printable ASCII kept, every other byte '?', cut to fit. */
static void test_printable(void) {
        static const struct {
                const char *in;
                size_t size;
                const char *out;
        } cases[] = {
                { "mgr-1.example", 64, "mgr-1.example" },
                { "a\x1b[31mb", 64, "a?[31mb" },
                { "tab\there", 64, "tab?here" },
                { "line\r\n", 64, "line??" },
                { "del\x7f", 64, "del?" },
                { "h\xc3\xa9", 64, "h??" }, /* é: two bytes */
                { "\xe2\x80\xae" "evil", 64, "???evil" }, /* RIGHT-TO-LEFT OVERRIDE */
                { "abcdef", 4, "abc" },
                { "abcdef", 1, "" },
                { "", 64, "" },
                { NULL, 64, "" },
        };
        char buf[64];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                memset(buf, 'X', sizeof(buf));
                status_printable(buf, cases[i].size, cases[i].in);
                CHECK_STR(buf, cases[i].out);
        }
        /* size 0: nothing written at all */
        buf[0] = 'X';
        status_printable(buf, 0, "abc");
        CHECK_INT(buf[0], 'X');
}

int main(void) {
        log_setup();
        log_set_max_level(LOG_CRIT); /* the failures are expected */
        test_table_and_json();
        test_exit_status();
        test_status_sanitized();
        test_printable();
        return test_done("status");
}
