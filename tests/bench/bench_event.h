/* bench_event.h: the events the encoder benchmarks time (bench_json, bench_proto): insert
 * events of a 10-column row in msgpack, laid out as in rc_event.h. Header-only; each benchmark
 * is one translation unit. */
#ifndef BENCH_EVENT_H
#define BENCH_EVENT_H

#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_event.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void pack_cstr(msgpack_packer *pk, const char *s) {
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_ext_text(msgpack_packer *pk, int8_t type, const char *s) {
    msgpack_pack_ext_with_body(pk, s, strlen(s), type);
}

/* kafka.columns of the benchmark's table, as the decoder packs it once per table map. */
static void pack_columns(msgpack_packer *pk) {
    static const struct {
        const char *name;
        uint8_t type, flags, len, scale;
    } cols[] = {
        {"id", RC_COL_BIGINT, RC_COLF_UNSIGNED, 0, 0},
        {"customer_id", RC_COL_INT, 0, 0, 0},
        {"name", RC_COL_TEXT, RC_COLF_NULLABLE, 0, 0},
        {"email", RC_COL_TEXT, RC_COLF_NULLABLE, 0, 0},
        {"price", RC_COL_DECIMAL, 0, 10, 2},
        {"created_at", RC_COL_DATETIME, 0, 6, 0},
        {"deleted_at", RC_COL_DATETIME, RC_COLF_NULLABLE, 6, 0},
        {"score", RC_COL_DOUBLE, RC_COLF_NULLABLE, 0, 0},
        {"status", RC_COL_TEXT, 0, 0, 0},
        {"qty", RC_COL_INT, RC_COLF_UNSIGNED, 0, 0},
    };
    uint8_t b[512];
    size_t o = 0;
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        size_t n = strlen(cols[i].name);
        b[o++] = 0;
        b[o++] = (uint8_t)n;
        memcpy(b + o, cols[i].name, n);
        o += n;
        b[o++] = cols[i].type;
        b[o++] = cols[i].flags;
        b[o++] = 0;
        b[o++] = cols[i].len;
        b[o++] = cols[i].scale;
    }
    msgpack_pack_bin_with_body(pk, b, o);
}

static void pack_event(msgpack_packer *pk, uint64_t i, uint64_t *rng, int random_doubles) {
    static const char *const status[] = {"new", "paid", "shipped", "cancelled"};
    char t[96];
    uint64_t r = rng_next(rng);

    msgpack_pack_map(pk, 7);
    pack_cstr(pk, "schema");
    pack_cstr(pk, "shop");
    pack_cstr(pk, "table");
    pack_cstr(pk, "orders");
    pack_cstr(pk, "action");
    pack_cstr(pk, RC_ACTION_INSERT);
    pack_cstr(pk, "before");
    msgpack_pack_array(pk, 0);

    pack_cstr(pk, "after");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 10);
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, i + 1);
    pack_cstr(pk, "customer_id");
    msgpack_pack_int32(pk, (int32_t)(r % 5000000));
    pack_cstr(pk, "name");
    snprintf(t, sizeof t, "Customer %" PRIu64, r % 100000);
    pack_cstr(pk, t);
    pack_cstr(pk, "email");
    snprintf(t, sizeof t, "user%" PRIu64 "@example.com", (r >> 20) % 1000000);
    pack_cstr(pk, t);
    pack_cstr(pk, "price");
    snprintf(t, sizeof t, "%" PRIu64 ".%02" PRIu64, (r >> 8) % 10000, (r >> 24) % 100);
    pack_ext_text(pk, RC_EXT_DECIMAL, t);
    pack_cstr(pk, "created_at");
    snprintf(
        t, sizeof t, "2024-02-%02" PRIu64 "T%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%06" PRIu64,
        1 + (r >> 4) % 28, (r >> 12) % 24, (r >> 18) % 60, (r >> 26) % 60, (r >> 32) % 1000000);
    pack_ext_text(pk, RC_EXT_DATETIME, t);
    pack_cstr(pk, "deleted_at");
    msgpack_pack_nil(pk);
    pack_cstr(pk, "score");
    if (random_doubles) {
        msgpack_pack_double(pk, (double)(r >> 11) / (double)(1ULL << 53) * 100);
    } else {
        msgpack_pack_double(pk, (double)((r >> 30) % 1000000) / 1000);
    }
    pack_cstr(pk, "status");
    pack_cstr(pk, status[(r >> 40) % 4]);
    pack_cstr(pk, "qty");
    msgpack_pack_int(pk, (int)((r >> 50) % 20) + 1);

    pack_cstr(pk, "meta");
    msgpack_pack_map(pk, 7);
    pack_cstr(pk, "pipeline");
    pack_cstr(pk, "shop");
    pack_cstr(pk, "timestamp");
    msgpack_pack_uint64(pk, 1709211662000000ULL + i * 7);
    pack_cstr(pk, "gtid");
    snprintf(t, sizeof t, "3e11fa47-71ca-11e1-9e33-c80aa9429562:%" PRIu64, 1000 + i / 3);
    pack_cstr(pk, t);
    pack_cstr(pk, "binlog_file");
    pack_cstr(pk, "mysql-bin.000042");
    pack_cstr(pk, "binlog_pos");
    msgpack_pack_uint64(pk, 4 + i * 311);
    pack_cstr(pk, "server_id");
    msgpack_pack_uint32(pk, 4101);
    pack_cstr(pk, "commit_ts");
    msgpack_pack_uint32(pk, 1709211662 + (uint32_t)(i / 1000));

    pack_cstr(pk, "kafka");
    msgpack_pack_map(pk, 4);
    pack_cstr(pk, "topic");
    pack_cstr(pk, "shop.orders");
    pack_cstr(pk, "key");
    msgpack_pack_map(pk, 1);
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, i + 1);
    pack_cstr(pk, "headers");
    msgpack_pack_map(pk, 0);
    pack_cstr(pk, "columns"); /* as the decoder describes the table (rc_event.h) */
    pack_columns(pk);
}

/* Packs `rows` events into sb; off[i] is where event i starts, off[rows] the end. */
static size_t *build_events(msgpack_sbuffer *sb, size_t rows, int random_doubles) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    size_t *off = malloc((rows + 1) * sizeof *off);
    if (!off) {
        return NULL;
    }
    uint64_t rng = 0x2545f4914f6cdd1dULL;
    for (size_t i = 0; i < rows; i++) {
        off[i] = sb->size;
        pack_event(&pk, i, &rng, random_doubles);
    }
    off[rows] = sb->size;
    return off;
}

#endif
