/* rc_hist.c: lock-free fixed-bucket histogram (rc_hist.h).
 *
 * The bounds suit commit-to-acknowledgement latency: the binlog's commit time has one-second
 * precision, so sub-second buckets only separate "same second" from "later", and a pipeline
 * catching up on an old binlog sees minutes or hours. */
#include "rc_hist.h"

const double rc_hist_latency_bounds[RC_HIST_BUCKETS] = {0.1, 0.25, 0.5, 1,   2,    5,
                                                        10,  30,   60,  300, 1800, 3600};

void rc_hist_observe_us(rc_hist_t *h, int64_t us) {
    if (us < 0) {
        us = 0;
    }
    double s = (double)us / 1e6;
    int i = 0;
    while (i < RC_HIST_BUCKETS && s > rc_hist_latency_bounds[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, memory_order_relaxed);
}

void rc_hist_read(rc_hist_t *h, rc_hist_snapshot_t *out) {
    uint64_t acc = 0;
    for (int i = 0; i < RC_HIST_BUCKETS; i++) {
        acc += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        out->cumulative[i] = acc;
    }
    out->count = acc + atomic_load_explicit(&h->bucket[RC_HIST_BUCKETS], memory_order_relaxed);
    out->sum = (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6;
}
