/* rc_config.c: every key of the rowcast config file, one declarative table per component.
 *
 * The tables below drive parsing, freeing and `--help-config` (rc_config_table.c walks them);
 * a key added here is parsed, freed and documented with no other change. */
#include "rc_config.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <regex.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "rc_config_table.h"
#include "rc_start.h"

#define ARRAY_LEN(a)    (sizeof(a) / sizeof((a)[0]))
#define CONFIG_FILE_MAX (16 * 1024 * 1024)

_Static_assert(sizeof(rc_tls_mode_t) == sizeof(int), "RC_CONFIG_ENUM stores an int");

/* ---- checks ---- */

static const char *str_of(const void *field) {
    return *(char *const *)field;
}

static bool check_not_empty(const void *field, char *why, size_t n) {
    if (str_of(field)[0] == '\0') {
        snprintf(why, n, "must not be empty");
        return false;
    }
    return true;
}

static bool check_name(const void *field, char *why, size_t n) {
    const char *s = str_of(field);
    size_t len = strlen(s);
    bool ok = len >= 1 && len <= 64;
    for (size_t i = 0; ok && i < len; i++) {
        ok = isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-';
    }
    if (!ok) {
        char shown[128];
        rc_config_table_quote(s, shown, sizeof shown);
        snprintf(why, n, "expected 1 to 64 characters from A-Z a-z 0-9 . _ -, got %s", shown);
    }
    return ok;
}

/* Compiles the regex the way the source will use it: anchored, POSIX extended. */
static bool check_regex(const void *field, char *why, size_t n) {
    const char *s = str_of(field);
    size_t len = strlen(s) + 5;
    char *anchored = malloc(len);
    if (anchored == NULL) {
        snprintf(why, n, "out of memory");
        return false;
    }
    snprintf(anchored, len, "^(%s)$", s);
    regex_t re;
    int err = regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    if (err != 0) {
        char msg[128], shown[128];
        regerror(err, &re, msg, sizeof msg);
        rc_config_table_quote(s, shown, sizeof shown);
        snprintf(why, n, "invalid regular expression %s: %s", shown, msg);
        return false;
    }
    regfree(&re);
    return true;
}

static bool check_start(const void *field, char *why, size_t n) {
    rc_start_t st;
    char msg[400];
    if (rc_start_parse(str_of(field), &st, msg, sizeof msg) != RC_OK) {
        snprintf(why, n, "%s", msg);
        return false;
    }
    rc_start_clear(&st);
    return true;
}

static bool check_topic_name(const void *field, char *why, size_t n) {
    const char *s = str_of(field);
    size_t len = strlen(s);
    bool ok = len >= 1 && len <= 249 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
    for (const char *p = s; ok && *p; p++) {
        ok = isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-';
    }
    if (!ok) {
        char shown[128];
        rc_config_table_quote(s, shown, sizeof shown);
        snprintf(why, n,
                 "expected a topic name of 1 to 249 characters from A-Z a-z 0-9 . _ -, "
                 "got %s",
                 shown);
    }
    return ok;
}

static bool check_listen(const void *field, char *why, size_t n) {
    const char *s = str_of(field);
    if (s[0] == '\0') {
        return true;
    }
    const char *colon = strrchr(s, ':');
    bool ok = colon != NULL && colon != s && colon[1] != '\0' && strlen(colon + 1) <= 5;
    for (const char *p = ok ? colon + 1 : ""; ok && *p; p++) {
        ok = isdigit((unsigned char)*p);
    }
    if (ok) {
        long port = strtol(colon + 1, NULL, 10);
        ok = port >= 1 && port <= 65535;
    }
    if (!ok) {
        char shown[128];
        rc_config_table_quote(s, shown, sizeof shown);
        snprintf(why, n, "expected host:port (port 1 to 65535) or \"\" to disable, got %s", shown);
    }
    return ok;
}

static bool check_topic(const void *field, char *why, size_t n) {
    const char *s = str_of(field);
    char shown[128];
    rc_config_table_quote(s, shown, sizeof shown);
    if (s[0] == '\0') {
        snprintf(why, n, "must not be empty");
        return false;
    }
    for (const char *p = s; *p;) {
        if (strncmp(p, "{schema}", 8) == 0) {
            p += 8;
        } else if (strncmp(p, "{table}", 7) == 0) {
            p += 7;
        } else if (isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-') {
            p++;
        } else {
            snprintf(why, n,
                     "expected a topic of A-Z a-z 0-9 . _ - and the placeholders {schema} "
                     "and {table}, got %s",
                     shown);
            return false;
        }
    }
    return true;
}

static bool check_dead_letter_topic(const void *field, char *why, size_t n) {
    const char *s = str_of(field);
    bool ok = s[0] != '\0';
    for (const char *p = s; ok && *p;) {
        if (strncmp(p, "{pipeline}", 10) == 0) {
            p += 10;
        } else {
            ok = isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-';
            p++;
        }
    }
    if (!ok) {
        char shown[128];
        rc_config_table_quote(s, shown, sizeof shown);
        snprintf(why, n,
                 "expected a topic of A-Z a-z 0-9 . _ - and the placeholder {pipeline}, "
                 "got %s",
                 shown);
    }
    return ok;
}

