/* rc_binlog_jdiff.c: MySQL's partial JSON updates (binlog_row_value_options=PARTIAL_JSON,
 * PARTIAL_UPDATE_ROWS events): the after image of a JSON column may be a list of diffs
 * (REPLACE, INSERT or REMOVE at a JSON path, with a binary JSON value) against the before
 * image. They are applied here to the before value's compact JSON text by splicing text: the
 * path is parsed into legs, the document is walked to the place each leg names, and the new
 * value (itself rendered by rc_binlog_json_text) replaces, joins or leaves the text there. The
 * result is what rc_binlog_json_text gives for the full document the server stores, object
 * members included in MySQL's stored order (shorter keys first, then by bytes). */
#include <inttypes.h>
#include <stdio.h>

#include "rc_binlog_int.h"

enum { OP_REPLACE = 0, OP_INSERT = 1, OP_REMOVE = 2 };
enum { LEG_MEMBER = 0, LEG_INDEX = 1, LEG_LAST = 2 }; /* LEG_LAST: [last] or [last-N] */

#define MAX_LEGS 128 /* MySQL documents nest at most 100 deep */

typedef struct leg {
    uint8_t kind;
    uint32_t off, len; /* LEG_MEMBER: the unescaped key, in the keys buffer */
    uint64_t n;        /* LEG_INDEX: the index; LEG_LAST: N of last-N */
} leg_t;

typedef struct dctx {
    rc_buf_t *doc, *spare, *tmp, *val; /* the document, the next one, keys, the new value */
    rc_err_t failed;                   /* set by a walk callback that failed (why is written) */
    char *why;
    size_t why_size;
    unsigned diff;       /* 1-based, for messages */
    const char *op_name; /* for messages */
    const uint8_t *path;
    size_t path_len;
} dctx_t;

static rc_err_t dfail(dctx_t *c, const char *what) {
    snprintf(c->why, c->why_size, "JSON diff %u (%s %.*s): %s", c->diff, c->op_name,
             (int)(c->path_len > 200 ? 200 : c->path_len), (const char *)c->path, what);
    return RC_ERR_INVALID;
}

static rc_err_t nomem(dctx_t *c) {
    snprintf(c->why, c->why_size, "out of memory");
    return RC_ERR_NOMEM;
}

/* ---- paths ---------------------------------------------------------------------------------- */

static bool is_space(uint8_t ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static size_t put_utf8(uint32_t cp, char *o) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static bool hex4(const uint8_t *p, uint32_t *v) {
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t ch = p[i];
        unsigned d = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
                     : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                     : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10)
                                              : 16u;
        if (d == 16) {
            return false;
        }
        r = r << 4 | d;
    }
    *v = r;
    return true;
}

/* The JSON string at s[*i] (the opening quote), unescaped, appended to out; *i moves past the
 * closing quote. false if it is not a well-formed string. */
static bool unescape(const uint8_t *s, size_t n, size_t *i, rc_buf_t *out, bool *oom) {
    size_t k = *i + 1;
    while (k < n && s[k] != '"') {
        size_t run = k;
        while (k < n && s[k] != '"' && s[k] != '\\') {
            k++;
        }
        if (k > run && rc_buf_append(out, s + run, k - run) != RC_OK) {
            *oom = true;
            return false;
        }
        if (k >= n || s[k] == '"') {
            break;
        }
        if (k + 1 >= n) {
            return false;
        }
        char o[8];
        size_t on = 1;
        switch (s[k + 1]) {
        case '"':
        case '\\':
        case '/':
            o[0] = (char)s[k + 1];
            break;
        case 'b':
            o[0] = '\b';
            break;
        case 'f':
            o[0] = '\f';
            break;
        case 'n':
            o[0] = '\n';
            break;
        case 'r':
            o[0] = '\r';
            break;
        case 't':
            o[0] = '\t';
            break;
        case 'u': {
            uint32_t cp, lo;
            if (k + 6 > n || !hex4(s + k + 2, &cp)) {
                return false;
            }
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (k + 12 > n || s[k + 6] != '\\' || s[k + 7] != 'u' || !hex4(s + k + 8, &lo) ||
                    lo < 0xdc00 || lo >= 0xe000) {
                    return false;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                k += 6;
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return false;
            }
            on = put_utf8(cp, o);
            k += 4;
            break;
        }
        default:
            return false;
        }
        if (rc_buf_append(out, o, on) != RC_OK) {
            *oom = true;
            return false;
        }
        k += 2;
    }
    if (k >= n) {
        return false;
    }
    *i = k + 1;
    return true;
}

