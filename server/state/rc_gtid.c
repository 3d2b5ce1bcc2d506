/* rc_gtid.c: GTID set arithmetic for MySQL (UUID/tag intervals) and MariaDB (domain-server-seq).
 *
 * MySQL groups are kept sorted by (UUID, tag) with their intervals sorted, disjoint and never
 * adjacent, so equal sets have equal representations and formatting is a walk. MariaDB entries
 * are kept sorted by (domain, server). Sets are small (a handful of groups), so insertion into
 * sorted arrays is the simple and fast choice. */
#include "rc_gtid.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GNO_MAX ((uint64_t)INT64_MAX - 1) /* MySQL's largest transaction number */

typedef struct interval {
    uint64_t first, last; /* inclusive */
} interval_t;

typedef struct group {
    uint8_t uuid[16];
    char tag[RC_GTID_TAG_MAX + 1]; /* "" = untagged */
    interval_t *iv;
    size_t n, cap;
} group_t;

typedef struct maria {
    uint32_t domain, server;
    uint64_t seq;
} maria_t;

struct rc_gtid_set {
    rc_gtid_flavor_t flavor;
    group_t *g;
    size_t n_g, cap_g;
    maria_t *m;
    size_t n_m, cap_m;
};

rc_gtid_set_t *rc_gtid_set_new(rc_gtid_flavor_t flavor) {
    if (flavor != RC_GTID_MYSQL && flavor != RC_GTID_MARIADB) {
        return NULL;
    }
    rc_gtid_set_t *s = calloc(1, sizeof(*s));
    if (s) {
        s->flavor = flavor;
    }
    return s;
}

static void clear(rc_gtid_set_t *s) {
    for (size_t i = 0; i < s->n_g; i++) {
        free(s->g[i].iv);
    }
    free(s->g);
    free(s->m);
    s->g = NULL;
    s->m = NULL;
    s->n_g = s->cap_g = s->n_m = s->cap_m = 0;
}

void rc_gtid_set_destroy(rc_gtid_set_t *s) {
    if (!s) {
        return;
    }
    clear(s);
    free(s);
}

rc_gtid_set_t *rc_gtid_set_copy(const rc_gtid_set_t *s) {
    rc_gtid_set_t *c = rc_gtid_set_new(s->flavor);
    if (!c || rc_gtid_set_merge(c, s) != RC_OK) {
        rc_gtid_set_destroy(c);
        return NULL;
    }
    return c;
}

rc_gtid_flavor_t rc_gtid_set_flavor(const rc_gtid_set_t *s) {
    return s->flavor;
}

bool rc_gtid_set_is_empty(const rc_gtid_set_t *s) {
    return s->n_g == 0 && s->n_m == 0;
}

size_t rc_gtid_set_count(const rc_gtid_set_t *s) {
    return s->flavor == RC_GTID_MYSQL ? s->n_g : s->n_m;
}

bool rc_gtid_set_maria_at(const rc_gtid_set_t *s, size_t i, uint32_t *domain, uint32_t *server,
                          uint64_t *seq) {
    if (s->flavor != RC_GTID_MARIADB || i >= s->n_m) {
        return false;
    }
    *domain = s->m[i].domain;
    *server = s->m[i].server;
    *seq = s->m[i].seq;
    return true;
}

/* ---- MySQL groups ---- */

static int group_cmp(const uint8_t uuid[16], const char *tag, const group_t *g) {
    int c = memcmp(uuid, g->uuid, 16);
    return c ? c : strcmp(tag, g->tag);
}

/* Index of the group (uuid, tag), or where it would go (*found false). */
static size_t group_find(const rc_gtid_set_t *s, const uint8_t uuid[16], const char *tag,
                         bool *found) {
    size_t lo = 0, hi = s->n_g;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = group_cmp(uuid, tag, &s->g[mid]);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    *found = false;
    return lo;
}

static group_t *group_get(rc_gtid_set_t *s, const uint8_t uuid[16], const char *tag) {
    bool found;
    size_t i = group_find(s, uuid, tag, &found);
    if (found) {
        return &s->g[i];
    }
    if (s->n_g == s->cap_g) {
        size_t cap = s->cap_g ? s->cap_g * 2 : 4;
        group_t *ng = realloc(s->g, cap * sizeof(*ng));
        if (!ng) {
            return NULL;
        }
        s->g = ng;
        s->cap_g = cap;
    }
    memmove(&s->g[i + 1], &s->g[i], (s->n_g - i) * sizeof(group_t));
    memset(&s->g[i], 0, sizeof(group_t));
    memcpy(s->g[i].uuid, uuid, 16);
    snprintf(s->g[i].tag, sizeof(s->g[i].tag), "%s", tag);
    s->n_g++;
    return &s->g[i];
}

