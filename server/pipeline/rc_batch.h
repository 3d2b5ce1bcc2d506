/* rc_batch.h: the unit that travels from the reader to the worker.
 *
 * A batch owns one growing buffer holding n_events msgpack event maps back to back
 * (rc_event.h), so a batch costs one allocation, not one per row. It also carries the source
 * position of the last transaction boundary it contains, for checkpoints. The reader creates
 * it, the worker frees it with rc_batch_destroy. */
#ifndef RC_BATCH_H
#define RC_BATCH_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct rc_batch {
    msgpack_sbuffer buf;
    msgpack_packer pk; /* packs into buf */
    uint32_t n_events;
    int64_t first_ns; /* CLOCK_MONOTONIC when the first event went in; 0 when empty */
    /* The last transaction boundary inside the batch: buf bytes and events before it belong
     * to complete transactions. */
    bool has_commit;
    size_t commit_off;
    uint32_t commit_events;
    char commit_file[256];
    uint64_t commit_pos;
    char commit_gtid[160];
    uint32_t commit_ts; /* commit time of that transaction (s) */
    char *gtid_set;     /* the executed GTID set at that boundary (NULL = none); owned */
} rc_batch_t;

rc_batch_t *rc_batch_new(void);
void rc_batch_destroy(rc_batch_t *b);
/* Drops everything after the last transaction boundary (used when a stream breaks mid-way). */
void rc_batch_truncate_to_commit(rc_batch_t *b);

#endif
