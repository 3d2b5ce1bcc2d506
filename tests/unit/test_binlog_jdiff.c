/* test_binlog_jdiff.c: partial JSON updates (rc_binlog_json_apply_diffs): path parsing, each
 * diff operation on objects, arrays and nested values, MySQL's key order for inserted members,
 * and clean errors for bad paths and malformed diffs. Binary JSON values are written by hand
 * after MySQL's format (sql-common/json_binary.cc layout, as tests/data/binlog uses it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rc_binlog_int.h"

/* Binary JSON values. */
#define J_INT(v)   "05" v /* int16, 2 bytes little-endian hex */
#define J_TRUE     "0401"
#define J_NULL     "0400"
#define J_STR_X    "0c0178" /* "x" */
#define J_STR_ROME "0c04526f6d65"
/* [1,2]: small array, 2 elements, 10 bytes, int16 values inline */
#define J_ARR12 "0202000a00050100050200"
/* {"x":true}: small object, 1 member, 12 bytes */
#define J_OBJ_XT                                                                                   \
    "0001000c000b000100040100"                                                                     \
    "78"

typedef struct diff {
    int op; /* 0 REPLACE 1 INSERT 2 REMOVE */
    const char *path;
    const char *value_hex; /* binary JSON; NULL for REMOVE */
} diff_t;

static size_t unhex(const char *s, uint8_t *out) {
    size_t n = 0;
    for (; s[0] && s[1]; s += 2) {
        unsigned v;
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* The diffs as a PARTIAL_UPDATE_ROWS value carries them (values below 251 bytes). */
static size_t encode(const diff_t *d, int n, uint8_t *out) {
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        out[k++] = (uint8_t)d[i].op;
        size_t pl = strlen(d[i].path);
        assert_true(pl < 65536);
        if (pl < 251) {
            out[k++] = (uint8_t)pl;
        } else {
            out[k++] = 0xfc;
            out[k++] = (uint8_t)pl;
            out[k++] = (uint8_t)(pl >> 8);
        }
        memcpy(out + k, d[i].path, pl);
        k += pl;
        if (d[i].value_hex) {
            uint8_t v[256];
            size_t vl = unhex(d[i].value_hex, v);
            out[k++] = (uint8_t)vl;
            memcpy(out + k, v, vl);
            k += vl;
        }
    }
    return k;
}

static rc_err_t run(const char *doc, const diff_t *d, int n, rc_buf_t *out, char *why,
                    size_t why_size) {
    uint8_t bytes[2048];
    size_t len = encode(d, n, bytes);
    rc_buf_t work[4] = {RC_BUF_INIT, RC_BUF_INIT, RC_BUF_INIT, RC_BUF_INIT};
    rc_buf_reset(out);
    rc_err_t err =
        rc_binlog_json_apply_diffs(doc, strlen(doc), bytes, len, work, out, why, why_size);
    for (int i = 0; i < 4; i++) {
        rc_buf_free(&work[i]);
    }
    return err;
}

static void expect_doc(const char *doc, const diff_t *d, int n, const char *want) {
    rc_buf_t out = RC_BUF_INIT;
    char why[512] = "";
    rc_err_t err = run(doc, d, n, &out, why, sizeof(why));
    if (err != RC_OK) {
        fail_msg("%s with %s: %s", doc, d[0].path, why);
    }
    if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0) {
        fail_msg("%s with %s %s: want %s, got %.*s", doc, d[0].path, n > 1 ? "..." : "", want,
                 (int)out.len, out.data);
    }
    rc_buf_free(&out);
}

static void expect_fail(const char *doc, const diff_t *d, int n, const char *part) {
    rc_buf_t out = RC_BUF_INIT;
    char why[512] = "";
    assert_int_equal(run(doc, d, n, &out, why, sizeof(why)), RC_ERR_INVALID);
    if (!strstr(why, part)) {
        fail_msg("want \"%s\" in \"%s\"", part, why);
    }
    assert_int_equal(out.len, 0); /* nothing was appended */
    rc_buf_free(&out);
}

#define ONE(op, path, v) ((const diff_t[]){{op, path, v}}), 1

