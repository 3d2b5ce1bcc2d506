/* rc_batch.c: batches of packed events. */
#include "rc_batch.h"

#include <stdlib.h>

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
    free(b->gtid_set);
    free(b);
}

void rc_batch_truncate_to_commit(rc_batch_t *b) {
    b->buf.size = b->has_commit ? b->commit_off : 0;
    b->n_events = b->has_commit ? b->commit_events : 0;
    if (b->n_events == 0) {
        b->first_ns = 0;
    }
}
