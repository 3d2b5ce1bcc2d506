/* rc_binlog.c: the binlog event decoder: header, CRC32, FDE, ROTATE, QUERY, GTIDs, payloads.
 * It keeps the format, position, GTID and transaction boundaries between events; table maps
 * and rows events are in rc_binlog_row.c. Pure code: no I/O, no logging. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "rc_binlog_int.h"

#define LOG_EVENT_BINLOG_IN_USE_F 0x0001
#define LOG_EVENT_IGNORABLE_F     0x0080
#define MARIA_FL_STANDALONE       0x01
#define CHECKSUM_ALG_CRC32        1
#define CHECKSUM_ALG_UNDEF        255
#define MAX_CACHED_MAPS           1024 /* beyond this, the cache is emptied at a transaction end */
#define MAX_INNER_EVENT           (1u << 30) /* largest event inside a TRANSACTION_PAYLOAD */
#define ZBUF_INITIAL              (64u * 1024)
#define MARIA_COMPRESSED_F        0x80       /* first byte of compressed event data */
#define MAX_MARIA_UNCOMPRESSED    (1u << 30) /* max_allowed_packet's upper bound */
#define ZLIB_MAX_RATIO            1032u      /* deflate never shrinks data further than this */

void rc_binlog_opts_init(rc_binlog_opts_t *opts) {
    memset(opts, 0, sizeof(*opts));
    opts->pipeline = "";
    opts->topic_template = "{schema}.{table}";
    opts->verify_checksum = true;
}

rc_binlog_t *rc_binlog_new(const rc_binlog_opts_t *opts) {
    rc_binlog_opts_t defaults;
    rc_binlog_opts_init(&defaults);
    if (!opts) {
        opts = &defaults;
    }
    rc_binlog_t *b = calloc(1, sizeof(*b));
    if (!b) {
        return NULL;
    }
    b->pipeline = strdup(opts->pipeline ? opts->pipeline : "");
    b->topic_template = strdup(opts->topic_template ? opts->topic_template : "{schema}.{table}");
    if (!b->pipeline || !b->topic_template) {
        goto fail;
    }
    b->verify_checksum = opts->verify_checksum;
    b->geometry_geojson = opts->geometry_geojson;
    b->include = opts->include;
    b->column_names = opts->column_names;
    b->opaque = opts->opaque;
    b->checksum_alg = CHECKSUM_ALG_UNDEF;
    b->zbuf_initial = ZBUF_INITIAL;
    for (int i = 0; i < RC_CHARSET_COUNT; i++) {
        b->iconv[i] = (iconv_t)-1;
    }
    return b;
fail:
    rc_binlog_destroy(b);
    return NULL;
}

void rc_binlog_destroy(rc_binlog_t *b) {
    if (!b) {
        return;
    }
    free(b->pipeline);
    free(b->topic_template);
    rc_binlog_maps_free(b);
    free(b->before);
    free(b->after);
    rc_buf_free(&b->scratch);
    rc_buf_free(&b->ev_head);
    rc_buf_free(&b->ev_meta);
    rc_buf_free(&b->prev_gtids);
    rc_buf_free(&b->rowbuf);
    for (int i = 0; i < 4; i++) {
        rc_buf_free(&b->jwork[i]);
    }
    ZSTD_freeDCtx(b->zstd);
    free(b->zbuf);
    free(b->mbuf);
    rc_binlog_names_clear(b);
    if (b->zs) {
        inflateEnd(b->zs);
        free(b->zs);
    }
    for (int i = 0; i < RC_CHARSET_COUNT; i++) {
        if (b->iconv[i] != (iconv_t)-1) {
            iconv_close(b->iconv[i]);
        }
    }
    free(b);
}

void rc_binlog_direct_sbuffer(rc_binlog_t *b, msgpack_sbuffer *sb) {
    b->direct_sb = sb;
}

rc_err_t rc_binlog_set_position(rc_binlog_t *b, const char *file, uint64_t pos) {
    size_t n = strlen(file);
    if (n >= sizeof(b->file)) {
        return RC_ERR_INVALID;
    }
    memcpy(b->file, file, n + 1);
    b->pos = pos;
    return RC_OK;
}

const char *rc_binlog_file(const rc_binlog_t *b) {
    return b->file;
}

uint64_t rc_binlog_pos(const rc_binlog_t *b) {
    return b->pos;
}

const char *rc_binlog_gtid(const rc_binlog_t *b) {
    return b->gtid;
}

const char *rc_binlog_previous_gtids(const rc_binlog_t *b) {
    return b->prev_gtids.len ? (const char *)b->prev_gtids.data : "";
}

rc_binlog_flavor_t rc_binlog_flavor(const rc_binlog_t *b) {
    return b->flavor;
}

bool rc_binlog_has_checksum(const rc_binlog_t *b) {
    return b->checksum_alg == CHECKSUM_ALG_CRC32;
}

const char *rc_binlog_server_version(const rc_binlog_t *b) {
    return b->server_version;
}

