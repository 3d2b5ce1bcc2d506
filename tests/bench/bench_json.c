/* bench_json.c: how fast rc_json_write_event_tpl turns events into Kafka message values.
 *
 * Builds N (default 1,000,000) insert events of a 10-column row in msgpack, laid out as in
 * rc_event.h, then times the JSON writer over them, one reset output buffer per event and one
 * set of templates for all, as the sink does. Usage:
 *   bench_json [rows] [random|notpl] [--tables N [--one-layout]] [--reps R]
 * ("random": full-precision doubles; "notpl": rc_json_write_event, without templates;
 * "--tables N": each event of one of N tables taken at random, each table with a layout of its
 * own, as a stream of many tables is: its name and its second column's name are its own;
 * "--one-layout": only the name is the table's, as with tables of one schema per tenant;
 * "--reps R": the events written R times over (in cache when few), the fastest pass reported,
 * which a busy machine's noise touches least). */
#include <stdlib.h>
#include <sys/resource.h>

#include "bench_event.h"
#include "rc_json.h"

/* Makes the event at ev[0..len) one of table k's (k < 10^5): "orders" becomes "o<k>" and the
 * row's "customer_id" key "c<k>", both padded to their length, so that the bytes stay valid
 * msgpack. Only the first of each is changed (kafka's topic and columns keep theirs). */
static void make_table(uint8_t *ev, size_t len, unsigned k, int one_layout) {
    char name[16];
    uint8_t *at = memmem(ev, len, "orders", 6);
    if (at) {
        snprintf(name, sizeof name, "o%05u", k);
        memcpy(at, name, 6);
    }
    if (!one_layout && (at = memmem(ev, len, "customer_id", 11)) != NULL) {
        snprintf(name, sizeof name, "c%010u", k);
        memcpy(at, name, 11);
    }
}

int main(int argc, char **argv) {
    size_t rows = 1000000, tables = 1, reps = 1;
    int random_doubles = 0, no_tpl = 0, one_layout = 0, bad = 0, pos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tables") == 0 && i + 1 < argc) {
            tables = strtoull(argv[++i], NULL, 10);
            bad |= tables == 0 || tables > 99999;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = strtoull(argv[++i], NULL, 10);
            bad |= reps == 0 || reps > 100000;
        } else if (strcmp(argv[i], "--one-layout") == 0) {
            one_layout = 1;
        } else if (strcmp(argv[i], "random") == 0) {
            random_doubles = 1;
        } else if (strcmp(argv[i], "notpl") == 0) {
            no_tpl = 1;
        } else if (pos++ == 0) {
            rows = strtoull(argv[i], NULL, 10);
        } else {
            bad = 1;
        }
    }
    if (rows == 0 || bad) {
        fprintf(
            stderr,
            "usage: %s [rows] [random|notpl] [--tables N (1..99999) [--one-layout]] [--reps R]\n",
            argv[0]);
        return 2;
    }

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    double t0 = now_s();
    size_t *off = build_events(&sb, rows, random_doubles);
    if (!off) {
        return 1;
    }
    if (tables > 1) {
        uint64_t rng = 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < rows; i++) {
            make_table((uint8_t *)sb.data + off[i], off[i + 1] - off[i],
                       (unsigned)(rng_next(&rng) % tables), one_layout);
        }
    }
    double t_build = now_s() - t0;

    rc_buf_t out = RC_BUF_INIT;
    rc_json_tpl_t *tpl = no_tpl ? NULL : rc_json_tpl_new();
    if (!no_tpl && !tpl) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    size_t out_bytes = 0;
    double t = 0;
    for (size_t rep = 0; rep < reps; rep++) {
        out_bytes = 0;
        t0 = now_s();
        for (size_t i = 0; i < rows; i++) {
            size_t used;
            rc_buf_reset(&out);
            const uint8_t *ev = (const uint8_t *)sb.data + off[i];
            size_t len = off[i + 1] - off[i];
            /* the event's end, as rc_msg passes the end its walk found */
            rc_err_t err = no_tpl ? rc_json_write_event(&out, ev, len, &used)
                                  : rc_json_write_event_tpl(&out, tpl, ev, len, ev + len, &used);
            if (err != RC_OK) {
                fprintf(stderr, "row %zu: %s\n", i, rc_err2str(err));
                return 1;
            }
            out_bytes += out.len;
        }
        double tr = now_s() - t0;
        t = rep == 0 || tr < t ? tr : t;
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("sample: %.*s\n", (int)out.len, out.data);
    printf("rows %zu (%s doubles, %zu table%s), msgpack %.1f MB built in %.2f s\n", rows,
           random_doubles ? "random" : "3-decimal", tables,
           tables == 1  ? ""
           : one_layout ? "s of one layout"
                        : "s",
           (double)sb.size / 1e6, t_build);
    printf("json%s: %.1f MB in %.3f s: %.0f rows/s, %.1f ns/row, %.1f MB/s out, %.1f MB/s in\n",
           no_tpl ? " (no templates)" : "", (double)out_bytes / 1e6, t, (double)rows / t,
           t * 1e9 / (double)rows, (double)out_bytes / 1e6 / t, (double)sb.size / 1e6 / t);
    printf("max RSS %.1f MB\n", (double)ru.ru_maxrss / 1024);

    rc_buf_free(&out);
    rc_json_tpl_free(tpl);
    free(off);
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
