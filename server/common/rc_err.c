/* rc_err.c: error kinds and the errstr helper. */
#include "rc_err.h"

#include <stdarg.h>
#include <stdio.h>

const char *rc_err2str(rc_err_t err) {
    switch (err) {
    case RC_OK:
        return "success";
    case RC_ERR_NOMEM:
        return "out of memory";
    case RC_ERR_INVALID:
        return "invalid input";
    case RC_ERR_IO:
        return "i/o error";
    case RC_ERR_PROTOCOL:
        return "protocol error";
    case RC_ERR_CHECKSUM:
        return "checksum mismatch";
    case RC_ERR_UNSUPPORTED:
        return "unsupported";
    case RC_ERR_CONNECT:
        return "connection failed";
    case RC_ERR_KAFKA:
        return "kafka error";
    case RC_ERR_STOPPED:
        return "stopped";
    case RC_ERR_EOF:
        return "end of input";
    case RC_ERR_TRUNCATED:
        return "truncated input";
    }
    return "unknown error";
}

rc_err_t rc_seterr(char *errstr, size_t errstr_size, rc_err_t err, const char *fmt, ...) {
    if (errstr && errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}
