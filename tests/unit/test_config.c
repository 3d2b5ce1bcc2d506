/* test_config.c: unit tests of the YAML config loader (server/config).
 *
 * Most cases load text through rc_config_load_string as "bad.yaml" and compare the whole error
 * sentence, so file, line and key path are all checked; a few load real files from
 * tests/data/config (password_file, a missing file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rc_config.h"

#define DATA RC_TEST_DATA "/config"

/* Lines 1-7; tests append source keys (6 spaces) from line 8 on, or pipeline keys (4 spaces). */
#define MINIMAL                                                                                    \
    "kafka:\n"                                                                                     \
    "  brokers: k:9092\n"                                                                          \
    "pipelines:\n"                                                                                 \
    "  - name: p\n"                                                                                \
    "    source:\n"                                                                                \
    "      user: u\n"                                                                              \
    "      server_id: 1\n"

static char err[1024];

static rc_config_t *load(const char *yaml) {
    err[0] = '\0';
    return rc_config_load_string("bad.yaml", yaml, strlen(yaml), err, sizeof err);
}

static rc_config_t *load_ok(const char *yaml) {
    rc_config_t *c = load(yaml);
    if (c == NULL) {
        fail_msg("expected the config to load, got: %s", err);
    }
    return c;
}

static void expect_error(const char *yaml, const char *expected) {
    rc_config_t *c = load(yaml);
    if (c != NULL) {
        rc_config_destroy(c);
        fail_msg("expected error \"%s\", but the config loaded", expected);
    }
    assert_string_equal(err, expected);
}

static void expect_error_prefix(const char *yaml, const char *prefix) {
    rc_config_t *c = load(yaml);
    if (c != NULL) {
        rc_config_destroy(c);
        fail_msg("expected an error starting \"%s\", but the config loaded", prefix);
    }
    if (strncmp(err, prefix, strlen(prefix)) != 0) {
        fail_msg("expected an error starting \"%s\", got \"%s\"", prefix, err);
    }
}

static void test_config_full_file_sets_every_field(void **state) {
    (void)state;
    rc_config_t *c = rc_config_load(DATA "/full.yaml", err, sizeof err);
    if (c == NULL) {
        fail_msg("%s", err);
    }
    assert_string_equal(c->path, DATA "/full.yaml");
    assert_string_equal(c->log_level, "debug");
    assert_true(c->shutdown_grace_s == 12.5);
    assert_string_equal(c->http.listen, "0.0.0.0:9090");
    assert_string_equal(c->kafka.brokers, "k1:9092,k2:9092");
    assert_int_equal(c->kafka.n_rdkafka, 3);
    assert_string_equal(c->kafka.rdkafka[0].key, "compression.type");
    assert_string_equal(c->kafka.rdkafka[0].value, "lz4");
    assert_string_equal(c->kafka.rdkafka[1].key, "linger.ms");
    assert_string_equal(c->kafka.rdkafka[1].value, "20");
    assert_string_equal(c->kafka.rdkafka[2].key, "enable.idempotence");
    assert_string_equal(c->kafka.rdkafka[2].value, "true");
    assert_int_equal(c->n_pipelines, 2);

    const rc_pipeline_config_t *p = &c->pipelines[0];
    const rc_source_config_t *s = &p->source;
    assert_string_equal(p->name, "shop");
    assert_string_equal(s->host, "db.example");
    assert_int_equal(s->port, 3307);
    assert_null(s->socket);
    assert_string_equal(s->user, "rowcast");
    assert_string_equal(s->password, "hunter2"); /* file holds "hunter2\r\n" */
    assert_int_equal(s->server_id, 4294967295u);
    assert_int_equal(s->n_include, 2);
    assert_string_equal(s->include[0], "shop\\..*");
    assert_string_equal(s->include[1], "crm\\.(users|orders)");
    assert_int_equal(s->n_exclude, 1);
    assert_string_equal(s->exclude[0], "shop\\.tmp_.*");
    assert_string_equal(s->start, "file:mysql-bin.000042:1234");
    assert_true(s->heartbeat_s == 2.5);
    assert_true(s->connect_timeout_s == 7);
    assert_true(s->read_timeout_s == 9);
    assert_int_equal(s->tls_mode, RC_TLS_VERIFY_IDENTITY);
    assert_string_equal(s->tls_ca, "/etc/ssl/ca.pem");
    assert_string_equal(s->tls_cert, "/etc/ssl/client.pem");
    assert_string_equal(s->tls_key, "/etc/ssl/client.key");
    assert_string_equal(p->sink.format, "json");
    assert_string_equal(p->sink.topic, "cdc.{schema}.{table}");
    assert_false(p->sink.create_topics);
    assert_int_equal(p->sink.topic_partitions, 6);
    assert_int_equal(p->sink.topic_replication, 3);
    assert_int_equal(p->batch_max_events, 500);
    assert_int_equal(p->batch_max_ms, 50);
    assert_int_equal(p->queue_batches, 64);

    p = &c->pipelines[1];
    assert_string_equal(p->name, "crm-2");
    assert_string_equal(p->source.socket, "/run/mysqld/mysqld.sock");
    assert_string_equal(p->source.user, "cdc");
    assert_null(p->source.password);
    assert_int_equal(p->source.server_id, 1);
    assert_string_equal(p->source.start, "latest");
    rc_config_destroy(c);
}

static void test_config_minimal_applies_defaults(void **state) {
    (void)state;
    rc_config_t *c = load_ok(MINIMAL);
    assert_string_equal(c->path, "bad.yaml");
    assert_string_equal(c->log_level, "info");
    assert_true(c->shutdown_grace_s == 30);
    assert_string_equal(c->http.listen, "127.0.0.1:8080");
    assert_string_equal(c->kafka.brokers, "k:9092");
    assert_null(c->kafka.rdkafka);
    assert_int_equal(c->kafka.n_rdkafka, 0);
    assert_int_equal(c->n_pipelines, 1);
    const rc_pipeline_config_t *p = &c->pipelines[0];
    const rc_source_config_t *s = &p->source;
    assert_string_equal(p->name, "p");
    assert_string_equal(s->host, "127.0.0.1");
    assert_int_equal(s->port, 3306);
    assert_null(s->socket);
    assert_string_equal(s->user, "u");
    assert_null(s->password);
    assert_int_equal(s->server_id, 1);
    assert_int_equal(s->n_include, 0);
    assert_int_equal(s->n_exclude, 0);
    assert_string_equal(s->start, "earliest");
    assert_true(s->heartbeat_s == 5);
    assert_true(s->connect_timeout_s == 10);
    assert_true(s->read_timeout_s == 15);
    assert_int_equal(s->tls_mode, RC_TLS_DISABLED);
    assert_null(s->tls_ca);
    assert_null(s->tls_cert);
    assert_null(s->tls_key);
    assert_string_equal(p->sink.format, "json");
    assert_string_equal(p->sink.topic, "{schema}.{table}");
    assert_true(p->sink.create_topics);
    assert_int_equal(p->sink.topic_partitions, 1);
    assert_int_equal(p->sink.topic_replication, -1);
    assert_int_equal(p->batch_max_events, 1000);
    assert_int_equal(p->batch_max_ms, 20);
    assert_int_equal(p->queue_batches, 16);
    assert_int_equal(p->delivery, RC_DELIVERY_AT_LEAST_ONCE);
    assert_int_equal(c->state.interval_transactions, 10000);
    rc_config_destroy(c);
}

static void test_config_delivery_modes(void **state) {
    (void)state;
    rc_config_t *c = load_ok(MINIMAL "    delivery: exactly_once\n"
                                     "state: {interval_ms: 500, interval_transactions: 7}\n");
    assert_int_equal(c->pipelines[0].delivery, RC_DELIVERY_EXACTLY_ONCE);
    assert_int_equal(c->state.interval_ms, 500);
    assert_int_equal(c->state.interval_transactions, 7);
    rc_config_destroy(c);
    c = load_ok(MINIMAL "    delivery: at_least_once\n");
    assert_int_equal(c->pipelines[0].delivery, RC_DELIVERY_AT_LEAST_ONCE);
    rc_config_destroy(c);
    expect_error(MINIMAL "    delivery: exactly-once\n",
                 "bad.yaml:8: pipelines[0].delivery: unsupported value \"exactly-once\" "
                 "(supported: at_least_once, exactly_once)");
    expect_error_prefix(MINIMAL "state: {interval_transactions: 0}\n",
                        "bad.yaml:8: state.interval_transactions: ");
}

