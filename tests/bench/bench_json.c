/* bench_json.c: how fast rc_json_write_event_tpl turns events into Kafka message values.
 *
 * Builds N (default 1,000,000) insert events of a 10-column row in msgpack, laid out as in
 * rc_event.h, then times the JSON writer over them, one reset output buffer per event and one
 * set of templates for all, as the sink does. Usage: bench_json [rows] [random|notpl]
 * ("random": full-precision doubles; "notpl": rc_json_write_event, without templates). */
#include <stdlib.h>
#include <sys/resource.h>

#include "bench_event.h"
#include "rc_json.h"

int main(int argc, char **argv) {
    size_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int random_doubles = argc > 2 && strcmp(argv[2], "random") == 0;
    int no_tpl = argc > 2 && strcmp(argv[2], "notpl") == 0;
    if (rows == 0) {
        fprintf(stderr, "usage: %s [rows] [random]\n", argv[0]);
        return 2;
    }

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    double t0 = now_s();
    size_t *off = build_events(&sb, rows, random_doubles);
    if (!off) {
        return 1;
    }
    double t_build = now_s() - t0;

    rc_buf_t out = RC_BUF_INIT;
    rc_json_tpl_t *tpl = no_tpl ? NULL : rc_json_tpl_new();
    if (!no_tpl && !tpl) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    size_t out_bytes = 0;
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
    double t = now_s() - t0;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("sample: %.*s\n", (int)out.len, out.data);
    printf("rows %zu (%s doubles), msgpack %.1f MB built in %.2f s\n", rows,
           random_doubles ? "random" : "3-decimal", (double)sb.size / 1e6, t_build);
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
