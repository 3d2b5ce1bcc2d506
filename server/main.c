/* main.c: the rowcast command line.
 *
 * Loads and checks the config (exit 2 on any error, before anything starts), starts the HTTP
 * server and every pipeline, then waits for SIGTERM/SIGINT and shuts down in order: pipelines
 * stop reading, deliver what they read to Kafka within the grace period, and exit 0. */
#include <duktape.h>
#include <getopt.h>
#include <lauxlib.h>
#include <libgen.h>
#include <libfyaml.h>
#include <librdkafka/rdkafka.h>
#include <lua.h>
#include <lualib.h>
#include <msgpack.h>
#include <mysql.h>
#include <openssl/crypto.h>
#include <protobuf-c/protobuf-c.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "rc_cmd.h"
#include "rc_config.h"
#include "rc_http.h"
#include "rc_log.h"
#include "rc_pipeline.h"
#include "rc_script.h"
#include "rc_pipeline_ctl.h"
#include "rc_udf.h"
#include "rc_version.h"

#define H2O_VERSION_STR "2.2.5"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: rowcast --config FILE|DIR [--check] [--log-level LEVEL]\n"
            "       rowcast decode [--include REGEX] [--no-checksum] FILE...\n"
            "       rowcast transform-test --script FILE --event EVENT.json\n"
            "\n"
            "Streams row changes from MySQL/MariaDB binlogs to Kafka.\n"
            "\n"
            "  -c, --config FILE     the YAML configuration file, or a directory of them (one\n"
            "                        sets kafka and the settings, the others add pipelines)\n"
            "      --check           validate the configuration (every file, the scripts and\n"
            "                        pipelines_dir) and exit (0 = valid, 2 = not)\n"
            "      --log-level LEVEL error, warn, info or debug (overrides log_level)\n"
            "      --help-config     print every configuration key with its default\n"
            "      --help-udfs       print every function scripts can call (with --config:\n"
            "                        the config's udfs plugins too)\n"
            "  -V, --version         print the version and the linked libraries\n"
            "  -h, --help            print this help\n"
            "\n"
            "Exit status: 0 on success or clean shutdown, 1 on a runtime failure,\n"
            "2 on a bad command line or configuration.\n");
}

static const char *luajit_runtime_version(void) {
    static char v[64] = "unknown";
    lua_State *L = luaL_newstate();
    if (!L) {
        return v;
    }
    luaL_openlibs(L);
    lua_getglobal(L, "jit");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "version");
        if (lua_isstring(L, -1)) {
            snprintf(v, sizeof(v), "%s", lua_tostring(L, -1));
        }
    }
    lua_close(L);
    return v;
}

static long duktape_runtime_version(void) {
    duk_context *ctx = duk_create_heap_default();
    if (!ctx) {
        return -1;
    }
    long v = -1;
    if (duk_peval_string(ctx, "Duktape.version") == 0) {
        v = (long)duk_get_number(ctx, -1);
    }
    duk_destroy_heap(ctx);
    return v;
}