const char *rc_binlog_event_name(uint8_t type) {
    switch (type) {
    case RC_EV_QUERY:
        return "QUERY";
    case RC_EV_STOP:
        return "STOP";
    case RC_EV_ROTATE:
        return "ROTATE";
    case RC_EV_INTVAR:
        return "INTVAR";
    case RC_EV_RAND:
        return "RAND";
    case RC_EV_USER_VAR:
        return "USER_VAR";
    case RC_EV_FORMAT_DESCRIPTION:
        return "FORMAT_DESCRIPTION";
    case RC_EV_XID:
        return "XID";
    case RC_EV_TABLE_MAP:
        return "TABLE_MAP";
    case RC_EV_WRITE_ROWS_V1:
        return "WRITE_ROWS_V1";
    case RC_EV_UPDATE_ROWS_V1:
        return "UPDATE_ROWS_V1";
    case RC_EV_DELETE_ROWS_V1:
        return "DELETE_ROWS_V1";
    case RC_EV_INCIDENT:
        return "INCIDENT";
    case RC_EV_HEARTBEAT:
        return "HEARTBEAT";
    case RC_EV_IGNORABLE:
        return "IGNORABLE";
    case RC_EV_ROWS_QUERY:
        return "ROWS_QUERY";
    case RC_EV_WRITE_ROWS_V2:
        return "WRITE_ROWS_V2";
    case RC_EV_UPDATE_ROWS_V2:
        return "UPDATE_ROWS_V2";
    case RC_EV_DELETE_ROWS_V2:
        return "DELETE_ROWS_V2";
    case RC_EV_GTID:
        return "GTID";
    case RC_EV_ANONYMOUS_GTID:
        return "ANONYMOUS_GTID";
    case RC_EV_PREVIOUS_GTIDS:
        return "PREVIOUS_GTIDS";
    case RC_EV_TRANSACTION_CONTEXT:
        return "TRANSACTION_CONTEXT";
    case RC_EV_VIEW_CHANGE:
        return "VIEW_CHANGE";
    case RC_EV_XA_PREPARE:
        return "XA_PREPARE";
    case RC_EV_PARTIAL_UPDATE_ROWS:
        return "PARTIAL_UPDATE_ROWS";
    case RC_EV_TRANSACTION_PAYLOAD:
        return "TRANSACTION_PAYLOAD";
    case RC_EV_HEARTBEAT_V2:
        return "HEARTBEAT_V2";
    case RC_EV_GTID_TAGGED:
        return "GTID_TAGGED";
    case RC_EV_MARIA_ANNOTATE_ROWS:
        return "ANNOTATE_ROWS";
    case RC_EV_MARIA_BINLOG_CHECKPOINT:
        return "BINLOG_CHECKPOINT";
    case RC_EV_MARIA_GTID:
        return "MARIADB_GTID";
    case RC_EV_MARIA_GTID_LIST:
        return "GTID_LIST";
    case RC_EV_MARIA_START_ENCRYPTION:
        return "START_ENCRYPTION";
    case RC_EV_MARIA_QUERY_COMPRESSED:
        return "QUERY_COMPRESSED";
    case RC_EV_MARIA_WRITE_ROWS_COMPRESSED_V1:
        return "WRITE_ROWS_COMPRESSED_V1";
    case RC_EV_MARIA_UPDATE_ROWS_COMPRESSED_V1:
        return "UPDATE_ROWS_COMPRESSED_V1";
    case RC_EV_MARIA_DELETE_ROWS_COMPRESSED_V1:
        return "DELETE_ROWS_COMPRESSED_V1";
    case RC_EV_MARIA_WRITE_ROWS_COMPRESSED:
        return "WRITE_ROWS_COMPRESSED";
    case RC_EV_MARIA_UPDATE_ROWS_COMPRESSED:
        return "UPDATE_ROWS_COMPRESSED";
    case RC_EV_MARIA_DELETE_ROWS_COMPRESSED:
        return "DELETE_ROWS_COMPRESSED";
    default:
        return "UNKNOWN";
    }
}

static const char *file_or_unknown(const rc_binlog_t *b) {
    return b->file[0] ? b->file : "(unknown file)";
}