static bool parse_uint(const uint8_t *p, size_t n, size_t *i, uint64_t *v) {
    size_t k = *i;
    uint64_t r = 0;
    while (k < n && p[k] >= '0' && p[k] <= '9') {
        if (r > (UINT64_MAX - 9) / 10) {
            return false;
        }
        r = r * 10 + (uint64_t)(p[k] - '0');
        k++;
    }
    if (k == *i) {
        return false;
    }
    *i = k;
    *v = r;
    return true;
}

/* MySQL's path syntax as a diff carries it: "$", then ".name", ."quoted name" and [n],
 * [last], [last-n] legs. Wildcards, ** and ranges never name one place: errors. */
static rc_err_t parse_path(dctx_t *c, leg_t *legs, unsigned *nlegs) {
    const uint8_t *p = c->path;
    size_t n = c->path_len, i = 0;
    bool oom = false;
    *nlegs = 0;
    while (i < n && is_space(p[i])) {
        i++;
    }
    if (i >= n || p[i] != '$') {
        return dfail(c, "the path does not start with $");
    }
    i++;
    for (;;) {
        while (i < n && is_space(p[i])) {
            i++;
        }
        if (i >= n) {
            return RC_OK;
        }
        if (*nlegs == MAX_LEGS) {
            return dfail(c, "the path is deeper than any JSON document");
        }
        leg_t *l = &legs[*nlegs];
        if (p[i] == '.') {
            i++;
            while (i < n && is_space(p[i])) {
                i++;
            }
            l->kind = LEG_MEMBER;
            l->off = (uint32_t)c->tmp->len;
            if (i < n && p[i] == '"') {
                if (!unescape(p, n, &i, c->tmp, &oom)) {
                    return oom ? nomem(c) : dfail(c, "a quoted member name is malformed");
                }
            } else {
                size_t s = i;
                while (i < n && p[i] != '.' && p[i] != '[' && p[i] != '"' && !is_space(p[i])) {
                    if (p[i] == '*') {
                        return dfail(c, "a wildcard does not name one place");
                    }
                    i++;
                }
                if (i == s) {
                    return dfail(c, "a member name is missing after '.'");
                }
                if (rc_buf_append(c->tmp, p + s, i - s) != RC_OK) {
                    return nomem(c);
                }
            }
            l->len = (uint32_t)(c->tmp->len - l->off);
        } else if (p[i] == '[') {
            i++;
            while (i < n && is_space(p[i])) {
                i++;
            }
            if (i < n && p[i] == '*') {
                return dfail(c, "a wildcard does not name one place");
            }
            if (n - i >= 4 && memcmp(p + i, "last", 4) == 0) {
                i += 4;
                l->kind = LEG_LAST;
                l->n = 0;
                while (i < n && is_space(p[i])) {
                    i++;
                }
                if (i < n && p[i] == '-') {
                    i++;
                    while (i < n && is_space(p[i])) {
                        i++;
                    }
                    if (!parse_uint(p, n, &i, &l->n)) {
                        return dfail(c, "a number must follow 'last-'");
                    }
                }
            } else {
                l->kind = LEG_INDEX;
                if (!parse_uint(p, n, &i, &l->n)) {
                    return dfail(c, "an array index is not a number");
                }
            }
            while (i < n && is_space(p[i])) {
                i++;
            }
            if (i >= n || p[i] != ']') {
                return dfail(c, n - i >= 2 && memcmp(p + i, "to", 2) == 0
                                    ? "a range does not name one place"
                                    : "an array index is not closed by ']'");
            }
            i++;
        } else if (p[i] == '*') {
            return dfail(c, "** does not name one place");
        } else {
            return dfail(c, "a path leg starts with neither '.' nor '['");
        }
        (*nlegs)++;
    }
}