static bool check_replication(const void *field, char *why, size_t n) {
    int v = *(const int *)field;
    if (v == 0) {
        snprintf(why, n, "expected -1 (broker default) or an integer from 1 to 32767, got 0");
        return false;
    }
    return true;
}

/* ---- tables ---- */

/* clang-format off: one table row per key reads better than one line per field */
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const tls_modes[] = {"disabled",  "preferred",       "required",
                                        "verify_ca", "verify_identity", NULL};
static const char *const sink_formats[] = {"json", "protobuf", "debezium-json", NULL};
static const char *const sink_key_kinds[] = {"primary_key", "primary_key_joined", NULL};

static const char *tls_finish(void *base, char *why, size_t n) {
    rc_source_config_t *s = base;
    if (s->tls_cert != NULL && s->tls_key == NULL) {
        snprintf(why, n, "required when cert is set");
        return "key";
    }
    if (s->tls_key != NULL && s->tls_cert == NULL) {
        snprintf(why, n, "required when key is set");
        return "cert";
    }
    return NULL;
}

#define TLS_OFF(f) offsetof(rc_source_config_t, f)
static const rc_config_key_t tls_keys[] = {
    {.name = "mode",
     .type = RC_CONFIG_ENUM,
     .offset = TLS_OFF(tls_mode),
     .def = "disabled",
     .choices = tls_modes,
     .desc = "TLS to the server: required encrypts without checking the certificate; "
             "verify_ca and verify_identity check the chain and the host name (Connector/C "
             "checks both together)."},
    {.name = "ca",
     .type = RC_CONFIG_STRING,
     .offset = TLS_OFF(tls_ca),
     .desc = "CA certificate file (PEM) to verify the server with; system CAs when unset."},
    {.name = "cert",
     .type = RC_CONFIG_STRING,
     .offset = TLS_OFF(tls_cert),
     .desc = "Client certificate file (PEM); needs key."},
    {.name = "key",
     .type = RC_CONFIG_STRING,
     .offset = TLS_OFF(tls_key),
     .desc = "Client private key file (PEM); needs cert."},
};
static const rc_config_table_t tls_table = {tls_keys, ARRAY_LEN(tls_keys), tls_finish};

static const char *source_finish(void *base, char *why, size_t n) {
    rc_source_config_t *s = base;
    if (s->read_timeout_s == 0) {
        s->read_timeout_s = 3 * s->heartbeat_s;
    } else if (s->read_timeout_s <= s->heartbeat_s) {
        snprintf(why, n, "expected more than heartbeat (%g s), got %g s", s->heartbeat_s,
                 s->read_timeout_s);
        return "read_timeout";
    }
    return NULL;
}

#define SRC_OFF(f) offsetof(rc_source_config_t, f)
static const char *const geometry_forms[] = {"wkb", "geojson", NULL};
static const rc_config_key_t source_keys[] = {
    {.name = "host",
     .type = RC_CONFIG_STRING,
     .offset = SRC_OFF(host),
     .def = "127.0.0.1",
     .check = check_not_empty,
     .desc = "MySQL/MariaDB server host; ignored when socket is set."},
    {.name = "port",
     .type = RC_CONFIG_INT,
     .offset = SRC_OFF(port),
     .def = "3306",
     .min = 1,
     .max = 65535,
     .desc = "Server TCP port."},
    {.name = "socket",
     .type = RC_CONFIG_STRING,
     .offset = SRC_OFF(socket),
     .check = check_not_empty,
     .desc = "Unix socket path; used instead of host and port."},
    {.name = "user",
     .type = RC_CONFIG_STRING,
     .offset = SRC_OFF(user),
     .flags = RC_CONFIG_REQUIRED,
     .check = check_not_empty,
     .desc = "Replication user (needs REPLICATION SLAVE, REPLICATION CLIENT and SELECT)."},
    {.name = "password",
     .type = RC_CONFIG_STRING,
     .offset = SRC_OFF(password),
     .flags = RC_CONFIG_SECRET,
     .conflicts = "password_file",
     .desc = "Password; write ${VAR} to take it from the environment."},
    {.name = "password_file",
     .type = RC_CONFIG_SECRET_FILE,
     .offset = SRC_OFF(password),
     .flags = RC_CONFIG_SECRET,
     .conflicts = "password",
     .desc = "File holding the password (one trailing newline stripped); relative to the config "
             "file's directory."},
    {.name = "server_id",
     .type = RC_CONFIG_U32,
     .offset = SRC_OFF(server_id),
     .min = 1,
     .max = 4294967295.0,
     .flags = RC_CONFIG_REQUIRED | RC_CONFIG_UNIQUE,
     .desc = "Replica server id; must differ from every other replica of the server."},
    {.name = "include",
     .type = RC_CONFIG_STRING_LIST,
     .offset = SRC_OFF(include),
     .count_offset = SRC_OFF(n_include),
     .check = check_regex,
     .desc = "POSIX extended regexes on \"schema.table\", anchored at both ends; empty = all "
             "tables."},
    {.name = "exclude",
     .type = RC_CONFIG_STRING_LIST,
     .offset = SRC_OFF(exclude),
     .count_offset = SRC_OFF(n_exclude),
     .check = check_regex,
     .desc = "Regexes like include, applied after it."},
    {.name = "start",
     .type = RC_CONFIG_STRING,
     .offset = SRC_OFF(start),
     .def = "earliest",
     .check = check_start,
     .desc = "Where to start when the pipeline has no stored position: earliest, latest, "
             "gtid:<set>, file:<name>:<pos> or timestamp:<iso8601>."},
    {.name = "geometry",
     .type = RC_CONFIG_ENUM,
     .offset = SRC_OFF(geometry),
     .def = "wkb",
     .choices = geometry_forms,
     .desc = "GEOMETRY values as {srid, wkb} (WKB bytes) or {srid, geojson} (a GeoJSON "
             "geometry)."},
    {.name = "heartbeat",
     .type = RC_CONFIG_SECONDS,
     .offset = SRC_OFF(heartbeat_s),
     .def = "5",
     .min = 0.1,
     .max = 3600,
     .desc = "Heartbeat period asked of the server."},
    {.name = "connect_timeout",
     .type = RC_CONFIG_SECONDS,
     .offset = SRC_OFF(connect_timeout_s),
     .def = "10",
     .min = 0.1,
     .max = 3600,
     .desc = "Timeout to connect and log in."},
    {.name = "read_timeout",
     .type = RC_CONFIG_SECONDS,
     .offset = SRC_OFF(read_timeout_s),
     .def_doc = "3 x heartbeat",
     .min = 0.1,
     .max = 10800,
     .desc = "Silence after which the connection is dropped and retried; more than heartbeat."},
    {.name = "tls",
     .type = RC_CONFIG_MAP,
     .offset = 0,
     .sub = &tls_table,
     .desc = "TLS settings of the connection to the server."},
};
static const rc_config_table_t source_table = {source_keys, ARRAY_LEN(source_keys), source_finish};

