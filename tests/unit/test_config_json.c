/* test_config_json.c: a loaded pipeline config written back as JSON (rc_config_json.c), as
 * GET /v1/pipelines/{name}/config shows it: every key with its value or default, secrets as
 * "***", and the token of the http section never part of a pipeline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rc_buf.h"
#include "rc_config.h"

static rc_config_t *load(const char *yaml) {
    char err[1024] = "";
    rc_config_t *c = rc_config_load_string("t.yaml", yaml, strlen(yaml), err, sizeof err);
    if (!c) {
        fail_msg("load failed: %s", err);
    }
    return c;
}

static void test_config_json_full_pipeline_with_defaults_and_masked_password(void **state) {
    (void)state;
    rc_config_t *c = load("http: {listen: '127.0.0.1:1', token: tok-SECRET}\n"
                          "kafka: {brokers: 'k:9092', rdkafka: {sasl.password: KAFKA-SECRET}}\n"
                          "pipelines:\n"
                          "  - name: p1\n"
                          "    source: {user: u, password: \"pw\\\"SECRET\", server_id: 7,\n"
                          "             include: ['a\\..*', 'b\"c'], tls: {mode: required}}\n"
                          "    batch: {max_ms: 5}\n");
    rc_buf_t b = RC_BUF_INIT;
    rc_config_pipeline_write_json(&c->pipelines[0], &b);
    rc_buf_putc(&b, '\0');
    assert_string_equal(
        b.data,
        "{\"name\":\"p1\",\"source\":{\"host\":\"127.0.0.1\",\"port\":3306,\"user\":\"u\","
        "\"password\":\"***\",\"server_id\":7,\"include\":[\"a\\\\..*\",\"b\\\"c\"],"
        "\"exclude\":[],\"start\":\"earliest\",\"geometry\":\"wkb\",\"heartbeat\":5,"
        "\"connect_timeout\":10,"
        "\"read_timeout\":15,\"tls\":{\"mode\":\"required\"}},"
        "\"sink\":{\"format\":\"json\",\"key\":\"primary_key\",\"topic\":\"{schema}.{table}\","
        "\"create_topics\":true,\"topic_partitions\":1,\"topic_replication\":-1,"
        "\"debezium\":{\"schemas\":false}},"
        "\"batch\":{\"max_events\":1000,\"max_ms\":5},\"queue_batches\":16,"
        "\"transforms\":[],\"on_error\":\"fail\",\"transform_budget_ms\":1000,"
        "\"transform_memory_mb\":256,\"dead_letter_topic\":\"{pipeline}.dead_letter\",\"delivery\":"
        "\"at_least_once\"}");
    assert_null(strstr(b.data, "SECRET"));
    assert_string_equal(c->http.token, "tok-SECRET");
    rc_buf_free(&b);
    rc_config_destroy(c);
}

static void test_config_json_password_file_shown_masked_under_password(void **state) {
    (void)state;
    char path[] = "/tmp/rc_test_config_json_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "FILE-SECRET\n", 12), 12);
    close(fd);
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "http: {token_file: %s}\nkafka: {brokers: 'k:9092'}\npipelines:\n"
             "  - name: p\n    source: {user: u, server_id: 1, password_file: %s}\n",
             path, path);
    rc_config_t *c = load(yaml);
    unlink(path);
    assert_string_equal(c->http.token, "FILE-SECRET");
    rc_buf_t b = RC_BUF_INIT;
    rc_config_pipeline_write_json(&c->pipelines[0], &b);
    rc_buf_putc(&b, '\0');
    assert_non_null(strstr(b.data, "\"password\":\"***\""));
    assert_null(strstr(b.data, "password_file"));
    assert_null(strstr(b.data, "SECRET"));
    rc_buf_free(&b);
    rc_config_destroy(c);
}

static void test_config_json_token_and_token_file_conflict(void **state) {
    (void)state;
    const char *yaml = "http: {token: a, token_file: /x}\nkafka: {brokers: 'k:9092'}\n"
                       "pipelines:\n  - name: p\n    source: {user: u, server_id: 1}\n";
    char err[1024] = "";
    rc_config_t *c = rc_config_load_string("t.yaml", yaml, strlen(yaml), err, sizeof err);
    assert_null(c);
    assert_non_null(strstr(err, "http.token"));
    assert_non_null(strstr(err, "token_file"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_json_full_pipeline_with_defaults_and_masked_password),
        cmocka_unit_test(test_config_json_password_file_shown_masked_under_password),
        cmocka_unit_test(test_config_json_token_and_token_file_conflict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
