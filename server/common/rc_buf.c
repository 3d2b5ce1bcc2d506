/* rc_buf.c: growable byte buffer; doubles its capacity so appends are amortized O(1). */
#include "rc_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

rc_err_t rc_buf_reserve(rc_buf_t *b, size_t extra) {
    if (b->cap - b->len >= extra) {
        return RC_OK;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        return RC_ERR_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return RC_OK;
}

rc_err_t rc_buf_printf(rc_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return RC_ERR_INVALID;
    }
    if (rc_buf_reserve(b, (size_t)n + 1) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return RC_OK;
}

void rc_buf_reset(rc_buf_t *b) {
    b->len = 0;
}

void rc_buf_free(rc_buf_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
