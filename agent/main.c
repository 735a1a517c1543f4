/* SPDX-License-Identifier: MIT */
/*
 * swarmkeeper: parse the verb and the common options, load the configuration,
 * hand over to the module that does the work. Nothing else lives here.
 */
#include <getopt.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "overview.h"
#include "prepare.h"
#include "status.h"
#include "version.h"

typedef struct Verb {
        const char *name;
        const char *summary;
        const char *help;
        /* Returns an exit status (SK_EXIT_…), having logged what went wrong. */
        int (*run)(Config *c, const ConfigArgs *args, bool json);
        bool json; /* accepts --json */
} Verb;

static int verb_config(Config *c, const ConfigArgs *a, bool json) {
        (void) a;
        (void) json;
        config_dump(c, stdout);
        return fflush(stdout) == 0 ? SK_EXIT_OK : SK_EXIT_FAILURE;
}

static int verb_version(Config *c, const ConfigArgs *a, bool json) {
        (void) c;
        (void) a;
        (void) json;
        printf("swarmkeeper %s\n", SK_VERSION);
        return SK_EXIT_OK;
}

static const Verb verbs[] = {
        { "prepare", "Attach, format if blank and mount this host's volume; label the engine",
          "Find this host's EBS volume (attaching it when needed), wait for its device,\n"
          "format it only if it is blank, mount it at Volume.MountPoint and write the\n"
          "swarmkeeper engine labels into Engine.DaemonConfig. Safe to run again.\n"
          "Runs at boot from swarmkeeper-prepare.service, before docker.service.",
          verb_prepare, false },
        { "run", "The agent daemon: join the swarm, watch leadership",
          "Wait for the Docker engine, bring this host into the swarm (init, rejoin or\n"
          "join with Cluster.JoinToken), notify systemd when ready, and follow Swarm\n"
          "leadership. Runs from swarmkeeper.service (Type=notify). SIGHUP reloads the\n"
          "configuration; SIGTERM exits without leaving the swarm.",
          verb_run, false },
        { "status", "Show the swarm's nodes as swarmkeeper sees them",
          "One row per node: logical id, node id, hostname, role, state, availability,\n"
          "manager status and the leader mark. Needs a manager's engine.\n"
          "  --json   machine-readable output",
          verb_status, true },
        { "plan", "Observe the cluster once and show the plan the leader would carry out",
          "One observation (EC2 instances and volumes tagged for the cluster, the subnets of\n"
          "Launch.SubnetIds, the swarm's nodes) and the plan the planner makes from it,\n"
          "with each action's reason. Changes nothing. Needs a manager's engine and EC2.\n"
          "  --json   machine-readable output",
          verb_plan, true },
        { "config", "Print the effective configuration and where each value came from",
          "Secrets (Cluster.JoinToken) are never printed.", verb_config, false },
        { "version", "Print the version", "", verb_version, false },
};

static void help(const Verb *v) {
        if (v) {
                printf("Usage: swarmkeeper %s [OPTIONS]\n\n%s.\n\n%s\n", v->name, v->summary, v->help);
                printf("\nCommon options:\n"
                       "  -c, --config PATH        Main configuration file (default %s;\n"
                       "                           /dev/null for none)\n"
                       "  -s, --set SECTION.KEY=V  Override a key (repeatable, wins over files)\n"
                       "  -h, --help               Show this help\n",
                       SK_CONFIG_FILE);
                return;
        }
        printf("Usage: swarmkeeper [OPTIONS] VERB [OPTIONS]\n\n"
               "Keeps a Docker Swarm manager quorum on AWS alive.\n\nVerbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-10s %s\n", verbs[i].name, verbs[i].summary);
        printf("\nOptions:\n"
               "  -c, --config PATH        Main configuration file (default %s)\n"
               "  -s, --set SECTION.KEY=V  Override a key (repeatable)\n"
               "      --json               JSON output (status)\n"
               "  -h, --help               Help; with a verb, the verb's help\n"
               "      --version            Print the version\n\n"
               "Drop-ins: %s/*.conf. See swarmkeeper(8), swarmkeeper.conf(5).\n",
               SK_CONFIG_FILE, SK_CONFIG_DROPIN_DIR);
}

int main(int argc, char *argv[]) {
        enum { ARG_JSON = 0x100, ARG_VERSION, ARG_CONFIG_DIR };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                { "set", required_argument, NULL, 's' },
                { "json", no_argument, NULL, ARG_JSON },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        _cleanup_(strv_free_erasep) char **sets = NULL; /* may hold Cluster.JoinToken */
        _cleanup_(config_freep) Config *c = NULL;
        ConfigArgs args = {};
        const Verb *verb = NULL;
        bool json = false, want_help = false;
        int opt, r;

        log_setup();

        while ((opt = getopt_long(argc, argv, "c:s:h", options, NULL)) >= 0)
                switch (opt) {
                case 'c':
                        args.path = optarg;
                        break;
                case ARG_CONFIG_DIR:
                        args.dropin_dir = optarg;
                        break;
                case 's':
                        if (strv_extend(&sets, optarg) < 0)
                                return SK_EXIT_FAILURE;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                case 'h':
                        want_help = true;
                        break;
                case ARG_VERSION:
                        return verb_version(NULL, NULL, false);
                default:
                        return SK_EXIT_CONFIG;
                }

        if (optind < argc) {
                for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                        if (streq(argv[optind], verbs[i].name))
                                verb = &verbs[i];
                if (!verb) {
                        log_error("Unknown verb '%s'; see swarmkeeper --help.", argv[optind]);
                        return SK_EXIT_CONFIG;
                }
                if (optind + 1 < argc) {
                        log_error("Unexpected argument '%s'.", argv[optind + 1]);
                        return SK_EXIT_CONFIG;
                }
        }
        if (want_help || !verb) {
                help(verb);
                return want_help ? SK_EXIT_OK : SK_EXIT_CONFIG;
        }
        if (json && !verb->json) {
                log_error("--json is not supported by '%s'.", verb->name);
                return SK_EXIT_CONFIG;
        }

        args.sets = sets;
        r = config_load_args(&c, &args);
        if (r == -ENOMEM)
                return log_error_errno(r, "Out of memory."), SK_EXIT_FAILURE;
        if (r < 0)
                return SK_EXIT_CONFIG; /* the culprit is already logged */
        log_set_max_level(c->log_level);

        return verb->run(c, &args, json);
}
