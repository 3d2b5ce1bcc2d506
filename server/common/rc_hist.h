/* rc_hist.h: a fixed-bucket latency histogram that any thread can feed without a lock.
 *
 * Buckets are the Prometheus convention: upper bounds in seconds, each count is of observations
 * <= its bound, and +Inf is the total count. Observations are kept per bucket (not cumulated) in
 * atomics and summed into cumulative counts when read, so a scrape sees a consistent-enough view
 * without stopping the writers. @thread any */
#ifndef RC_HIST_H
#define RC_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define RC_HIST_BUCKETS 12

/* The upper bounds of the end-to-end latency buckets, in seconds. */
extern const double rc_hist_latency_bounds[RC_HIST_BUCKETS];

typedef struct rc_hist {
    atomic_uint_fast64_t bucket[RC_HIST_BUCKETS + 1]; /* the last one is above every bound */
    atomic_uint_fast64_t sum_us;
} rc_hist_t;

/* A snapshot: cumulative counts per bound, the total count and the sum in seconds. */
typedef struct rc_hist_snapshot {
    uint64_t cumulative[RC_HIST_BUCKETS];
    uint64_t count;
    double sum;
} rc_hist_snapshot_t;

/* Records one observation of us microseconds (negative values count as 0). */
void rc_hist_observe_us(rc_hist_t *h, int64_t us);
void rc_hist_read(rc_hist_t *h, rc_hist_snapshot_t *out);

#endif