#define SINK_OFF(f) offsetof(rc_sink_config_t, f)
static const rc_config_key_t debezium_keys[] = {
    {.name = "schemas",
     .type = RC_CONFIG_BOOL,
     .offset = SINK_OFF(debezium_schemas),
     .def = "false",
     .desc =
         "With format debezium-json: wrap keys and values in {\"schema\": ..., \"payload\": ...} "
         "with their Kafka Connect schema, as Kafka Connect's JsonConverter does with "
         "schemas.enable=true."},
};
static const rc_config_table_t debezium_table = {debezium_keys, ARRAY_LEN(debezium_keys), NULL};

static const rc_config_key_t sink_keys[] = {
    {.name = "format",
     .type = RC_CONFIG_ENUM_STR,
     .offset = SINK_OFF(format),
     .def = "json",
     .choices = sink_formats,
     .desc = "Serialization of the message values and keys: json (the event as compact JSON), "
             "protobuf (rowcast.v1.Event and rowcast.v1.Key of proto/rowcast/v1/event.proto) or "
             "debezium-json (the change event of Debezium's MySQL connector as JSON; see "
             "debezium.schemas)."},
    {.name = "key",
     .type = RC_CONFIG_ENUM_STR,
     .offset = SINK_OFF(key),
     .def = "primary_key",
     .choices = sink_key_kinds,
     .desc = "Message key: primary_key (the primary-key columns: a JSON object, or a "
             "rowcast.v1.Key with protobuf) or primary_key_joined (their values as text joined "
             "by '.', e.g. 42.eu). Tables without a primary key give messages without a key."},
    {.name = "topic",
     .type = RC_CONFIG_STRING,
     .offset = SINK_OFF(topic),
     .def = "{schema}.{table}",
     .check = check_topic,
     .desc = "Topic template; {schema} and {table} are replaced per event."},
    {.name = "create_topics",
     .type = RC_CONFIG_BOOL,
     .offset = SINK_OFF(create_topics),
     .def = "true",
     .desc = "Create missing topics."},
    {.name = "topic_partitions",
     .type = RC_CONFIG_INT,
     .offset = SINK_OFF(topic_partitions),
     .def = "1",
     .min = 1,
     .max = 100000,
     .desc = "Partitions of created topics."},
    {.name = "topic_replication",
     .type = RC_CONFIG_INT,
     .offset = SINK_OFF(topic_replication),
     .def = "-1",
     .min = -1,
     .max = 32767,
     .check = check_replication,
     .desc = "Replication factor of created topics; -1 = broker default."},
    {.name = "debezium",
     .type = RC_CONFIG_MAP,
     .offset = 0,
     .sub = &debezium_table,
     .desc = "Options of the debezium-json format."},
};
static const rc_config_table_t sink_table = {sink_keys, ARRAY_LEN(sink_keys), NULL};

#define PIPE_OFF(f) offsetof(rc_pipeline_config_t, f)
static const rc_config_key_t batch_keys[] = {
    {.name = "max_events",
     .type = RC_CONFIG_INT,
     .offset = PIPE_OFF(batch_max_events),
     .def = "1000",
     .min = 1,
     .max = 100000,
     .desc = "A batch is closed at this many events."},
    {.name = "max_ms",
     .type = RC_CONFIG_INT,
     .offset = PIPE_OFF(batch_max_ms),
     .def = "20",
     .min = 1,
     .max = 10000,
     .desc = "A batch is closed this many milliseconds after it opened."},
};
static const rc_config_table_t batch_table = {batch_keys, ARRAY_LEN(batch_keys), NULL};