static void group_remove(rc_gtid_set_t *s, size_t i) {
    free(s->g[i].iv);
    memmove(&s->g[i], &s->g[i + 1], (s->n_g - i - 1) * sizeof(group_t));
    s->n_g--;
}

/* Adds [first, last] to g, merging overlapping and adjacent intervals. */
static rc_err_t group_add(group_t *g, uint64_t first, uint64_t last) {
    /* i: the first interval that ends at or after first - 1 (could merge) */
    size_t i = 0;
    while (i < g->n && g->iv[i].last + 1 < first) {
        i++;
    }
    size_t j = i; /* one past the last interval that starts at or before last + 1 */
    while (j < g->n && g->iv[j].first <= last + 1) {
        j++;
    }
    if (i == j) { /* nothing to merge: insert */
        if (g->n == g->cap) {
            size_t cap = g->cap ? g->cap * 2 : 4;
            interval_t *n = realloc(g->iv, cap * sizeof(*n));
            if (!n) {
                return RC_ERR_NOMEM;
            }
            g->iv = n;
            g->cap = cap;
        }
        memmove(&g->iv[i + 1], &g->iv[i], (g->n - i) * sizeof(interval_t));
        g->iv[i] = (interval_t){first, last};
        g->n++;
        return RC_OK;
    }
    interval_t m = {first < g->iv[i].first ? first : g->iv[i].first,
                    last > g->iv[j - 1].last ? last : g->iv[j - 1].last};
    g->iv[i] = m;
    memmove(&g->iv[i + 1], &g->iv[j], (g->n - j) * sizeof(interval_t));
    g->n -= j - i - 1;
    return RC_OK;
}

/* Removes [first, last] from g. */
static rc_err_t group_remove_range(group_t *g, uint64_t first, uint64_t last) {
    for (size_t i = 0; i < g->n;) {
        interval_t *v = &g->iv[i];
        if (v->last < first || v->first > last) {
            i++;
            continue;
        }
        if (v->first < first && v->last > last) { /* split in two */
            interval_t right = {last + 1, v->last};
            v->last = first - 1;
            if (g->n == g->cap) {
                size_t cap = g->cap * 2;
                interval_t *n = realloc(g->iv, cap * sizeof(*n));
                if (!n) {
                    return RC_ERR_NOMEM;
                }
                g->iv = n;
                g->cap = cap;
            }
            memmove(&g->iv[i + 2], &g->iv[i + 1], (g->n - i - 1) * sizeof(interval_t));
            g->iv[i + 1] = right;
            g->n++;
            return RC_OK;
        }
        if (v->first >= first && v->last <= last) { /* covered: drop */
            memmove(&g->iv[i], &g->iv[i + 1], (g->n - i - 1) * sizeof(interval_t));
            g->n--;
            continue;
        }
        if (v->first < first) {
            v->last = first - 1;
        } else {
            v->first = last + 1;
        }
        i++;
    }
    return RC_OK;
}

static bool group_has(const group_t *g, uint64_t gno) {
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (gno < g->iv[mid].first) {
            hi = mid;
        } else if (gno > g->iv[mid].last) {
            lo = mid + 1;
        } else {
            return true;
        }
    }
    return false;
}

rc_err_t rc_gtid_set_add_interval(rc_gtid_set_t *s, const uint8_t uuid[16], const char *tag,
                                  uint64_t first, uint64_t last) {
    if (s->flavor != RC_GTID_MYSQL || first < 1 || last < first || last > GNO_MAX ||
        strlen(tag) > RC_GTID_TAG_MAX) {
        return RC_ERR_INVALID;
    }
    group_t *g = group_get(s, uuid, tag);
    if (!g) {
        return RC_ERR_NOMEM;
    }
    return group_add(g, first, last);
}

/* ---- MariaDB entries ---- */

