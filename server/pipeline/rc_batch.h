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

#include "rc_err.h"

#define RC_BATCH_GTID_MAX 96 /* a MySQL tagged GTID is at most 89 characters */

/* One transaction that ended inside the batch. */
typedef struct rc_batch_bound {
    uint32_t events;              /* events of the batch before the boundary */
    uint32_t commit_ts;           /* commit time (s) */
    uint64_t pos;                 /* the position after the transaction */
    uint32_t file;                /* index into the batch's files */
    char gtid[RC_BATCH_GTID_MAX]; /* "" for an anonymous transaction */
} rc_batch_bound_t;

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
    /* Every transaction boundary in the batch, in order, also of transactions that produced no
     * event (their GTIDs belong to the executed set all the same). */
    rc_batch_bound_t *bounds;
    uint32_t n_bounds, cap_bounds;
    char **files; /* binlog file names the bounds refer to */
    uint32_t n_files;
    /* The executed GTID set before the first transaction of a reader run, in the first batch of
     * the run only (NULL otherwise, or when the set is not known). */
    char *gtid_base;
    int gtid_base_flavor; /* rc_gtid_flavor_t of gtid_base */
} rc_batch_t;

rc_batch_t *rc_batch_new(void);
/* Records the end of a transaction after the batch's current events. RC_ERR_NOMEM or
 * RC_ERR_INVALID (a GTID longer than RC_BATCH_GTID_MAX - 1). */
rc_err_t rc_batch_add_bound(rc_batch_t *b, const char *file, uint64_t pos, uint32_t commit_ts,
                            const char *gtid);
void rc_batch_destroy(rc_batch_t *b);
/* Drops everything after the last transaction boundary (used when a stream breaks mid-way). */
void rc_batch_truncate_to_commit(rc_batch_t *b);

#endif