static const char *const transform_engines[] = {"lua", "js", NULL};
static const char *const on_error_policies[] = {"fail", "skip", "dead_letter", NULL};
/* in the order of RC_DELIVERY_* */
static const char *const delivery_modes[] = {"at_least_once", "exactly_once", NULL};

#define XF_OFF(f) offsetof(rc_transform_config_t, f)
static const rc_config_key_t match_keys[] = {
    {.name = "schema",
     .type = RC_CONFIG_STRING,
     .offset = XF_OFF(match_schema),
     .check = check_regex,
     .desc = "POSIX extended regex on the schema, anchored at both ends; unset = any."},
    {.name = "table",
     .type = RC_CONFIG_STRING,
     .offset = XF_OFF(match_table),
     .check = check_regex,
     .desc = "Regex like schema, on the table name."},
};
static const rc_config_table_t match_table = {match_keys, ARRAY_LEN(match_keys), NULL};

static const rc_config_key_t transform_keys[] = {
    {.name = "engine",
     .type = RC_CONFIG_ENUM_STR,
     .offset = XF_OFF(engine),
     .flags = RC_CONFIG_REQUIRED,
     .choices = transform_engines,
     .desc = "lua (LuaJIT) or js (duktape, ECMAScript 5.1)."},
    {.name = "file",
     .type = RC_CONFIG_STRING,
     .offset = XF_OFF(file),
     .flags = RC_CONFIG_REQUIRED,
     .check = check_not_empty,
     .desc = "Script defining transform(cdc_event); relative to the config file's directory."},
    {.name = "match",
     .type = RC_CONFIG_MAP,
     .offset = 0,
     .sub = &match_table,
     .desc = "Only events whose schema and table match go through this transform."},
};
static const rc_config_table_t transform_table = {transform_keys, ARRAY_LEN(transform_keys), NULL};

static const rc_config_key_t pipeline_keys[] = {
    {.name = "name",
     .type = RC_CONFIG_STRING,
     .offset = PIPE_OFF(name),
     .flags = RC_CONFIG_REQUIRED | RC_CONFIG_UNIQUE,
     .check = check_name,
     .desc = "Pipeline name, [A-Za-z0-9._-]{1,64}; keys its stored position."},
    {.name = "source",
     .type = RC_CONFIG_MAP,
     .offset = PIPE_OFF(source),
     .sub = &source_table,
     .flags = RC_CONFIG_REQUIRED,
     .desc = "The MySQL/MariaDB server to read the binlog from."},
    {.name = "sink",
     .type = RC_CONFIG_MAP,
     .offset = PIPE_OFF(sink),
     .sub = &sink_table,
     .desc = "Where and how events are written to Kafka."},
    {.name = "batch",
     .type = RC_CONFIG_MAP,
     .offset = 0,
     .sub = &batch_table,
     .desc = "How events are grouped between reader and worker."},
    {.name = "queue_batches",
     .type = RC_CONFIG_INT,
     .offset = PIPE_OFF(queue_batches),
     .def = "16",
     .min = 1,
     .max = 1024,
     .desc = "Depth of the bounded queue between reader and worker, in batches."},
    {.name = "transforms",
     .type = RC_CONFIG_MAP_LIST,
     .offset = PIPE_OFF(transforms),
     .count_offset = PIPE_OFF(n_transforms),
     .elem_size = sizeof(rc_transform_config_t),
     .sub = &transform_table,
     .desc = "Scripts run in order on every event; the first drop wins."},
    {.name = "on_error",
     .type = RC_CONFIG_ENUM,
     .offset = PIPE_OFF(on_error),
     .def = "fail",
     .choices = on_error_policies,
     .desc = "What a script error does: fail stops the pipeline; skip counts and logs it "
             "(rate-limited) and does not send the event; dead_letter sends the event to "
             "dead_letter_topic with the error in its headers."},
    {.name = "transform_budget_ms",
     .type = RC_CONFIG_INT,
     .offset = PIPE_OFF(transform_budget_ms),
     .def = "1000",
     .min = 0,
     .max = 600000,
     .desc = "Time scripts may run per batch; past it the running event fails (on_error "
             "applies). Lua and JS scripts check it in every loop and function (Lua's stay "
             "compiled). 0 = none."},
    {.name = "transform_memory_mb",
     .type = RC_CONFIG_INT,
     .offset = PIPE_OFF(transform_memory_mb),
     .def = "256",
     .min = 0,
     .max = 65536,
     .desc = "Memory each script VM of the pipeline may hold, in MiB; an allocation past it "
             "fails the running event (on_error applies). 0 = none."},
    {.name = "dead_letter_topic",
     .type = RC_CONFIG_STRING,
     .offset = PIPE_OFF(dead_letter_topic),
     .def = "{pipeline}.dead_letter",
     .check = check_dead_letter_topic,
     .desc = "With on_error: dead_letter, where failed events go ({pipeline} is the pipeline's "
             "name), with the headers rowcast.error, rowcast.transform and rowcast.topic."},
    {.name = "delivery",
     .type = RC_CONFIG_ENUM,
     .offset = PIPE_OFF(delivery),
     .def = "at_least_once",
     .choices = delivery_modes,
     .desc = "at_least_once: an idempotent producer; after a crash, transactions after the last "
             "stored position can arrive twice. exactly_once: a transactional producer "
             "(transactional.id rowcast-<name>) writes each group of source transactions and "
             "its position in one Kafka transaction; consumers must read with "
             "isolation.level=read_committed. A second instance of the pipeline fences the "
             "first."},
};
static const rc_config_table_t pipeline_table = {pipeline_keys, ARRAY_LEN(pipeline_keys), NULL};

