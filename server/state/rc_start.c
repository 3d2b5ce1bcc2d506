/* rc_start.c: parsing of the source.start forms (see rc_start.h). */
#include "rc_start.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int digits(const char *p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i])) {
            return 0;
        }
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

rc_err_t rc_start_parse_time(const char *t, int64_t *out) {
    int Y, M, D, h, m, s = 0;
    if (strlen(t) < 16 || !digits(t, 4, &Y) || t[4] != '-' || !digits(t + 5, 2, &M) ||
        t[7] != '-' || !digits(t + 8, 2, &D) || (t[10] != 'T' && t[10] != ' ') ||
        !digits(t + 11, 2, &h) || t[13] != ':' || !digits(t + 14, 2, &m)) {
        return RC_ERR_INVALID;
    }
    const char *p = t + 16;
    if (*p == ':') {
        if (!digits(p + 1, 2, &s)) {
            return RC_ERR_INVALID;
        }
        p += 3;
        if (*p == '.') { /* fractions: the transaction must be at or after the time */
            p++;
            bool nonzero = false;
            if (!isdigit((unsigned char)*p)) {
                return RC_ERR_INVALID;
            }
            while (isdigit((unsigned char)*p)) {
                nonzero = nonzero || *p != '0';
                p++;
            }
            if (nonzero) {
                s++; /* binlog times are whole seconds */
            }
        }
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59) {
            return RC_ERR_INVALID;
        }
        off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    }
    if (*p != '\0' || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60) {
        return RC_ERR_INVALID;
    }
    struct tm tm = {
        .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = s};
    time_t v = timegm(&tm);
    if (tm.tm_mday != D && s < 60) { /* 2024-02-31 rolled over */
        return RC_ERR_INVALID;
    }
    *out = (int64_t)v - off;
    return RC_OK;
}

rc_err_t rc_start_parse(const char *spec, rc_start_t *out, char *errstr, size_t errstr_size) {
    memset(out, 0, sizeof(*out));
    if (!spec || strcmp(spec, "earliest") == 0) {
        out->kind = RC_START_EARLIEST;
        return RC_OK;
    }
    if (strcmp(spec, "latest") == 0) {
        out->kind = RC_START_LATEST;
        return RC_OK;
    }
    if (strncmp(spec, "gtid:", 5) == 0) {
        rc_gtid_flavor_t f;
        if (rc_gtid_guess_flavor(spec + 5, &f) != RC_OK) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "expected a GTID set after gtid:, got nothing");
        }
        out->kind = RC_START_GTID;
        out->gtid = rc_gtid_set_new(f);
        if (!out->gtid) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        rc_err_t err = rc_gtid_set_parse(out->gtid, spec + 5, errstr, errstr_size);
        if (err != RC_OK) {
            rc_start_clear(out);
        }
        return err;
    }
    if (strncmp(spec, "file:", 5) == 0) {
        const char *name = spec + 5;
        const char *colon = strrchr(name, ':');
        if (!colon || colon == name || (size_t)(colon - name) >= sizeof(out->file)) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "expected file:<name>:<pos> with a binlog file name and a "
                             "position, got \"%s\"",
                             spec);
        }
        if (memchr(name, '/', (size_t)(colon - name))) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "expected a binlog file name without a directory in \"%s\"", spec);
        }
        char *end;
        errno = 0;
        unsigned long long pos = strtoull(colon + 1, &end, 10);
        if (!isdigit((unsigned char)colon[1]) || errno || *end || pos < 4) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "expected the position in file:<name>:<pos> to be an integer >= 4, "
                             "got \"%s\"",
                             spec);
        }
        out->kind = RC_START_FILE;
        snprintf(out->file, sizeof(out->file), "%.*s", (int)(colon - name), name);
        out->pos = pos;
        return RC_OK;
    }
    if (strncmp(spec, "timestamp:", 10) == 0) {
        if (rc_start_parse_time(spec + 10, &out->time) != RC_OK) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "expected an ISO 8601 time after timestamp:, such as "
                             "2024-05-01T12:00:00Z, got \"%s\"",
                             spec + 10);
        }
        out->kind = RC_START_TIMESTAMP;
        return RC_OK;
    }
    return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                     "expected earliest, latest, gtid:<set>, file:<name>:<pos> or "
                     "timestamp:<iso8601>, got \"%s\"",
                     spec);
}

void rc_start_clear(rc_start_t *s) {
    rc_gtid_set_destroy(s->gtid);
    s->gtid = NULL;
}