rc_err_t rc_binlog_everr(const rc_binlog_t *b, char *errstr, size_t errstr_size, rc_err_t err,
                         const char *fmt, ...) {
    if (!errstr || errstr_size == 0) {
        return err;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    size_t n = strlen(errstr);
    if (n + 1 < errstr_size) {
        snprintf(errstr + n, errstr_size - n, " (%s event at %s:%" PRIu64 ")",
                 b->ev_name ? b->ev_name : "binlog", file_or_unknown(b), b->ev_pos);
    }
    return err;
}

rc_err_t rc_binlog_parse_header(const uint8_t *ev, size_t len, rc_binlog_header_t *h) {
    if (len < RC_BINLOG_HEADER_LEN) {
        return RC_ERR_TRUNCATED;
    }
    h->timestamp = rc_le32(ev);
    h->type = ev[4];
    h->server_id = rc_le32(ev + 5);
    h->event_size = rc_le32(ev + 9);
    h->log_pos = rc_le32(ev + 13);
    h->flags = rc_le16(ev + 17);
    return RC_OK;
}

/* ---- small events ------------------------------------------------------------------------- */

static void version_split(const char *v, unsigned out[3]) {
    for (int i = 0; i < 3; i++) {
        out[i] = 0;
        while (*v >= '0' && *v <= '9') {
            out[i] = out[i] * 10 + (unsigned)(*v - '0');
            if (out[i] > 100000) {
                break;
            }
            v++;
        }
        if (*v != '.') {
            break;
        }
        v++;
    }
}

static bool version_ge(const unsigned v[3], unsigned a, unsigned b, unsigned c) {
    if (v[0] != a) {
        return v[0] > a;
    }
    if (v[1] != b) {
        return v[1] > b;
    }
    return v[2] >= c;
}

static rc_err_t on_fde(rc_binlog_t *b, const uint8_t *ev, size_t len, char *errstr,
                       size_t errstr_size) {
    const uint8_t *body = ev + RC_BINLOG_HEADER_LEN;
    size_t blen = len - RC_BINLOG_HEADER_LEN;
    if (blen < 2 + 50 + 4 + 1) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_TRUNCATED,
                               "format description is truncated");
    }
    char version[51];
    memcpy(version, body + 2, 50);
    version[50] = '\0';
    bool maria = strstr(version, "MariaDB") != NULL;
    unsigned v[3];
    version_split(version, v);
    bool has_alg = maria ? version_ge(v, 5, 3, 0) : version_ge(v, 5, 6, 1);
    size_t nph = blen - (2 + 50 + 4 + 1);
    uint8_t alg = CHECKSUM_ALG_UNDEF;
    if (has_alg) {
        if (nph < 5) {
            return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_TRUNCATED,
                                   "format description has no checksum algorithm");
        }
        alg = ev[len - 5];
        nph -= 5;
        if (alg == CHECKSUM_ALG_CRC32 && b->verify_checksum) {
            /* the server computes the FDE's CRC with the in-use flag cleared */
            uint8_t hdr[RC_BINLOG_HEADER_LEN];
            memcpy(hdr, ev, sizeof(hdr));
            hdr[17] &= (uint8_t)~LOG_EVENT_BINLOG_IN_USE_F;
            uLong crc = crc32(0L, hdr, sizeof(hdr));
            crc = crc32(crc, body, (uInt)(len - RC_BINLOG_HEADER_LEN - 4));
            uint32_t want = rc_le32(ev + len - 4);
            if ((uint32_t)crc != want) {
                return rc_seterr(errstr, errstr_size, RC_ERR_CHECKSUM,
                                 "CRC32 mismatch in FORMAT_DESCRIPTION event at %s:%" PRIu64
                                 ": expected 0x%08" PRIx32 ", computed 0x%08" PRIx32,
                                 file_or_unknown(b), b->ev_pos, want, (uint32_t)crc);
            }
        }
    }
    b->have_fde = true;
    b->binlog_version = rc_le16(body);
    memcpy(b->server_version, version, sizeof(version));
    b->flavor = maria ? RC_FLAVOR_MARIADB : RC_FLAVOR_MYSQL;
    b->checksum_alg = alg;
    b->n_post_header =
        (unsigned)(nph < RC_BINLOG_MAX_POST_HEADER ? nph : RC_BINLOG_MAX_POST_HEADER);
    memcpy(b->post_header, body + 57, b->n_post_header);
    rc_binlog_maps_clear(b); /* a new server session or file: table ids start over */
    return RC_OK;
}

static rc_err_t on_rotate(rc_binlog_t *b, const uint8_t *body, size_t blen, rc_binlog_info_t *info,
                          char *errstr, size_t errstr_size) {
    unsigned ph = rc_binlog_post_header(b, RC_EV_ROTATE, 8);
    if (blen < ph) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_TRUNCATED, "rotate is truncated");
    }
    size_t n = blen - ph;
    if (n == 0 || n >= sizeof(b->file)) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                               "rotate names a file of %zu bytes", n);
    }
    memcpy(b->file, body + ph, n);
    b->file[n] = '\0';
    b->pos = ph >= 8 ? rc_le64(body) : 4;
    info->rotate = true;
    return RC_OK;
}

static void end_transaction(rc_binlog_t *b, rc_binlog_info_t *info) {
    info->commit = true;
    b->maria_standalone = false;
    if (b->nmaps > MAX_CACHED_MAPS) {
        rc_binlog_maps_clear(b);
    }
}

static bool query_is(const uint8_t *q, size_t n, const char *word) {
    size_t w = strlen(word);
    return n >= w && strncasecmp((const char *)q, word, w) == 0 &&
           (n == w || q[w] == ' ' || q[w] == '\t' || q[w] == '\n');
}

