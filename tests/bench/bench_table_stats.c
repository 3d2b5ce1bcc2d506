/* bench_table_stats.c: what the per-table metrics cost the worker per event.
 *
 * Builds one batch of 1000 insert events of a 10-column row (bench_event.h), then times over N
 * (default 1,000,000) events, batch after batch, what rc_pipeline does for the rowcast_table_events_* series without scripts
 * (the reader counts each rows event, here one row each: the worst case; the worker each
 * produced event) and, for scale, the JSON encoding of the same events (rc_json_write_event).
 * Usage: bench_table_stats [rows] */
#include <stdlib.h>

#include "bench_event.h"
#include "rc_json.h"
#include "rc_table_stats.h"

#define BATCH 1000

int main(int argc, char **argv) {
    size_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    if (rows < BATCH) {
        fprintf(stderr, "usage: %s [rows >= %d]\n", argv[0], BATCH);
        return 2;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    /* One batch, run over and over: its events are in the cache, as they are in rowcast when
     * counted (the reader just packed them; the worker just encoded them). */
    size_t *off = build_events(&sb, BATCH, 0);
    rc_table_stats_t *t = rc_table_stats_new();
    if (!off || !t) {
        return 1;
    }
    const uint8_t *base = (const uint8_t *)sb.data;
    double t0 = now_s();
    for (size_t r = 0; r + BATCH <= rows; r += BATCH) {
        /* the reader: one call per rows event (here, one row each) */
        for (size_t k = 0; k < BATCH; k++) {
            if (rc_table_stats_count(t, base + off[k], off[k + 1] - off[k], 1, true,
                                     RC_TABLE_READ) != RC_OK) {
                return 1;
            }
        }
        /* the worker: the offsets it notes while producing, then one pass */
        size_t *offs = rc_table_stats_offsets(t, BATCH);
        for (size_t k = 0; offs && k < BATCH; k++) {
            offs[k] = off[k];
        }
        if (!offs || rc_table_stats_produced(t, base, off[BATCH], BATCH) != RC_OK) {
            fprintf(stderr, "batch at %zu: not counted\n", r);
            return 1;
        }
    }
    double t_stats = now_s() - t0;
    rc_buf_t out = RC_BUF_INIT;
    t0 = now_s();
    for (size_t r = 0; r < rows; r++) {
        size_t used, i = r % BATCH;
        rc_buf_reset(&out);
        if (rc_json_write_event(&out, base + off[i], off[i + 1] - off[i], &used) != RC_OK) {
            return 1;
        }
    }
    double t_json = now_s() - t0;
    size_t counted = rows / BATCH * BATCH;
    printf("rows %zu, msgpack %.1f MB\n", counted, (double)sb.size / 1e6);
    printf("table stats (read + produced): %.3f s, %.1f ns/row\n", t_stats,
           t_stats * 1e9 / (double)counted);
    printf("json encoding, for scale: %.3f s, %.1f ns/row; the stats add %.1f %%\n", t_json,
           t_json * 1e9 / (double)rows,
           100.0 * (t_stats / (double)counted) / (t_json / (double)rows));
    rc_buf_free(&out);
    rc_table_stats_destroy(t);
    free(off);
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