static void print_version(void) {
    long dv = duktape_runtime_version();
    printf("rowcast %s\n", RC_VERSION);
    printf("  librdkafka   %s\n", rd_kafka_version_str());
    printf("  Connector/C  %s\n", mysql_get_client_info());
    printf("  LuaJIT       %s\n", luajit_runtime_version());
    printf("  duktape      %ld.%ld.%ld\n", dv / 10000, (dv / 100) % 100, dv % 100);
    printf("  h2o          %s\n", H2O_VERSION_STR);
    printf("  msgpack-c    %s\n", msgpack_version());
    printf("  protobuf-c   %s\n", protobuf_c_version());
    printf("  libfyaml     %s\n", fy_library_version());
    printf("  zstd         %s\n", ZSTD_versionString());
    printf("  OpenSSL      %s\n", OpenSSL_version(OPENSSL_VERSION));
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},    {"check", no_argument, NULL, 'k'},
        {"log-level", required_argument, NULL, 'l'}, {"help-config", no_argument, NULL, 'H'},
        {"version", no_argument, NULL, 'V'},         {"help", no_argument, NULL, 'h'},
        {"help-udfs", no_argument, NULL, 'U'},       {NULL, 0, NULL, 0}};
    if (argc > 1 && strcmp(argv[1], "decode") == 0) {
        return rc_cmd_decode(argc - 1, argv + 1);
    }
    if (argc > 1 && strcmp(argv[1], "transform-test") == 0) {
        return rc_script_cli_main(argc - 1, argv + 1);
    }
    const char *config_path = NULL, *log_level = NULL;
    int check = 0, help_udfs = 0, opt;
    while ((opt = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'k':
            check = 1;
            break;
        case 'l':
            log_level = optarg;
            break;
        case 'H':
            rc_config_print_reference(stdout);
            return 0;
        case 'U':
            help_udfs = 1;
            break;
        case 'V':
            print_version();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rowcast: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (help_udfs && !config_path) {
        rc_udf_print_help(stdout);
        return 0;
    }
    if (!config_path) {
        fprintf(stderr, "rowcast: --config FILE is required\n");
        usage(stderr);
        return 2;
    }
    if (log_level && rc_log_level_parse(log_level) < 0) {
        fprintf(stderr, "rowcast: --log-level '%s' is not one of error, warn, info, debug\n",
                log_level);
        return 2;
    }

    char errstr[1024];
    rc_config_t *conf = rc_config_load(config_path, errstr, sizeof(errstr));
    if (!conf) {
        fprintf(stderr, "rowcast: %s\n", errstr);
        return 2;
    }
    /* UDF plugins before any script is compiled: scripts see them as globals; relative files
     * are found next to the config file (the one with the settings, in a directory) */
    char *conf_dir = strdup(conf->path ? conf->path : config_path);
    rc_err_t uerr = conf_dir ? rc_udf_load_all(conf->udfs, conf->n_udfs, dirname(conf_dir), errstr,
                                               sizeof(errstr))
                             : rc_seterr(errstr, sizeof(errstr), RC_ERR_NOMEM, "out of memory");
    free(conf_dir);
    if (uerr != RC_OK) {
        fprintf(stderr, "rowcast: %s: %s\n", config_path, errstr);
        rc_config_destroy(conf);
        return 2;
    }
    if (help_udfs) {
        rc_udf_print_help(stdout);
        rc_config_destroy(conf);
        return 0;
    }
    int level = rc_log_level_parse(log_level ? log_level : conf->log_level);
    rc_log_set_level(level < 0 ? RC_LOG_INFO : (rc_log_level_t)level);

    /* Everything that can be checked without touching a server is checked before anything
     * starts: the config's pipelines and those kept in pipelines_dir. */
    int status = 0;
    rc_http_t *http = NULL;
    rc_pipeline_ctl_t *ctl = rc_pipeline_ctl_new(conf, check, errstr, sizeof(errstr));
    if (!ctl) {
        fprintf(stderr, "rowcast: %s\n", errstr);
        rc_config_destroy(conf);
        return 2;
    }
    size_t n = rc_pipeline_ctl_count(ctl);
    if (check) {
        printf("rowcast: %s: configuration is valid (%zu pipeline%s)\n", config_path, n,
               n == 1 ? "" : "s");
        goto out;
    }

    /* Signals are taken by sigwait in this thread only; every thread started below inherits
     * the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc_info("main", "rowcast %s starting with %zu pipeline(s) from %s", RC_VERSION, n, config_path);
    if (conf->http.listen && conf->http.listen[0]) {
        http = rc_http_start(conf->http.listen, ctl, conf->http.token, errstr, sizeof(errstr));
        if (!http) {
            rc_error("main", "%s", errstr);
            status = 1;
            goto out;
        }
    }
    rc_pipeline_ctl_start_all(ctl);
    int sig = 0;
    sigwait(&sigs, &sig);
    rc_info("main", "%s received: stopping every pipeline at a transaction boundary (grace %g s)",
            sig == SIGINT ? "SIGINT" : "SIGTERM", conf->shutdown_grace_s);
    char unfinished[2048];
    if (!rc_pipeline_ctl_stop_all(ctl, conf->shutdown_grace_s, unfinished, sizeof(unfinished))) {
        rc_error("main", "shutdown grace of %g s exceeded; not finished: %s",
                 conf->shutdown_grace_s, unfinished);
        status = 1;
    }
    if (rc_pipeline_ctl_busy(ctl)) {
        /* A thread is stuck (a reader on a full queue, a request whose script never finishes
         * loading): nothing can be freed safely. */
        rc_warn("main", "threads still running; exiting without cleaning up");
        fflush(stdout);
        fflush(stderr);
        _exit(status);
    }
    rc_http_stop(http);
    http = NULL;
    rc_info("main", "stopped");
out:
    rc_http_stop(http);
    rc_pipeline_ctl_destroy(ctl);
    rc_config_destroy(conf);
    return status;
}