const char *rc_binlog_inflate(rc_binlog_t *b, bool raw, const uint8_t *in, size_t inlen,
                              uint8_t *out, size_t outlen) {
    int wbits = raw ? -MAX_WBITS : MAX_WBITS;
    z_stream *zs = b->zs;
    if (inlen > MAX_MARIA_UNCOMPRESSED || outlen > MAX_MARIA_UNCOMPRESSED) {
        return "it is too large";
    }
    if (!zs) {
        if (!(zs = calloc(1, sizeof(*zs)))) {
            return "out of memory";
        }
        if (inflateInit2(zs, wbits) != Z_OK) {
            free(zs);
            return "out of memory";
        }
        b->zs = zs;
    } else if (inflateReset2(zs, wbits) != Z_OK) {
        return "zlib cannot be reset";
    }
    zs->next_in = (Bytef *)(uintptr_t)in;
    zs->avail_in = (uInt)inlen;
    zs->next_out = out;
    zs->avail_out = (uInt)outlen;
    int r = inflate(zs, Z_FINISH);
    if (r == Z_STREAM_END) {
        return zs->avail_out != 0 ? "it is shorter" : zs->avail_in != 0 ? "bytes follow it" : NULL;
    }
    if (r == Z_OK || r == Z_BUF_ERROR) {
        return zs->avail_out == 0 ? "it is longer" : "the stream ends early";
    }
    return zs->msg ? zs->msg : zError(r);
}

rc_err_t rc_binlog_maria_uncompress(rc_binlog_t *b, const uint8_t *p, size_t len, const char *what,
                                    const uint8_t **out, size_t *out_len, char *errstr,
                                    size_t errstr_size) {
    if (len < 1) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_TRUNCATED, "compressed %s is empty",
                               what);
    }
    unsigned lenlen = p[0] & 0x07, alg = (p[0] >> 4) & 0x07;
    if (!(p[0] & MARIA_COMPRESSED_F) || lenlen < 1 || lenlen > 4) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                               "compressed %s starts with the invalid header byte 0x%02x", what,
                               p[0]);
    }
    if (alg != 0) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_UNSUPPORTED,
                               "compressed %s uses compression algorithm %u (only zlib, 0, "
                               "exists)",
                               what, alg);
    }
    if (len < 1 + lenlen) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_TRUNCATED,
                               "compressed %s ends inside its length", what);
    }
    uint64_t ulen = rc_be(p + 1, lenlen);
    size_t clen = len - 1 - lenlen;
    /* a length no zlib stream of this size can reach is corrupt: refuse it before allocating */
    if (ulen == 0 || ulen > MAX_MARIA_UNCOMPRESSED || ulen > (uint64_t)clen * ZLIB_MAX_RATIO + 64) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                               "compressed %s of %zu bytes claims %" PRIu64 " bytes uncompressed",
                               what, clen, ulen);
    }
    if (ulen > b->mbuf_cap) {
        uint8_t *nb = realloc(b->mbuf, (size_t)ulen);
        if (!nb) {
            return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        b->mbuf = nb;
        b->mbuf_cap = (size_t)ulen;
    }
    const char *why = rc_binlog_inflate(b, false, p + 1 + lenlen, clen, b->mbuf, (size_t)ulen);
    if (why) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                               "compressed %s does not decompress to its stated %" PRIu64
                               " bytes: %s",
                               what, ulen, why);
    }
    *out = b->mbuf;
    *out_len = (size_t)ulen;
    return RC_OK;
}

static rc_err_t on_query(rc_binlog_t *b, uint8_t type, const uint8_t *body, size_t blen,
                         rc_binlog_info_t *info, char *errstr, size_t errstr_size) {
    unsigned ph = rc_binlog_post_header(b, type, 13);
    if (blen < ph || ph < 11) {
        goto truncated;
    }
    size_t db_len = body[8];
    size_t status_len = ph >= 13 ? rc_le16(body + 11) : 0;
    if (blen - ph < status_len + db_len + 1) {
        goto truncated;
    }
    const uint8_t *q = body + ph + status_len + db_len + 1;
    size_t qn = (size_t)(body + blen - q);
    if (type == RC_EV_MARIA_QUERY_COMPRESSED) {
        rc_err_t err = rc_binlog_maria_uncompress(b, q, qn, "query", &q, &qn, errstr, errstr_size);
        if (err != RC_OK) {
            return err;
        }
    }
    if (b->maria_standalone) {
        end_transaction(b, info); /* the statement of a standalone MariaDB GTID ends it */
    } else if (query_is(q, qn, "BEGIN") || query_is(q, qn, "XA START")) {
        info->begin = true;
    } else if (query_is(q, qn, "SAVEPOINT") || query_is(q, qn, "ROLLBACK TO") ||
               query_is(q, qn, "XA END")) {
        /* inside a transaction: neither begins nor ends one */
    } else {
        end_transaction(b, info); /* COMMIT, ROLLBACK, and DDL (implicit commit) */
    }
    if (!query_is(q, qn, "BEGIN") && !query_is(q, qn, "COMMIT") && !query_is(q, qn, "ROLLBACK") &&
        !query_is(q, qn, "SAVEPOINT") && !query_is(q, qn, "XA")) {
        rc_binlog_names_clear(b); /* DDL may have changed any table's columns */
    }
    return RC_OK;
truncated:
    return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_TRUNCATED, "query is truncated");
}