static void test_replace_members_elements_and_the_root(void **state) {
    (void)state;
    const char *doc = "{\"a\":1,\"b\":[1,2,{\"c\":\"s\"}]}";
    expect_doc(doc, ONE(0, "$.a", J_INT("0500")), "{\"a\":5,\"b\":[1,2,{\"c\":\"s\"}]}");
    expect_doc(doc, ONE(0, "$.b[1]", J_STR_X), "{\"a\":1,\"b\":[1,\"x\",{\"c\":\"s\"}]}");
    expect_doc(doc, ONE(0, "$.b[2].c", J_ARR12), "{\"a\":1,\"b\":[1,2,{\"c\":[1,2]}]}");
    expect_doc(doc, ONE(0, "$.b", J_NULL), "{\"a\":1,\"b\":null}");
    expect_doc(doc, ONE(0, "$", J_OBJ_XT), "{\"x\":true}");
    /* [last] and [last-N] count from the end */
    expect_doc(doc, ONE(0, "$.b[last]", J_TRUE), "{\"a\":1,\"b\":[1,2,true]}");
    expect_doc(doc, ONE(0, "$.b[last-2]", J_TRUE), "{\"a\":1,\"b\":[true,2,{\"c\":\"s\"}]}");
    /* a value that is not an array is its own [0] (MySQL's auto-wrap) */
    expect_doc(doc, ONE(0, "$.a[0]", J_TRUE), "{\"a\":true,\"b\":[1,2,{\"c\":\"s\"}]}");
    /* spaces between legs, and a string value with a quote inside */
    expect_doc("[\"q\\\"q\",0]", ONE(0, " $ [ 1 ] ", J_INT("ffff")), "[\"q\\\"q\",-1]");
}

static void test_quoted_member_names(void **state) {
    (void)state;
    const char *doc = "{\"a b\":1,\"q\\\"\":2,\"\\u00e9\":3,\"\xc3\xa9t\xc3\xa9\":4}";
    expect_doc(doc, ONE(0, "$.\"a b\"", J_TRUE),
               "{\"a b\":true,\"q\\\"\":2,\"\\u00e9\":3,\"\xc3\xa9t\xc3\xa9\":4}");
    expect_doc(doc, ONE(0, "$.\"q\\\"\"", J_TRUE),
               "{\"a b\":1,\"q\\\"\":true,\"\\u00e9\":3,\"\xc3\xa9t\xc3\xa9\":4}");
    /* an escape in the document and UTF-8 in the path name the same key */
    expect_doc(doc, ONE(0, "$.\"\xc3\xa9\"", J_TRUE),
               "{\"a b\":1,\"q\\\"\":2,\"\\u00e9\":true,\"\xc3\xa9t\xc3\xa9\":4}");
    expect_doc(doc, ONE(0, "$.\"\\u00e9t\\u00e9\"", J_TRUE),
               "{\"a b\":1,\"q\\\"\":2,\"\\u00e9\":3,\"\xc3\xa9t\xc3\xa9\":true}");
    expect_doc(doc, ONE(0, "$.\xc3\xa9t\xc3\xa9", J_NULL),
               "{\"a b\":1,\"q\\\"\":2,\"\\u00e9\":3,\"\xc3\xa9t\xc3\xa9\":null}");
    /* a surrogate pair in the path */
    expect_doc("{\"\xf0\x9f\x98\x80\":0}", ONE(0, "$.\"\\ud83d\\ude00\"", J_TRUE),
               "{\"\xf0\x9f\x98\x80\":true}");
}

static void test_insert_members_in_mysql_key_order(void **state) {
    (void)state;
    const char *doc = "{\"b\":1,\"aa\":2,\"ccc\":3}";
    /* shorter keys first, then by bytes */
    expect_doc(doc, ONE(1, "$.a", J_TRUE), "{\"a\":true,\"b\":1,\"aa\":2,\"ccc\":3}");
    expect_doc(doc, ONE(1, "$.c", J_TRUE), "{\"b\":1,\"c\":true,\"aa\":2,\"ccc\":3}");
    expect_doc(doc, ONE(1, "$.ab", J_TRUE), "{\"b\":1,\"aa\":2,\"ab\":true,\"ccc\":3}");
    expect_doc(doc, ONE(1, "$.dddd", J_TRUE), "{\"b\":1,\"aa\":2,\"ccc\":3,\"dddd\":true}");
    expect_doc("{}", ONE(1, "$.\"new\\nkey\"", J_ARR12), "{\"new\\nkey\":[1,2]}");
    expect_doc("[{\"x\":1}]", ONE(1, "$[0].\"y z\"", J_STR_ROME), "[{\"x\":1,\"y z\":\"Rome\"}]");
}

/* Regression (found by fuzz_json_diff): the key of an inserted member was quoted from the
 * key buffer into itself, and read freed memory when its escapes made the buffer grow. */
static void test_insert_of_a_key_that_grows_when_escaped(void **state) {
    (void)state;
    char path[2 + 120 + 1] = "$.", want[2 + 120 * 6 + 8] = "{\"";
    memset(path + 2, 0x01, 120);
    path[122] = '\0';
    for (int i = 0; i < 120; i++) {
        strcat(want, "\\u0001");
    }
    strcat(want, "\":true}");
    expect_doc("{}", ONE(1, path, J_TRUE), want);
}

