/* fuzz_binlog.c: libFuzzer target over the binlog event decoder.
 *
 * The input is a binlog stream without the 4-byte magic: events back to back, each cut at the
 * event_size of its header (clamped to what is left). Checksums are not verified, so that
 * mutations reach the event and value decoders instead of stopping at the CRC. Any crash,
 * sanitizer report or leak is a bug; errors returned by rc_binlog_feed are fine. */
#include <msgpack.h>
#include <stdint.h>
#include <string.h>

#include "rc_binlog.h"

static bool include_all(void *opaque, const char *schema, const char *table) {
    (void)opaque;
    (void)schema;
    (void)table;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rc_binlog_opts_t opts;
    rc_binlog_opts_init(&opts);
    opts.pipeline = "fuzz";
    opts.verify_checksum = false;
    opts.include = include_all;
    rc_binlog_t *b = rc_binlog_new(&opts);
    if (!b) {
        return 0;
    }
    rc_binlog_set_position(b, "fuzz-bin.000001", 4);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
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
