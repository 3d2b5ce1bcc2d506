/* rc_config.h: the rowcast configuration, loaded from one YAML file.
 *
 * Each component's keys are described by one declarative table in rc_config.c (name, type,
 * default, bounds, description); unknown keys, wrong types, out-of-range values and missing
 * required keys are errors whose message names the file, the line and the key path, e.g.
 *   "rowcast.yaml:12: pipelines[0].source.port: expected an integer from 1 to 65535, got 'abc'".
 * String values may contain ${ENV_VAR} (an unset variable is an error that names it);
 * password_file reads a secret from a file (trailing newline stripped).
 * The loaded config is a plain value struct: every string is owned by the config and freed
 * by rc_config_destroy. */
#ifndef RC_CONFIG_H
#define RC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rc_err.h"

typedef struct rc_kv {
    char *key;
    char *value;
} rc_kv_t;

typedef enum rc_tls_mode {
    RC_TLS_DISABLED = 0,
    RC_TLS_PREFERRED,
    RC_TLS_REQUIRED,
    RC_TLS_VERIFY_CA,
    RC_TLS_VERIFY_IDENTITY,
} rc_tls_mode_t;

typedef struct rc_source_config {
    char *host;         /* default "127.0.0.1"; ignored when socket is set */
    int port;           /* default 3306 */
    char *socket;       /* unix socket path, optional */
    char *user;         /* required */
    char *password;     /* from password, password_file or ${ENV}; may be NULL */
    uint32_t server_id; /* required, 1..2^32-1, unique among replicas of the server */
    char **include;     /* anchored POSIX extended regexes on "schema.table"; none = all */
    size_t n_include;
    char **exclude; /* same, applied after include */
    size_t n_exclude;
    char *start;              /* rc_start.h: earliest (default) | latest | gtid:<set> |
                            file:<name>:<pos> | timestamp:<iso8601>; used without a state */
    double heartbeat_s;       /* heartbeat period asked of the server, default 5 */
    double connect_timeout_s; /* default 10 */
    double read_timeout_s;    /* default 3 x heartbeat */
    rc_tls_mode_t tls_mode;   /* default disabled */
    int geometry;             /* 0 = wkb (default), 1 = geojson: how GEOMETRY values look */
    char *tls_ca;
    char *tls_cert;
    char *tls_key;
} rc_source_config_t;

typedef struct rc_sink_config {
    char *format;          /* "json" | "protobuf" | "debezium-json" (rc_format_from_name) */
    char *key;             /* "primary_key" | "primary_key_joined" */
    bool debezium_schemas; /* debezium: {schemas: true}: the Kafka Connect schema part */
    char *topic;           /* template with {schema} and {table}; default "{schema}.{table}" */
    bool create_topics;    /* default true */
    int topic_partitions;  /* for created topics, default 1 */
    int topic_replication; /* for created topics, default -1 = broker default */
} rc_sink_config_t;

typedef struct rc_transform_config {
    char *engine;       /* "lua" | "js" */
    char *file;         /* script path as written; relative to the config file's directory */
    char *match_schema; /* anchored regex on the schema, or NULL = any */
    char *match_table;  /* anchored regex on the table, or NULL = any */
} rc_transform_config_t;

/* pipelines[].delivery: the index into the config's choices. */
enum { RC_DELIVERY_AT_LEAST_ONCE = 0, RC_DELIVERY_EXACTLY_ONCE = 1 };

typedef struct rc_pipeline_config {
    char *name; /* required, [A-Za-z0-9._-]{1,64}, unique */
    rc_source_config_t source;
    rc_sink_config_t sink;
    int batch_max_events; /* default 1000 */
    int batch_max_ms;     /* default 20 */
    int queue_batches;    /* bounded queue depth between reader and worker, default 16 */
    rc_transform_config_t *transforms; /* run in order on every event; none = events as read */
    size_t n_transforms;
    int on_error;            /* 0 = fail (default), 1 = skip, 2 = dead_letter */
    int transform_budget_ms; /* time scripts may run per batch, default 1000; 0 = none */
    int transform_memory_mb; /* memory cap of each script VM, default 256; 0 = none */
    char *dead_letter_topic; /* on_error: dead_letter; default "{pipeline}.dead_letter" */
    int delivery;            /* RC_DELIVERY_AT_LEAST_ONCE (default) | RC_DELIVERY_EXACTLY_ONCE */
} rc_pipeline_config_t;

