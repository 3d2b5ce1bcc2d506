/* bench_decode.c: how fast the binlog decoder turns binlog files into msgpack events.
 *
 * Reads every file given into memory first (so the disk is not measured), then feeds every
 * event through rc_binlog_feed into one reused buffer, as the reader does, several rounds.
 * Prints rows/s, ns/row, MB/s of binlog and max RSS, by wall-clock time and by the thread's CPU
 * time (rows/s per core; the figure to compare on a machine other processes share). Generate
 * input with gen_binlog.sh.
 * --dump OUT writes the msgpack of the last round to OUT, to compare the decoder's output
 * byte for byte before and after a change.
 * Rows are written straight into the buffer (rc_binlog_direct_sbuffer, as the pipeline's batch
 * and `rowcast decode` can); --via-callback hands each row to the packer's callback instead.
 * Usage: bench_decode [--rounds N] [--no-crc] [--via-callback] [--dump OUT] FILE... */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rc_binlog.h"

typedef struct file_events {
    const char *path;
    uint8_t **ev;
    size_t *len;
    size_t n, cap;
    size_t bytes;
} file_events_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load(file_events_t *fe) {
    char err[512];
    rc_binlog_file_t *f = rc_binlog_file_open(fe->path, err, sizeof(err));
    if (!f) {
        fprintf(stderr, "bench_decode: %s\n", err);
        return -1;
    }
    const uint8_t *ev;
    size_t len;
    rc_err_t rc;
    while ((rc = rc_binlog_file_next(f, &ev, &len)) == RC_OK) {
        if (fe->n == fe->cap) {
            fe->cap = fe->cap ? fe->cap * 2 : 1024;
            fe->ev = realloc(fe->ev, fe->cap * sizeof(*fe->ev));
            fe->len = realloc(fe->len, fe->cap * sizeof(*fe->len));
        }
        fe->ev[fe->n] = malloc(len);
        memcpy(fe->ev[fe->n], ev, len);
        fe->len[fe->n++] = len;
        fe->bytes += len;
    }
    rc_binlog_file_close(f);
    if (rc != RC_ERR_EOF) {
        fprintf(stderr, "bench_decode: %s: %s\n", fe->path, rc_err2str(rc));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    int rounds = 3, crc = 1, direct = 1, first = 1;
    const char *dump_path = NULL;
    while (first < argc && strncmp(argv[first], "--", 2) == 0) {
        if (strcmp(argv[first], "--rounds") == 0 && first + 1 < argc) {
            rounds = atoi(argv[++first]);
        } else if (strcmp(argv[first], "--no-crc") == 0) {
            crc = 0;
        } else if (strcmp(argv[first], "--via-callback") == 0) {
            direct = 0;
        } else if (strcmp(argv[first], "--dump") == 0 && first + 1 < argc) {
            dump_path = argv[++first];
        } else {
            fprintf(stderr, "bench_decode: unknown option %s\n", argv[first]);
            return 2;
        }
        first++;
    }
    if (first >= argc) {
        fprintf(
            stderr,
            "usage: bench_decode [--rounds N] [--no-crc] [--via-callback] [--dump OUT] FILE...\n");
        return 2;
    }
    int nfiles = argc - first;
    file_events_t *files = calloc((size_t)nfiles, sizeof(*files));
    size_t total_bytes = 0;
    for (int i = 0; i < nfiles; i++) {
        files[i].path = argv[first + i];
        if (load(&files[i]) != 0) {
            return 1;
        }
        total_bytes += files[i].bytes;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rc_binlog_opts_t opts;
    rc_binlog_opts_init(&opts);
    opts.pipeline = "bench";
    opts.verify_checksum = crc;
    FILE *dump = NULL;
    if (dump_path && !(dump = fopen(dump_path, "wb"))) {
        fprintf(stderr, "bench_decode: cannot write %s\n", dump_path);
        return 1;
    }
    double best = 1e30, best_cpu = 1e30;
    uint64_t rows = 0;
    size_t packed = 0;
    for (int r = 0; r < rounds; r++) {
        rows = 0;
        packed = 0;
        double t0 = now_s(), c0 = cpu_s();
        for (int i = 0; i < nfiles; i++) {
            rc_binlog_t *b = rc_binlog_new(&opts);
            rc_binlog_set_position(b, files[i].path, 4);
            if (direct) {
                rc_binlog_direct_sbuffer(b, &sb);
            }
            for (size_t e = 0; e < files[i].n; e++) {
                rc_binlog_info_t info;
                char err[512];
                if (rc_binlog_feed(b, files[i].ev[e], files[i].len[e], &pk, &info, err,
                                   sizeof(err)) != RC_OK) {
                    fprintf(stderr, "bench_decode: %s\n", err);
                    return 1;
                }
                rows += (uint64_t)info.rows;
                if (sb.size > (1u << 20)) { /* a batch handed over */
                    if (dump && r == rounds - 1 && fwrite(sb.data, 1, sb.size, dump) != sb.size) {
                        fprintf(stderr, "bench_decode: cannot write %s\n", dump_path);
                        return 1;
                    }
                    packed += sb.size;
                    sb.size = 0;
                }
            }
            rc_binlog_destroy(b);
        }
        if (dump && r == rounds - 1 && fwrite(sb.data, 1, sb.size, dump) != sb.size) {
            fprintf(stderr, "bench_decode: cannot write %s\n", dump_path);
            return 1;
        }
        packed += sb.size;
        sb.size = 0;
        double dt = now_s() - t0, dc = cpu_s() - c0;
        if (dt < best) {
            best = dt;
        }
        if (dc < best_cpu) {
            best_cpu = dc;
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("bench_decode: %d file(s), %.1f MB of binlog, %llu rows, crc %s\n", nfiles,
           (double)total_bytes / 1e6, (unsigned long long)rows, crc ? "on" : "off");
    printf("  best of %d: %.3f s  %.0f rows/s  %.1f ns/row  %.0f MB/s binlog  %.0f MB msgpack\n",
           rounds, best, (double)rows / best, best * 1e9 / (double)(rows ? rows : 1),
           (double)total_bytes / 1e6 / best, (double)packed / 1e6);
    printf("  best of %d by CPU time: %.3f s  %.0f rows/s/core  %.1f ns/row\n", rounds, best_cpu,
           (double)rows / best_cpu, best_cpu * 1e9 / (double)(rows ? rows : 1));
    printf("  max RSS %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    msgpack_sbuffer_destroy(&sb);
    if (dump && fclose(dump) != 0) {
        fprintf(stderr, "bench_decode: cannot write %s\n", dump_path);
        return 1;
    }
    return 0;
}
