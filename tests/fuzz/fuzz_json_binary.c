/* fuzz_json_binary.c: libFuzzer target over MySQL's binary JSON decoder. The input is one
 * binary JSON value as it stands in a row image (after the length prefix). */
#include <stdint.h>

#include "rc_binlog.h"
#include "rc_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rc_buf_t out = RC_BUF_INIT;
    char err[256];
    rc_binlog_json_text(data, size, &out, err, sizeof(err));
    rc_buf_free(&out);
    return 0;
}
