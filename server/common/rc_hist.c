/* rc_hist.c: lock-free fixed-bucket histogram (rc_hist.h).
 *
 * The latency bounds suit commit-to-acknowledgement: the binlog's commit time has one-second
 * precision, so sub-second buckets only separate "same second" from "later", and a pipeline
 * catching up on an old binlog sees minutes or hours. Script time per batch is micro- to
 * milliseconds, seconds only when a script is in trouble. */
#include "rc_hist.h"

#include <string.h>

const double rc_hist_latency_bounds[] = {0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600};
const int rc_hist_latency_n = sizeof(rc_hist_latency_bounds) / sizeof(rc_hist_latency_bounds[0]);
const double rc_hist_duration_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                          0.025,  0.05,    0.1,    0.25,  1,      10};
const int rc_hist_duration_n = sizeof(rc_hist_duration_bounds) / sizeof(rc_hist_duration_bounds[0]);

_Static_assert(sizeof(rc_hist_latency_bounds) / sizeof(double) <= RC_HIST_MAX_BUCKETS, "bounds");
_Static_assert(sizeof(rc_hist_duration_bounds) / sizeof(double) <= RC_HIST_MAX_BUCKETS, "bounds");

void rc_hist_init(rc_hist_t *h, const double *bounds, int n) {
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->n = n > RC_HIST_MAX_BUCKETS ? RC_HIST_MAX_BUCKETS : n;
}

void rc_hist_observe_us(rc_hist_t *h, int64_t us) {
    if (us < 0) {
        us = 0;
    }
    double s = (double)us / 1e6;
    int i = 0;
    while (i < h->n && s > h->bounds[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, memory_order_relaxed);
}

void rc_hist_read(rc_hist_t *h, rc_hist_snapshot_t *out) {
    uint64_t acc = 0;
    out->bounds = h->bounds;
    out->n = h->n;
    for (int i = 0; i < h->n; i++) {
        acc += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        out->cumulative[i] = acc;
    }
    out->count = acc + atomic_load_explicit(&h->bucket[h->n], memory_order_relaxed);
    out->sum = (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6;
}
