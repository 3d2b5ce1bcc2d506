/* rc_hist.h: a fixed-bucket histogram that any thread can feed without a lock.
 *
 * Buckets are the Prometheus convention: upper bounds in seconds, each count is of observations
 * <= its bound, and +Inf is the total count. Observations are kept per bucket (not cumulated) in
 * atomics and summed into cumulative counts when read, so a scrape sees a consistent-enough view
 * without stopping the writers. @thread any */
#ifndef RC_HIST_H
#define RC_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define RC_HIST_MAX_BUCKETS 16

/* Commit-to-acknowledgement latency: 0.1 s to 1 h. */
extern const double rc_hist_latency_bounds[];
extern const int rc_hist_latency_n;
/* Time a batch spends in scripts: 100 us to 10 s. */
extern const double rc_hist_duration_bounds[];
extern const int rc_hist_duration_n;

typedef struct rc_hist {
    const double *bounds; /* ascending, n of them (at most RC_HIST_MAX_BUCKETS) */
    int n;
    atomic_uint_fast64_t bucket[RC_HIST_MAX_BUCKETS + 1]; /* [n]: above every bound */
    atomic_uint_fast64_t sum_us;
} rc_hist_t;

/* A snapshot: cumulative counts per bound, the total count and the sum in seconds. */
typedef struct rc_hist_snapshot {
    const double *bounds;
    int n;
    uint64_t cumulative[RC_HIST_MAX_BUCKETS];
    uint64_t count;
    double sum;
} rc_hist_snapshot_t;

/* Zeroes h and sets its bounds (not copied: they must outlive h). */
void rc_hist_init(rc_hist_t *h, const double *bounds, int n);
/* Records one observation of us microseconds (negative values count as 0). */
void rc_hist_observe_us(rc_hist_t *h, int64_t us);
void rc_hist_read(rc_hist_t *h, rc_hist_snapshot_t *out);

#endif
