/* bench_proto.c: how fast rc_proto_write_event_tpl turns events into protobuf message values,
 * next to protobuf-c's generic packer for the same messages.
 *
 * Builds the events bench_json times (10-column rows), then times (1) rc_proto over the msgpack
 * bytes, one reset output buffer per event and one set of templates for all as the sink does
 * ("notpl": rc_proto_write_event_typed, without templates), and (2) protobuf-c's
 * rowcast__v1__event__pack over messages unpacked beforehand: the packing alone, without the
 * cost of building its struct tree from msgpack, which a sink using it would also pay; and
 * (3) rc_msg_encode, the worker's whole message (key, value, headers) in each format.
 * Usage: bench_proto [rows] [notpl | FORMAT]; a format name (json, protobuf, debezium-json)
 * times rc_msg_encode in that format alone (best of 3 passes over the events, one rc_msg_t for
 * all, as a worker has), for callgrind's --toggle-collect=rc_msg_encode and wall-clock runs. */
#include <stdlib.h>
#include <sys/resource.h>

#include "bench_event.h"
#include "event.pb-c.h"
#include "rc_msg.h"
#include "rc_debezium.h"
#include "rc_mp.h"
#include "rc_cols.h"
#include "rc_proto.h"

int main(int argc, char **argv) {
    size_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int no_tpl = argc > 2 && strcmp(argv[2], "notpl") == 0;
    rc_format_t only;
    bool one_format = argc > 2 && !no_tpl && rc_format_from_name(argv[2], &only) == RC_OK;
    if (rows == 0 || (argc > 2 && !no_tpl && !one_format)) {
        fprintf(stderr, "usage: %s [rows] [notpl | json | protobuf | debezium-json]\n", argv[0]);
        return 2;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    size_t *off = build_events(&sb, rows, 0);
    if (!off) {
        return 1;
    }
    if (one_format) {
        rc_msg_t msg = RC_MSG_INIT;
        char err[256];
        double best = 0;
        for (int pass = 0; pass < 3; pass++) {
            double t0 = now_s();
            for (size_t i = 0; i < rows; i++) {
                size_t used;
                if (rc_msg_encode(&msg, only, (const uint8_t *)sb.data + off[i],
                                  off[i + 1] - off[i], &used, err, sizeof err) != RC_OK) {
                    fprintf(stderr, "row %zu: %s\n", i, err);
                    return 1;
                }
            }
            double t = now_s() - t0;
            best = pass == 0 || t < best ? t : best;
        }
        printf("rc_msg %s (key, value, %zu headers): %.0f rows/s, %.1f ns/row (best of 3)\n",
               rc_format_name(only), msg.n_headers, (double)rows / best, best * 1e9 / (double)rows);
        rc_msg_free(&msg);
        free(off);
        msgpack_sbuffer_destroy(&sb);
        return 0;
    }

    /* kafka.columns of each event, found beforehand: rc_msg finds it in the pass over the
     * event that finds kafka.topic and passes it on (rc_proto_write_event would look for it
     * again); the rc_msg lines below time that pass too */
    const uint8_t **cols = malloc(rows * sizeof *cols);
    if (!cols) {
        return 1;
    }
    for (size_t i = 0; i < rows; i++) {
        cols[i] = rc_cols_of_event((const uint8_t *)sb.data + off[i], off[i + 1] - off[i]);
    }

    rc_proto_tpl_t *tpl = no_tpl ? NULL : rc_proto_tpl_new();
    if (!no_tpl && !tpl) {
        return 1;
    }
    rc_buf_t out = RC_BUF_INIT;
    size_t out_bytes = 0;
    double t0 = now_s();
    for (size_t i = 0; i < rows; i++) {
        size_t used, len = off[i + 1] - off[i];
        const uint8_t *ev = (const uint8_t *)sb.data + off[i];
        rc_buf_reset(&out);
        /* the event's end, as rc_msg passes the end its walk found */
        rc_err_t err = no_tpl
                           ? rc_proto_write_event_typed(&out, ev, len, cols[i], &used)
                           : rc_proto_write_event_tpl(&out, tpl, ev, len, cols[i], ev + len, &used);
        if (err != RC_OK) {
            fprintf(stderr, "row %zu: %s\n", i, rc_err2str(err));
            return 1;
        }
        out_bytes += out.len;
    }
    double t = now_s() - t0;
    printf("rows %zu, msgpack %.1f MB, protobuf %.1f MB (%.0f bytes/row)\n", rows,
           (double)sb.size / 1e6, (double)out_bytes / 1e6, (double)out_bytes / (double)rows);
    printf("rc_proto%s: %.3f s: %.0f rows/s, %.1f ns/row, %.1f MB/s in\n",
           no_tpl ? " (no templates)" : "", t, (double)rows / t, t * 1e9 / (double)rows,
           (double)sb.size / 1e6 / t);
    rc_proto_tpl_free(tpl);

    /* the whole message as the worker builds it: key, value and headers, per format */
    static const rc_format_t formats[] = {RC_FORMAT_JSON, RC_FORMAT_PROTOBUF,
                                          RC_FORMAT_DEBEZIUM_JSON};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        rc_msg_t msg = RC_MSG_INIT;
        char err[256];
        t0 = now_s();
        for (size_t i = 0; i < rows; i++) {
            size_t used;
            if (rc_msg_encode(&msg, formats[f], (const uint8_t *)sb.data + off[i],
                              off[i + 1] - off[i], &used, err, sizeof err) != RC_OK) {
                fprintf(stderr, "row %zu: %s\n", i, err);
                return 1;
            }
        }
        t = now_s() - t0;
        printf("rc_msg %s (key, value, %zu headers): %.0f rows/s, %.1f ns/row\n",
               rc_format_name(formats[f]), msg.n_headers, (double)rows / t, t * 1e9 / (double)rows);
        rc_msg_free(&msg);
    }

    /* protobuf-c: a bounded set of unpacked messages, packed round-robin */
    size_t n_msgs = rows < 10000 ? rows : 10000;
    Rowcast__V1__Event **msgs = calloc(n_msgs, sizeof *msgs);
    if (!msgs) {
        return 1;
    }
    for (size_t i = 0; i < n_msgs; i++) {
        rc_buf_reset(&out);
        rc_proto_write_event(&out, (const uint8_t *)sb.data + off[i], off[i + 1] - off[i], NULL);
        msgs[i] = rowcast__v1__event__unpack(NULL, out.len, (const uint8_t *)out.data);
        if (!msgs[i]) {
            fprintf(stderr, "protobuf-c cannot unpack row %zu\n", i);
            return 1;
        }
    }
    uint8_t *pb = malloc(1 << 16);
    size_t pc_bytes = 0;
    t0 = now_s();
    for (size_t i = 0; i < rows; i++) {
        const Rowcast__V1__Event *m = msgs[i % n_msgs];
        if (rowcast__v1__event__get_packed_size(m) > (1 << 16)) {
            return 1;
        }
        pc_bytes += rowcast__v1__event__pack(m, pb);
    }
    t = now_s() - t0;
    printf("protobuf-c pack only: %.3f s: %.0f rows/s, %.1f ns/row (%zu bytes)\n", t,
           (double)rows / t, t * 1e9 / (double)rows, pc_bytes);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("max RSS %.1f MB\n", (double)ru.ru_maxrss / 1024);
    for (size_t i = 0; i < n_msgs; i++) {
        rowcast__v1__event__free_unpacked(msgs[i], NULL);
    }
    free(msgs);
    free(pb);

    /* the Debezium value alone, as rc_msg_encode makes it: rc_debezium_write_event_tpl through
     * one set of templates, the envelope's fields found beforehand (rc_msg's walk finds them) */
    {
        static const char *const ev_keys[] = {"schema", "table", "action",
                                              "before", "after", "meta"};
        static const char *const meta_keys[] = {
            "pipeline", "timestamp", "gtid", "binlog_file", "binlog_pos", "server_id", "commit_ts"};
        rc_debezium_at_t *at = malloc(rows * sizeof *at);
        rc_debezium_tpl_t *dtpl = rc_debezium_tpl_new();
        if (!at || !dtpl) {
            return 1;
        }
        for (size_t i = 0; i < rows; i++) {
            const uint8_t *ev = (const uint8_t *)sb.data + off[i], *end = ev + off[i + 1] - off[i];
            if (rc_mp_map_pick(ev, end, ev_keys, RC_DBZ_EV_COUNT, at[i].ev, &at[i].ev_end) !=
                    RC_OK ||
                !at[i].ev[RC_DBZ_META] ||
                rc_mp_map_pick(at[i].ev[RC_DBZ_META], end, meta_keys, RC_DBZ_META_COUNT, at[i].meta,
                               NULL) != RC_OK) {
                return 1;
            }
            at[i].meta_is_map = true;
        }
        t0 = now_s();
        for (size_t i = 0; i < rows; i++) {
            size_t used, len = off[i + 1] - off[i];
            rc_buf_reset(&out);
            if (rc_debezium_write_event_tpl(&out, dtpl, (const uint8_t *)sb.data + off[i], len,
                                            &at[i], cols[i], false, &used) != RC_OK) {
                fprintf(stderr, "row %zu: the Debezium value failed\n", i);
                return 1;
            }
        }
        t = now_s() - t0;
        printf("rc_debezium value alone: %.0f rows/s, %.1f ns/row\n", (double)rows / t,
               t * 1e9 / (double)rows);
        rc_debezium_tpl_free(dtpl);
        free(at);
    }
    rc_buf_free(&out);
    free(cols);
    free(off);
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
