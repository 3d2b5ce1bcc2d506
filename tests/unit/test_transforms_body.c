/* test_transforms_body.c: the body of PUT /v1/pipelines/{name}/transform, and compiling it as a
 * pipeline's scripts (rc_pipeline_transforms_new). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rc_pipeline.h"
#include "rc_script.h"
#include "rc_transforms_body.h"

static rc_err_t parse(const char *text, rc_transforms_body_t *b, char *field, char *errstr) {
    return rc_transforms_body_parse("request body", text, strlen(text), b, field, 256, errstr,
                                    1024);
}

static void test_parses_entries_in_order(void **state) {
    (void)state;
    rc_transforms_body_t b;
    char field[256], errstr[1024];
    assert_int_equal(
        parse("{\"transforms\":[{\"engine\":\"lua\",\"script\":\"function transform(e) return "
              "ACTION_CONT end\"},{\"engine\":\"js\",\"script\":\"function transform(e){}\","
              "\"match\":{\"schema\":\"shop\",\"table\":\"users|orders\"}}]}",
              &b, field, errstr),
        RC_OK);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.specs[0].engine, "lua");
    assert_string_equal(b.specs[0].file, "transforms[0]");
    assert_null(b.specs[0].match_schema);
    assert_int_equal(b.specs[0].source_len, strlen(b.specs[0].source));
    assert_string_equal(b.specs[1].engine, "js");
    assert_string_equal(b.specs[1].match_schema, "shop");
    assert_string_equal(b.specs[1].match_table, "users|orders");
    assert_string_equal(b.specs[1].source, "function transform(e){}");
    rc_transforms_body_free(&b);

    assert_int_equal(parse("{\"transforms\":[]}", &b, field, errstr), RC_OK);
    assert_int_equal(b.n, 0);
    rc_transforms_body_free(&b);
}

static void test_bad_bodies_name_the_field(void **state) {
    (void)state;
    static const struct {
        const char *body, *field, *words;
    } cases[] = {
        {"[1]", "", "not a JSON object"},
        {"{\"transforms\":[", "", "not a JSON object"},
        {"{}", "transforms", "required"},
        {"{\"transforms\":{}}", "transforms", "a list"},
        {"{\"transforms\":[],\"x\":1}", "x", "unknown key 'x'"},
        {"{\"transforms\":[1]}", "transforms[0]", "expected an object"},
        {"{\"transforms\":[{\"engine\":\"py\",\"script\":\"\"}]}", "transforms[0].engine",
         "\"lua\" or \"js\""},
        {"{\"transforms\":[{\"engine\":\"lua\"}]}", "transforms[0].script", "required"},
        {"{\"transforms\":[{\"engine\":\"lua\",\"script\":3}]}", "transforms[0].script",
         "as a string"},
        {"{\"transforms\":[{\"engine\":\"lua\",\"script\":\"\",\"file\":\"a.lua\"}]}",
         "transforms[0].file", "unknown key"},
        {"{\"transforms\":[{\"engine\":\"lua\",\"script\":\"\",\"match\":{\"table\":\"(\"}}]}",
         "transforms[0].match.table", "not a valid regular expression"},
        {"{\"transforms\":[{\"engine\":\"lua\",\"script\":\"\",\"match\":{\"tab\":\"x\"}}]}",
         "transforms[0].match.tab", "unknown key (schema, table)"},
        {"{\"transforms\":[{\"engine\":\"lua\",\"script\":\"\",\"match\":[]}]}",
         "transforms[0].match", "expected an object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rc_transforms_body_t b;
        char field[256], errstr[1024];
        assert_int_equal(parse(cases[i].body, &b, field, errstr), RC_ERR_INVALID);
        rc_transforms_body_free(&b);
        if (strcmp(field, cases[i].field) != 0 || !strstr(errstr, cases[i].words) ||
            strncmp(errstr, "request body: ", 14) != 0) {
            fail_msg("case %zu (%s): field '%s', message '%s'", i, cases[i].body, field, errstr);
        }
    }
}

static rc_pipeline_config_t pipeline_config(void) {
    rc_pipeline_config_t pc = {0};
    pc.name = "shop";
    pc.transform_budget_ms = 200;
    pc.transform_memory_mb = 16;
    return pc;
}

static void test_compiles_under_the_pipeline_settings(void **state) {
    (void)state;
    rc_transforms_body_t b;
    char field[256], errstr[1024];
    assert_int_equal(parse("{\"transforms\":[{\"engine\":\"lua\",\"script\":\"big = {}\\nfor i = "
                           "1, 10000 do big[i] = i end\\nfunction transform(e) return "
                           "ACTION_CONT end\"}]}",
                           &b, field, errstr),
                     RC_OK);
    rc_pipeline_config_t pc = pipeline_config();
    rc_transform_chain_t *c = rc_pipeline_transforms_new(&pc, b.specs, b.n, errstr, sizeof errstr);
    assert_non_null(c);
    assert_int_equal(b.specs[0].budget_ms, 200);
    assert_int_equal(b.specs[0].memory_bytes, (size_t)16 << 20);
    /* the VM holds the table the top level built: more than 10000 array slots */
    assert_true(rc_transform_chain_memory(c) > 10000 * sizeof(double));
    rc_transform_chain_destroy(c);
    rc_transforms_body_free(&b);
}

static void test_a_script_that_does_not_load_names_its_line(void **state) {
    (void)state;
    static const char *const bodies[] = {
        "{\"transforms\":[{\"engine\":\"lua\",\"script\":\"function transform(e)\\n  return "
        "ACTION_CONT\\nen\"}]}",
        "{\"transforms\":[{\"engine\":\"lua\",\"script\":\"x = 1\\nlocal y = 2\"}]}",
        "{\"transforms\":[{\"engine\":\"lua\",\"script\":\"function transform(e) end\"},"
        "{\"engine\":\"js\",\"script\":\"function transform(e) {\\n  return [;\\n}\"}]}",
        "{\"transforms\":[{\"engine\":\"lua\",\"script\":\"while true do end\\nfunction "
        "transform(e) end\"}]}",
    };
    static const char *const want[] = {"transforms[0]:3:", "transforms[0]",
                                       "transforms[1]:2:", "transforms[0]:1:"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        rc_transforms_body_t b;
        char field[256], errstr[1024];
        assert_int_equal(parse(bodies[i], &b, field, errstr), RC_OK);
        rc_pipeline_config_t pc = pipeline_config();
        rc_transform_chain_t *c =
            rc_pipeline_transforms_new(&pc, b.specs, b.n, errstr, sizeof errstr);
        rc_transforms_body_free(&b);
        if (c || !strstr(errstr, want[i]) || strncmp(errstr, "pipeline shop: ", 15) != 0) {
            fail_msg("body %zu: %s", i, c ? "loaded" : errstr);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_entries_in_order),
        cmocka_unit_test(test_bad_bodies_name_the_field),
        cmocka_unit_test(test_compiles_under_the_pipeline_settings),
        cmocka_unit_test(test_a_script_that_does_not_load_names_its_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
