/* fuzz_json_diff.c: libFuzzer target over partial JSON updates (rc_binlog_json_apply_diffs).
 * The input is the diff list of a PARTIAL_UPDATE_ROWS value (operation, path, binary JSON
 * value, ...), applied to one of a few documents picked by the input's length, the way the
 * decoder applies it to a column's before value. Errors are fine; crashes, sanitizer reports
 * and leaks are bugs. */
#include <stdint.h>
#include <string.h>

#include "rc_binlog_int.h"

static const char *const k_docs[] = {
    "{\"a\":1,\"b\":[1,2,{\"c\":\"s\"}],\"q\\\"\":null}",
    "[[],{},[1,[2,[3]]],\"x\\u00e9\",true]",
    "{\"\\u00e9t\\u00e9\":{\"k\":{\"k\":{\"k\":[0]}}},\"a b\":\"}\",\"aa\":false}",
    "\"scalar\"",
    "null",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *doc = k_docs[size % (sizeof(k_docs) / sizeof(k_docs[0]))];
    rc_buf_t work[4] = {RC_BUF_INIT, RC_BUF_INIT, RC_BUF_INIT, RC_BUF_INIT};
    rc_buf_t out = RC_BUF_INIT;
    char why[512];
    rc_binlog_json_apply_diffs(doc, strlen(doc), data, size, work, &out, why, sizeof(why));
    for (int i = 0; i < 4; i++) {
        rc_buf_free(&work[i]);
    }
    rc_buf_free(&out);
    return 0;
}