static size_t fmt_uuid(const uint8_t *sid, char *out) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[sid[i] >> 4];
        out[o++] = hex[sid[i] & 15];
    }
    out[o] = '\0';
    return o;
}

/* v in decimal at out, then a NUL; returns the digits' count. For the GTID of each
 * transaction: snprintf's was about 1,300 instructions a transaction. */
static size_t put_dec(char *out, uint64_t v) {
    size_t n = rc_binlog_fmt_uint(v, out);
    out[n] = '\0';
    return n;
}

static rc_err_t on_gtid(rc_binlog_t *b, uint8_t type, const uint8_t *body, size_t blen,
                        rc_binlog_info_t *info, char *errstr, size_t errstr_size) {
    if (blen < 1 + 16 + 8) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_TRUNCATED, "GTID is truncated");
    }
    if (type == RC_EV_ANONYMOUS_GTID) {
        b->gtid[0] = '\0';
    } else {
        size_t o = fmt_uuid(body + 1, b->gtid); /* 36 characters, ':', 20 digits at most */
        b->gtid[o] = ':';
        put_dec(b->gtid + o + 1, rc_le64(body + 17));
    }
    info->begin = true;
    return RC_OK;
}

/* MySQL serialization library integers (GTID_TAGGED): the count of trailing one bits of the
 * first byte gives the extra bytes; the value follows them, little-endian. */
static bool ser_uint(const uint8_t **pp, const uint8_t *end, uint64_t *v) {
    const uint8_t *p = *pp;
    if (p >= end) {
        return false;
    }
    unsigned n = 1;
    while (n < 9 && (p[0] & (1u << (n - 1)))) {
        n++;
    }
    if ((size_t)(end - p) < n) {
        return false;
    }
    *v = n == 9 ? rc_le64(p + 1) : rc_le(p, n) >> n;
    *pp = p + n;
    return true;
}

static rc_err_t on_gtid_tagged(rc_binlog_t *b, const uint8_t *body, size_t blen,
                               rc_binlog_info_t *info, char *errstr, size_t errstr_size) {
    const uint8_t *p = body + 1, *end = body + blen;
    uint64_t size, lnif, fid, v;
    uint8_t sid[16];
    const uint8_t *tag = NULL;
    uint64_t tag_len = 0, gno = 0;
    bool have_sid = false, have_gno = false;
    if (blen < 1 || body[0] != 2 || !ser_uint(&p, end, &size) || !ser_uint(&p, end, &lnif)) {
        goto bad;
    }
    if (size < (uint64_t)(p - body) || size > blen) {
        goto bad;
    }
    end = body + size;
    while (p < end) {
        if (!ser_uint(&p, end, &fid)) {
            goto bad;
        }
        if (fid == 1) {
            for (int i = 0; i < 16; i++) {
                if (!ser_uint(&p, end, &v) || v > 255) {
                    goto bad;
                }
                sid[i] = (uint8_t)v;
            }
            have_sid = true;
        } else if (fid == 3) {
            if (!ser_uint(&p, end, &tag_len) || tag_len > (uint64_t)(end - p) || tag_len > 32) {
                goto bad;
            }
            tag = p;
            p += tag_len;
        } else if (fid <= 11) {
            if (!ser_uint(&p, end, &v)) {
                goto bad;
            }
            if (fid == 2) {
                if (v & 1) {
                    goto bad; /* negative */
                }
                gno = v >> 1;
                have_gno = true;
            }
        } else {
            break; /* a newer field: everything we need comes before it */
        }
    }
    if (!have_sid || !have_gno) {
        goto bad;
    }
    size_t o = fmt_uuid(sid, b->gtid);
    if (tag && tag_len > 0) {
        o += (size_t)snprintf(b->gtid + o, sizeof(b->gtid) - o, ":%.*s", (int)tag_len,
                              (const char *)tag);
    }
    snprintf(b->gtid + o, sizeof(b->gtid) - o, ":%" PRIu64, gno);
    info->begin = true;
    return RC_OK;
bad:
    return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL, "tagged GTID is malformed");
}

/* PREVIOUS_GTIDS (35): the GTID set of every file before this one, as text. The body is a
 * count of (uuid, intervals) entries; in the tagged format of 8.3+ the first and last bytes of
 * the count word are the format (1) and every uuid is followed by its tag (length-prefixed in
 * the serialization library's integers). Intervals are [start, end). */
