/* rc_buf.h: a growable byte buffer.
 *
 * Used by the encoders and the batch. Append functions return RC_OK or RC_ERR_NOMEM; after a
 * failed append the buffer keeps what it had. The owner frees it with rc_buf_free. */
#ifndef RC_BUF_H
#define RC_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rc_err.h"

typedef struct rc_buf {
    char *data;
    size_t len;
    size_t cap;
} rc_buf_t;

#define RC_BUF_INIT                                                                                \
    { NULL, 0, 0 }

/* Makes room for at least `extra` more bytes. */
rc_err_t rc_buf_reserve(rc_buf_t *b, size_t extra);
rc_err_t rc_buf_printf(rc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rc_buf_reset(rc_buf_t *b);
void rc_buf_free(rc_buf_t *b);

static inline rc_err_t rc_buf_putc(rc_buf_t *b, char c) {
    if (b->len == b->cap && rc_buf_reserve(b, 1) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    b->data[b->len++] = c;
    return RC_OK;
}

/* Appends p[0..n); the usual case, with room, inline (callers append a few bytes at a time). */
static inline rc_err_t rc_buf_append(rc_buf_t *b, const void *p, size_t n) {
    if (n == 0) {
        return RC_OK;
    }
    if (b->cap - b->len < n && rc_buf_reserve(b, n) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return RC_OK;
}

static inline rc_err_t rc_buf_puts(rc_buf_t *b, const char *s) {
    return rc_buf_append(b, s, strlen(s));
}

#endif