static const rc_config_key_t kafka_keys[] = {
    {.name = "brokers",
     .type = RC_CONFIG_STRING,
     .offset = offsetof(rc_kafka_config_t, brokers),
     .flags = RC_CONFIG_REQUIRED,
     .check = check_not_empty,
     .desc = "Bootstrap brokers, host:port[,host:port...]."},
    {.name = "rdkafka",
     .type = RC_CONFIG_KV_MAP,
     .offset = offsetof(rc_kafka_config_t, rdkafka),
     .count_offset = offsetof(rc_kafka_config_t, n_rdkafka),
     .flags = RC_CONFIG_SECRET,
     .desc = "librdkafka properties passed as-is, in file order (values may hold secrets)."},
};
static const rc_config_table_t kafka_table = {kafka_keys, ARRAY_LEN(kafka_keys), NULL};

static const rc_config_key_t http_keys[] = {
    {.name = "listen",
     .type = RC_CONFIG_STRING,
     .offset = offsetof(rc_http_config_t, listen),
     .def = "127.0.0.1:8080",
     .check = check_listen,
     .desc = "host:port of the REST API and /metrics; \"\" disables the server."},
    {.name = "token",
     .type = RC_CONFIG_STRING,
     .offset = offsetof(rc_http_config_t, token),
     .flags = RC_CONFIG_SECRET,
     .conflicts = "token_file",
     .check = check_not_empty,
     .desc = "Bearer token that mutating REST calls must send (Authorization: Bearer ...); "
             "write ${VAR} to take it from the environment. Unset = no token."},
    {.name = "token_file",
     .type = RC_CONFIG_SECRET_FILE,
     .offset = offsetof(rc_http_config_t, token),
     .flags = RC_CONFIG_SECRET,
     .conflicts = "token",
     .desc = "File holding the bearer token (one trailing newline stripped); relative to the "
             "config file's directory."},
};
static const rc_config_table_t http_table = {http_keys, ARRAY_LEN(http_keys), NULL};

static const rc_config_key_t state_keys[] = {
    {.name = "topic",
     .type = RC_CONFIG_STRING,
     .offset = offsetof(rc_state_config_t, topic),
     .def = "rowcast.state",
     .check = check_topic_name,
     .desc = "Compacted topic (one partition, created when missing) that keeps each pipeline's "
             "position, keyed by pipeline name."},
    {.name = "interval_ms",
     .type = RC_CONFIG_INT,
     .offset = offsetof(rc_state_config_t, interval_ms),
     .def = "1000",
     .min = 10,
     .max = 3600000,
     .desc = "At most one position write per pipeline in this many ms; a clean stop always "
             "writes the last one. With delivery: exactly_once, how long one Kafka transaction "
             "stays open."},
    {.name = "interval_transactions",
     .type = RC_CONFIG_INT,
     .offset = offsetof(rc_state_config_t, interval_transactions),
     .def = "10000",
     .min = 1,
     .max = 10000000,
     .desc = "With delivery: exactly_once, a Kafka transaction is also committed once it holds "
             "this many source transactions (it always ends at a source transaction's end)."},
};
static const rc_config_table_t state_table = {state_keys, ARRAY_LEN(state_keys), NULL};