static size_t maria_find(const rc_gtid_set_t *s, uint32_t d, uint32_t sv, bool *found) {
    size_t lo = 0, hi = s->n_m;
    uint64_t key = ((uint64_t)d << 32) | sv;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint64_t k = ((uint64_t)s->m[mid].domain << 32) | s->m[mid].server;
        if (k == key) {
            *found = true;
            return mid;
        }
        if (key < k) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    *found = false;
    return lo;
}

rc_err_t rc_gtid_set_add_maria(rc_gtid_set_t *s, uint32_t domain, uint32_t server, uint64_t seq) {
    if (s->flavor != RC_GTID_MARIADB) {
        return RC_ERR_INVALID;
    }
    bool found;
    size_t i = maria_find(s, domain, server, &found);
    if (found) {
        if (seq > s->m[i].seq) {
            s->m[i].seq = seq;
        }
        return RC_OK;
    }
    if (s->n_m == s->cap_m) {
        size_t cap = s->cap_m ? s->cap_m * 2 : 4;
        maria_t *n = realloc(s->m, cap * sizeof(*n));
        if (!n) {
            return RC_ERR_NOMEM;
        }
        s->m = n;
        s->cap_m = cap;
    }
    memmove(&s->m[i + 1], &s->m[i], (s->n_m - i) * sizeof(maria_t));
    s->m[i] = (maria_t){domain, server, seq};
    s->n_m++;
    return RC_OK;
}

bool rc_gtid_set_domain_seq(const rc_gtid_set_t *s, uint32_t domain, uint64_t *seq) {
    bool any = false;
    uint64_t best = 0;
    for (size_t i = 0; i < s->n_m; i++) {
        if (s->m[i].domain == domain) {
            any = true;
            if (s->m[i].seq > best) {
                best = s->m[i].seq;
            }
        }
    }
    if (seq) {
        *seq = best;
    }
    return any;
}

static bool maria_contains(const rc_gtid_set_t *s, uint32_t d, uint64_t seq) {
    uint64_t have;
    return rc_gtid_set_domain_seq(s, d, &have) && have >= seq;
}

/* ---- parsing ---- */

typedef struct parser {
    const char *text;
    const char *p;
    char *errstr;
    size_t errstr_size;
} parser_t;

static rc_err_t perr(parser_t *ps, const char *expected) {
    char near[24];
    size_t n = strcspn(ps->p, "");
    snprintf(near, sizeof(near), "%.*s%s", n > 16 ? 16 : (int)n, ps->p, n > 16 ? "..." : "");
    if (*ps->p == '\0') {
        return rc_seterr(ps->errstr, ps->errstr_size, RC_ERR_INVALID,
                         "GTID set \"%.200s\": expected %s at the end", ps->text, expected);
    }
    return rc_seterr(ps->errstr, ps->errstr_size, RC_ERR_INVALID,
                     "GTID set \"%.200s\": expected %s at character %zu (\"%s\")", ps->text,
                     expected, (size_t)(ps->p - ps->text) + 1, near);
}

static void skip_ws(parser_t *ps) {
    while (*ps->p && isspace((unsigned char)*ps->p)) {
        ps->p++;
    }
}