/* ---- the document ------------------------------------------------------------------------- */

static size_t skip_ws(const char *t, size_t n, size_t i) {
    while (i < n && is_space((uint8_t)t[i])) {
        i++;
    }
    return i;
}

static bool skip_string(const char *t, size_t n, size_t *i) {
    size_t k = *i + 1;
    while (k < n && t[k] != '"') {
        k += t[k] == '\\' ? 2 : 1;
    }
    if (k >= n) {
        return false;
    }
    *i = k + 1;
    return true;
}

/* Moves *i from the first byte of a value to the byte after it. */
static bool skip_value(const char *t, size_t n, size_t *i) {
    size_t k = *i;
    if (k >= n) {
        return false;
    }
    if (t[k] == '"') {
        return skip_string(t, n, i);
    }
    if (t[k] == '{' || t[k] == '[') {
        unsigned depth = 0;
        while (k < n) {
            char ch = t[k];
            if (ch == '"') {
                if (!skip_string(t, n, &k)) {
                    return false;
                }
                continue;
            }
            if (ch == '{' || ch == '[') {
                depth++;
            } else if (ch == '}' || ch == ']') {
                if (--depth == 0) {
                    *i = k + 1;
                    return true;
                }
            }
            k++;
        }
        return false;
    }
    while (k < n && t[k] != ',' && t[k] != ']' && t[k] != '}' && !is_space((uint8_t)t[k])) {
        k++;
    }
    if (k == *i) {
        return false;
    }
    *i = k;
    return true;
}

/* One element of the container whose '{' or '[' is at t[open]. */
typedef struct elem {
    size_t start;     /* first byte (the key's quote in objects) */
    size_t key_start; /* objects: the key's opening quote */
    size_t vstart;    /* the value */
    size_t vend;      /* byte after the value */
    size_t count;     /* elements seen up to and including this one */
    size_t close;     /* when the walk ended: the closing bracket */
    bool found;
    bool stopped; /* the callback ended the walk without a match */
} elem_t;

/* Walks the container at t[open] and calls want(elem) for each element until it returns true;
 * e->found tells whether it did. e->count is the number of elements at the end of a walk that
 * found nothing. */
typedef bool (*want_fn)(dctx_t *c, const char *t, const elem_t *e, const leg_t *l, bool *stop);

static rc_err_t walk(dctx_t *c, const char *t, size_t n, size_t open, want_fn want, const leg_t *l,
                     elem_t *e) {
    bool obj = t[open] == '{';
    char close = obj ? '}' : ']';
    size_t i = skip_ws(t, n, open + 1);
    memset(e, 0, sizeof(*e));
    if (i < n && t[i] == close) {
        e->close = i;
        return RC_OK;
    }
    for (;;) {
        e->start = i;
        if (obj) {
            e->key_start = i;
            if (i >= n || t[i] != '"' || !skip_string(t, n, &i)) {
                return dfail(c, "the document is not well-formed JSON");
            }
            i = skip_ws(t, n, i);
            if (i >= n || t[i] != ':') {
                return dfail(c, "the document is not well-formed JSON");
            }
            i = skip_ws(t, n, i + 1);
        }
        e->vstart = i;
        if (!skip_value(t, n, &i)) {
            return dfail(c, "the document is not well-formed JSON");
        }
        e->vend = i;
        e->count++;
        bool stop = false;
        if (want(c, t, e, l, &stop)) {
            e->found = true;
            return RC_OK;
        }
        if (stop) {
            e->stopped = true;
            return c->failed;
        }
        i = skip_ws(t, n, i);
        if (i < n && t[i] == ',') {
            i = skip_ws(t, n, i + 1);
            continue;
        }
        if (i < n && t[i] == close) {
            e->close = i;
            return RC_OK;
        }
        return dfail(c, "the document is not well-formed JSON");
    }
}

/* The unescaped key of e, appended to c->tmp; returns its offset there (SIZE_MAX: no memory
 * or a malformed key). */
static size_t key_of(dctx_t *c, const char *t, const elem_t *e) {
    size_t off = c->tmp->len, i = e->key_start;
    bool oom = false;
    if (!unescape((const uint8_t *)t, e->vstart, &i, c->tmp, &oom)) {
        c->tmp->len = off;
        c->failed = oom ? nomem(c) : dfail(c, "the document has a malformed member name");
        return SIZE_MAX;
    }
    return off;
}

