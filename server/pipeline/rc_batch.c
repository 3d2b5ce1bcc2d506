/* rc_batch.c: batches of packed events. */
#include "rc_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rc_batch_t *rc_batch_new(void) {
    rc_batch_t *b = calloc(1, sizeof(*b));
    if (!b) {
        return NULL;
    }
    msgpack_sbuffer_init(&b->buf);
    msgpack_packer_init(&b->pk, &b->buf, msgpack_sbuffer_write);
    return b;
}

void rc_batch_destroy(rc_batch_t *b) {
    if (!b) {
        return;
    }
    msgpack_sbuffer_destroy(&b->buf);
    free(b->bounds);
    for (uint32_t i = 0; i < b->n_files; i++) {
        free(b->files[i]);
    }
    free(b->files);
    free(b->gtid_base);
    free(b);
}

void rc_batch_truncate_to_commit(rc_batch_t *b) {
    b->buf.size = b->has_commit ? b->commit_off : 0;
    b->n_events = b->has_commit ? b->commit_events : 0;
    if (b->n_events == 0) {
        b->first_ns = 0;
    }
}

rc_err_t rc_batch_add_bound(rc_batch_t *b, const char *file, uint64_t pos, uint32_t commit_ts,
                            const char *gtid) {
    if (strlen(gtid) >= RC_BATCH_GTID_MAX) {
        return RC_ERR_INVALID;
    }
    if (b->n_files == 0 || strcmp(b->files[b->n_files - 1], file) != 0) {
        char **nf = realloc(b->files, (b->n_files + 1) * sizeof(char *));
        if (!nf) {
            return RC_ERR_NOMEM;
        }
        b->files = nf;
        if (!(b->files[b->n_files] = strdup(file))) {
            return RC_ERR_NOMEM;
        }
        b->n_files++;
    }
    if (b->n_bounds == b->cap_bounds) {
        uint32_t cap = b->cap_bounds ? b->cap_bounds * 2 : 16;
        rc_batch_bound_t *nb = realloc(b->bounds, cap * sizeof(*nb));
        if (!nb) {
            return RC_ERR_NOMEM;
        }
        b->bounds = nb;
        b->cap_bounds = cap;
    }
    rc_batch_bound_t *x = &b->bounds[b->n_bounds++];
    x->events = b->n_events;
    x->commit_ts = commit_ts;
    x->pos = pos;
    x->file = b->n_files - 1;
    snprintf(x->gtid, sizeof(x->gtid), "%s", gtid);
    return RC_OK;
}