static void test_config_read_timeout_defaults_to_three_heartbeats(void **state) {
    (void)state;
    rc_config_t *c = load_ok(MINIMAL "      heartbeat: 2\n");
    assert_true(c->pipelines[0].source.read_timeout_s == 6);
    rc_config_destroy(c);
    expect_error(MINIMAL "      heartbeat: 2\n      read_timeout: 2\n",
                 "bad.yaml:9: pipelines[0].source.read_timeout: expected more than heartbeat "
                 "(2 s), got 2 s");
}

static void test_config_null_value_keeps_default(void **state) {
    (void)state;
    rc_config_t *c = load_ok(MINIMAL "      socket:\n      port: ~\n      include: null\n");
    assert_null(c->pipelines[0].source.socket);
    assert_int_equal(c->pipelines[0].source.port, 3306);
    assert_int_equal(c->pipelines[0].source.n_include, 0);
    rc_config_destroy(c);
}

static void test_config_unknown_key_names_line_and_path(void **state) {
    (void)state;
    expect_error("log_level: info\n"
                 "kafka:\n"
                 "  brokers: k:9092\n"
                 "  brokerz: x\n"
                 "pipelines: []\n",
                 "bad.yaml:4: kafka.brokerz: unknown key (known: brokers, rdkafka)");
    expect_error(MINIMAL "    sinks: {}\n",
                 "bad.yaml:8: pipelines[0].sinks: unknown key (known: name, source, sink, batch, "
                 "queue_batches, transforms, on_error, transform_budget_ms, "
                 "transform_memory_mb, dead_letter_topic, delivery)");
    expect_error(MINIMAL "      tls: {mode: required, kee: x}\n",
                 "bad.yaml:8: pipelines[0].source.tls.kee: unknown key (known: mode, ca, cert, "
                 "key)");
}

static void test_config_missing_required_key_names_parent_line_and_full_path(void **state) {
    (void)state;
    expect_error("kafka:\n"
                 "  brokers: k:9092\n"
                 "pipelines:\n"
                 "  - name: p\n"
                 "    source:\n"
                 "      server_id: 1\n",
                 "bad.yaml:5: pipelines[0].source.user: required key is missing");
    expect_error("# no kafka\n"
                 "pipelines:\n"
                 "  - name: p\n"
                 "    source: {user: u, server_id: 1}\n",
                 "bad.yaml:2: kafka: required key is missing");
    expect_error(MINIMAL "  - name: q\n",
                 "bad.yaml:8: pipelines[1].source: required key is missing");
    expect_error("kafka:\n"
                 "  brokers: k:9092\n"
                 "pipelines:\n"
                 "  - name: p\n"
                 "    source:\n"
                 "      user:\n"
                 "      server_id: 1\n",
                 "bad.yaml:6: pipelines[0].source.user: required key has no value");
}

static void test_config_without_pipelines_is_valid(void **state) {
    (void)state;
    const char *texts[] = {"kafka:\n  brokers: k:9092\npipelines: []\n",
                           "kafka:\n  brokers: k:9092\n", "kafka: {brokers: k}\npipelines:\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        rc_config_t *c = load_ok(texts[i]);
        assert_int_equal(c->n_pipelines, 0);
        assert_null(c->pipelines_dir);
        rc_config_destroy(c);
    }
    rc_config_t *c = load_ok("kafka: {brokers: k}\npipelines_dir: state\n");
    assert_string_equal(c->pipelines_dir, "state");
    rc_config_destroy(c);
    expect_error("kafka: {brokers: k}\npipelines_dir: ''\n",
                 "bad.yaml:2: pipelines_dir: must not be empty");
}

/* A REST body goes through the same table as the YAML pipelines: same checks, same sentences,
 * plus the key path apart for the JSON error body. */
static rc_pipeline_config_t *parse_json(const char *json, bool client, char *field) {
    err[0] = '\0';
    return rc_config_pipeline_parse("request body", NULL, json, strlen(json), client, field, 256,
                                    err, sizeof err);
}

static void expect_json_error(const char *json, const char *expected, const char *field) {
    char got_field[256] = "unset";
    rc_pipeline_config_t *pc = parse_json(json, true, got_field);
    if (pc != NULL) {
        rc_config_pipeline_destroy(pc);
        fail_msg("expected error \"%s\", but the pipeline parsed", expected);
    }
    assert_string_equal(err, expected);
    assert_string_equal(got_field, field);
}

static void test_config_pipeline_json_uses_the_yaml_tables(void **state) {
    (void)state;
    char field[256];
    rc_pipeline_config_t *pc = parse_json(
        "{\"name\": \"shop\", \"source\": {\"host\": \"db\", \"port\": 3307, \"user\": \"u\","
        " \"password\": \"pw\", \"server_id\": 42, \"include\": [\"shop\\\\..*\"]},"
        " \"sink\": {\"topic\": \"x.{table}\", \"create_topics\": false},"
        " \"batch\": {\"max_events\": 5}}",
        true, field);
    if (pc == NULL) {
        fail_msg("expected the pipeline to parse, got: %s", err);
    }
    assert_string_equal(pc->name, "shop");
    assert_string_equal(pc->source.host, "db");
    assert_int_equal(pc->source.port, 3307);
    assert_string_equal(pc->source.password, "pw");
    assert_int_equal(pc->source.server_id, 42);
    assert_int_equal(pc->source.n_include, 1);
    assert_string_equal(pc->source.include[0], "shop\\..*");
    assert_string_equal(pc->source.start, "earliest"); /* defaults as in YAML */
    assert_string_equal(pc->sink.topic, "x.{table}");
    assert_false(pc->sink.create_topics);
    assert_int_equal(pc->batch_max_events, 5);
    assert_int_equal(pc->batch_max_ms, 20);
    assert_int_equal(pc->queue_batches, 16);
    rc_config_pipeline_destroy(pc);

    expect_json_error("{\"name\": \"p\", \"source\": {\"user\": \"u\", \"server_id\": 1, "
                      "\"port\": \"abc\"}}",
                      "request body:1: source.port: expected an integer from 1 to 65535, got "
                      "\"abc\"",
                      "source.port");
    expect_json_error("{\"name\": \"p\",\n \"source\": {\"user\": \"u\", \"server_id\": 1},\n "
                      "\"sinks\": {}}",
                      "request body:3: sinks: unknown key (known: name, source, sink, batch, "
                      "queue_batches, transforms, on_error, transform_budget_ms, "
                      "transform_memory_mb, dead_letter_topic, delivery)",
                      "sinks");
    expect_json_error("{\"name\": \"p\", \"source\": {\"server_id\": 1}}",
                      "request body:1: source.user: required key is missing", "source.user");
    expect_json_error("{\"name\": \"p q\", \"source\": {\"user\": \"u\", \"server_id\": 1}}",
                      "request body:1: name: expected 1 to 64 characters from A-Z a-z 0-9 . _ -, "
                      "got \"p q\"",
                      "name");
    expect_json_error("[1, 2]",
                      "request body:1: expected a JSON object at the top level, got a list", "");
    /* YAML that is not JSON is refused */
    char f2[256];
    pc = parse_json("name: p\nsource: {user: u, server_id: 1}\n", true, f2);
    assert_null(pc);
    assert_non_null(strstr(err, "request body:1: invalid JSON"));
    assert_string_equal(f2, "");
    /* a client may not read the server's environment into a visible value, only a secret */
    setenv("RC_TEST_SECRET", "s3cret", 1);
    expect_json_error("{\"name\": \"p\", \"source\": {\"user\": \"${RC_TEST_SECRET}\", "
                      "\"server_id\": 1}}",
                      "request body:1: source.user: ${NAME} references are only allowed in "
                      "secret keys here (write $$ for a literal $)",
                      "source.user");
    pc = parse_json("{\"name\": \"p\", \"source\": {\"user\": \"u\", \"password\": "
                    "\"${RC_TEST_SECRET}\", \"server_id\": 1}}",
                    true, field);
    assert_non_null(pc);
    assert_string_equal(pc->source.password, "s3cret");
    rc_config_pipeline_destroy(pc);
    pc = parse_json("{\"name\": \"p\", \"source\": {\"user\": \"${RC_TEST_SECRET}\", "
                    "\"server_id\": 1}}",
                    false, field);
    assert_non_null(pc);
    assert_string_equal(pc->source.user, "s3cret");
    rc_config_pipeline_destroy(pc);
    rc_config_pipeline_destroy(NULL);
}