static bool want_key(dctx_t *c, const char *t, const elem_t *e, const leg_t *l, bool *stop) {
    size_t off = key_of(c, t, e);
    if (off == SIZE_MAX) {
        *stop = true;
        return false;
    }
    size_t klen = c->tmp->len - off;
    bool eq = klen == l->len && memcmp(c->tmp->data + off, c->tmp->data + l->off, klen) == 0;
    c->tmp->len = off;
    return eq;
}

/* MySQL stores object keys shorter first, then by bytes: true at the first key that sorts
 * after l's key (where an inserted member goes); *stop at an equal key. */
static bool want_after_key(dctx_t *c, const char *t, const elem_t *e, const leg_t *l, bool *stop) {
    size_t off = key_of(c, t, e);
    if (off == SIZE_MAX) {
        *stop = true;
        return false;
    }
    size_t klen = c->tmp->len - off;
    int cmp = klen != l->len ? (klen < l->len ? -1 : 1)
                             : memcmp(c->tmp->data + off, c->tmp->data + l->off, klen);
    c->tmp->len = off;
    if (cmp == 0) {
        *stop = true;
        return false;
    }
    return cmp > 0;
}

static bool want_index(dctx_t *c, const char *t, const elem_t *e, const leg_t *l, bool *stop) {
    (void)c;
    (void)t;
    (void)stop;
    return e->count == l->n + 1;
}

static bool want_none(dctx_t *c, const char *t, const elem_t *e, const leg_t *l, bool *stop) {
    (void)c;
    (void)t;
    (void)e;
    (void)l;
    (void)stop;
    return false;
}

/* Number of elements of the array at t[open]. */
static rc_err_t count_elems(dctx_t *c, const char *t, size_t n, size_t open, size_t *count) {
    elem_t e;
    rc_err_t err = walk(c, t, n, open, want_none, NULL, &e);
    *count = e.count;
    return err;
}

/* Finds the child that leg l names in the value [vs, ve). With autowrap, an index leg on a
 * value that is not an array names the value itself at [0] and [last] (as MySQL evaluates
 * paths). *found false when there is none. */
static rc_err_t child(dctx_t *c, const char *t, size_t n, size_t vs, size_t ve, const leg_t *l,
                      bool autowrap, size_t *cs, size_t *ce, bool *found) {
    *found = false;
    elem_t e;
    rc_err_t err;
    if (l->kind == LEG_MEMBER) {
        if (t[vs] != '{') {
            return RC_OK;
        }
        if ((err = walk(c, t, n, vs, want_key, l, &e)) != RC_OK) {
            return err;
        }
    } else {
        if (t[vs] != '[') {
            if (autowrap && l->n == 0) {
                *cs = vs;
                *ce = ve;
                *found = true;
            }
            return RC_OK;
        }
        leg_t idx = *l;
        if (l->kind == LEG_LAST) {
            size_t count;
            if ((err = count_elems(c, t, n, vs, &count)) != RC_OK) {
                return err;
            }
            if (count == 0 || l->n >= count) {
                return RC_OK;
            }
            idx.n = count - 1 - l->n;
        }
        if ((err = walk(c, t, n, vs, want_index, &idx, &e)) != RC_OK) {
            return err;
        }
    }
    if (e.found) {
        *cs = e.vstart;
        *ce = e.vend;
        *found = true;
    }
    return RC_OK;
}

/* The document becomes t[0, a) + ins + t[b, n). */
static rc_err_t splice(dctx_t *c, size_t a, size_t b, const char *ins1, size_t n1, const char *ins2,
                       size_t n2, const char *ins3, size_t n3) {
    rc_buf_t *d = c->doc, *s = c->spare;
    rc_buf_reset(s);
    if (rc_buf_reserve(s, a + n1 + n2 + n3 + (d->len - b)) != RC_OK) {
        return nomem(c);
    }
    const char *part[5] = {d->data, ins1, ins2, ins3, d->data + b};
    size_t plen[5] = {a, n1, n2, n3, d->len - b};
    for (int k = 0; k < 5; k++) {
        if (plen[k] != 0) { /* room was reserved: this cannot fail */
            memcpy(s->data + s->len, part[k], plen[k]);
            s->len += plen[k];
        }
    }
    rc_buf_t tmp = *d;
    *d = *s;
    *s = tmp;
    return RC_OK;
}