static rc_err_t on_previous_gtids(rc_binlog_t *b, const uint8_t *body, size_t blen, char *errstr,
                                  size_t errstr_size) {
    const uint8_t *p = body, *end = body + blen;
    rc_buf_t *out = &b->prev_gtids;
    rc_buf_reset(out);
    if (blen < 8) {
        goto bad;
    }
    bool tagged = body[0] == 1 && body[7] == 1;
    uint64_t n = tagged ? rc_le(body + 1, 6) : rc_le64(body);
    p += 8;
    for (uint64_t i = 0; i < n; i++) {
        char uuid[40];
        if ((size_t)(end - p) < 16) {
            goto bad;
        }
        fmt_uuid(p, uuid);
        p += 16;
        const uint8_t *tag = NULL;
        uint64_t tag_len = 0;
        if (tagged) {
            if (!ser_uint(&p, end, &tag_len) || tag_len > 32 || tag_len > (uint64_t)(end - p)) {
                goto bad;
            }
            tag = p;
            p += tag_len;
        }
        if ((size_t)(end - p) < 8) {
            goto bad;
        }
        uint64_t ni = rc_le64(p);
        p += 8;
        if (ni > (uint64_t)(end - p) / 16) {
            goto bad;
        }
        if (rc_buf_printf(out, "%s%s", out->len ? "," : "", uuid) != RC_OK ||
            (tag_len && rc_buf_printf(out, ":%.*s", (int)tag_len, (const char *)tag) != RC_OK)) {
            goto nomem;
        }
        for (uint64_t k = 0; k < ni; k++, p += 16) {
            uint64_t from = rc_le64(p), to = rc_le64(p + 8);
            if (from < 1 || to <= from) {
                goto bad;
            }
            rc_err_t e = to - 1 == from ? rc_buf_printf(out, ":%" PRIu64, from)
                                        : rc_buf_printf(out, ":%" PRIu64 "-%" PRIu64, from, to - 1);
            if (e != RC_OK) {
                goto nomem;
            }
        }
    }
    if (rc_buf_putc(out, '\0') != RC_OK) {
        goto nomem;
    }
    out->len--; /* keep the terminator out of the length */
    return RC_OK;
nomem:
    rc_buf_reset(out);
    return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
bad:
    rc_buf_reset(out);
    return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL, "PREVIOUS_GTIDS is malformed");
}

static rc_err_t on_maria_gtid(rc_binlog_t *b, const rc_binlog_header_t *h, const uint8_t *body,
                              size_t blen, rc_binlog_info_t *info, char *errstr,
                              size_t errstr_size) {
    if (blen < 8 + 4 + 1) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_TRUNCATED, "GTID is truncated");
    }
    /* domain-server-sequence: 10 + 1 + 10 + 1 + 20 characters at most */
    char *g = b->gtid;
    g += put_dec(g, rc_le32(body + 8));
    *g++ = '-';
    g += put_dec(g, h->server_id);
    *g++ = '-';
    put_dec(g, rc_le64(body));
    b->maria_standalone = (body[12] & MARIA_FL_STANDALONE) != 0;
    info->begin = true;
    return RC_OK;
}

/* ---- TRANSACTION_PAYLOAD ------------------------------------------------------------------ */

static rc_err_t feed_event(rc_binlog_t *b, const uint8_t *ev, size_t len, msgpack_packer *pk,
                           rc_binlog_info_t *info, char *errstr, size_t errstr_size, bool inner);

/* Feeds every whole event at the front of buf; returns bytes consumed through *used. */
static rc_err_t feed_inner(rc_binlog_t *b, const uint8_t *buf, size_t have, size_t *used,
                           msgpack_packer *pk, rc_binlog_info_t *info, char *errstr,
                           size_t errstr_size) {
    size_t off = 0;
    while (have - off >= RC_BINLOG_HEADER_LEN) {
        uint32_t size = rc_le32(buf + off + 9);
        if (size < RC_BINLOG_HEADER_LEN || size > MAX_INNER_EVENT) {
            return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                                   "payload holds an event of %" PRIu32 " bytes", size);
        }
        if (have - off < size) {
            break;
        }
        rc_err_t err = feed_event(b, buf + off, size, pk, info, errstr, errstr_size, true);
        if (err != RC_OK) {
            return err;
        }
        off += size;
    }
    *used = off;
    return RC_OK;
}

