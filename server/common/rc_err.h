/* rc_err.h: the one error enum of rowcast.
 *
 * Functions return rc_err_t (0 = ok, negative = kind of failure). Anything a user has to
 * understand is written as a sentence into the caller's errstr; the enum only says what kind. */
#ifndef RC_ERR_H
#define RC_ERR_H

#include <stddef.h>

typedef enum rc_err {
    RC_OK = 0,
    RC_ERR_NOMEM = -1,       /* allocation failed */
    RC_ERR_INVALID = -2,     /* bad argument or bad input (config, event, request) */
    RC_ERR_IO = -3,          /* file or socket error */
    RC_ERR_PROTOCOL = -4,    /* the peer sent something we cannot parse */
    RC_ERR_CHECKSUM = -5,    /* CRC32 mismatch */
    RC_ERR_UNSUPPORTED = -6, /* valid input we do not handle (yet) */
    RC_ERR_CONNECT = -7,     /* could not reach or log into a server */
    RC_ERR_KAFKA = -8,       /* librdkafka reported a failure */
    RC_ERR_STOPPED = -9,     /* the operation was interrupted by a stop request */
    RC_ERR_EOF = -10,        /* end of input */
    RC_ERR_TRUNCATED = -11,  /* input ended inside a value or event */
} rc_err_t;

/* A short, static description of an error kind. */
const char *rc_err2str(rc_err_t err);

/* snprintf into errstr, tolerating errstr == NULL / errstr_size == 0. Returns err, so that
 * callers can write `return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "...", ...);`. */
rc_err_t rc_seterr(char *errstr, size_t errstr_size, rc_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