/* Applies one diff; val/vlen is the new value's text (unused for REMOVE). */
static rc_err_t apply(dctx_t *c, uint8_t op, const leg_t *legs, unsigned nlegs, const char *val,
                      size_t vlen) {
    const char *t = c->doc->data;
    size_t n = c->doc->len;
    size_t vs = skip_ws(t, n, 0), ve = vs;
    if (!skip_value(t, n, &ve)) {
        return dfail(c, "the document is not well-formed JSON");
    }
    if (nlegs == 0) {
        if (op != OP_REPLACE) {
            return dfail(c, "only REPLACE can apply to the whole document");
        }
        return splice(c, vs, ve, val, vlen, NULL, 0, NULL, 0);
    }
    rc_err_t err;
    for (unsigned k = 0; k + 1 < nlegs; k++) {
        bool found;
        size_t cs = 0, ce = 0;
        if ((err = child(c, t, n, vs, ve, &legs[k], true, &cs, &ce, &found)) != RC_OK) {
            return err;
        }
        if (!found) {
            return dfail(c, "the document has no value at the path");
        }
        vs = cs;
        ve = ce;
    }
    const leg_t *l = &legs[nlegs - 1];
    if (op == OP_REPLACE) {
        bool found;
        size_t cs = 0, ce = 0;
        if ((err = child(c, t, n, vs, ve, l, true, &cs, &ce, &found)) != RC_OK) {
            return err;
        }
        if (!found) {
            return dfail(c, "the document has no value at the path to replace");
        }
        return splice(c, cs, ce, val, vlen, NULL, 0, NULL, 0);
    }
    elem_t e;
    if (op == OP_REMOVE) {
        if (l->kind == LEG_MEMBER ? t[vs] != '{' : t[vs] != '[') {
            return dfail(c, "the document has no value at the path to remove");
        }
        leg_t idx = *l;
        if (l->kind == LEG_LAST) {
            size_t count;
            if ((err = count_elems(c, t, n, vs, &count)) != RC_OK) {
                return err;
            }
            idx.n = l->n < count ? count - 1 - l->n : SIZE_MAX;
        }
        err = walk(c, t, n, vs, l->kind == LEG_MEMBER ? want_key : want_index, &idx, &e);
        if (err != RC_OK) {
            return err;
        }
        if (!e.found) {
            return dfail(c, "the document has no value at the path to remove");
        }
        size_t end = skip_ws(t, n, e.vend);
        if (end < n && t[end] == ',') {
            /* not the last element: it goes with the comma after it */
            return splice(c, e.start, skip_ws(t, n, end + 1), NULL, 0, NULL, 0, NULL, 0);
        }
        if (e.count == 1) {
            return splice(c, e.start, e.vend, NULL, 0, NULL, 0, NULL, 0); /* the only one */
        }
        /* the last of several: it goes with the comma before it */
        size_t comma = e.start;
        while (comma > vs && t[comma] != ',') {
            comma--;
        }
        return splice(c, comma, e.vend, NULL, 0, NULL, 0, NULL, 0);
    }
    /* INSERT */
    if (l->kind == LEG_MEMBER) {
        if (t[vs] != '{') {
            return dfail(c, "INSERT of a member needs an object at the parent path");
        }
        if ((err = walk(c, t, n, vs, want_after_key, l, &e)) != RC_OK) {
            return err;
        }
        if (e.stopped) {
            return dfail(c, "the object already has the member to insert");
        }
        size_t klen_off = c->tmp->len;
        /* the key is quoted from tmp into tmp: room for the longest escaping first, so tmp
         * does not move under it (found by fuzz_json_diff) */
        if (rc_buf_reserve(c->tmp, (size_t)l->len * 6 + 3) != RC_OK ||
            rc_binlog_json_quote((const uint8_t *)c->tmp->data + l->off, l->len, c->tmp) != RC_OK ||
            rc_buf_putc(c->tmp, ':') != RC_OK) {
            return nomem(c);
        }
        const char *key = c->tmp->data + klen_off;
        size_t klen = c->tmp->len - klen_off;
        err = e.found   ? splice(c, e.start, e.start, key, klen, val, vlen, ",", 1)
              : e.count ? splice(c, e.close, e.close, ",", 1, key, klen, val, vlen)
                        : splice(c, e.close, e.close, key, klen, val, vlen, NULL, 0);
        c->tmp->len = klen_off;
        return err;
    }
    if (t[vs] != '[') {
        return dfail(c, "INSERT of an array element needs an array at the parent path");
    }
    leg_t idx = *l;
    if (l->kind == LEG_LAST) {
        size_t count;
        if ((err = count_elems(c, t, n, vs, &count)) != RC_OK) {
            return err;
        }
        idx.n = l->n < count ? count - 1 - l->n : 0;
    }
    if ((err = walk(c, t, n, vs, want_index, &idx, &e)) != RC_OK) {
        return err;
    }
    if (e.found) {
        return splice(c, e.start, e.start, val, vlen, ",", 1, NULL, 0);
    }
    /* past the end: appended, as MySQL does */
    return e.count ? splice(c, e.close, e.close, ",", 1, val, vlen, NULL, 0)
                   : splice(c, e.close, e.close, val, vlen, NULL, 0, NULL, 0);
}