static rc_err_t on_payload(rc_binlog_t *b, const uint8_t *body, size_t blen, msgpack_packer *pk,
                           rc_binlog_info_t *info, char *errstr, size_t errstr_size) {
    const uint8_t *p = body, *end = body + blen;
    uint64_t compression = 0, payload_size = UINT64_MAX;
    for (;;) {
        uint64_t t, len, v = 0;
        size_t n = rc_lenenc(p, end, &t);
        if (n == 0) {
            goto bad;
        }
        p += n;
        if (t == 0) {
            break;
        }
        if ((n = rc_lenenc(p, end, &len)) == 0 || len > (uint64_t)(end - p - n)) {
            goto bad;
        }
        p += n;
        if (t <= 3 && rc_lenenc(p, p + len, &v) == 0) {
            goto bad;
        }
        if (t == 1) {
            payload_size = v;
        } else if (t == 2) {
            compression = v;
        }
        p += len;
    }
    size_t plen = (size_t)(end - p);
    if (payload_size != UINT64_MAX && payload_size < plen) {
        plen = (size_t)payload_size;
    }
    if (compression == 255) {
        size_t used;
        rc_err_t err = feed_inner(b, p, plen, &used, pk, info, errstr, errstr_size);
        if (err == RC_OK && used != plen) {
            goto bad;
        }
        return err;
    }
    if (compression != 0) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_UNSUPPORTED,
                               "payload compression type %" PRIu64 " is not supported",
                               compression);
    }
    if (!b->zstd && !(b->zstd = ZSTD_createDCtx())) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    ZSTD_DCtx_reset(b->zstd, ZSTD_reset_session_only);
    ZSTD_inBuffer in = {p, plen, 0};
    size_t have = 0;
    for (;;) {
        if (have == b->zbuf_cap) {
            size_t want = b->zbuf_cap ? b->zbuf_cap * 2 : b->zbuf_initial;
            if (have >= RC_BINLOG_HEADER_LEN && rc_le32(b->zbuf + 9) > want) {
                want = rc_le32(b->zbuf + 9);
            }
            if (want > MAX_INNER_EVENT) {
                goto bad;
            }
            uint8_t *nb = realloc(b->zbuf, want);
            if (!nb) {
                return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
            }
            b->zbuf = nb;
            b->zbuf_cap = want;
        }
        ZSTD_outBuffer out = {b->zbuf + have, b->zbuf_cap - have, 0};
        size_t ret = ZSTD_decompressStream(b->zstd, &out, &in);
        if (ZSTD_isError(ret)) {
            return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                                   "zstd payload does not decompress: %s", ZSTD_getErrorName(ret));
        }
        have += out.pos;
        size_t used;
        rc_err_t err = feed_inner(b, b->zbuf, have, &used, pk, info, errstr, errstr_size);
        if (err != RC_OK) {
            return err;
        }
        memmove(b->zbuf, b->zbuf + used, have - used);
        have -= used;
        if (ret == 0) {
            break;
        }
        if (in.pos == in.size && out.pos < out.size) {
            goto bad; /* the frame ends early */
        }
    }
    if (have != 0) {
        goto bad;
    }
    return RC_OK;
bad:
    return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                           "transaction payload is malformed");
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static bool crc_matches(const uint8_t *ev, size_t len) {
    return len >= RC_BINLOG_HEADER_LEN + 4 && rc_binlog_crc32(ev, len - 4) == rc_le32(ev + len - 4);
}