typedef struct rc_kafka_config {
    char *brokers;    /* required */
    rc_kv_t *rdkafka; /* passed to librdkafka as-is, in file order */
    size_t n_rdkafka;
} rc_kafka_config_t;

typedef struct rc_state_config {
    char *topic;     /* compacted topic of positions, default "rowcast.state" */
    int interval_ms; /* least time between two position writes of a pipeline, default 1000 */
    int interval_transactions; /* exactly_once: a Kafka transaction holds at most this many
                                  source transactions, default 10000 */
} rc_state_config_t;

typedef struct rc_http_config {
    char *listen; /* "host:port", default "127.0.0.1:8080"; "" disables the server */
    char *token;  /* bearer token for mutating REST calls (token or token_file); NULL none */
} rc_http_config_t;

typedef struct rc_config {
    char *path;              /* the file it was loaded from */
    char *log_level;         /* error|warn|info|debug, default info */
    double shutdown_grace_s; /* how long SIGTERM waits for Kafka to flush, default 30 */
    char *pipelines_dir;     /* where REST-created/changed pipelines are kept; NULL = not kept */
    rc_http_config_t http;
    rc_kafka_config_t kafka;
    rc_state_config_t state;
    rc_pipeline_config_t *pipelines;
    size_t n_pipelines;
    char **udfs; /* UDF plugin files as written; relative to the config file's directory */
    size_t n_udfs;
} rc_config_t;

/* Loads and validates path, a file or a directory of YAML files (.yaml, .yml): exactly one of
 * them sets kafka and the other settings, the others hold only pipelines. Returns NULL and writes one sentence naming file, line and key
 * into errstr on any error. The caller owns the result; free it with rc_config_destroy. */
rc_config_t *rc_config_load(const char *path, char *errstr, size_t errstr_size);

/* Same, from YAML text in memory; `name` stands for the file name in messages. */
rc_config_t *rc_config_load_string(const char *name, const char *yaml, size_t len, char *errstr,
                                   size_t errstr_size);

void rc_config_destroy(rc_config_t *conf);

/* Parses one pipeline object written as JSON (a REST request body or a pipelines_dir file) through
 * the same key table as the pipelines of the YAML file, so every check and message is shared.
 * `name` stands for the file in messages; relative secret files are found in dir. from_client
 * refuses ${VAR} outside secret keys (a client must not read the server's environment back
 * through GET). On error returns NULL, the sentence in errstr and the key path at fault (e.g.
 * "source.port", "" for the body itself) in field. Free with rc_config_pipeline_destroy. */
rc_pipeline_config_t *rc_config_pipeline_parse(const char *name, const char *dir, const char *text,
                                               size_t len, bool from_client, char *field,
                                               size_t field_size, char *errstr, size_t errstr_size);
void rc_config_pipeline_destroy(rc_pipeline_config_t *pc);

/* Where a client moves a stopped pipeline (PATCH /v1/pipelines/{name}/position), checked by a
 * key table like the rest: {"file": "mysql-bin.000042", "pos": 4}, or {"start": "gtid:..."} with
 * any form of source.start. Exactly one of the two. */
typedef struct rc_position_config {
    char *file;
    uint32_t pos;
    char *start;
} rc_position_config_t;
rc_err_t rc_config_position_parse(const char *text, size_t len, rc_position_config_t *out,
                                  char *field, size_t field_size, char *errstr, size_t errstr_size);
void rc_config_position_free(rc_position_config_t *pos);

/* True when the two sources are the same server endpoint (socket, or host and port). */
bool rc_config_source_same(const rc_source_config_t *a, const rc_source_config_t *b);

/* Appends one pipeline's config as a JSON object; secrets are written as "***". */
struct rc_buf;
void rc_config_pipeline_write_json(const rc_pipeline_config_t *pc, struct rc_buf *out);

/* Prints every key with type, default, bounds and description (rowcast --help-config). */
void rc_config_print_reference(FILE *out);

#endif