static void test_config_position_body_is_checked_by_a_table(void **state) {
    (void)state;
    rc_position_config_t at;
    char field[256];
    const char *ok = "{\"file\": \"mysql-bin.000042\", \"pos\": 4}";
    assert_int_equal(
        rc_config_position_parse(ok, strlen(ok), &at, field, sizeof field, err, sizeof err), RC_OK);
    assert_string_equal(at.file, "mysql-bin.000042");
    assert_int_equal(at.pos, 4);
    rc_config_position_free(&at);
    const char *bad[][3] = {
        {"{\"file\": \"../x\", \"pos\": 9}", "file",
         "request body:1: file: expected a binlog file name (1 to 255 characters, no directory), "
         "got \"../x\""},
        {"{\"file\": \"x\", \"pos\": 4294967296}", "pos",
         "request body:1: pos: expected an integer from 4 to 4294967295, got \"4294967296\""},
        {"{\"file\": \"x\", \"pos\": 9, \"gtid\": \"\"}", "gtid",
         "request body:1: gtid: unknown key (known: file, pos, start)"},
        {"{\"pos\": 9}", "file",
         "request body: file: required key is missing (give file and pos, or start)"},
        {"{\"file\": \"x\"}", "pos",
         "request body: pos: required key is missing (the byte offset in file)"},
        {"{\"start\": \"latest\", \"file\": \"x\", \"pos\": 9}", "start",
         "request body: start: give either start, or file and pos, not both"},
        {"{\"start\": \"gtid:\"}", "start", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rc_config_position_parse(bad[i][0], strlen(bad[i][0]), &at, field,
                                                  sizeof field, err, sizeof err),
                         RC_ERR_INVALID);
        assert_string_equal(field, bad[i][1]);
        if (bad[i][2]) {
            assert_string_equal(err, bad[i][2]);
        }
        assert_null(at.file);
        assert_null(at.start);
    }
    const char *gtid = "{\"start\": \"gtid:0-1-42\"}";
    assert_int_equal(
        rc_config_position_parse(gtid, strlen(gtid), &at, field, sizeof field, err, sizeof err),
        RC_OK);
    assert_string_equal(at.start, "gtid:0-1-42");
    assert_null(at.file);
    rc_config_position_free(&at);
}

static char tmpdir[64];