/* Reads a decimal number <= max. */
static bool read_num(parser_t *ps, uint64_t max, uint64_t *out) {
    if (!isdigit((unsigned char)*ps->p)) {
        return false;
    }
    uint64_t v = 0;
    const char *at = ps->p;
    while (isdigit((unsigned char)*ps->p)) {
        unsigned d = (unsigned)(*ps->p - '0');
        if (v > (max - d) / 10) {
            ps->p = at; /* errors point at the number */
            return false;
        }
        v = v * 10 + d;
        ps->p++;
    }
    *out = v;
    return true;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 8-4-4-4-12 hex digits (or 32 without dashes). */
static bool read_uuid(parser_t *ps, uint8_t out[16]) {
    const char *p = ps->p;
    int nib = 0;
    for (int i = 0; i < 36 && nib < 32; i++) {
        if (*p == '-' && (nib == 8 || nib == 12 || nib == 16 || nib == 20)) {
            p++;
            continue;
        }
        int v = hexval(*p);
        if (v < 0) {
            return false;
        }
        if (nib % 2 == 0) {
            out[nib / 2] = (uint8_t)(v << 4);
        } else {
            out[nib / 2] |= (uint8_t)v;
        }
        nib++;
        p++;
    }
    if (nib != 32 || isxdigit((unsigned char)*p)) {
        return false;
    }
    ps->p = p;
    return true;
}

static bool is_tag_start(char c) {
    return isalpha((unsigned char)c) || c == '_';
}

/* A tag: [A-Za-z_][A-Za-z0-9_]{0,31}, lowercased. */
static bool read_tag(parser_t *ps, char out[RC_GTID_TAG_MAX + 1]) {
    size_t n = 0;
    if (!is_tag_start(*ps->p)) {
        return false;
    }
    while (isalnum((unsigned char)*ps->p) || *ps->p == '_') {
        if (n == RC_GTID_TAG_MAX) {
            return false;
        }
        out[n++] = (char)tolower((unsigned char)*ps->p);
        ps->p++;
    }
    out[n] = '\0';
    return true;
}

static rc_err_t parse_mysql(rc_gtid_set_t *s, parser_t *ps) {
    skip_ws(ps);
    if (*ps->p == '\0') {
        return RC_OK;
    }
    for (;;) {
        skip_ws(ps);
        uint8_t uuid[16];
        if (!read_uuid(ps, uuid)) {
            return perr(ps, "a server UUID (8-4-4-4-12 hex digits)");
        }
        char tag[RC_GTID_TAG_MAX + 1] = "";
        bool need_interval = true; /* after the UUID and after each tag */
        skip_ws(ps);
        while (*ps->p == ':') {
            ps->p++;
            skip_ws(ps);
            if (is_tag_start(*ps->p)) {
                if (need_interval && tag[0]) {
                    return perr(ps, "a transaction number or interval after the tag");
                }
                if (!read_tag(ps, tag)) {
                    return perr(ps, "a tag of at most 32 letters, digits or _");
                }
                need_interval = true;
            } else {
                uint64_t a, b;
                const char *at = ps->p;
                if (!read_num(ps, GNO_MAX, &a) || a == 0) {
                    ps->p = at;
                    return perr(ps, "a transaction number from 1 to 9223372036854775806 or a tag");
                }
                b = a;
                skip_ws(ps);
                if (*ps->p == '-') {
                    ps->p++;
                    skip_ws(ps);
                    at = ps->p;
                    if (!read_num(ps, GNO_MAX, &b) || b < a) {
                        ps->p = at;
                        return perr(ps, "the end of the interval, not below its start");
                    }
                }
                rc_err_t err = rc_gtid_set_add_interval(s, uuid, tag, a, b);
                if (err != RC_OK) {
                    return rc_seterr(ps->errstr, ps->errstr_size, err, "out of memory");
                }
                need_interval = false;
            }
            skip_ws(ps);
        }
        if (need_interval && tag[0]) {
            return perr(ps, "a transaction number or interval after the tag");
        }
        if (*ps->p == '\0') {
            return RC_OK;
        }
        if (*ps->p != ',') {
            return perr(ps, "':' or ','");
        }
        ps->p++;
    }
}

static rc_err_t parse_maria(rc_gtid_set_t *s, parser_t *ps) {
    skip_ws(ps);
    if (*ps->p == '\0') {
        return RC_OK;
    }
    for (;;) {
        skip_ws(ps);
        uint64_t d, sv, seq;
        if (!read_num(ps, UINT32_MAX, &d)) {
            return perr(ps, "a domain id (0 to 4294967295) of domain-server-seq");
        }
        if (*ps->p != '-') {
            return perr(ps, "'-' after the domain id");
        }
        ps->p++;
        if (!read_num(ps, UINT32_MAX, &sv)) {
            return perr(ps, "a server id (0 to 4294967295) of domain-server-seq");
        }
        if (*ps->p != '-') {
            return perr(ps, "'-' after the server id");
        }
        ps->p++;
        if (!read_num(ps, UINT64_MAX, &seq)) {
            return perr(ps, "a sequence number (0 to 18446744073709551615)");
        }
        if (rc_gtid_set_add_maria(s, (uint32_t)d, (uint32_t)sv, seq) != RC_OK) {
            return rc_seterr(ps->errstr, ps->errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        skip_ws(ps);
        if (*ps->p == '\0') {
            return RC_OK;
        }
        if (*ps->p != ',') {
            return perr(ps, "','");
        }
        ps->p++;
    }
}

rc_err_t rc_gtid_set_parse(rc_gtid_set_t *s, const char *text, char *errstr, size_t errstr_size) {
    /* Parse into a scratch set so that s is unchanged on error. */
    rc_gtid_set_t *tmp = rc_gtid_set_new(s->flavor);
    if (!tmp) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    parser_t ps = {text, text, errstr, errstr_size};
    rc_err_t err = s->flavor == RC_GTID_MYSQL ? parse_mysql(tmp, &ps) : parse_maria(tmp, &ps);
    if (err == RC_OK && (err = rc_gtid_set_merge(s, tmp)) != RC_OK) {
        rc_seterr(errstr, errstr_size, err, "out of memory");
    }
    rc_gtid_set_destroy(tmp);
    return err;
}

rc_err_t rc_gtid_guess_flavor(const char *text, rc_gtid_flavor_t *out) {
    const char *p = text;
    while (*p && isspace((unsigned char)*p)) {
        p++;
    }
    if (!*p) {
        return RC_ERR_INVALID;
    }
    size_t digits = strspn(p, "0123456789");
    if (digits > 0 && p[digits] == '-' && isdigit((unsigned char)p[digits + 1])) {
        size_t d2 = strspn(p + digits + 1, "0123456789");
        if (p[digits + 1 + d2] == '-') {
            *out = RC_GTID_MARIADB;
            return RC_OK;
        }
    }
    *out = RC_GTID_MYSQL;
    return RC_OK;
}

rc_err_t rc_gtid_set_add(rc_gtid_set_t *s, const char *gtid, char *errstr, size_t errstr_size) {
    rc_gtid_set_t *one = rc_gtid_set_new(s->flavor);
    if (!one) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    rc_err_t err = rc_gtid_set_parse(one, gtid, errstr, errstr_size);
    bool single = err == RC_OK && rc_gtid_set_count(one) == 1 &&
                  (s->flavor == RC_GTID_MARIADB ||
                   (one->g[0].n == 1 && one->g[0].iv[0].first == one->g[0].iv[0].last));
    if (err == RC_OK && !single) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "\"%.200s\" is not one GTID (%s)",
                        gtid, s->flavor == RC_GTID_MYSQL ? "uuid:n or uuid:tag:n" : "d-s-n");
    }
    if (err == RC_OK && (err = rc_gtid_set_merge(s, one)) != RC_OK) {
        rc_seterr(errstr, errstr_size, err, "out of memory");
    }
    rc_gtid_set_destroy(one);
    return err;
}

bool rc_gtid_set_contains(const rc_gtid_set_t *s, const char *gtid) {
    parser_t ps = {gtid, gtid, NULL, 0};
    if (s->flavor == RC_GTID_MARIADB) {
        uint64_t d, sv, seq;
        skip_ws(&ps);
        if (!read_num(&ps, UINT32_MAX, &d) || *ps.p++ != '-' || !read_num(&ps, UINT32_MAX, &sv) ||
            *ps.p++ != '-' || !read_num(&ps, UINT64_MAX, &seq)) {
            return false;
        }
        skip_ws(&ps);
        return *ps.p == '\0' && maria_contains(s, (uint32_t)d, seq);
    }
    uint8_t uuid[16];
    char tag[RC_GTID_TAG_MAX + 1] = "";
    uint64_t gno;
    skip_ws(&ps);
    if (!read_uuid(&ps, uuid) || *ps.p++ != ':') {
        return false;
    }
    if (is_tag_start(*ps.p)) {
        if (!read_tag(&ps, tag) || *ps.p++ != ':') {
            return false;
        }
    }
    if (!read_num(&ps, GNO_MAX, &gno)) {
        return false;
    }
    skip_ws(&ps);
    if (*ps.p != '\0') {
        return false;
    }
    bool found;
    size_t i = group_find(s, uuid, tag, &found);
    return found && group_has(&s->g[i], gno);
}

/* ---- set operations ---- */

rc_err_t rc_gtid_set_merge(rc_gtid_set_t *dst, const rc_gtid_set_t *src) {
    if (dst->flavor != src->flavor) {
        return RC_ERR_INVALID;
    }
    if (dst == src) {
        return RC_OK;
    }
    for (size_t i = 0; i < src->n_g; i++) {
        const group_t *sg = &src->g[i];
        if (sg->n == 0) {
            continue;
        }
        group_t *g = group_get(dst, sg->uuid, sg->tag);
        if (!g) {
            return RC_ERR_NOMEM;
        }
        for (size_t k = 0; k < sg->n; k++) {
            rc_err_t err = group_add(g, sg->iv[k].first, sg->iv[k].last);
            if (err != RC_OK) {
                return err;
            }
        }
    }
    for (size_t i = 0; i < src->n_m; i++) {
        rc_err_t err =
            rc_gtid_set_add_maria(dst, src->m[i].domain, src->m[i].server, src->m[i].seq);
        if (err != RC_OK) {
            return err;
        }
    }
    return RC_OK;
}

rc_err_t rc_gtid_set_subtract(rc_gtid_set_t *dst, const rc_gtid_set_t *src) {
    if (dst->flavor != src->flavor) {
        return RC_ERR_INVALID;
    }
    if (dst == src) {
        clear(dst);
        return RC_OK;
    }
    if (dst->flavor == RC_GTID_MARIADB) {
        size_t o = 0;
        for (size_t i = 0; i < dst->n_m; i++) {
            if (!maria_contains(src, dst->m[i].domain, dst->m[i].seq)) {
                dst->m[o++] = dst->m[i];
            }
        }
        dst->n_m = o;
        return RC_OK;
    }
    for (size_t i = 0; i < src->n_g; i++) {
        bool found;
        size_t j = group_find(dst, src->g[i].uuid, src->g[i].tag, &found);
        if (!found) {
            continue;
        }
        for (size_t k = 0; k < src->g[i].n; k++) {
            rc_err_t err =
                group_remove_range(&dst->g[j], src->g[i].iv[k].first, src->g[i].iv[k].last);
            if (err != RC_OK) {
                return err;
            }
        }
        if (dst->g[j].n == 0) {
            group_remove(dst, j);
        }
    }
    return RC_OK;
}

bool rc_gtid_set_is_subset(const rc_gtid_set_t *a, const rc_gtid_set_t *b) {
    if (a->flavor != b->flavor) {
        return false;
    }
    if (a->flavor == RC_GTID_MARIADB) {
        for (size_t i = 0; i < a->n_m; i++) {
            if (!maria_contains(b, a->m[i].domain, a->m[i].seq)) {
                return false;
            }
        }
        return true;
    }
    for (size_t i = 0; i < a->n_g; i++) {
        const group_t *ga = &a->g[i];
        if (ga->n == 0) {
            continue;
        }
        bool found;
        size_t j = group_find(b, ga->uuid, ga->tag, &found);
        if (!found) {
            return false;
        }
        /* every interval of a lies inside one interval of b (b's are maximal) */
        const group_t *gb = &b->g[j];
        size_t k = 0;
        for (size_t x = 0; x < ga->n; x++) {
            while (k < gb->n && gb->iv[k].last < ga->iv[x].first) {
                k++;
            }
            if (k == gb->n || gb->iv[k].first > ga->iv[x].first ||
                gb->iv[k].last < ga->iv[x].last) {
                return false;
            }
        }
    }
    return true;
}

bool rc_gtid_set_equal(const rc_gtid_set_t *a, const rc_gtid_set_t *b) {
    if (a->flavor != b->flavor) {
        return false;
    }
    if (a->flavor == RC_GTID_MARIADB) {
        return a->n_m == b->n_m &&
               (a->n_m == 0 || memcmp(a->m, b->m, a->n_m * sizeof(maria_t)) == 0);
    }
    if (a->n_g != b->n_g) {
        return false;
    }
    for (size_t i = 0; i < a->n_g; i++) {
        if (group_cmp(a->g[i].uuid, a->g[i].tag, &b->g[i]) != 0 || a->g[i].n != b->g[i].n ||
            memcmp(a->g[i].iv, b->g[i].iv, a->g[i].n * sizeof(interval_t)) != 0) {
            return false;
        }
    }
    return true;
}

/* ---- output ---- */

static rc_err_t put_uuid(rc_buf_t *out, const uint8_t u[16]) {
    return rc_buf_printf(
        out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
        u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static rc_err_t put_intervals(rc_buf_t *out, const group_t *g) {
    for (size_t k = 0; k < g->n; k++) {
        rc_err_t err =
            g->iv[k].first == g->iv[k].last
                ? rc_buf_printf(out, ":%" PRIu64, g->iv[k].first)
                : rc_buf_printf(out, ":%" PRIu64 "-%" PRIu64, g->iv[k].first, g->iv[k].last);
        if (err != RC_OK) {
            return err;
        }
    }
    return RC_OK;
}

rc_err_t rc_gtid_set_format(const rc_gtid_set_t *s, rc_buf_t *out) {
    rc_err_t err = rc_buf_reserve(out, 1);
    if (s->flavor == RC_GTID_MARIADB) {
        for (size_t i = 0; i < s->n_m && err == RC_OK; i++) {
            err = rc_buf_printf(out, "%s%" PRIu32 "-%" PRIu32 "-%" PRIu64, i ? "," : "",
                                s->m[i].domain, s->m[i].server, s->m[i].seq);
        }
        return err;
    }
    /* groups are sorted by (uuid, tag) with "" first: one "uuid" item per UUID */
    for (size_t i = 0; i < s->n_g && err == RC_OK; i++) {
        const group_t *g = &s->g[i];
        if (g->n == 0) {
            continue;
        }
        bool same_uuid = i > 0 && memcmp(s->g[i - 1].uuid, g->uuid, 16) == 0;
        if (!same_uuid) {
            if (out->len > 0 && i > 0 && (err = rc_buf_putc(out, ',')) != RC_OK) {
                break;
            }
            if ((err = put_uuid(out, g->uuid)) != RC_OK) {
                break;
            }
        }
        if (g->tag[0] && (err = rc_buf_printf(out, ":%s", g->tag)) != RC_OK) {
            break;
        }
        err = put_intervals(out, g);
    }
    return err;
}

rc_err_t rc_gtid_set_format_connect(const rc_gtid_set_t *s, rc_buf_t *out) {
    if (s->flavor == RC_GTID_MYSQL) {
        return rc_gtid_set_format(s, out);
    }
    rc_err_t err = rc_buf_reserve(out, 1);
    bool first = true;
    for (size_t i = 0; i < s->n_m && err == RC_OK;) {
        size_t best = i, j = i;
        for (; j < s->n_m && s->m[j].domain == s->m[i].domain; j++) {
            if (s->m[j].seq > s->m[best].seq) {
                best = j;
            }
        }
        err = rc_buf_printf(out, "%s%" PRIu32 "-%" PRIu32 "-%" PRIu64, first ? "" : ",",
                            s->m[best].domain, s->m[best].server, s->m[best].seq);
        first = false;
        i = j;
    }
    return err;
}

static rc_err_t put_le(rc_buf_t *out, uint64_t v, int n) {
    uint8_t b[8];
    for (int i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return rc_buf_append(out, b, (size_t)n);
}

rc_err_t rc_gtid_set_encode_mysql(const rc_gtid_set_t *s, rc_buf_t *out) {
    if (s->flavor != RC_GTID_MYSQL) {
        return RC_ERR_INVALID;
    }
    bool tagged = false;
    uint64_t n = 0;
    for (size_t i = 0; i < s->n_g; i++) {
        if (s->g[i].n > 0) {
            n++;
            tagged = tagged || s->g[i].tag[0];
        }
    }
    rc_err_t err;
    if (tagged) {
        uint8_t v = 1;
        if ((err = rc_buf_append(out, &v, 1)) != RC_OK || (err = put_le(out, n, 6)) != RC_OK ||
            (err = rc_buf_append(out, &v, 1)) != RC_OK) {
            return err;
        }
    } else if ((err = put_le(out, n, 8)) != RC_OK) {
        return err;
    }
    for (size_t i = 0; i < s->n_g; i++) {
        const group_t *g = &s->g[i];
        if (g->n == 0) {
            continue;
        }
        if ((err = rc_buf_append(out, g->uuid, 16)) != RC_OK) {
            return err;
        }
        if (tagged) {
            size_t tl = strlen(g->tag);
            uint8_t len = (uint8_t)(tl << 1); /* a one-byte variable-length integer */
            if ((err = rc_buf_append(out, &len, 1)) != RC_OK ||
                (err = rc_buf_append(out, g->tag, tl)) != RC_OK) {
                return err;
            }
        }
        if ((err = put_le(out, g->n, 8)) != RC_OK) {
            return err;
        }
        for (size_t k = 0; k < g->n; k++) {
            if ((err = put_le(out, g->iv[k].first, 8)) != RC_OK ||
                (err = put_le(out, g->iv[k].last + 1, 8)) != RC_OK) {
                return err;
            }
        }
    }
    return RC_OK;
}