rc_err_t rc_binlog_json_apply_diffs(const char *doc, size_t doclen, const uint8_t *d, size_t n,
                                    rc_buf_t work[4], rc_buf_t *out, char *why, size_t why_size) {
    static const char *const ops[3] = {"REPLACE", "INSERT", "REMOVE"};
    dctx_t c = {&work[0], &work[1], &work[2], &work[3], RC_OK,
                why,      why_size, 0,        "?",      (const uint8_t *)"",
                0};
    rc_buf_reset(c.doc);
    rc_buf_reset(c.tmp);
    if (rc_buf_append(c.doc, doc, doclen) != RC_OK) {
        return nomem(&c);
    }
    leg_t legs[MAX_LEGS];
    size_t i = 0;
    while (i < n) {
        c.diff++;
        c.op_name = "?";
        c.path = (const uint8_t *)"";
        c.path_len = 0;
        uint8_t op = d[i++];
        if (op > OP_REMOVE) {
            snprintf(why, why_size, "JSON diff %u has the unknown operation %u", c.diff, op);
            return RC_ERR_INVALID;
        }
        c.op_name = ops[op];
        uint64_t plen, vlen = 0;
        size_t k = rc_lenenc(d + i, d + n, &plen);
        if (k == 0 || plen > n - i - k) {
            return dfail(&c, "the diff ends inside its path");
        }
        c.path = d + i + k;
        c.path_len = (size_t)plen;
        i += k + (size_t)plen;
        const uint8_t *v = NULL;
        if (op != OP_REMOVE) {
            k = rc_lenenc(d + i, d + n, &vlen);
            if (k == 0 || vlen > n - i - k) {
                return dfail(&c, "the diff ends inside its value");
            }
            if (vlen == 0) {
                return dfail(&c, "the diff has an empty value");
            }
            v = d + i + k;
            i += k + (size_t)vlen;
        }
        rc_buf_reset(c.tmp);
        unsigned nlegs;
        rc_err_t err = parse_path(&c, legs, &nlegs);
        if (err != RC_OK) {
            return err;
        }
        rc_buf_reset(c.val);
        if (v) {
            char jwhy[200];
            err = rc_binlog_json_text(v, (size_t)vlen, c.val, jwhy, sizeof(jwhy));
            if (err != RC_OK) {
                return err == RC_ERR_NOMEM ? nomem(&c) : dfail(&c, jwhy);
            }
        }
        err = apply(&c, op, legs, nlegs, c.val->data, c.val->len);
        if (err != RC_OK) {
            return err;
        }
    }
    if (rc_buf_append(out, c.doc->data, c.doc->len) != RC_OK) {
        return nomem(&c);
    }
    return RC_OK;
}