static void write_file(const char *name, const char *text) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void clean_dir(void) {
    const char *names[] = {"a.yaml", "b.yml", "c.yaml", "notes.txt", ".hidden.yaml"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
}

/* ROWCAST_<KEY>__<KEY>... variables override the file (12-factor): scalars, a pipeline by name
 * or index, a librdkafka property (replaced or added), a list, a map the file lacks. */
static void test_config_env_overrides_any_value(void **state) {
    (void)state;
    setenv("ROWCAST_LOG_LEVEL", "debug", 1);
    setenv("ROWCAST_KAFKA__BROKERS", "env-broker:9092", 1);
    setenv("ROWCAST_KAFKA__RDKAFKA__LINGER_MS", "50", 1);
    setenv("ROWCAST_KAFKA__RDKAFKA__COMPRESSION_TYPE", "zstd", 1);
    setenv("ROWCAST_PIPELINES__SHOP_EU__SOURCE__PORT", "3307", 1);
    setenv("ROWCAST_PIPELINES__1__SOURCE__HOST", "db2", 1);
    setenv("ROWCAST_PIPELINES__1__SOURCE__INCLUDE", "['a\\..*', 'b\\..*']", 1);
    setenv("ROWCAST_HTTP__LISTEN", "0.0.0.0:9090", 1);
    setenv("ROWCAST_MYSQL_PASSWORD", "not-a-config-path", 1); /* the user's own: left alone */
    rc_config_t *c = load_ok("kafka:\n"
                             "  brokers: file-broker:9092\n"
                             "  rdkafka: {linger.ms: 5}\n"
                             "pipelines:\n"
                             "  - name: shop-eu\n"
                             "    source: {user: u, server_id: 1}\n"
                             "  - name: billing\n"
                             "    source:\n"
                             "      user: u\n"
                             "      server_id: 2\n"
                             "      password: ${ROWCAST_MYSQL_PASSWORD}\n");
    assert_string_equal(c->log_level, "debug");
    assert_string_equal(c->kafka.brokers, "env-broker:9092");
    assert_int_equal(c->kafka.n_rdkafka, 2);
    assert_string_equal(c->kafka.rdkafka[0].key, "linger.ms");
    assert_string_equal(c->kafka.rdkafka[0].value, "50");
    assert_string_equal(c->kafka.rdkafka[1].key, "compression.type");
    assert_string_equal(c->kafka.rdkafka[1].value, "zstd");
    assert_int_equal(c->pipelines[0].source.port, 3307);
    assert_string_equal(c->pipelines[0].source.host, "127.0.0.1");
    assert_string_equal(c->pipelines[1].source.host, "db2");
    assert_int_equal(c->pipelines[1].source.n_include, 2);
    assert_string_equal(c->pipelines[1].source.include[1], "b\\..*");
    assert_string_equal(c->pipelines[1].source.password, "not-a-config-path");
    assert_string_equal(c->http.listen, "0.0.0.0:9090");
    rc_config_destroy(c);
    unsetenv("ROWCAST_LOG_LEVEL");
    unsetenv("ROWCAST_KAFKA__BROKERS");
    unsetenv("ROWCAST_KAFKA__RDKAFKA__LINGER_MS");
    unsetenv("ROWCAST_KAFKA__RDKAFKA__COMPRESSION_TYPE");
    unsetenv("ROWCAST_PIPELINES__SHOP_EU__SOURCE__PORT");
    unsetenv("ROWCAST_PIPELINES__1__SOURCE__HOST");
    unsetenv("ROWCAST_PIPELINES__1__SOURCE__INCLUDE");
    unsetenv("ROWCAST_HTTP__LISTEN");
    unsetenv("ROWCAST_MYSQL_PASSWORD");
}

/* A bad override is checked like the file's values, and the message names the variable. */
static void test_config_env_override_errors_name_the_variable(void **state) {
    (void)state;
    static const struct {
        const char *var, *value, *expected;
    } cases[] = {
        {"ROWCAST_PIPELINES__P__SOURCE__PORT", "abc",
         "bad.yaml: environment variable ROWCAST_PIPELINES__P__SOURCE__PORT: "
         "pipelines[0].source.port: expected an integer from 1 to 65535, got \"abc\""},
        {"ROWCAST_PIPELINES__NOPE__SOURCE__PORT", "1",
         "bad.yaml: environment variable ROWCAST_PIPELINES__NOPE__SOURCE__PORT: pipelines has no "
         "item NOPE (an index from 0 or a name in this file)"},
        {"ROWCAST_KAFKA__BROKRS", "x",
         "bad.yaml: environment variable ROWCAST_KAFKA__BROKRS: no key BROKRS here (keys are "
         "separated by __; rowcast --help-config lists them)"},
        {"ROWCAST_KAFKA", "x",
         "bad.yaml: environment variable ROWCAST_KAFKA: kafka is a map: name one of its keys "
         "after __"},
        {"ROWCAST_LOG_LEVEL__X", "x",
         "bad.yaml: environment variable ROWCAST_LOG_LEVEL__X: log_level is a single value: "
         "nothing can follow it"},
        {"ROWCAST_HTTP__SHOUT", "1",
         "bad.yaml: environment variable ROWCAST_HTTP__SHOUT: no key SHOUT here (keys are "
         "separated by __; rowcast --help-config lists them)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(cases[i].var, cases[i].value, 1);
        expect_error(MINIMAL, cases[i].expected);
        unsetenv(cases[i].var);
    }
}

static rc_config_t *load_dir(void) {
    err[0] = '\0';
    return rc_config_load(tmpdir, err, sizeof err);
}

static void test_config_directory_merges_pipelines_of_every_file(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rc-test-config-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char expect[512];

    rc_config_t *c = load_dir();
    assert_null(c);
    snprintf(expect, sizeof expect, "%s: the config directory has no *.yaml or *.yml file", tmpdir);
    assert_string_equal(err, expect);

    write_file("b.yml", "pipelines:\n  - {name: b1, source: {user: u, server_id: 2}}\n"
                        "  - {name: b2, source: {user: u, server_id: 3}}\n");
    write_file("notes.txt", "not: yaml: at: all");
    write_file(".hidden.yaml", "garbage: [");
    c = load_dir();
    assert_null(c);
    snprintf(expect, sizeof expect,
             "%s: no file of the config directory sets kafka (exactly one must hold the "
             "settings)",
             tmpdir);
    assert_string_equal(err, expect);

    write_file("a.yaml", "kafka: {brokers: k}\nshutdown_grace: 3\n"
                         "pipelines:\n  - {name: a1, source: {user: u, server_id: 1}}\n");
    write_file("c.yaml", "pipelines:\n  - {name: c1, source: {user: u, server_id: 4}}\n");
    c = load_dir();
    if (c == NULL) {
        fail_msg("expected the directory to load, got: %s", err);
    }
    assert_int_equal(c->n_pipelines, 4);
    assert_string_equal(c->pipelines[0].name, "a1"); /* the settings file, then name order */
    assert_string_equal(c->pipelines[1].name, "b1");
    assert_string_equal(c->pipelines[2].name, "b2");
    assert_string_equal(c->pipelines[3].name, "c1");
    assert_int_equal(c->pipelines[3].source.server_id, 4);
    assert_true(c->shutdown_grace_s == 3);
    snprintf(expect, sizeof expect, "%s/a.yaml", tmpdir);
    assert_string_equal(c->path, expect);
    rc_config_destroy(c);

    write_file("c.yaml", "pipelines:\n  - {name: b2, source: {user: u, server_id: 9}}\n");
    assert_null(load_dir());
    snprintf(expect, sizeof expect,
             "%s/c.yaml: pipelines[0].name: \"b2\" is already used in %s/b.yml", tmpdir, tmpdir);
    assert_string_equal(err, expect);

    write_file("c.yaml", "pipelines:\n  - {name: c1, source: {user: u, server_id: 1}}\n");
    assert_null(load_dir());
    snprintf(expect, sizeof expect,
             "%s/c.yaml: pipelines[0].source.server_id: 1 is already used by pipeline a1 in "
             "%s/a.yaml",
             tmpdir, tmpdir);
    assert_string_equal(err, expect);

    write_file("c.yaml", "http: {listen: ''}\npipelines:\n  - {name: c1, source: {user: u, "
                         "server_id: 5}}\n");
    assert_null(load_dir());
    snprintf(expect, sizeof expect, "%s/c.yaml:1: http: unknown key (known: pipelines)", tmpdir);
    assert_string_equal(err, expect);

    write_file("c.yaml", "pipelines: []\n");
    assert_null(load_dir());
    snprintf(expect, sizeof expect,
             "%s/c.yaml:1: pipelines: expected a list of at least 1 item(s), got 0", tmpdir);
    assert_string_equal(err, expect);

    write_file("c.yaml", "kafka: {brokers: k2}\n");
    assert_null(load_dir());
    snprintf(expect, sizeof expect,
             "%s: kafka is set in a.yaml and in c.yaml: exactly one file of a config directory "
             "holds the settings, the others only pipelines",
             tmpdir);
    assert_string_equal(err, expect);

    write_file("c.yaml", "pipelines:\n  - {name: c1, source: {user: u, port: x, server_id: 5}}\n");
    assert_null(load_dir());
    snprintf(expect, sizeof expect,
             "%s/c.yaml:2: pipelines[0].source.port: expected an integer from 1 to 65535, got "
             "\"x\"",
             tmpdir);
    assert_string_equal(err, expect);

    clean_dir();
    rmdir(tmpdir);
}

static void test_config_wrong_node_kind_names_expected_and_got(void **state) {
    (void)state;
    expect_error("kafka:\n  - brokers\n", "bad.yaml:2: kafka: expected a map, got a list");
    expect_error("kafka:\n  brokers: k\npipelines:\n  - shop\n",
                 "bad.yaml:4: pipelines[0]: expected a map, got \"shop\"");
    expect_error("kafka:\n  brokers: k\npipelines: {name: p}\n",
                 "bad.yaml:3: pipelines: expected a list of maps, got a map");
    expect_error(MINIMAL "      include: 'shop'\n",
                 "bad.yaml:8: pipelines[0].source.include: expected a list of strings, got "
                 "\"shop\"");
    expect_error(MINIMAL "      include: [[a]]\n",
                 "bad.yaml:8: pipelines[0].source.include[0]: expected a string, got a list");
    expect_error(MINIMAL "      port: [1]\n",
                 "bad.yaml:8: pipelines[0].source.port: expected an integer from 1 to 65535, got "
                 "a list");
    expect_error("- a\n", "bad.yaml:1: expected a map at the top level, got a list");
}

static void test_config_bad_integer_names_line_and_path(void **state) {
    (void)state;
    expect_error(MINIMAL "      port: abc\n",
                 "bad.yaml:8: pipelines[0].source.port: expected an integer from 1 to 65535, got "
                 "\"abc\"");
    expect_error(MINIMAL "      port: 70000\n",
                 "bad.yaml:8: pipelines[0].source.port: expected an integer from 1 to 65535, got "
                 "\"70000\"");
    expect_error(MINIMAL "      port: 3306.5\n",
                 "bad.yaml:8: pipelines[0].source.port: expected an integer from 1 to 65535, got "
                 "\"3306.5\"");
    expect_error(MINIMAL "    queue_batches: 0\n",
                 "bad.yaml:8: pipelines[0].queue_batches: expected an integer from 1 to 1024, got "
                 "\"0\"");
    expect_error(MINIMAL "    batch: {max_events: 100001}\n",
                 "bad.yaml:8: pipelines[0].batch.max_events: expected an integer from 1 to "
                 "100000, got \"100001\"");
    expect_error(MINIMAL "    sink: {topic_replication: 0}\n",
                 "bad.yaml:8: pipelines[0].sink.topic_replication: expected -1 (broker default) "
                 "or an integer from 1 to 32767, got 0");
    expect_error("kafka:\n  brokers: k\npipelines:\n  - name: p\n    source:\n      user: u\n"
                 "      server_id: 4294967296\n",
                 "bad.yaml:7: pipelines[0].source.server_id: expected an integer from 1 to "
                 "4294967295, got \"4294967296\"");
    expect_error("kafka:\n  brokers: k\npipelines:\n  - name: p\n    source:\n      user: u\n"
                 "      server_id: 0\n",
                 "bad.yaml:7: pipelines[0].source.server_id: expected an integer from 1 to "
                 "4294967295, got \"0\"");
}

static void test_config_bad_seconds_names_bounds(void **state) {
    (void)state;
    expect_error(MINIMAL "      heartbeat: 0.05\n",
                 "bad.yaml:8: pipelines[0].source.heartbeat: expected a number of seconds from "
                 "0.1 to 3600, got \"0.05\"");
    expect_error(MINIMAL "      heartbeat: .inf\n",
                 "bad.yaml:8: pipelines[0].source.heartbeat: expected a number of seconds from "
                 "0.1 to 3600, got \".inf\"");
    expect_error("shutdown_grace: 5s\n" MINIMAL,
                 "bad.yaml:1: shutdown_grace: expected a number of seconds from 0 to 3600, got "
                 "\"5s\"");
    rc_config_t *c = load_ok(MINIMAL "      heartbeat: 1e1\n      connect_timeout: .5\n");
    assert_true(c->pipelines[0].source.heartbeat_s == 10);
    assert_true(c->pipelines[0].source.connect_timeout_s == 0.5);
    rc_config_destroy(c);
}

static int count_bytes(FILE *f) {
    fflush(f);
    return (int)ftell(f);
}

static void test_config_yaml_syntax_error_names_line_and_prints_nothing(void **state) {
    (void)state;
    /* everything libfyaml might print goes to a temporary file instead of stderr */
    FILE *capture = tmpfile();
    assert_non_null(capture);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
    rc_config_t *c = load("kafka:\n  brokers: k\n\tpipelines: x\n");
    rc_config_t *c2 = load("kafka:\n  brokers: k\npipelines: [a, b\n");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    fseek(capture, 0, SEEK_END);
    int printed = count_bytes(capture);
    fclose(capture);
    assert_null(c2);
    assert_null(c);
    assert_int_equal(printed, 0);

    expect_error_prefix("kafka:\n  brokers: k\n\tpipelines: x\n", "bad.yaml:3: invalid YAML: ");
    expect_error_prefix("kafka:\n  brokers: \"unterminated\npipelines: []\n",
                        "bad.yaml:2: invalid YAML: ");
    expect_error_prefix("kafka:\n  brokers: k\n  x: y: z\n", "bad.yaml:3: invalid YAML: ");
}

static void test_config_duplicate_key_names_both_lines(void **state) {
    (void)state;
    expect_error("kafka:\n  brokers: a\n  brokers: b\n",
                 "bad.yaml:3: kafka.brokers: duplicate key (first at line 2)");
    expect_error(MINIMAL "      user: v\n",
                 "bad.yaml:8: pipelines[0].source.user: duplicate key (first at line 6)");
    expect_error("kafka:\n  brokers: a\n  rdkafka:\n    linger.ms: 1\n    acks: all\n"
                 "    linger.ms: 2\n",
                 "bad.yaml:6: kafka.rdkafka.linger.ms: duplicate key (first at line 4)");
}

static void test_config_empty_file_is_an_error(void **state) {
    (void)state;
    expect_error("", "bad.yaml:1: the file is empty");
    expect_error("# only a comment\n\n", "bad.yaml:1: the file is empty");
    expect_error("---\n", "bad.yaml:1: the file is empty");
}

static void test_config_second_document_is_an_error(void **state) {
    (void)state;
    expect_error(MINIMAL "---\nlog_level: info\n",
                 "bad.yaml:9: only one YAML document is allowed (found a second one)");
}

static void test_config_missing_file_names_path_and_strerror(void **state) {
    (void)state;
    rc_config_t *c = rc_config_load(DATA "/does_not_exist.yaml", err, sizeof err);
    assert_null(c);
    assert_string_equal(err, DATA "/does_not_exist.yaml: cannot read the config file: No such "
                                  "file or directory");
}

static void test_config_password_file_strips_one_trailing_newline(void **state) {
    (void)state;
    char path[] = "/tmp/rc_test_config_pw_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "pw\n\n", 4), 4);
    close(fd);
    char yaml[512];
    snprintf(yaml, sizeof yaml, MINIMAL "      password_file: %s\n", path);
    rc_config_t *c = load_ok(yaml);
    assert_string_equal(c->pipelines[0].source.password, "pw\n");
    rc_config_destroy(c);
    unlink(path);
}

static void test_config_password_file_reads_long_files_and_rejects_huge_ones(void **state) {
    (void)state;
    static char content[70 * 1024];
    char path[] = "/tmp/rc_test_config_pw_XXXXXX";
    char yaml[512], expected[512];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    memset(content, 'x', sizeof content);
    assert_int_equal(write(fd, content, 1000), 1000);
    assert_int_equal(write(fd, "\r\n", 2), 2);
    snprintf(yaml, sizeof yaml, MINIMAL "      password_file: %s\n", path);
    rc_config_t *c = load_ok(yaml);
    assert_int_equal(strlen(c->pipelines[0].source.password), 1000);
    rc_config_destroy(c);

    assert_int_equal(write(fd, content, sizeof content), (ssize_t)sizeof content);
    close(fd);
    snprintf(expected, sizeof expected,
             "bad.yaml:8: pipelines[0].source.password_file: \"%s\" is larger than 65536 bytes",
             path);
    expect_error(yaml, expected);
    unlink(path);
}

static void test_config_password_file_unreadable_names_path_and_key(void **state) {
    (void)state;
    rc_config_t *c = rc_config_load(DATA "/missing_password_file.yaml", err, sizeof err);
    assert_null(c);
    assert_string_equal(err, DATA "/missing_password_file.yaml:8: "
                                  "pipelines[0].source.password_file: cannot read \"" DATA
                                  "/no_such_password.txt\": No such file or directory");
}

static void test_config_password_and_password_file_conflict(void **state) {
    (void)state;
    expect_error(MINIMAL "      password: hunter2\n      password_file: /etc/hostname\n",
                 "bad.yaml:9: pipelines[0].source.password_file: password and password_file "
                 "cannot both be set");
}

static void test_config_secret_never_appears_in_errstr(void **state) {
    (void)state;
    setenv("RC_TEST_SECRET", "topsecret", 1);
    expect_error(MINIMAL "      password_file: /etc/hostname\n      password: ${RC_TEST_SECRET}\n",
                 "bad.yaml:9: pipelines[0].source.password: password and password_file cannot "
                 "both be set");
    expect_error(MINIMAL "      password: \"top\\0secret\"\n",
                 "bad.yaml:8: pipelines[0].source.password: a NUL byte is not allowed in a value");
    expect_error(MINIMAL "      password: topsecret${oops\n",
                 "bad.yaml:8: pipelines[0].source.password: bad ${NAME} reference (NAME is "
                 "letters, digits and _; write $$ for a literal $)");
    expect_error(MINIMAL "      password: [topsecret]\n",
                 "bad.yaml:8: pipelines[0].source.password: expected a string, got a list");
    expect_error("kafka:\n  brokers: k\n  rdkafka:\n    sasl.password: {x: topsecret}\n",
                 "bad.yaml:4: kafka.rdkafka.sasl.password: expected a string, number or boolean, "
                 "got a map");
    unsetenv("RC_TEST_SECRET");
}

static void test_config_env_substitutes_strings_numbers_and_bools(void **state) {
    (void)state;
    setenv("RC_TEST_USER", "alice", 1);
    setenv("RC_TEST_PORT", "3310", 1);
    setenv("RC_TEST_BOOL", "false", 1);
    setenv("RC_TEST_PW", "s3cr$t", 1);
    setenv("RC_TEST_EMPTY", "", 1);
    rc_config_t *c = load_ok("kafka:\n"
                             "  brokers: ${RC_TEST_USER}:9092\n"
                             "  rdkafka: {sasl.password: '${RC_TEST_PW}'}\n"
                             "pipelines:\n"
                             "  - name: p\n"
                             "    source:\n"
                             "      user: ${RC_TEST_USER}-x${RC_TEST_EMPTY}\n"
                             "      password: ${RC_TEST_PW}\n"
                             "      host: 'h$$1$'\n"
                             "      include: ['^shop$']\n"
                             "      port: ${RC_TEST_PORT}\n"
                             "      server_id: 1\n"
                             "    sink:\n"
                             "      create_topics: ${RC_TEST_BOOL}\n");
    assert_string_equal(c->kafka.brokers, "alice:9092");
    assert_string_equal(c->kafka.rdkafka[0].value, "s3cr$t");
    assert_string_equal(c->pipelines[0].source.user, "alice-x");
    assert_string_equal(c->pipelines[0].source.password, "s3cr$t");
    assert_string_equal(c->pipelines[0].source.host, "h$1$");
    assert_string_equal(c->pipelines[0].source.include[0], "^shop$");
    assert_int_equal(c->pipelines[0].source.port, 3310);
    assert_false(c->pipelines[0].sink.create_topics);
    rc_config_destroy(c);

    setenv("RC_TEST_PORT", "abc", 1);
    expect_error(MINIMAL "      port: ${RC_TEST_PORT}\n",
                 "bad.yaml:8: pipelines[0].source.port: expected an integer from 1 to 65535, got "
                 "\"abc\"");
    unsetenv("RC_TEST_USER");
    unsetenv("RC_TEST_PORT");
    unsetenv("RC_TEST_BOOL");
    unsetenv("RC_TEST_PW");
    unsetenv("RC_TEST_EMPTY");
}

static void test_config_env_unset_variable_names_it_file_line_and_key(void **state) {
    (void)state;
    unsetenv("RC_TEST_UNSET");
    expect_error(MINIMAL "      host: db-${RC_TEST_UNSET}\n",
                 "bad.yaml:8: pipelines[0].source.host: environment variable RC_TEST_UNSET is "
                 "not set");
    expect_error(MINIMAL "      port: ${RC_TEST_UNSET}\n",
                 "bad.yaml:8: pipelines[0].source.port: environment variable RC_TEST_UNSET is "
                 "not set");
    expect_error(MINIMAL "      host: db-${RC TEST}\n",
                 "bad.yaml:8: pipelines[0].source.host: bad ${NAME} reference \"${RC \" (NAME is "
                 "letters, digits and _; write $$ for a literal $)");
    expect_error(MINIMAL "      host: db-${RC_TEST\n",
                 "bad.yaml:8: pipelines[0].source.host: bad ${NAME} reference \"${RC_TEST\" (NAME "
                 "is letters, digits and _; write $$ for a literal $)");
}

static void test_config_duplicate_pipeline_name_is_an_error(void **state) {
    (void)state;
    expect_error(MINIMAL "  - name: p\n"
                         "    source: {user: u, server_id: 2}\n",
                 "bad.yaml:8: pipelines[1].name: \"p\" is already used by pipelines[0].name "
                 "(line 4)");
}

static void test_config_duplicate_server_id_is_an_error(void **state) {
    (void)state;
    expect_error(MINIMAL "  - name: q\n"
                         "    source: {user: u, server_id: 2}\n"
                         "  - name: r\n"
                         "    source:\n"
                         "      user: u\n"
                         "      server_id: '01'\n",
                 "bad.yaml:13: pipelines[2].source.server_id: 1 is already used by "
                 "pipelines[0].source.server_id (line 7)");
}

static void test_config_bad_regex_names_line_and_regex_error(void **state) {
    (void)state;
    /* the message carries regerror's text for the anchored pattern */
    regex_t re;
    char why[128], expected[512];
    int rc = regcomp(&re, "^(shop()$", REG_EXTENDED | REG_NOSUB);
    assert_int_not_equal(rc, 0);
    regerror(rc, &re, why, sizeof why);
    snprintf(expected, sizeof expected,
             "bad.yaml:10: pipelines[0].source.include[1]: invalid regular expression "
             "\"shop(\": %s",
             why);
    expect_error(MINIMAL "      include:\n"
                         "        - 'ok\\..*'\n"
                         "        - 'shop('\n",
                 expected);
    expect_error_prefix(MINIMAL "      exclude: ['a', 'b', '*x']\n",
                        "bad.yaml:8: pipelines[0].source.exclude[2]: invalid regular expression "
                        "\"*x\": ");
}

static void test_config_start_accepts_every_form(void **state) {
    (void)state;
    static const char *const good[] = {"earliest",
                                       "latest",
                                       "file:mysql-bin.000001:4",
                                       "file:binlog.000123:18446744073709551615",
                                       "gtid:0-1-42,1-2-7",
                                       "gtid:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:tag:1-3",
                                       "timestamp:2024-05-01T12:00:00Z",
                                       "timestamp:2024-05-01 14:00:00.5+02:00"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, MINIMAL "      start: '%s'\n", good[i]);
        rc_config_t *c = load_ok(yaml);
        assert_string_equal(c->pipelines[0].source.start, good[i]);
        rc_config_destroy(c);
    }
    static const struct {
        const char *start, *message;
    } bad[] = {
        {"gtid:abc:1", "GTID set \"abc:1\": expected a server UUID (8-4-4-4-12 hex digits) at "
                       "character 1 (\"abc:1\")"},
        {"gtid:0-1-2,0-1", "GTID set \"0-1-2,0-1\": expected '-' after the server id at the end"},
        {"gtid:", "expected a GTID set after gtid:, got nothing"},
        {"timestamp:2024-02-30T00:00:00Z", "expected an ISO 8601 time after timestamp:, such as "
                                           "2024-05-01T12:00:00Z, got \"2024-02-30T00:00:00Z\""},
        {"timestamp:yesterday", "expected an ISO 8601 time after timestamp:, such as "
                                "2024-05-01T12:00:00Z, got \"yesterday\""},
        {"Earliest", "expected earliest, latest, gtid:<set>, file:<name>:<pos> or "
                     "timestamp:<iso8601>, got \"Earliest\""},
        {"", "expected earliest, latest, gtid:<set>, file:<name>:<pos> or timestamp:<iso8601>, "
             "got \"\""},
        {"file:mysql-bin.000001", "expected file:<name>:<pos> with a binlog file name and a "
                                  "position, got \"file:mysql-bin.000001\""},
        {"file::4",
         "expected file:<name>:<pos> with a binlog file name and a position, got \"file::4\""},
        {"file:mysql-bin.000001:3", "expected the position in file:<name>:<pos> to be an "
                                    "integer >= 4, got \"file:mysql-bin.000001:3\""},
        {"file:mysql-bin.000001:x4", "expected the position in file:<name>:<pos> to be an "
                                     "integer >= 4, got \"file:mysql-bin.000001:x4\""},
        {"file:b:", "expected the position in file:<name>:<pos> to be an integer >= 4, got "
                    "\"file:b:\""},
        {"file:b:18446744073709551616", "expected the position in file:<name>:<pos> to be an "
                                        "integer >= 4, got \"file:b:18446744073709551616\""},
        {"file:/var/lib/b:4",
         "expected a binlog file name without a directory in \"file:/var/lib/b:4\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[512], expected[512];
        snprintf(yaml, sizeof yaml, MINIMAL "      start: '%s'\n", bad[i].start);
        snprintf(expected, sizeof expected, "bad.yaml:8: pipelines[0].source.start: %s",
                 bad[i].message);
        expect_error(yaml, expected);
    }
}

static void test_config_bool_accepts_only_true_and_false(void **state) {
    (void)state;
    static const struct {
        const char *text;
        bool value;
    } good[] = {{"true", true}, {"false", false}, {"True", true}, {"FALSE", false}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, MINIMAL "    sink: {create_topics: %s}\n", good[i].text);
        rc_config_t *c = load_ok(yaml);
        assert_int_equal(c->pipelines[0].sink.create_topics, good[i].value);
        rc_config_destroy(c);
    }
    static const char *const bad[] = {"yes", "no", "on", "off", "1", "0", "y", "tRUE"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[512], expected[512];
        snprintf(yaml, sizeof yaml, MINIMAL "    sink: {create_topics: %s}\n", bad[i]);
        snprintf(expected, sizeof expected,
                 "bad.yaml:8: pipelines[0].sink.create_topics: expected true or false, got "
                 "\"%s\"",
                 bad[i]);
        expect_error(yaml, expected);
    }
}

static void test_config_enum_unsupported_value_lists_supported(void **state) {
    (void)state;
    expect_error(MINIMAL "    sink:\n      format: avro\n",
                 "bad.yaml:9: pipelines[0].sink.format: unsupported value \"avro\" (supported: "
                 "json, protobuf, debezium-json)");
    expect_error(MINIMAL "      tls: {mode: on}\n",
                 "bad.yaml:8: pipelines[0].source.tls.mode: unsupported value \"on\" (supported: "
                 "disabled, preferred, required, verify_ca, verify_identity)");
    expect_error("log_level: verbose\n" MINIMAL,
                 "bad.yaml:1: log_level: unsupported value \"verbose\" (supported: error, warn, "
                 "info, debug)");
    rc_config_t *c = load_ok(MINIMAL "    sink: {format: protobuf}\n");
    assert_string_equal(c->pipelines[0].sink.format, "protobuf");
    rc_config_destroy(c);
    c = load_ok(MINIMAL "      tls: {mode: verify_ca}\n");
    assert_int_equal(c->pipelines[0].source.tls_mode, RC_TLS_VERIFY_CA);
    rc_config_destroy(c);
}

static void test_config_pipeline_name_charset_and_length(void **state) {
    (void)state;
    expect_error("kafka:\n  brokers: k\npipelines:\n  - name: 'my shop'\n",
                 "bad.yaml:4: pipelines[0].name: expected 1 to 64 characters from A-Z a-z 0-9 . "
                 "_ -, got \"my shop\"");
    expect_error("kafka:\n  brokers: k\npipelines:\n  - name: ''\n",
                 "bad.yaml:4: pipelines[0].name: expected 1 to 64 characters from A-Z a-z 0-9 . "
                 "_ -, got \"\"");
    char name65[66], yaml[512];
    memset(name65, 'a', 65);
    name65[65] = '\0';
    snprintf(yaml, sizeof yaml,
             "kafka:\n  brokers: k\npipelines:\n  - name: %s\n    source: {user: u, "
             "server_id: 1}\n",
             name65);
    expect_error_prefix(yaml, "bad.yaml:4: pipelines[0].name: expected 1 to 64 characters");
    name65[64] = '\0';
    snprintf(yaml, sizeof yaml,
             "kafka:\n  brokers: k\npipelines:\n  - name: %s\n    source: {user: u, "
             "server_id: 1}\n",
             name65);
    rc_config_destroy(load_ok(yaml));
}

static void test_config_rdkafka_keeps_scalars_as_text_in_file_order(void **state) {
    (void)state;
    rc_config_t *c = load_ok("kafka:\n"
                             "  brokers: k\n"
                             "  rdkafka:\n"
                             "    z.last.alphabetically: 1\n"
                             "    acks: all\n"
                             "    enable.idempotence: false\n"
                             "    message.timeout.ms: 0300\n"
                             "pipelines:\n"
                             "  - name: p\n"
                             "    source: {user: u, server_id: 1}\n");
    assert_int_equal(c->kafka.n_rdkafka, 4);
    assert_string_equal(c->kafka.rdkafka[0].key, "z.last.alphabetically");
    assert_string_equal(c->kafka.rdkafka[0].value, "1");
    assert_string_equal(c->kafka.rdkafka[1].key, "acks");
    assert_string_equal(c->kafka.rdkafka[1].value, "all");
    assert_string_equal(c->kafka.rdkafka[2].value, "false");
    assert_string_equal(c->kafka.rdkafka[3].value, "0300");
    rc_config_destroy(c);
    expect_error("kafka:\n  brokers: k\n  rdkafka:\n    acks: [1]\n",
                 "bad.yaml:4: kafka.rdkafka.acks: expected a string, number or boolean, got a "
                 "list");
    expect_error("kafka:\n  brokers: k\n  rdkafka:\n    acks:\n",
                 "bad.yaml:4: kafka.rdkafka.acks: expected a string, number or boolean, got "
                 "null");
}

static void test_config_tls_cert_requires_key(void **state) {
    (void)state;
    expect_error(MINIMAL "      tls:\n        cert: /c.pem\n",
                 "bad.yaml:8: pipelines[0].source.tls.key: required when cert is set");
    expect_error(MINIMAL "      tls:\n        mode: required\n        key: /k.pem\n",
                 "bad.yaml:8: pipelines[0].source.tls.cert: required when key is set");
}

static void test_config_topic_and_listen_are_validated(void **state) {
    (void)state;
    expect_error(MINIMAL "    sink: {topic: '{db}.{table}'}\n",
                 "bad.yaml:8: pipelines[0].sink.topic: expected a topic of A-Z a-z 0-9 . _ - and "
                 "the placeholders {schema} and {table}, got \"{db}.{table}\"");
    expect_error("http: {listen: localhost}\n" MINIMAL,
                 "bad.yaml:1: http.listen: expected host:port (port 1 to 65535) or \"\" to "
                 "disable, got \"localhost\"");
    rc_config_t *c = load_ok("http: {listen: ''}\n" MINIMAL);
    assert_string_equal(c->http.listen, "");
    rc_config_destroy(c);
}

static void test_config_transforms_in_order_with_match_and_policy(void **state) {
    (void)state;
    rc_config_t *c = load_ok(MINIMAL "    transforms:\n"
                                     "      - {engine: lua, file: a.lua, match: {table: 'u.*'}}\n"
                                     "      - {engine: js, file: b.js}\n"
                                     "    on_error: skip\n");
    const rc_pipeline_config_t *p = &c->pipelines[0];
    assert_int_equal(p->n_transforms, 2);
    assert_string_equal(p->transforms[0].engine, "lua");
    assert_string_equal(p->transforms[0].file, "a.lua");
    assert_null(p->transforms[0].match_schema);
    assert_string_equal(p->transforms[0].match_table, "u.*");
    assert_string_equal(p->transforms[1].engine, "js");
    assert_null(p->transforms[1].match_table);
    assert_int_equal(p->on_error, 1);
    assert_int_equal(p->transform_budget_ms, 1000);
    assert_int_equal(p->transform_memory_mb, 256);
    rc_config_destroy(c);
    c = load_ok(MINIMAL);
    assert_int_equal(c->pipelines[0].n_transforms, 0);
    assert_int_equal(c->pipelines[0].on_error, 0);
    rc_config_destroy(c);
    expect_error_prefix(MINIMAL "    transforms: [{engine: python, file: a.py}]\n",
                        "bad.yaml:8: pipelines[0].transforms[0].engine: ");
    expect_error_prefix(MINIMAL "    transforms: [{engine: lua}]\n",
                        "bad.yaml:8: pipelines[0].transforms[0].file: ");
    expect_error_prefix(MINIMAL "    transforms:\n"
                                "      - {engine: lua, file: a.lua, match: {table: '(('}}\n",
                        "bad.yaml:9: pipelines[0].transforms[0].match.table: invalid regular "
                        "expression");
    expect_error_prefix(MINIMAL "    on_error: retry\n", "bad.yaml:8: pipelines[0].on_error: ");
    c = load_ok(MINIMAL "    on_error: dead_letter\n");
    assert_int_equal(c->pipelines[0].on_error, 2);
    assert_string_equal(c->pipelines[0].dead_letter_topic, "{pipeline}.dead_letter");
    rc_config_destroy(c);
    c = load_ok(MINIMAL "    on_error: dead_letter\n    dead_letter_topic: dlq.{pipeline}-x\n");
    assert_string_equal(c->pipelines[0].dead_letter_topic, "dlq.{pipeline}-x");
    rc_config_destroy(c);
    expect_error(MINIMAL "    dead_letter_topic: 'a b'\n",
                 "bad.yaml:8: pipelines[0].dead_letter_topic: expected a topic of A-Z a-z 0-9 . _ "
                 "- and the placeholder {pipeline}, got \"a b\"");
}

static void test_config_aliases_are_resolved(void **state) {
    (void)state;
    rc_config_t *c = load_ok("kafka:\n"
                             "  brokers: k\n"
                             "pipelines:\n"
                             "  - name: a\n"
                             "    source: {user: u, server_id: 1}\n"
                             "    sink: &sink {topic: 'x.{table}', topic_partitions: 3}\n"
                             "  - name: b\n"
                             "    source: {user: u, server_id: 2}\n"
                             "    sink: *sink\n");
    assert_string_equal(c->pipelines[1].sink.topic, "x.{table}");
    assert_int_equal(c->pipelines[1].sink.topic_partitions, 3);
    rc_config_destroy(c);
    expect_error(MINIMAL "    sink: *nope\n", "bad.yaml:8: pipelines[0].sink: unknown alias *nope");
}

/* UDF plugins: a list of non-empty file names at the top (loading them is main's job). */
static void test_config_udfs_lists_plugin_files(void **state) {
    (void)state;
    rc_config_t *c = load_ok("udfs: [lib/mask.so, /opt/rowcast/geo.so]\n" MINIMAL);
    assert_int_equal(c->n_udfs, 2);
    assert_string_equal(c->udfs[0], "lib/mask.so");
    assert_string_equal(c->udfs[1], "/opt/rowcast/geo.so");
    rc_config_destroy(c);
    c = load_ok(MINIMAL);
    assert_int_equal(c->n_udfs, 0);
    rc_config_destroy(c);
    expect_error("udfs: ['']\n" MINIMAL, "bad.yaml:1: udfs[0]: must not be empty");
    expect_error_prefix("udfs: lib.so\n" MINIMAL, "bad.yaml:1: udfs: expected a list");
}

static void test_config_print_reference_lists_every_key(void **state) {
    (void)state;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_non_null(out);
    rc_config_print_reference(out);
    fclose(out);
    /* clang-format off */
    static const char *const paths[] = {
        "log_level", "shutdown_grace", "http", "http.listen", "kafka", "kafka.brokers",
        "kafka.rdkafka", "pipelines", "pipelines[].name", "pipelines[].source",
        "pipelines[].source.host", "pipelines[].source.port", "pipelines[].source.socket",
        "pipelines[].source.user", "pipelines[].source.password",
        "pipelines[].source.password_file", "pipelines[].source.server_id",
        "pipelines[].source.include", "pipelines[].source.exclude", "pipelines[].source.start",
        "pipelines[].source.heartbeat", "pipelines[].source.connect_timeout",
        "pipelines[].source.read_timeout", "pipelines[].source.tls",
        "pipelines[].source.tls.mode", "pipelines[].source.tls.ca",
        "pipelines[].source.tls.cert", "pipelines[].source.tls.key", "pipelines[].sink",
        "pipelines[].sink.format", "pipelines[].sink.topic", "pipelines[].sink.create_topics",
        "pipelines[].sink.topic_partitions", "pipelines[].sink.topic_replication",
        "pipelines[].batch", "pipelines[].batch.max_events", "pipelines[].batch.max_ms",
        "pipelines[].queue_batches", "udfs"};
    /* clang-format on */
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "\n%s: ", paths[i]);
        if (strstr(text, line) == NULL) {
            fail_msg("reference lacks %s:\n%s", paths[i], text);
        }
    }
    assert_non_null(strstr(text, "\npipelines[].source.port: integer from 1 to 65535, default "
                                 "3306\n    "));
    assert_non_null(strstr(text, "\npipelines[].source.read_timeout: number of seconds from 0.1 "
                                 "to 10800, default 3 x heartbeat\n"));
    assert_non_null(strstr(text, "\npipelines[].source.server_id: integer from 1 to 4294967295, "
                                 "required, unique\n"));
    assert_non_null(strstr(text, "\npipelines[].source.tls.mode: one of "
                                 "disabled|preferred|required|verify_ca|verify_identity, default "
                                 "disabled\n"));
    assert_non_null(strstr(text, "\nhttp.listen: string, default \"127.0.0.1:8080\"\n"));
    free(text);
}