#define ROOT_OFF(f) offsetof(rc_config_t, f)
static const rc_config_key_t root_keys[] = {
    {.name = "log_level",
     .type = RC_CONFIG_ENUM_STR,
     .offset = ROOT_OFF(log_level),
     .def = "info",
     .choices = log_levels,
     .desc = "Lowest level that is logged."},
    {.name = "shutdown_grace",
     .type = RC_CONFIG_SECONDS,
     .offset = ROOT_OFF(shutdown_grace_s),
     .def = "30",
     .min = 0,
     .max = 3600,
     .desc = "How long SIGTERM waits for Kafka to acknowledge what was sent."},
    {.name = "http",
     .type = RC_CONFIG_MAP,
     .offset = ROOT_OFF(http),
     .sub = &http_table,
     .desc = "The HTTP server (REST API, metrics, health)."},
    {.name = "kafka",
     .type = RC_CONFIG_MAP,
     .offset = ROOT_OFF(kafka),
     .sub = &kafka_table,
     .flags = RC_CONFIG_REQUIRED,
     .desc = "The Kafka cluster events and positions go to."},
    {.name = "state",
     .type = RC_CONFIG_MAP,
     .offset = ROOT_OFF(state),
     .sub = &state_table,
     .desc = "Where pipelines keep their positions (in Kafka)."},
    {.name = "pipelines_dir",
     .type = RC_CONFIG_STRING,
     .offset = ROOT_OFF(pipelines_dir),
     .check = check_not_empty,
     .desc = "Directory where pipelines created or changed over REST are kept, one JSON file "
             "each (NAME.json, mode 0600, written atomically); relative to the config file's "
             "directory. At start they are added to the config file's pipelines and replace a "
             "file pipeline of the same name. Unset = REST changes last until the process "
             "exits."},
    {.name = "pipelines",
     .type = RC_CONFIG_MAP_LIST,
     .offset = ROOT_OFF(pipelines),
     .count_offset = ROOT_OFF(n_pipelines),
     .elem_size = sizeof(rc_pipeline_config_t),
     .min = 0,
     .sub = &pipeline_table,
     .desc = "One source server to Kafka flow each; none is fine (add them over REST)."},
    {.name = "udfs",
     .type = RC_CONFIG_STRING_LIST,
     .offset = ROOT_OFF(udfs),
     .count_offset = ROOT_OFF(n_udfs),
     .check = check_not_empty,
     .desc = "Shared objects (.so) with user-defined functions for scripts, loaded at startup "
             "through the rowcast/udf.h ABI; relative to the config file's directory. "
             "rowcast --help-udfs lists what scripts can call."},
};
static const rc_config_table_t root_table = {root_keys, ARRAY_LEN(root_keys), NULL};

/* The body of PATCH /v1/pipelines/{name}/position. */
static bool check_binlog_file(const void *field, char *why, size_t n) {
    const char *s = str_of(field);
    if (s[0] == '\0' || strchr(s, '/') != NULL || strlen(s) > 255) {
        char shown[128];
        rc_config_table_quote(s, shown, sizeof shown);
        snprintf(why, n, "expected a binlog file name (1 to 255 characters, no directory), got %s",
                 shown);
        return false;
    }
    return true;
}

static const rc_config_key_t position_keys[] = {
    {.name = "file",
     .type = RC_CONFIG_STRING,
     .offset = offsetof(rc_position_config_t, file),
     .check = check_binlog_file,
     .desc = "Binlog file to start reading at, e.g. mysql-bin.000042 (with pos)."},
    {.name = "pos",
     .type = RC_CONFIG_U32,
     .offset = offsetof(rc_position_config_t, pos),
     .min = 4,
     .max = 4294967295.0,
     .desc = "Byte offset in that file of a transaction boundary (4 = its first event)."},
    {.name = "start",
     .type = RC_CONFIG_STRING,
     .offset = offsetof(rc_position_config_t, start),
     .check = check_start,
     .desc = "Instead of file and pos, any form of source.start: earliest, latest, gtid:<set>, "
             "file:<name>:<pos> or timestamp:<iso8601>."},
};
static const rc_config_table_t position_table = {position_keys, ARRAY_LEN(position_keys), NULL};

/* A file of a config directory other than the one with the settings: pipelines only. */
typedef struct fragment {
    rc_pipeline_config_t *pipelines;
    size_t n_pipelines;
} fragment_t;
static const rc_config_key_t fragment_keys[] = {
    {.name = "pipelines",
     .type = RC_CONFIG_MAP_LIST,
     .offset = offsetof(fragment_t, pipelines),
     .count_offset = offsetof(fragment_t, n_pipelines),
     .elem_size = sizeof(rc_pipeline_config_t),
     .min = 1,
     .sub = &pipeline_table,
     .flags = RC_CONFIG_REQUIRED,
     .desc = "Pipelines of this file (settings other than pipelines belong in the one file "
             "with kafka)."},
};
static const rc_config_table_t fragment_table = {fragment_keys, ARRAY_LEN(fragment_keys), NULL};

/* clang-format on */

/* ---- public API ---- */

static rc_config_t *load_text(const char *name, const char *dir, const char *yaml, size_t len,
                              char *errstr, size_t errstr_size) {
    rc_config_t *conf = calloc(1, sizeof *conf);
    if (conf == NULL || (conf->path = strdup(name)) == NULL) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: out of memory while loading", name);
        goto fail;
    }
    if (rc_config_table_parse_ex(&root_table, conf, name, dir, yaml, len,
                                 RC_CONFIG_PARSE_ENV_OVERRIDES, NULL, 0, errstr,
                                 errstr_size) != RC_OK) {
        goto fail;
    }
    return conf;
fail:
    rc_config_destroy(conf);
    return NULL;
}

rc_config_t *rc_config_load_string(const char *name, const char *yaml, size_t len, char *errstr,
                                   size_t errstr_size) {
    if (name == NULL || (yaml == NULL && len > 0)) {
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "rc_config_load_string: no input");
        return NULL;
    }
    return load_text(name, NULL, yaml ? yaml : "", len, errstr, errstr_size);
}

