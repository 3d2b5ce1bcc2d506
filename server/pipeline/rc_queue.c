/* rc_queue.c: ring buffer of pointers guarded by one mutex; `not_full` wakes pushers and
 * `not_empty` wakes poppers. */
#include "rc_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct rc_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_full;
    pthread_cond_t not_empty;
    void **items;
    size_t cap, head, len;
    bool closed;
};

rc_queue_t *rc_queue_new(size_t capacity) {
    rc_queue_t *q = calloc(1, sizeof(*q));
    if (!q) {
        return NULL;
    }
    q->items = calloc(capacity ? capacity : 1, sizeof(void *));
    if (!q->items) {
        free(q);
        return NULL;
    }
    q->cap = capacity ? capacity : 1;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_full, &ca);
    pthread_cond_init(&q->not_empty, &ca);
    pthread_condattr_destroy(&ca);
    return q;
}

void rc_queue_destroy(rc_queue_t *q, void (*free_item)(void *)) {
    if (!q) {
        return;
    }
    while (q->len > 0) {
        void *it = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        if (free_item) {
            free_item(it);
        }
    }
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    free(q->items);
    free(q);
}

bool rc_queue_push(rc_queue_t *q, void *item) {
    pthread_mutex_lock(&q->lock);
    while (q->len == q->cap && !q->closed) {
        pthread_cond_wait(&q->not_full, &q->lock);
    }
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return false;
    }
    q->items[(q->head + q->len) % q->cap] = item;
    q->len++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return true;
}

void *rc_queue_pop(rc_queue_t *q, int timeout_ms) {
    struct timespec deadline;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !q->closed) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&q->not_empty, &q->lock);
        } else if (pthread_cond_timedwait(&q->not_empty, &q->lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    void *it = NULL;
    if (q->len > 0) {
        it = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return it;
}

void rc_queue_close(rc_queue_t *q) {
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->not_full);
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

bool rc_queue_drained(rc_queue_t *q) {
    pthread_mutex_lock(&q->lock);
    bool d = q->closed && q->len == 0;
    pthread_mutex_unlock(&q->lock);
    return d;
}

size_t rc_queue_len(rc_queue_t *q) {
    pthread_mutex_lock(&q->lock);
    size_t n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}