static void test_config_destroy_accepts_null(void **state) {
    (void)state;
    rc_config_destroy(NULL);
}

static void test_config_state_topic_and_interval(void **state) {
    (void)state;
    rc_config_t *c = load_ok(MINIMAL);
    assert_string_equal(c->state.topic, "rowcast.state");
    assert_int_equal(c->state.interval_ms, 1000);
    rc_config_destroy(c);
    c = load_ok(MINIMAL "state:\n  topic: positions.prod\n  interval_ms: 250\n");
    assert_string_equal(c->state.topic, "positions.prod");
    assert_int_equal(c->state.interval_ms, 250);
    rc_config_destroy(c);
    expect_error(MINIMAL "state:\n  topic: 'a b'\n",
                 "bad.yaml:9: state.topic: expected a topic name of 1 to 249 characters from A-Z "
                 "a-z 0-9 . _ -, got \"a b\"");
    expect_error(
        MINIMAL "state:\n  interval_ms: 0\n",
        "bad.yaml:9: state.interval_ms: expected an integer from 10 to 3600000, got \"0\"");
    expect_error(MINIMAL "state:\n  topics: x\n",
                 "bad.yaml:9: state.topics: unknown key (known: topic, interval_ms, "
                 "interval_transactions)");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_full_file_sets_every_field),
        cmocka_unit_test(test_config_minimal_applies_defaults),
        cmocka_unit_test(test_config_read_timeout_defaults_to_three_heartbeats),
        cmocka_unit_test(test_config_null_value_keeps_default),
        cmocka_unit_test(test_config_unknown_key_names_line_and_path),
        cmocka_unit_test(test_config_delivery_modes),
        cmocka_unit_test(test_config_missing_required_key_names_parent_line_and_full_path),
        cmocka_unit_test(test_config_without_pipelines_is_valid),
        cmocka_unit_test(test_config_pipeline_json_uses_the_yaml_tables),
        cmocka_unit_test(test_config_directory_merges_pipelines_of_every_file),
        cmocka_unit_test(test_config_position_body_is_checked_by_a_table),
        cmocka_unit_test(test_config_wrong_node_kind_names_expected_and_got),
        cmocka_unit_test(test_config_bad_integer_names_line_and_path),
        cmocka_unit_test(test_config_bad_seconds_names_bounds),
        cmocka_unit_test(test_config_yaml_syntax_error_names_line_and_prints_nothing),
        cmocka_unit_test(test_config_duplicate_key_names_both_lines),
        cmocka_unit_test(test_config_empty_file_is_an_error),
        cmocka_unit_test(test_config_second_document_is_an_error),
        cmocka_unit_test(test_config_missing_file_names_path_and_strerror),
        cmocka_unit_test(test_config_password_file_strips_one_trailing_newline),
        cmocka_unit_test(test_config_password_file_reads_long_files_and_rejects_huge_ones),
        cmocka_unit_test(test_config_password_file_unreadable_names_path_and_key),
        cmocka_unit_test(test_config_password_and_password_file_conflict),
        cmocka_unit_test(test_config_secret_never_appears_in_errstr),
        cmocka_unit_test(test_config_env_substitutes_strings_numbers_and_bools),
        cmocka_unit_test(test_config_env_unset_variable_names_it_file_line_and_key),
        cmocka_unit_test(test_config_duplicate_pipeline_name_is_an_error),
        cmocka_unit_test(test_config_duplicate_server_id_is_an_error),
        cmocka_unit_test(test_config_bad_regex_names_line_and_regex_error),
        cmocka_unit_test(test_config_start_accepts_every_form),
        cmocka_unit_test(test_config_bool_accepts_only_true_and_false),
        cmocka_unit_test(test_config_enum_unsupported_value_lists_supported),
        cmocka_unit_test(test_config_pipeline_name_charset_and_length),
        cmocka_unit_test(test_config_rdkafka_keeps_scalars_as_text_in_file_order),
        cmocka_unit_test(test_config_tls_cert_requires_key),
        cmocka_unit_test(test_config_topic_and_listen_are_validated),
        cmocka_unit_test(test_config_aliases_are_resolved),
        cmocka_unit_test(test_config_transforms_in_order_with_match_and_policy),
        cmocka_unit_test(test_config_udfs_lists_plugin_files),
        cmocka_unit_test(test_config_print_reference_lists_every_key),
        cmocka_unit_test(test_config_destroy_accepts_null),
        cmocka_unit_test(test_config_env_overrides_any_value),
        cmocka_unit_test(test_config_env_override_errors_name_the_variable),
        cmocka_unit_test(test_config_state_topic_and_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