static rc_err_t feed_event(rc_binlog_t *b, const uint8_t *ev, size_t len, msgpack_packer *pk,
                           rc_binlog_info_t *info, char *errstr, size_t errstr_size, bool inner) {
    rc_binlog_header_t h;
    if (rc_binlog_parse_header(ev, len, &h) != RC_OK) {
        b->ev_name = "binlog";
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_TRUNCATED,
                               "event of %zu bytes is shorter than its header", len);
    }
    b->ev_name = rc_binlog_event_name(h.type);
    if (!inner) {
        info->header = h;
        b->ev_pos = h.log_pos != 0 && h.log_pos >= h.event_size ? h.log_pos - h.event_size : b->pos;
    }
    if (h.event_size != len) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                               "event header says %" PRIu32 " bytes but %zu were given",
                               h.event_size, len);
    }
    const uint8_t *body = ev + RC_BINLOG_HEADER_LEN;
    size_t blen = len - RC_BINLOG_HEADER_LEN;
    bool has_crc = false;
    if (!inner && h.type != RC_EV_FORMAT_DESCRIPTION) {
        if (b->have_fde) {
            has_crc = b->checksum_alg == CHECKSUM_ALG_CRC32;
        } else if (h.type == RC_EV_ROTATE) {
            /* the artificial ROTATE comes before any FDE: it has a CRC if its bytes say so */
            has_crc = crc_matches(ev, len);
        }
    }
    if (has_crc) {
        if (blen < 4) {
            return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_TRUNCATED,
                                   "event is too short for its CRC32");
        }
        blen -= 4;
        if (b->verify_checksum) {
            uint32_t want = rc_le32(ev + len - 4);
            uint32_t got = rc_binlog_crc32(ev, len - 4);
            if (want != got) {
                return rc_seterr(errstr, errstr_size, RC_ERR_CHECKSUM,
                                 "CRC32 mismatch in %s event (type %u) at %s:%" PRIu64
                                 ": expected 0x%08" PRIx32 ", computed 0x%08" PRIx32,
                                 b->ev_name, h.type, file_or_unknown(b), b->ev_pos, want, got);
            }
        }
    }

    rc_err_t err = RC_OK;
    bool move_pos = true;
    switch (h.type) {
    case RC_EV_FORMAT_DESCRIPTION:
        err = inner ? RC_ERR_PROTOCOL : on_fde(b, ev, len, errstr, errstr_size);
        break;
    case RC_EV_ROTATE:
        err = on_rotate(b, body, blen, info, errstr, errstr_size);
        move_pos = false;
        break;
    case RC_EV_QUERY:
    case RC_EV_MARIA_QUERY_COMPRESSED:
        err = on_query(b, h.type, body, blen, info, errstr, errstr_size);
        break;
    case RC_EV_XID:
    case RC_EV_XA_PREPARE:
        end_transaction(b, info);
        break;
    case RC_EV_GTID:
    case RC_EV_ANONYMOUS_GTID:
        err = on_gtid(b, h.type, body, blen, info, errstr, errstr_size);
        break;
    case RC_EV_GTID_TAGGED:
        err = on_gtid_tagged(b, body, blen, info, errstr, errstr_size);
        break;
    case RC_EV_MARIA_GTID:
        err = on_maria_gtid(b, &h, body, blen, info, errstr, errstr_size);
        break;
    case RC_EV_TABLE_MAP:
        err = rc_binlog_table_map(b, body, blen, errstr, errstr_size);
        break;
    case RC_EV_WRITE_ROWS_V1:
    case RC_EV_UPDATE_ROWS_V1:
    case RC_EV_DELETE_ROWS_V1:
    case RC_EV_WRITE_ROWS_V2:
    case RC_EV_UPDATE_ROWS_V2:
    case RC_EV_DELETE_ROWS_V2:
    case RC_EV_MARIA_WRITE_ROWS_COMPRESSED_V1:
    case RC_EV_MARIA_UPDATE_ROWS_COMPRESSED_V1:
    case RC_EV_MARIA_DELETE_ROWS_COMPRESSED_V1:
    case RC_EV_MARIA_WRITE_ROWS_COMPRESSED:
    case RC_EV_MARIA_UPDATE_ROWS_COMPRESSED:
    case RC_EV_MARIA_DELETE_ROWS_COMPRESSED:
    case RC_EV_PARTIAL_UPDATE_ROWS:
        err = rc_binlog_rows(b, &h, body, blen, pk, info, errstr, errstr_size);
        break;
    case RC_EV_TRANSACTION_PAYLOAD:
        err = inner ? RC_ERR_PROTOCOL : on_payload(b, body, blen, pk, info, errstr, errstr_size);
        break;
    case RC_EV_PREVIOUS_GTIDS:
        err = inner ? RC_ERR_PROTOCOL : on_previous_gtids(b, body, blen, errstr, errstr_size);
        info->previous_gtids = err == RC_OK;
        break;
    case RC_EV_HEARTBEAT:
    case RC_EV_HEARTBEAT_V2:
        move_pos = false;
        info->skipped = true;
        break;
    case RC_EV_STOP:
    case RC_EV_INTVAR:
    case RC_EV_RAND:
    case RC_EV_USER_VAR:
    case RC_EV_IGNORABLE:
    case RC_EV_ROWS_QUERY:
    case RC_EV_TRANSACTION_CONTEXT:
    case RC_EV_VIEW_CHANGE:
    case RC_EV_MARIA_ANNOTATE_ROWS:
    case RC_EV_MARIA_BINLOG_CHECKPOINT:
    case RC_EV_MARIA_GTID_LIST:
        info->skipped = true;
        break;
    case RC_EV_INCIDENT:
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                               "the server logged an incident: changes may be missing from "
                               "the binlog here");
    case RC_EV_MARIA_START_ENCRYPTION:
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_UNSUPPORTED,
                               "encrypted binlogs are not supported");
    default:
        if (h.flags & LOG_EVENT_IGNORABLE_F) {
            info->skipped = true;
            break;
        }
        return rc_seterr(errstr, errstr_size, RC_ERR_UNSUPPORTED,
                         "unknown binlog event type %u at %s:%" PRIu64, h.type, file_or_unknown(b),
                         b->ev_pos);
    }
    if (err == RC_ERR_PROTOCOL && inner &&
        (h.type == RC_EV_FORMAT_DESCRIPTION || h.type == RC_EV_TRANSACTION_PAYLOAD)) {
        return rc_binlog_everr(b, errstr, errstr_size, err,
                               "this event may not appear inside a transaction payload");
    }
    if (err != RC_OK) {
        return err;
    }
    if (!inner && move_pos && h.log_pos != 0) {
        b->pos = h.log_pos;
    }
    return RC_OK;
}

rc_err_t rc_binlog_feed(rc_binlog_t *b, const uint8_t *ev, size_t len, msgpack_packer *pk,
                        rc_binlog_info_t *info, char *errstr, size_t errstr_size) {
    rc_binlog_info_t dummy;
    if (!info) {
        info = &dummy;
    }
    memset(info, 0, sizeof(*info));
    b->now_us = 0;
    return feed_event(b, ev, len, pk, info, errstr, errstr_size, false);
}