/* Reads a whole config file (at most CONFIG_FILE_MAX) into a NUL-terminated buffer. */
static char *read_text(const char *path, size_t *len, char *errstr, size_t errstr_size) {
    struct stat st;
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: cannot read the config file: %s", path,
                  strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
        rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: cannot read the config file: %s", path,
                  S_ISDIR(st.st_mode) ? strerror(EISDIR) : "larger than 16 MiB");
        goto done;
    }
    text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: out of memory while loading", path);
        goto done;
    }
    *len = fread(text, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: cannot read the config file: %s", path,
                  strerror(errno));
        free(text);
        text = NULL;
        goto done;
    }
    text[*len] = '\0';
done:
    if (f) {
        fclose(f);
    }
    return text;
}

static void free_text(char *text, size_t len) {
    if (text) {
        explicit_bzero(text, len); /* it may hold an inline password */
        free(text);
    }
}

static int yaml_file(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && ((n > 5 && strcmp(d->d_name + n - 5, ".yaml") == 0) ||
                                   (n > 4 && strcmp(d->d_name + n - 4, ".yml") == 0));
}

/* Moves the pipelines of a fragment into conf, checking names and server ids against the
 * pipelines already there (from the files before it in name order). */
static rc_err_t merge_fragment(rc_config_t *conf, fragment_t *fr, char **origin, const char *file,
                               char *errstr, size_t errstr_size) {
    for (size_t i = 0; i < fr->n_pipelines; i++) {
        for (size_t j = 0; j < conf->n_pipelines; j++) {
            if (strcmp(fr->pipelines[i].name, conf->pipelines[j].name) == 0) {
                return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                                 "%s: pipelines[%zu].name: \"%s\" is already used in %s", file, i,
                                 fr->pipelines[i].name, origin[j]);
            }
            if (fr->pipelines[i].source.server_id == conf->pipelines[j].source.server_id) {
                return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                                 "%s: pipelines[%zu].source.server_id: %u is already used by "
                                 "pipeline %s in %s",
                                 file, i, (unsigned)fr->pipelines[i].source.server_id,
                                 conf->pipelines[j].name, origin[j]);
            }
        }
    }
    size_t n = conf->n_pipelines + fr->n_pipelines;
    rc_pipeline_config_t *all = realloc(conf->pipelines, (n ? n : 1) * sizeof(*all));
    if (all == NULL) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: out of memory", file);
    }
    conf->pipelines = all;
    memcpy(all + conf->n_pipelines, fr->pipelines, fr->n_pipelines * sizeof(*all));
    conf->n_pipelines = n;
    free(fr->pipelines); /* the strings moved into conf */
    fr->pipelines = NULL;
    fr->n_pipelines = 0;
    return RC_OK;
}

/* A directory: every *.yaml / *.yml file in name order. Exactly one holds kafka (and the other
 * settings, and maybe pipelines); the others hold only pipelines. Names and server ids are
 * unique across all of them. */
static rc_config_t *load_dir(const char *path, char *errstr, size_t errstr_size) {
    struct dirent **names = NULL;
    char **files = NULL, **origin = NULL;
    char *text = NULL;
    size_t len = 0;
    rc_config_t *conf = NULL;
    int n = scandir(path, &names, yaml_file, alphasort);
    if (n < 0) {
        rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: cannot read the config directory: %s", path,
                  strerror(errno));
        return NULL;
    }
    if (n == 0) {
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                  "%s: the config directory has no *.yaml or *.yml file", path);
        goto done;
    }
    files = calloc((size_t)n, sizeof(*files));
    if (files == NULL) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        goto done;
    }
    int main_file = -1;
    for (int i = 0; i < n; i++) {
        size_t need = strlen(path) + strlen(names[i]->d_name) + 2;
        if ((files[i] = malloc(need)) == NULL) {
            rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
            goto done;
        }
        snprintf(files[i], need, "%s/%s", path, names[i]->d_name);
        if ((text = read_text(files[i], &len, errstr, errstr_size)) == NULL) {
            goto done;
        }
        int has = rc_config_table_has_top_key(text, len, "kafka");
        free_text(text, len);
        text = NULL;
        if (has > 0 && main_file >= 0) {
            rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                      "%s: kafka is set in %s and in %s: exactly one file of a config directory "
                      "holds the settings, the others only pipelines",
                      path, names[main_file]->d_name, names[i]->d_name);
            goto done;
        }
        if (has > 0) {
            main_file = i;
        }
    }
    if (main_file < 0) {
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                  "%s: no file of the config directory sets kafka (exactly one must hold the "
                  "settings)",
                  path);
        goto done;
    }
    conf = rc_config_load(files[main_file], errstr, errstr_size);
    if (conf == NULL) {
        goto done;
    }
    /* origin[j]: the file pipeline j came from, for the messages about later files */
    if ((origin = calloc(conf->n_pipelines + 1, sizeof(*origin))) == NULL) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t j = 0; j < conf->n_pipelines; j++) {
        origin[j] = files[main_file];
    }
    for (int i = 0; i < n; i++) {
        if (i == main_file) {
            continue;
        }
        fragment_t fr = {0};
        if ((text = read_text(files[i], &len, errstr, errstr_size)) == NULL) {
            goto fail;
        }
        rc_err_t rc = rc_config_table_parse(&fragment_table, &fr, files[i], path, text, len, errstr,
                                            errstr_size);
        free_text(text, len);
        text = NULL;
        if (rc == RC_OK) {
            char **no = realloc(origin, (conf->n_pipelines + fr.n_pipelines + 1) * sizeof(*no));
            if (no == NULL) {
                rc = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
            } else {
                origin = no;
                for (size_t j = 0; j < fr.n_pipelines; j++) {
                    origin[conf->n_pipelines + j] = files[i];
                }
                rc = merge_fragment(conf, &fr, origin, files[i], errstr, errstr_size);
            }
        }
        rc_config_table_free(&fragment_table, &fr);
        if (rc != RC_OK) {
            goto fail;
        }
    }
    goto done;