static void test_insert_array_elements(void **state) {
    (void)state;
    expect_doc("[1,2]", ONE(1, "$[0]", J_TRUE), "[true,1,2]");
    expect_doc("[1,2]", ONE(1, "$[1]", J_TRUE), "[1,true,2]");
    expect_doc("[1,2]", ONE(1, "$[2]", J_TRUE), "[1,2,true]");
    expect_doc("[1,2]", ONE(1, "$[99]", J_TRUE), "[1,2,true]"); /* past the end: appended */
    expect_doc("[]", ONE(1, "$[3]", J_OBJ_XT), "[{\"x\":true}]");
    expect_doc("{\"a\":[[]]}", ONE(1, "$.a[0][0]", J_STR_X), "{\"a\":[[\"x\"]]}");
}

static void test_remove_first_middle_last_and_only(void **state) {
    (void)state;
    expect_doc("[1,2,3]", ONE(2, "$[0]", NULL), "[2,3]");
    expect_doc("[1,2,3]", ONE(2, "$[1]", NULL), "[1,3]");
    expect_doc("[1,2,3]", ONE(2, "$[2]", NULL), "[1,2]");
    expect_doc("[1,2,3]", ONE(2, "$[last]", NULL), "[1,2]");
    expect_doc("[[1]]", ONE(2, "$[0][0]", NULL), "[[]]");
    expect_doc("{\"a\":1,\"b\":{\"c\":[1]},\"d\":3}", ONE(2, "$.a", NULL),
               "{\"b\":{\"c\":[1]},\"d\":3}");
    expect_doc("{\"a\":1,\"b\":{\"c\":[1]},\"d\":3}", ONE(2, "$.b", NULL), "{\"a\":1,\"d\":3}");
    expect_doc("{\"a\":1,\"b\":{\"c\":[1]},\"d\":3}", ONE(2, "$.d", NULL),
               "{\"a\":1,\"b\":{\"c\":[1]}}");
    expect_doc("{\"a\":{\"b\":\"}\"}}", ONE(2, "$.a.b", NULL), "{\"a\":{}}");
}

static void test_diffs_apply_in_order(void **state) {
    (void)state;
    static const diff_t d[] = {
        {1, "$.list[0]", J_INT("0a00")},
        {0, "$.list[1]", J_STR_X},
        {2, "$.old", NULL},
        {1, "$.new", J_TRUE},
        {0, "$.new", J_NULL},
    };
    expect_doc("{\"old\":1,\"list\":[1,2]}", d, 5, "{\"new\":null,\"list\":[10,\"x\",2]}");
}

static void test_bad_paths_fail_cleanly(void **state) {
    (void)state;
    const char *doc = "{\"a\":[1,2]}";
    expect_fail(doc, ONE(0, "", J_TRUE), "JSON diff 1 (REPLACE ): the path does not start with $");
    expect_fail(doc, ONE(0, "a", J_TRUE), "the path does not start with $");
    expect_fail(doc, ONE(0, "$.", J_TRUE), "a member name is missing after '.'");
    expect_fail(doc, ONE(0, "$.*", J_TRUE), "a wildcard does not name one place");
    expect_fail(doc, ONE(0, "$.a[*]", J_TRUE), "a wildcard does not name one place");
    expect_fail(doc, ONE(0, "$**.a", J_TRUE), "** does not name one place");
    expect_fail(doc, ONE(0, "$.a[0 to 1]", J_TRUE), "a range does not name one place");
    expect_fail(doc, ONE(0, "$.a[x]", J_TRUE), "an array index is not a number");
    expect_fail(doc, ONE(0, "$.a[1", J_TRUE), "an array index is not closed by ']'");
    expect_fail(doc, ONE(0, "$.a[last-]", J_TRUE), "a number must follow 'last-'");
    expect_fail(doc, ONE(0, "$.a[99999999999999999999]", J_TRUE), "an array index is not a number");
    expect_fail(doc, ONE(0, "$.\"a", J_TRUE), "a quoted member name is malformed");
    expect_fail(doc, ONE(0, "$.\"\\x\"", J_TRUE), "a quoted member name is malformed");
    expect_fail(doc, ONE(0, "$.\"\\ud800\"", J_TRUE), "a quoted member name is malformed");
    expect_fail(doc, ONE(0, "$a", J_TRUE), "a path leg starts with neither '.' nor '['");
    char deep[512] = "$";
    for (int i = 0; i < 130; i++) {
        strcat(deep, "[0]");
    }
    expect_fail(doc, ONE(0, deep, J_TRUE), "the path is deeper than any JSON document");
}

