/* rc_binlog_file.c: reads a binlog file from disk one whole event at a time (replay, tests,
 * benchmarks) into one reused buffer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "rc_binlog_int.h"

struct rc_binlog_file {
    FILE *fp;
    uint8_t *buf;
    size_t cap;
    uint64_t next; /* offset of the next event */
    uint64_t last; /* offset of the event last handed out */
};

rc_binlog_file_t *rc_binlog_file_open(const char *path, char *errstr, size_t errstr_size) {
    rc_binlog_file_t *f = calloc(1, sizeof(*f));
    uint8_t magic[4];
    if (!f) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory opening %s", path);
        return NULL;
    }
    f->fp = fopen(path, "rb");
    if (!f->fp) {
        rc_seterr(errstr, errstr_size, RC_ERR_IO, "cannot open binlog file %s: %s", path,
                  strerror(errno));
        goto fail;
    }
    setvbuf(f->fp, NULL, _IOFBF, 1 << 16);
    if (fread(magic, 1, 4, f->fp) != 4 || memcmp(magic, RC_BINLOG_MAGIC, 4) != 0) {
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                  "%s is not a binlog file (it does not start with the magic fe 62 69 6e)", path);
        goto fail;
    }
    f->next = 4;
    return f;
fail:
    rc_binlog_file_close(f);
    return NULL;
}

rc_err_t rc_binlog_file_next(rc_binlog_file_t *f, const uint8_t **ev, size_t *len) {
    uint8_t hdr[RC_BINLOG_HEADER_LEN];
    size_t n = fread(hdr, 1, sizeof(hdr), f->fp);
    if (n == 0 && feof(f->fp)) {
        return RC_ERR_EOF;
    }
    if (n != sizeof(hdr)) {
        return ferror(f->fp) ? RC_ERR_IO : RC_ERR_TRUNCATED;
    }
    uint32_t size = rc_le32(hdr + 9);
    if (size < RC_BINLOG_HEADER_LEN) {
        return RC_ERR_PROTOCOL;
    }
    if (size > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < size) {
            cap *= 2;
        }
        uint8_t *nb = realloc(f->buf, cap);
        if (!nb) {
            return RC_ERR_NOMEM;
        }
        f->buf = nb;
        f->cap = cap;
    }
    memcpy(f->buf, hdr, sizeof(hdr));
    size_t rest = size - sizeof(hdr);
    if (fread(f->buf + sizeof(hdr), 1, rest, f->fp) != rest) {
        return ferror(f->fp) ? RC_ERR_IO : RC_ERR_TRUNCATED;
    }
    f->last = f->next;
    f->next += size;
    *ev = f->buf;
    *len = size;
    return RC_OK;
}

uint64_t rc_binlog_file_offset(const rc_binlog_file_t *f) {
    return f->last;
}

void rc_binlog_file_close(rc_binlog_file_t *f) {
    if (!f) {
        return;
    }
    if (f->fp) {
        fclose(f->fp);
    }
    free(f->buf);
    free(f);
}