fail:
    rc_config_destroy(conf);
    conf = NULL;
done:
    free_text(text, len);
    for (int i = 0; i < n; i++) {
        free(names[i]);
        if (files) {
            free(files[i]);
        }
    }
    free(names);
    free(files);
    free(origin);
    return conf;
}

rc_config_t *rc_config_load(const char *path, char *errstr, size_t errstr_size) {
    struct stat st;
    size_t len = 0;
    if (path == NULL) {
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "rc_config_load: no path");
        return NULL;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        return load_dir(path, errstr, errstr_size);
    }
    char *text = read_text(path, &len, errstr, errstr_size);
    if (text == NULL) {
        return NULL;
    }
    char *dir_copy = strdup(path);
    rc_config_t *conf = NULL;
    if (dir_copy == NULL) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: out of memory while loading", path);
    } else {
        conf = load_text(path, dirname(dir_copy), text, len, errstr, errstr_size);
    }
    free_text(text, len);
    free(dir_copy);
    return conf;
}

void rc_config_destroy(rc_config_t *conf) {
    if (conf == NULL) {
        return;
    }
    rc_config_table_free(&root_table, conf);
    free(conf->path);
    free(conf);
}

void rc_config_print_reference(FILE *out) {
    fprintf(out, "# rowcast configuration keys: path: type, default; description.\n"
                 "# Strings may use ${ENV_VAR} ($$ for a literal $). Lists of maps are shown as "
                 "name[].\n"
                 "# ROWCAST_<KEY>__<KEY>...=value overrides a value of the file (pipelines by "
                 "index or name), e.g. ROWCAST_KAFKA__BROKERS.\n");
    rc_config_table_print(&root_table, out);
}

void rc_config_pipeline_write_json(const rc_pipeline_config_t *pc, struct rc_buf *out) {
    rc_config_table_write_json(&pipeline_table, pc, out);
}

rc_pipeline_config_t *rc_config_pipeline_parse(const char *name, const char *dir, const char *text,
                                               size_t len, bool from_client, char *field,
                                               size_t field_size, char *errstr,
                                               size_t errstr_size) {
    rc_pipeline_config_t *pc = calloc(1, sizeof(*pc));
    if (pc == NULL) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    unsigned flags = RC_CONFIG_PARSE_JSON | (from_client ? RC_CONFIG_PARSE_ENV_SECRETS_ONLY : 0);
    if (rc_config_table_parse_ex(&pipeline_table, pc, name, dir, text ? text : "", text ? len : 0,
                                 flags, field, field_size, errstr, errstr_size) != RC_OK) {
        rc_config_pipeline_destroy(pc);
        return NULL;
    }
    return pc;
}

void rc_config_pipeline_destroy(rc_pipeline_config_t *pc) {
    if (pc == NULL) {
        return;
    }
    rc_config_table_free(&pipeline_table, pc);
    free(pc);
}

bool rc_config_source_same(const rc_source_config_t *a, const rc_source_config_t *b) {
    if ((a->socket != NULL) != (b->socket != NULL)) {
        return false;
    }
    if (a->socket != NULL) {
        return strcmp(a->socket, b->socket) == 0;
    }
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

rc_err_t rc_config_position_parse(const char *text, size_t len, rc_position_config_t *out,
                                  char *field, size_t field_size, char *errstr,
                                  size_t errstr_size) {
    memset(out, 0, sizeof(*out));
    rc_err_t rc = rc_config_table_parse_ex(&position_table, out, "request body", NULL,
                                           text ? text : "", text ? len : 0,
                                           RC_CONFIG_PARSE_JSON | RC_CONFIG_PARSE_ENV_SECRETS_ONLY,
                                           field, field_size, errstr, errstr_size);
    const char *missing = NULL, *why = NULL;
    if (rc == RC_OK && out->start && (out->file || out->pos)) {
        missing = "start";
        why = "give either start, or file and pos, not both";
    } else if (rc == RC_OK && !out->start && !out->file) {
        missing = "file";
        why = "required key is missing (give file and pos, or start)";
    } else if (rc == RC_OK && !out->start && !out->pos) {
        missing = "pos";
        why = "required key is missing (the byte offset in file)";
    }
    if (missing) {
        snprintf(field, field_size, "%s", missing);
        rc = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "request body: %s: %s", missing, why);
    }
    if (rc != RC_OK) {
        rc_config_position_free(out);
    }
    return rc;
}

void rc_config_position_free(rc_position_config_t *pos) {
    rc_config_table_free(&position_table, pos);
}