static void test_paths_the_document_lacks_fail_cleanly(void **state) {
    (void)state;
    const char *doc = "{\"a\":[1,2],\"s\":\"t\"}";
    expect_fail(doc, ONE(0, "$.b", J_TRUE),
                "JSON diff 1 (REPLACE $.b): the document has no value at the path to replace");
    expect_fail(doc, ONE(0, "$.a[2]", J_TRUE), "no value at the path to replace");
    expect_fail(doc, ONE(0, "$.a[last-2]", J_TRUE), "no value at the path to replace");
    expect_fail(doc, ONE(0, "$.b.c", J_TRUE), "the document has no value at the path");
    expect_fail(doc, ONE(0, "$.s.c", J_TRUE), "the document has no value at the path");
    expect_fail(doc, ONE(2, "$.b", NULL), "JSON diff 1 (REMOVE $.b): the document has no value");
    expect_fail(doc, ONE(2, "$.a[5]", NULL), "no value at the path to remove");
    expect_fail(doc, ONE(2, "$.s[0]", NULL), "no value at the path to remove");
    expect_fail(doc, ONE(2, "$", NULL), "only REPLACE can apply to the whole document");
    expect_fail(doc, ONE(1, "$", J_TRUE), "only REPLACE can apply to the whole document");
    expect_fail(doc, ONE(1, "$.a", J_TRUE), "the object already has the member to insert");
    expect_fail(doc, ONE(1, "$.s.x", J_TRUE), "INSERT of a member needs an object");
    expect_fail(doc, ONE(1, "$.s[0]", J_TRUE), "INSERT of an array element needs an array");
    /* the second diff is the bad one */
    static const diff_t two[] = {{0, "$.s", J_TRUE}, {2, "$.zz", NULL}};
    expect_fail(doc, two, 2, "JSON diff 2 (REMOVE $.zz)");
}

static void test_malformed_diffs_fail_cleanly(void **state) {
    (void)state;
    static const struct {
        const char *hex;
        const char *part;
    } cases[] = {
        {"03", "JSON diff 1 has the unknown operation 3"},
        {"00", "the diff ends inside its path"},
        {"0005242e61", "the diff ends inside its path"},
        {"0003242e61", "the diff ends inside its value"},
        {"0003242e6103", "the diff ends inside its value"},
        {"0003242e6100", "the diff has an empty value"},
        {"0003242e61020c05", "invalid binary JSON"},
        {"0003242e6101ee", "invalid binary JSON"},
        {"0003242e61020401ff", "JSON diff 2 has the unknown operation 255"},
        {"02fc", "the diff ends inside its path"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t bytes[64];
        size_t n = unhex(cases[i].hex, bytes);
        rc_buf_t work[4] = {RC_BUF_INIT, RC_BUF_INIT, RC_BUF_INIT, RC_BUF_INIT};
        rc_buf_t out = RC_BUF_INIT;
        char why[512] = "";
        assert_int_equal(
            rc_binlog_json_apply_diffs("{\"a\":1}", 7, bytes, n, work, &out, why, sizeof(why)),
            RC_ERR_INVALID);
        if (!strstr(why, cases[i].part)) {
            fail_msg("%s: want \"%s\" in \"%s\"", cases[i].hex, cases[i].part, why);
        }
        for (int k = 0; k < 4; k++) {
            rc_buf_free(&work[k]);
        }
        rc_buf_free(&out);
    }
}

static void test_no_diffs_keep_the_document(void **state) {
    (void)state;
    rc_buf_t work[4] = {RC_BUF_INIT, RC_BUF_INIT, RC_BUF_INIT, RC_BUF_INIT};
    rc_buf_t out = RC_BUF_INIT;
    char why[128];
    /* doc may point into out: the result is appended after it */
    assert_int_equal(rc_buf_append(&out, "[1]", 3), RC_OK);
    assert_int_equal(rc_binlog_json_apply_diffs(out.data, 3, NULL, 0, work, &out, why, sizeof(why)),
                     RC_OK);
    assert_int_equal(out.len, 6);
    assert_memory_equal(out.data, "[1][1]", 6);
    for (int k = 0; k < 4; k++) {
        rc_buf_free(&work[k]);
    }
    rc_buf_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replace_members_elements_and_the_root),
        cmocka_unit_test(test_quoted_member_names),
        cmocka_unit_test(test_insert_members_in_mysql_key_order),
        cmocka_unit_test(test_insert_of_a_key_that_grows_when_escaped),
        cmocka_unit_test(test_insert_array_elements),
        cmocka_unit_test(test_remove_first_middle_last_and_only),
        cmocka_unit_test(test_diffs_apply_in_order),
        cmocka_unit_test(test_bad_paths_fail_cleanly),
        cmocka_unit_test(test_paths_the_document_lacks_fail_cleanly),
        cmocka_unit_test(test_malformed_diffs_fail_cleanly),
        cmocka_unit_test(test_no_diffs_keep_the_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
