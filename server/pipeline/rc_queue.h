/* rc_queue.h: a bounded, blocking queue of pointers between two threads.
 *
 * The reader pushes batches, the worker pops them. When the queue is full, push waits: a slow
 * Kafka slows the source down instead of growing memory. Ownership of an item moves with it.
 * @thread any (one mutex, two condition variables) */
#ifndef RC_QUEUE_H
#define RC_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rc_queue rc_queue_t;

rc_queue_t *rc_queue_new(size_t capacity);
/* Frees the queue and passes every item still in it to free_item (may be NULL). */
void rc_queue_destroy(rc_queue_t *q, void (*free_item)(void *));

/* Waits for room, then appends item. Returns false, without taking the item, once the queue
 * is closed. */
bool rc_queue_push(rc_queue_t *q, void *item);

/* Waits up to timeout_ms (< 0: forever) for an item. Returns NULL on timeout, or when the
 * queue is closed and empty (rc_queue_drained then says so). */
void *rc_queue_pop(rc_queue_t *q, int timeout_ms);

/* No more pushes; poppers get what is left, then NULL. Wakes every waiter. */
void rc_queue_close(rc_queue_t *q);
bool rc_queue_drained(rc_queue_t *q);
size_t rc_queue_len(rc_queue_t *q);

#endif
