/* fuzz_binlog.c: libFuzzer target over the binlog event decoder.
 *
 * The input is a binlog stream without the 4-byte magic: events back to back, each cut at the
 * event_size of its header (clamped to what is left). Checksums are not verified, so that
 * mutations reach the event and value decoders instead of stopping at the CRC. Any crash,
 * sanitizer report or leak is a bug; errors returned by rc_binlog_feed are fine. */
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rc_binlog.h"

static bool include_all(void *opaque, const char *schema, const char *table) {
    (void)opaque;
    (void)schema;
    (void)table;
    return true;
}

/* Names a, b, c, ... for tables without COLUMN_NAME metadata; every 7th table one too few. */
static rc_err_t some_names(void *opaque, const char *schema, const char *table, uint32_t ncols,
                           rc_buf_t *names, uint32_t *n, rc_buf_t *pk, char *errstr,
                           size_t errstr_size) {
    (void)opaque;
    (void)table;
    (void)errstr;
    (void)errstr_size;
    *n = schema[0] % 7 == 0 && ncols > 0 ? ncols - 1 : ncols;
    for (uint32_t i = 0; i < *n; i++) {
        char name[16];
        int len = snprintf(name, sizeof(name), "c%u", (unsigned)i);
        if (rc_buf_append(names, name, (size_t)len + 1) != RC_OK) {
            return RC_ERR_NOMEM;
        }
    }
    /* a key of the table's first and last columns, and at times an index past its end */
    uint32_t key[2] = {0, ncols - (table[0] % 3 == 0 ? 0 : 1)};
    if (ncols > 0 && rc_buf_append(pk, key, sizeof(key)) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    return RC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rc_binlog_opts_t opts;
    rc_binlog_opts_init(&opts);
    opts.pipeline = "fuzz";
    opts.verify_checksum = false;
    opts.include = include_all;
    /* the input's length picks the optional paths, so the corpus covers all of them */
    opts.geometry_geojson = size & 1;
    opts.column_names = size & 2 ? some_names : NULL;
    rc_binlog_t *b = rc_binlog_new(&opts);
    if (!b) {
        return 0;
    }
    rc_binlog_set_position(b, "fuzz-bin.000001", 4);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (size & 4) {
        rc_binlog_direct_sbuffer(b, &sb); /* rows straight into sb, as the pipeline writes */
    }
    size_t off = 0;
    int errors = 0;
    while (off + RC_BINLOG_HEADER_LEN <= size && errors < 8) {
        const uint8_t *ev = data + off;
        uint32_t esize = (uint32_t)ev[9] | (uint32_t)ev[10] << 8 | (uint32_t)ev[11] << 16 |
                         (uint32_t)ev[12] << 24;
        size_t len = esize < RC_BINLOG_HEADER_LEN ? RC_BINLOG_HEADER_LEN : esize;
        if (len > size - off) {
            len = size - off;
        }
        char err[512];
        rc_binlog_info_t info;
        if (rc_binlog_feed(b, ev, len, &pk, &info, err, sizeof(err)) != RC_OK) {
            errors++;
        }
        off += len;
        sb.size = 0;
    }
    msgpack_sbuffer_destroy(&sb);
    rc_binlog_destroy(b);
    return 0;
}
