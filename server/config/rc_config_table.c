/* rc_config_table.c: the engine that walks rc_config's key tables over a libfyaml document.
 *
 * One walk parses (${ENV} substitution, types, bounds, defaults, unknown/duplicate/missing keys,
 * all reported as "FILE:LINE: KEY.PATH: what"), one frees, one prints the reference. libfyaml's
 * own diagnostics are collected, never printed. */
#include "rc_config_table.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rc_config.h"

#define MAX_KEYS        32 /* keys in one table */
#define WHY_SIZE        512
#define SECRET_FILE_MAX (64 * 1024) /* a password file is small; refuse anything bigger */
#define ENV_NAME_MAX    255

typedef struct unique_value {
    const rc_config_key_t *key;
    char *value;
    char *path;
    int line;
} unique_value_t;

typedef struct ctx {
    const char *file;
    const char *dir;
    unsigned flags;
    char *where; /* the key path of the failure, for callers that name the field apart */
    size_t where_size;
    char *errstr;
    size_t errstr_size;
    char path[512]; /* key path of the value being parsed, e.g. pipelines[0].source.port */
    size_t path_len;
    unique_value_t *uniq;
    size_t n_uniq;
    size_t cap_uniq;
    char **env_vars; /* names of the ROWCAST_ variables applied; node meta = index + 1 */
    size_t n_env_vars;
} ctx_t;

/* ---- messages and paths ---- */

static rc_err_t fail_at(ctx_t *c, int line, rc_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static rc_err_t fail_at(ctx_t *c, int line, rc_err_t err, const char *fmt, ...) {
    char msg[WHY_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->where != NULL && c->where_size > 0) {
        snprintf(c->where, c->where_size, "%s", c->path);
    }
    if (line < 0 && (size_t)-line <= c->n_env_vars) { /* a value from the environment */
        const char *var = c->env_vars[-line - 1];
        if (c->path_len > 0) {
            return rc_seterr(c->errstr, c->errstr_size, err, "%s: environment variable %s: %s: %s",
                             c->file, var, c->path, msg);
        }
        return rc_seterr(c->errstr, c->errstr_size, err, "%s: environment variable %s: %s", c->file,
                         var, msg);
    }
    if (c->path_len > 0) {
        return rc_seterr(c->errstr, c->errstr_size, err, "%s:%d: %s: %s", c->file, line, c->path,
                         msg);
    }
    return rc_seterr(c->errstr, c->errstr_size, err, "%s:%d: %s", c->file, line, msg);
}

static rc_err_t fail_nomem(ctx_t *c) {
    return rc_seterr(c->errstr, c->errstr_size, RC_ERR_NOMEM, "%s: out of memory while loading",
                     c->file);
}

static size_t path_set_len(ctx_t *c, size_t old, int n) {
    size_t len = n < 0 ? old : old + (size_t)n;
    c->path_len = len < sizeof c->path ? len : sizeof c->path - 1;
    return old;
}

/* Appends ".name" (or "name" at the top) and returns the length to restore with path_pop. */
static size_t path_push_key(ctx_t *c, const char *name, size_t len) {
    size_t old = c->path_len;
    int n = snprintf(c->path + old, sizeof c->path - old, "%s%.*s", old ? "." : "", (int)len, name);
    return path_set_len(c, old, n);
}

static size_t path_push_index(ctx_t *c, size_t i) {
    size_t old = c->path_len;
    int n = snprintf(c->path + old, sizeof c->path - old, "[%zu]", i);
    return path_set_len(c, old, n);
}

static void path_pop(ctx_t *c, size_t old) {
    c->path_len = old;
    c->path[old] = '\0';
}

void rc_config_table_quote(const char *s, char *buf, size_t buf_size) {
    const size_t max_chars = 80;
    size_t o = 0, i = 0;
    if (buf_size < 8) {
        if (buf_size > 0) {
            buf[0] = '\0';
        }
        return;
    }
    buf[o++] = '"';
    for (; s[i] != '\0' && i < max_chars && o + 6 < buf_size; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(buf + o, buf_size - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    buf[o++] = '"';
    if (s[i] != '\0' && o + 4 < buf_size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
}

static void fmt_num(double v, char *buf, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, n, "%.0f", v);
    } else {
        snprintf(buf, n, "%g", v);
    }
}

static void join_choices(const char *const *choices, const char *sep, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; choices[i] != NULL && o < n; i++) {
        int w = snprintf(buf + o, n - o, "%s%s", i ? sep : "", choices[i]);
        o += w > 0 ? (size_t)w : 0;
    }
}

/* What a key accepts, as used in "expected ..." (article) and in the reference (no article). */
static void describe(const rc_config_key_t *k, bool article, char *buf, size_t n) {
    char lo[32], hi[32], list[256];
    fmt_num(k->min, lo, sizeof lo);
    fmt_num(k->max, hi, sizeof hi);
    switch (k->type) {
    case RC_CONFIG_STRING:
        snprintf(buf, n, "%sstring", article ? "a " : "");
        return;
    case RC_CONFIG_SECRET_FILE:
        snprintf(buf, n, "%sfile name", article ? "a " : "");
        return;
    case RC_CONFIG_INT:
    case RC_CONFIG_U32:
        snprintf(buf, n, "%sinteger from %s to %s", article ? "an " : "", lo, hi);
        return;
    case RC_CONFIG_SECONDS:
        snprintf(buf, n, "%snumber of seconds from %s to %s", article ? "a " : "", lo, hi);
        return;
    case RC_CONFIG_BOOL:
        snprintf(buf, n, "true or false");
        return;
    case RC_CONFIG_ENUM:
    case RC_CONFIG_ENUM_STR:
        join_choices(k->choices, article ? ", " : "|", list, sizeof list);
        snprintf(buf, n, "one of %s", list);
        return;
    case RC_CONFIG_STRING_LIST:
        snprintf(buf, n, "%slist of strings", article ? "a " : "");
        return;
    case RC_CONFIG_KV_MAP:
        snprintf(buf, n, "%smap of name: value", article ? "a " : "");
        return;
    case RC_CONFIG_MAP:
        snprintf(buf, n, "%smap", article ? "a " : "");
        return;
    case RC_CONFIG_MAP_LIST:
        snprintf(buf, n, "%slist of maps", article ? "a " : "");
        return;
    }
    snprintf(buf, n, "?");
}

/* ---- libfyaml nodes ---- */

/* 1-based line of a node; containers use their first child; fallback when there is none. */
static int node_line(struct fy_node *n, int fallback) {
    if (n == NULL) {
        return fallback;
    }
    void *it = NULL;
    void *env = fy_node_get_meta(n);
    if (env != NULL) {
        return -(int)(uintptr_t)env; /* set by an environment override: fail_at names it */
    }
    switch (fy_node_get_type(n)) {
    case FYNT_SCALAR: {
        struct fy_token *t = fy_node_get_scalar_token(n);
        const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
        return m ? m->line + 1 : fallback;
    }
    case FYNT_MAPPING: {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? node_line(fy_node_pair_key(p), fallback) : fallback;
    }
    case FYNT_SEQUENCE:
        return node_line(fy_node_sequence_iterate(n, &it), fallback);
    }
    return fallback;
}

static bool node_is_null(struct fy_node *n) {
    if (n == NULL) {
        return true;
    }
    if (fy_node_get_type(n) != FYNT_SCALAR || fy_node_get_style(n) != FYNS_PLAIN) {
        return false;
    }
    size_t len;
    const char *s = fy_node_get_scalar(n, &len);
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    if (s == NULL) {
        return true;
    }
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++) {
        if (strlen(nulls[i]) == len && memcmp(s, nulls[i], len) == 0) {
            return true;
        }
    }
    return false;
}

static rc_err_t deref(ctx_t *c, struct fy_node **n, int line) {
    if (*n == NULL || !fy_node_is_alias(*n)) {
        return RC_OK;
    }
    struct fy_node *target = fy_node_resolve_alias(*n);
    if (target == NULL) {
        size_t len;
        const char *a = fy_node_get_scalar(*n, &len);
        return fail_at(c, line, RC_ERR_INVALID, "unknown alias *%.*s", a ? (int)len : 0,
                       a ? a : "");
    }
    *n = target;
    return RC_OK;
}

/* How a node that is not what we wanted looks in a message: a map, a list, null or its text. */
static void got_phrase(struct fy_node *n, bool secret, char *buf, size_t size) {
    if (node_is_null(n)) {
        snprintf(buf, size, "null");
    } else if (fy_node_is_mapping(n)) {
        snprintf(buf, size, "a map");
    } else if (fy_node_is_sequence(n)) {
        snprintf(buf, size, "a list");
    } else if (secret) {
        snprintf(buf, size, "a string");
    } else {
        size_t len = 0;
        const char *s = fy_node_get_scalar(n, &len);
        char *text = strndup(s ? s : "", s ? len : 0);
        rc_config_table_quote(text ? text : "", buf, size);
        free(text);
    }
}

static rc_err_t fail_kind(ctx_t *c, const rc_config_key_t *k, const char *expected,
                          struct fy_node *n, int line) {
    char want[300], got[128];
    if (expected == NULL) {
        describe(k, true, want, sizeof want);
        expected = want;
    }
    got_phrase(n, (k->flags & RC_CONFIG_SECRET) != 0, got, sizeof got);
    return fail_at(c, node_line(n, line), RC_ERR_INVALID, "expected %s, got %s", expected, got);
}

/* ---- scalars ---- */

static bool env_name_char(char ch, bool first) {
    return ch == '_' || isalpha((unsigned char)ch) || (!first && isdigit((unsigned char)ch));
}

/* Copies s[0..len) into a new string, replacing ${NAME} by the environment variable and $$ by $
 * (any other $ stays). Sizes first, then fills, so a secret is never left in a freed buffer. */
static rc_err_t expand(ctx_t *c, const char *s, size_t len, int line, bool secret, char **out) {
    char *dst = NULL;
    size_t need = 0;
    *out = NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t o = 0;
        for (size_t i = 0; i < len;) {
            if (s[i] == '\0') {
                free(dst);
                return fail_at(c, line, RC_ERR_INVALID, "a NUL byte is not allowed in a value");
            }
            if (s[i] != '$' || i + 1 == len || (s[i + 1] != '$' && s[i + 1] != '{')) {
                if (dst) {
                    dst[o] = s[i];
                }
                o++;
                i++;
                continue;
            }
            if (s[i + 1] == '$') {
                if (dst) {
                    dst[o] = '$';
                }
                o++;
                i += 2;
                continue;
            }
            size_t start = i + 2, j = start;
            while (j < len && env_name_char(s[j], j == start)) {
                j++;
            }
            if (j == start || j >= len || s[j] != '}' || j - start > ENV_NAME_MAX) {
                free(dst);
                if (secret) {
                    return fail_at(c, line, RC_ERR_INVALID,
                                   "bad ${NAME} reference (NAME is letters, digits and _; "
                                   "write $$ for a literal $)");
                }
                char shown[128], ref[ENV_NAME_MAX + 8];
                snprintf(ref, sizeof ref, "%.*s", (int)(j - i + (j < len)), s + i);
                rc_config_table_quote(ref, shown, sizeof shown);
                return fail_at(c, line, RC_ERR_INVALID,
                               "bad ${NAME} reference %s (NAME is letters, digits and _; write $$ "
                               "for a literal $)",
                               shown);
            }
            if (!secret && (c->flags & RC_CONFIG_PARSE_ENV_SECRETS_ONLY)) {
                free(dst);
                return fail_at(c, line, RC_ERR_INVALID,
                               "${NAME} references are only allowed in secret keys here (write "
                               "$$ for a literal $)");
            }
            char name[ENV_NAME_MAX + 1];
            memcpy(name, s + start, j - start);
            name[j - start] = '\0';
            const char *value = getenv(name);
            if (value == NULL) {
                free(dst);
                return fail_at(c, line, RC_ERR_INVALID, "environment variable %s is not set", name);
            }
            size_t vlen = strlen(value);
            if (dst) {
                memcpy(dst + o, value, vlen);
            }
            o += vlen;
            i = j + 1;
        }
        if (pass == 0) {
            need = o;
            dst = malloc(need + 1);
            if (dst == NULL) {
                return fail_nomem(c);
            }
        } else {
            dst[o] = '\0';
        }
    }
    *out = dst;
    return RC_OK;
}

/* The expanded text of a scalar node; maps and lists are an error. */
static rc_err_t scalar_text(ctx_t *c, const rc_config_key_t *k, struct fy_node *n, int line,
                            char **out) {
    *out = NULL;
    if (!fy_node_is_scalar(n)) {
        return fail_kind(c, k, NULL, n, line);
    }
    size_t len;
    const char *s = fy_node_get_scalar(n, &len);
    return expand(c, s ? s : "", s ? len : 0, node_line(n, line), (k->flags & RC_CONFIG_SECRET),
                  out);
}

static void free_string(char **p, bool wipe) {
    if (*p != NULL && wipe) {
        explicit_bzero(*p, strlen(*p));
    }
    free(*p);
    *p = NULL;
}

static bool parse_int(const char *s, long long *v) {
    const char *p = s + (*s == '+' || *s == '-');
    if (*p == '\0') {
        return false;
    }
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
    }
    errno = 0;
    *v = strtoll(s, NULL, 10);
    return errno == 0;
}

/* [-+]? (digits [. digits?] | . digits) ([eE] [-+]? digits)? -- no inf, nan or hex. */
static bool parse_number(const char *s, double *v) {
    const char *p = s + (*s == '+' || *s == '-');
    size_t digits = 0;
    for (; isdigit((unsigned char)*p); p++) {
        digits++;
    }
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++) {
            digits++;
        }
    }
    if (digits == 0) {
        return false;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        p += (*p == '+' || *p == '-');
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
    }
    if (*p != '\0') {
        return false;
    }
    *v = strtod(s, NULL);
    return isfinite(*v);
}

static rc_err_t read_secret_file(ctx_t *c, const char *name, int line, char **out) {
    char full[PATH_MAX];
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int fd = -1;
    rc_err_t rc;

    *out = NULL;
    if (name[0] == '\0') {
        return fail_at(c, line, RC_ERR_INVALID, "expected a file name, got an empty string");
    }
    if (name[0] != '/' && c->dir != NULL && c->dir[0] != '\0') {
        snprintf(full, sizeof full, "%s/%s", c->dir, name);
    } else {
        snprintf(full, sizeof full, "%s", name);
    }
    fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = fail_at(c, line, RC_ERR_IO, "cannot read \"%s\": %s", full, strerror(errno));
        goto fail;
    }
    for (;;) {
        if (len == cap) {
            /* grow by copying so that no freed buffer keeps a piece of the secret */
            size_t ncap = cap ? cap * 2 : 256;
            if (ncap > SECRET_FILE_MAX + 1) {
                rc = fail_at(c, line, RC_ERR_INVALID, "\"%s\" is larger than %d bytes", full,
                             SECRET_FILE_MAX);
                goto fail;
            }
            char *nbuf = malloc(ncap + 1);
            if (nbuf == NULL) {
                rc = fail_nomem(c);
                goto fail;
            }
            if (buf) {
                memcpy(nbuf, buf, len);
                explicit_bzero(buf, cap);
                free(buf);
            }
            buf = nbuf;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rc = fail_at(c, line, RC_ERR_IO, "cannot read \"%s\": %s", full, strerror(errno));
            goto fail;
        }
        if (r == 0) {
            break;
        }
        len += (size_t)r;
    }
    if (memchr(buf, '\0', len) != NULL) {
        rc = fail_at(c, line, RC_ERR_INVALID, "\"%s\" contains a NUL byte", full);
        goto fail;
    }
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
        if (len > 0 && buf[len - 1] == '\r') {
            len--;
        }
    }
    buf[len] = '\0';
    close(fd);
    *out = buf;
    return RC_OK;
fail:
    if (buf) {
        explicit_bzero(buf, cap);
        free(buf);
    }
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* Remembers the value of a RC_CONFIG_UNIQUE key; an equal earlier value is an error. */
static rc_err_t check_unique(ctx_t *c, const rc_config_key_t *k, const char *value, bool quote,
                             int line) {
    char shown[128];
    if (quote) {
        rc_config_table_quote(value, shown, sizeof shown);
    } else {
        snprintf(shown, sizeof shown, "%s", value);
    }
    for (size_t i = 0; i < c->n_uniq; i++) {
        if (c->uniq[i].key == k && strcmp(c->uniq[i].value, value) == 0) {
            return fail_at(c, line, RC_ERR_INVALID, "%s is already used by %s (line %d)", shown,
                           c->uniq[i].path, c->uniq[i].line);
        }
    }
    if (c->n_uniq == c->cap_uniq) {
        size_t ncap = c->cap_uniq ? c->cap_uniq * 2 : 8;
        unique_value_t *n = realloc(c->uniq, ncap * sizeof *n);
        if (n == NULL) {
            return fail_nomem(c);
        }
        c->uniq = n;
        c->cap_uniq = ncap;
    }
    unique_value_t *u = &c->uniq[c->n_uniq];
    u->key = k;
    u->line = line;
    u->value = strdup(value);
    u->path = strdup(c->path);
    if (u->value == NULL || u->path == NULL) {
        free(u->value);
        free(u->path);
        return fail_nomem(c);
    }
    c->n_uniq++;
    return RC_OK;
}

/* Parses text (owned, freed here) into the field of a scalar key. */
static rc_err_t parse_scalar(ctx_t *c, const rc_config_key_t *k, void *field, char *text,
                             int line) {
    bool secret = (k->flags & RC_CONFIG_SECRET) != 0;
    char want[300], shown[128], why[WHY_SIZE], num[32];
    const char *unique_text = NULL;
    bool unique_quote = false;
    long long iv = 0;
    double dv = 0;
    rc_err_t rc = RC_OK;

    rc_config_table_quote(secret ? "" : text, shown, sizeof shown);
    switch (k->type) {
    case RC_CONFIG_STRING:
        free_string(field, secret);
        *(char **)field = text;
        text = NULL;
        unique_text = *(char **)field;
        unique_quote = true;
        break;
    case RC_CONFIG_SECRET_FILE: {
        char *content;
        rc = read_secret_file(c, text, line, &content);
        if (rc != RC_OK) {
            goto done;
        }
        free_string(field, true);
        *(char **)field = content;
        break;
    }
    case RC_CONFIG_INT:
    case RC_CONFIG_U32:
        if (!parse_int(text, &iv) || (double)iv < k->min || (double)iv > k->max) {
            describe(k, true, want, sizeof want);
            rc = fail_at(c, line, RC_ERR_INVALID, "expected %s, got %s", want, shown);
            goto done;
        }
        if (k->type == RC_CONFIG_INT) {
            *(int *)field = (int)iv;
        } else {
            *(uint32_t *)field = (uint32_t)iv;
        }
        snprintf(num, sizeof num, "%lld", iv);
        unique_text = num;
        break;
    case RC_CONFIG_SECONDS:
        if (!parse_number(text, &dv) || dv < k->min || dv > k->max) {
            describe(k, true, want, sizeof want);
            rc = fail_at(c, line, RC_ERR_INVALID, "expected %s, got %s", want, shown);
            goto done;
        }
        *(double *)field = dv;
        break;
    case RC_CONFIG_BOOL:
        /* YAML 1.2 core schema; yes/no/on/off are YAML 1.1 and too easy to misread */
        if (!strcmp(text, "true") || !strcmp(text, "True") || !strcmp(text, "TRUE")) {
            *(bool *)field = true;
        } else if (!strcmp(text, "false") || !strcmp(text, "False") || !strcmp(text, "FALSE")) {
            *(bool *)field = false;
        } else {
            rc = fail_at(c, line, RC_ERR_INVALID, "expected true or false, got %s", shown);
            goto done;
        }
        break;
    case RC_CONFIG_ENUM:
    case RC_CONFIG_ENUM_STR: {
        int idx = -1;
        for (int i = 0; k->choices[i] != NULL; i++) {
            if (strcmp(k->choices[i], text) == 0) {
                idx = i;
            }
        }
        if (idx < 0) {
            join_choices(k->choices, ", ", want, sizeof want);
            rc = fail_at(c, line, RC_ERR_INVALID, "unsupported value %s (supported: %s)", shown,
                         want);
            goto done;
        }
        if (k->type == RC_CONFIG_ENUM) {
            *(int *)field = idx;
        } else {
            free_string(field, secret);
            *(char **)field = text;
            text = NULL;
        }
        break;
    }
    default:
        rc = fail_at(c, line, RC_ERR_INVALID, "internal error: key type %d is not a scalar",
                     (int)k->type);
        goto done;
    }
    if (k->check != NULL && !k->check(field, why, sizeof why)) {
        rc = fail_at(c, line, RC_ERR_INVALID, "%s", why);
        goto done;
    }
    if ((k->flags & RC_CONFIG_UNIQUE) && unique_text != NULL) {
        rc = check_unique(c, k, unique_text, unique_quote, line);
    }
done:
    if (text) {
        if (secret) {
            explicit_bzero(text, strlen(text));
        }
        free(text);
    }
    return rc;
}

/* ---- containers ---- */

static rc_err_t parse_table(ctx_t *c, const rc_config_table_t *t, char *base, struct fy_node *map,
                            int parent_line);

static void *get_ptr(const char *field) {
    void *p;
    memcpy(&p, field, sizeof p);
    return p;
}

static void set_ptr(char *field, void *p) {
    memcpy(field, &p, sizeof p);
}

/* The text of a mapping key; only plain strings may be keys. */
static rc_err_t key_text(ctx_t *c, struct fy_node *key, int line, const char **s, size_t *len) {
    if (key == NULL || !fy_node_is_scalar(key) || fy_node_is_alias(key)) {
        return fail_at(c, node_line(key, line), RC_ERR_INVALID, "keys must be plain strings");
    }
    *s = fy_node_get_scalar(key, len);
    if (*s == NULL || *len == 0 || memchr(*s, '\0', *len) != NULL) {
        return fail_at(c, node_line(key, line), RC_ERR_INVALID, "empty or invalid key name");
    }
    return RC_OK;
}

static rc_err_t parse_string_list(ctx_t *c, const rc_config_key_t *k, char *base,
                                  struct fy_node *seq, int line) {
    char why[WHY_SIZE];
    if (!fy_node_is_sequence(seq)) {
        return fail_kind(c, k, NULL, seq, line);
    }
    int count = fy_node_sequence_item_count(seq);
    char **items = calloc(count > 0 ? (size_t)count : 1, sizeof *items);
    if (items == NULL) {
        return fail_nomem(c);
    }
    set_ptr(base + k->offset, items);
    *(size_t *)(base + k->count_offset) = (size_t)count;

    void *it = NULL;
    struct fy_node *item;
    for (size_t i = 0; (item = fy_node_sequence_iterate(seq, &it)) != NULL; i++) {
        size_t old = path_push_index(c, i);
        int iline = node_line(item, line);
        rc_err_t rc = deref(c, &item, iline);
        if (rc == RC_OK && (node_is_null(item) || !fy_node_is_scalar(item))) {
            rc = fail_kind(c, k, "a string", item, iline);
        }
        if (rc == RC_OK) {
            rc = scalar_text(c, k, item, iline, &items[i]);
        }
        if (rc == RC_OK && k->check != NULL && !k->check(&items[i], why, sizeof why)) {
            rc = fail_at(c, iline, RC_ERR_INVALID, "%s", why);
        }
        if (rc != RC_OK) {
            return rc;
        }
        path_pop(c, old);
    }
    return RC_OK;
}

static rc_err_t parse_kv_map(ctx_t *c, const rc_config_key_t *k, char *base, struct fy_node *map,
                             int line) {
    if (!fy_node_is_mapping(map)) {
        return fail_kind(c, k, NULL, map, line);
    }
    int count = fy_node_mapping_item_count(map);
    rc_kv_t *kv = calloc(count > 0 ? (size_t)count : 1, sizeof *kv);
    int *lines = calloc(count > 0 ? (size_t)count : 1, sizeof *lines);
    if (kv == NULL || lines == NULL) {
        free(kv);
        free(lines);
        return fail_nomem(c);
    }
    set_ptr(base + k->offset, kv);
    *(size_t *)(base + k->count_offset) = (size_t)count;

    rc_err_t rc = RC_OK;
    void *it = NULL;
    struct fy_node_pair *pair;
    for (size_t i = 0; (pair = fy_node_mapping_iterate(map, &it)) != NULL; i++) {
        const char *name;
        size_t len;
        struct fy_node *key = fy_node_pair_key(pair);
        lines[i] = node_line(key, line);
        rc = key_text(c, key, line, &name, &len);
        if (rc != RC_OK) {
            goto done;
        }
        size_t old = path_push_key(c, name, len);
        for (size_t j = 0; j < i; j++) {
            if (strlen(kv[j].key) == len && memcmp(kv[j].key, name, len) == 0) {
                rc = fail_at(c, lines[i], RC_ERR_INVALID, "duplicate key (first at line %d)",
                             lines[j]);
                goto done;
            }
        }
        kv[i].key = strndup(name, len);
        if (kv[i].key == NULL) {
            rc = fail_nomem(c);
            goto done;
        }
        struct fy_node *value = fy_node_pair_value(pair);
        rc = deref(c, &value, lines[i]);
        if (rc != RC_OK) {
            goto done;
        }
        if (node_is_null(value) || !fy_node_is_scalar(value)) {
            rc = fail_kind(c, k, "a string, number or boolean", value, lines[i]);
            goto done;
        }
        rc = scalar_text(c, k, value, lines[i], &kv[i].value);
        if (rc != RC_OK) {
            goto done;
        }
        path_pop(c, old);
    }
done:
    free(lines);
    return rc;
}

static rc_err_t parse_map_list(ctx_t *c, const rc_config_key_t *k, char *base, struct fy_node *seq,
                               int line) {
    if (!fy_node_is_sequence(seq)) {
        return fail_kind(c, k, NULL, seq, line);
    }
    int count = fy_node_sequence_item_count(seq);
    if ((double)count < k->min) {
        char lo[32];
        fmt_num(k->min, lo, sizeof lo);
        return fail_at(c, node_line(seq, line), RC_ERR_INVALID,
                       "expected a list of at least %s item(s), got %d", lo, count);
    }
    char *items = calloc(count > 0 ? (size_t)count : 1, k->elem_size);
    if (items == NULL) {
        return fail_nomem(c);
    }
    set_ptr(base + k->offset, items);
    *(size_t *)(base + k->count_offset) = (size_t)count;

    void *it = NULL;
    struct fy_node *item;
    for (size_t i = 0; (item = fy_node_sequence_iterate(seq, &it)) != NULL; i++) {
        size_t old = path_push_index(c, i);
        int iline = node_line(item, line);
        rc_err_t rc = deref(c, &item, iline);
        if (rc == RC_OK && !fy_node_is_mapping(item)) {
            rc = fail_kind(c, k, "a map", item, iline);
        }
        if (rc == RC_OK) {
            rc = parse_table(c, k->sub, items + i * k->elem_size, item, iline);
        }
        if (rc != RC_OK) {
            return rc;
        }
        path_pop(c, old);
    }
    return RC_OK;
}

/* Parses a non-null value (aliases resolved) of key k into base. */
static rc_err_t parse_value(ctx_t *c, const rc_config_key_t *k, char *base, struct fy_node *n,
                            int line) {
    switch (k->type) {
    case RC_CONFIG_MAP:
        if (!fy_node_is_mapping(n)) {
            return fail_kind(c, k, NULL, n, line);
        }
        return parse_table(c, k->sub, base + k->offset, n, line);
    case RC_CONFIG_MAP_LIST:
        return parse_map_list(c, k, base, n, line);
    case RC_CONFIG_STRING_LIST:
        return parse_string_list(c, k, base, n, line);
    case RC_CONFIG_KV_MAP:
        return parse_kv_map(c, k, base, n, line);
    default: {
        char *text;
        rc_err_t rc = scalar_text(c, k, n, line, &text);
        if (rc != RC_OK) {
            return rc;
        }
        return parse_scalar(c, k, base + k->offset, text, node_line(n, line));
    }
    }
}

static rc_err_t apply_default(ctx_t *c, const rc_config_key_t *k, char *base, int line) {
    if (k->type == RC_CONFIG_MAP) {
        return parse_table(c, k->sub, base + k->offset, NULL, line);
    }
    if (k->def == NULL || k->type == RC_CONFIG_STRING_LIST || k->type == RC_CONFIG_KV_MAP ||
        k->type == RC_CONFIG_MAP_LIST) {
        return RC_OK; /* zeroed by the caller: NULL, 0, empty */
    }
    char *text = strdup(k->def);
    if (text == NULL) {
        return fail_nomem(c);
    }
    return parse_scalar(c, k, base + k->offset, text, line);
}

static int find_key(const rc_config_table_t *t, const char *name, size_t len) {
    for (size_t i = 0; i < t->n_keys; i++) {
        if (strlen(t->keys[i].name) == len && memcmp(t->keys[i].name, name, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Parses map (NULL = the key was absent: defaults only) into base following table t.
 * parent_line is where the map is introduced, used for keys that are missing. */
static rc_err_t parse_table(ctx_t *c, const rc_config_table_t *t, char *base, struct fy_node *map,
                            int parent_line) {
    int lines[MAX_KEYS] = {0};    /* line of each key present in the file */
    bool set[MAX_KEYS] = {false}; /* present with a non-null value */
    char why[WHY_SIZE];
    rc_err_t rc;

    if (t->n_keys > MAX_KEYS) {
        return fail_at(c, parent_line, RC_ERR_INVALID, "internal error: table too large");
    }
    void *it = NULL;
    struct fy_node_pair *pair;
    while (map != NULL && (pair = fy_node_mapping_iterate(map, &it)) != NULL) {
        const char *name;
        size_t len;
        struct fy_node *key = fy_node_pair_key(pair);
        int kline = node_line(key, parent_line);
        rc = key_text(c, key, parent_line, &name, &len);
        if (rc != RC_OK) {
            return rc;
        }
        int i = find_key(t, name, len);
        size_t old = path_push_key(c, name, len);
        if (i < 0) {
            char known[512];
            size_t o = 0;
            known[0] = '\0';
            for (size_t j = 0; j < t->n_keys && o < sizeof known; j++) {
                int w =
                    snprintf(known + o, sizeof known - o, "%s%s", j ? ", " : "", t->keys[j].name);
                o += w > 0 ? (size_t)w : 0;
            }
            return fail_at(c, kline, RC_ERR_INVALID, "unknown key (known: %s)", known);
        }
        if (lines[i] != 0) {
            return fail_at(c, kline, RC_ERR_INVALID, "duplicate key (first at line %d)", lines[i]);
        }
        lines[i] = kline;
        const rc_config_key_t *k = &t->keys[i];
        struct fy_node *value = fy_node_pair_value(pair);
        rc = deref(c, &value, kline);
        if (rc != RC_OK) {
            return rc;
        }
        if (!node_is_null(value)) {
            rc = parse_value(c, k, base, value, kline);
            if (rc != RC_OK) {
                return rc;
            }
            set[i] = true;
        } else if (k->flags & RC_CONFIG_REQUIRED) {
            return fail_at(c, kline, RC_ERR_INVALID, "required key has no value");
        }
        path_pop(c, old);
    }

    for (size_t i = 0; i < t->n_keys; i++) {
        const rc_config_key_t *k = &t->keys[i];
        if (set[i]) {
            continue;
        }
        size_t old = path_push_key(c, k->name, strlen(k->name));
        if (k->flags & RC_CONFIG_REQUIRED) {
            return fail_at(c, parent_line, RC_ERR_INVALID, "required key is missing");
        }
        rc = apply_default(c, k, base, lines[i] ? lines[i] : parent_line);
        if (rc != RC_OK) {
            return rc;
        }
        path_pop(c, old);
    }

    for (size_t i = 0; i < t->n_keys; i++) {
        const rc_config_key_t *k = &t->keys[i];
        int j = k->conflicts ? find_key(t, k->conflicts, strlen(k->conflicts)) : -1;
        if (j >= 0 && set[i] && set[j]) {
            /* blame the key written last; name the two in table order */
            size_t first = (size_t)j < i ? (size_t)j : i, second = (size_t)j < i ? i : (size_t)j;
            size_t later = lines[i] >= lines[j] ? i : (size_t)j;
            path_push_key(c, t->keys[later].name, strlen(t->keys[later].name));
            return fail_at(c, lines[later], RC_ERR_INVALID, "%s and %s cannot both be set",
                           t->keys[first].name, t->keys[second].name);
        }
    }

    if (t->finish != NULL) {
        const char *blame = t->finish(base, why, sizeof why);
        if (blame != NULL) {
            int j = find_key(t, blame, strlen(blame));
            path_push_key(c, blame, strlen(blame));
            return fail_at(c, j >= 0 && lines[j] ? lines[j] : parent_line, RC_ERR_INVALID, "%s",
                           why);
        }
    }
    return RC_OK;
}

/* ---- ROWCAST_* environment overrides ----
 *
 * ROWCAST_<KEY>__<KEY>...=value sets one value of the document before it is walked, so the
 * walk checks it like any other (and names the variable when it is wrong). Segments are keys
 * in any case (LOG_LEVEL = log_level); in pipelines a segment is an index or a pipeline name
 * (characters other than letters and digits written as _); in a map of name: value (rdkafka)
 * the last segment is the property with _ for . (COMPRESSION_TYPE = compression.type). A
 * variable whose first segment is no top-level key is someone else's (ROWCAST_MYSQL_PASSWORD
 * referenced as ${ROWCAST_MYSQL_PASSWORD}) and is left alone. */

extern char **environ;

#define ENV_PREFIX "ROWCAST_"

static bool seg_is(const char *seg, size_t n, const char *name) {
    return strlen(name) == n && strncasecmp(seg, name, n) == 0;
}

static const rc_config_key_t *seg_key(const rc_config_table_t *t, const char *seg, size_t n) {
    for (size_t i = 0; t != NULL && i < t->n_keys; i++) {
        if (seg_is(seg, n, t->keys[i].name)) {
            return &t->keys[i];
        }
    }
    return NULL;
}

/* A pipeline name as a segment: letters and digits compared without case, anything else _. */
static bool seg_names(const char *seg, size_t n, const char *name, size_t len) {
    if (n != len) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)seg[i], b = (unsigned char)name[i];
        if (!isalnum(b)) {
            b = '_';
        }
        if (tolower(a) != tolower(b)) {
            return false;
        }
    }
    return true;
}

static void mark_env(struct fy_node *n, size_t var) {
    if (n == NULL) {
        return;
    }
    fy_node_set_meta(n, (void *)(uintptr_t)(var + 1));
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(n, &it)) != NULL) {
            mark_env(fy_node_pair_key(p), var);
            mark_env(fy_node_pair_value(p), var);
        }
    } else if (fy_node_is_sequence(n)) {
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(n, &it)) != NULL) {
            mark_env(item, var);
        }
    }
}

/* Sets map[name] = value (replacing a value there); the new nodes are marked as var's. */
static rc_err_t env_set(ctx_t *c, struct fy_document *doc, struct fy_node *map, const char *name,
                        struct fy_node *value, size_t var) {
    mark_env(value, var);
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(p);
        size_t klen;
        const char *ks = k && fy_node_is_scalar(k) ? fy_node_get_scalar(k, &klen) : NULL;
        if (ks && strlen(name) == klen && memcmp(ks, name, klen) == 0) {
            return fy_node_pair_set_value(p, value) == 0 ? RC_OK : fail_nomem(c);
        }
    }
    struct fy_node *k = fy_node_create_scalar_copy(doc, name, FY_NT);
    if (k == NULL) {
        return fail_nomem(c);
    }
    mark_env(k, var);
    return fy_node_mapping_append(map, k, value) == 0 ? RC_OK : fail_nomem(c);
}

static struct fy_node *map_child(struct fy_node *map, const char *name) {
    struct fy_node *n = fy_node_mapping_lookup_by_string(map, name, FY_NT);
    if (n != NULL && fy_node_is_alias(n)) {
        n = fy_node_resolve_alias(n);
    }
    return n;
}

/* Applies one variable (name=value, name starting after the prefix) at table/map. */
static rc_err_t env_apply(ctx_t *c, struct fy_document *doc, const rc_config_table_t *t,
                          struct fy_node *map, const char *segs, const char *value, size_t var) {
    const char *var_name = c->env_vars[var];
    for (;;) {
        const char *sep = strstr(segs, "__");
        size_t n = sep ? (size_t)(sep - segs) : strlen(segs);
        const rc_config_key_t *k = seg_key(t, segs, n);
        if (k == NULL) {
            return rc_seterr(c->errstr, c->errstr_size, RC_ERR_INVALID,
                             "%s: environment variable %s: no key %.*s here (keys are separated "
                             "by __; rowcast --help-config lists them)",
                             c->file, var_name, (int)n, segs);
        }
        const char *rest = sep ? sep + 2 : NULL;
        struct fy_node *child = map_child(map, k->name);
        switch (k->type) {
        case RC_CONFIG_MAP:
        case RC_CONFIG_KV_MAP:
            if (rest == NULL) {
                return rc_seterr(c->errstr, c->errstr_size, RC_ERR_INVALID,
                                 "%s: environment variable %s: %s is a map: name one of its "
                                 "keys after __",
                                 c->file, var_name, k->name);
            }
            if (child == NULL || !fy_node_is_mapping(child)) {
                child = fy_node_create_mapping(doc);
                rc_err_t rc = child ? env_set(c, doc, map, k->name, child, var) : fail_nomem(c);
                if (rc != RC_OK) {
                    return rc;
                }
            }
            if (k->type == RC_CONFIG_KV_MAP) {
                if (strstr(rest, "__") != NULL || *rest == '\0') {
                    return rc_seterr(c->errstr, c->errstr_size, RC_ERR_INVALID,
                                     "%s: environment variable %s: %s takes one property name "
                                     "after __ (with _ for .)",
                                     c->file, var_name, k->name);
                }
                char prop[256];
                size_t i = 0;
                for (; rest[i] != '\0' && i + 1 < sizeof prop; i++) {
                    prop[i] = rest[i] == '_' ? '.' : (char)tolower((unsigned char)rest[i]);
                }
                prop[i] = '\0';
                struct fy_node *v = fy_node_create_scalar_copy(doc, value, FY_NT);
                return v ? env_set(c, doc, child, prop, v, var) : fail_nomem(c);
            }
            map = child;
            t = k->sub;
            segs = rest;
            continue;
        case RC_CONFIG_MAP_LIST: {
            if (rest == NULL) {
                return rc_seterr(c->errstr, c->errstr_size, RC_ERR_INVALID,
                                 "%s: environment variable %s: name an item of %s (its index or "
                                 "name) after __",
                                 c->file, var_name, k->name);
            }
            const char *isep = strstr(rest, "__");
            size_t in = isep ? (size_t)(isep - rest) : strlen(rest);
            struct fy_node *item = NULL;
            if (child != NULL && fy_node_is_sequence(child)) {
                bool digits = in > 0 && strspn(rest, "0123456789") >= in;
                void *it = NULL;
                struct fy_node *cand;
                for (size_t i = 0; (cand = fy_node_sequence_iterate(child, &it)) != NULL; i++) {
                    if (digits && in < 10 && (size_t)strtoul(rest, NULL, 10) == i) {
                        item = cand;
                        break;
                    }
                    struct fy_node *nm = fy_node_is_mapping(cand) ? map_child(cand, "name") : NULL;
                    size_t nlen;
                    const char *ns =
                        nm && fy_node_is_scalar(nm) ? fy_node_get_scalar(nm, &nlen) : NULL;
                    if (ns && seg_names(rest, in, ns, nlen)) {
                        item = cand;
                        break;
                    }
                }
            }
            if (item == NULL || !fy_node_is_mapping(item) || isep == NULL) {
                return rc_seterr(c->errstr, c->errstr_size, RC_ERR_INVALID,
                                 item == NULL ? "%s: environment variable %s: %s has no item "
                                                "%.*s (an index from 0 or a name in this file)"
                                              : "%s: environment variable %s: name a key of %s "
                                                "item %.*s after __",
                                 c->file, var_name, k->name, (int)in, rest);
            }
            map = item;
            t = k->sub;
            segs = isep + 2;
            continue;
        }
        default:
            break;
        }
        if (rest != NULL) {
            return rc_seterr(c->errstr, c->errstr_size, RC_ERR_INVALID,
                             "%s: environment variable %s: %s is a single value: nothing can "
                             "follow it",
                             c->file, var_name, k->name);
        }
        /* Lists are YAML ([a, b]); everything else is the text as it is. */
        struct fy_node *v = k->type == RC_CONFIG_STRING_LIST && value[0] == '['
                                ? fy_node_build_from_string(doc, value, FY_NT)
                                : fy_node_create_scalar_copy(doc, value, FY_NT);
        if (v == NULL) {
            return rc_seterr(c->errstr, c->errstr_size, RC_ERR_INVALID,
                             "%s: environment variable %s: %s: not a YAML list", c->file, var_name,
                             k->name);
        }
        return env_set(c, doc, map, k->name, v, var);
    }
}

static rc_err_t env_overrides(ctx_t *c, struct fy_document *doc, const rc_config_table_t *t,
                              struct fy_node *root) {
    size_t n = 0;
    for (char **e = environ; e && *e; e++) {
        n += strncmp(*e, ENV_PREFIX, strlen(ENV_PREFIX)) == 0;
    }
    if (n == 0) {
        return RC_OK;
    }
    if ((c->env_vars = calloc(n, sizeof(char *))) == NULL) {
        return fail_nomem(c);
    }
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, ENV_PREFIX, strlen(ENV_PREFIX)) != 0) {
            continue;
        }
        const char *segs = *e + strlen(ENV_PREFIX), *eq = strchr(segs, '=');
        if (eq == NULL) {
            continue;
        }
        const char *sep = strstr(segs, "__");
        size_t first = sep && sep < eq ? (size_t)(sep - segs) : (size_t)(eq - segs);
        if (seg_key(t, segs, first) == NULL) {
            continue; /* not a config path: a variable of the user's own */
        }
        size_t i = c->n_env_vars;
        char *name = strndup(*e, (size_t)(eq - *e));
        char *path = strndup(segs, (size_t)(eq - segs));
        if (name == NULL || path == NULL) {
            free(name);
            free(path);
            return fail_nomem(c);
        }
        c->env_vars[c->n_env_vars++] = name;
        rc_err_t rc = env_apply(c, doc, t, root, path, eq + 1, i);
        free(path);
        if (rc != RC_OK) {
            return rc;
        }
    }
    return RC_OK;
}

/* ---- the document ---- */

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len) {
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

static rc_err_t fail_syntax(ctx_t *c, struct fy_diag *diag) {
    void *it = NULL;
    struct fy_diag_error *e;
    while ((e = fy_diag_errors_iterate(diag, &it)) != NULL) {
        if (e->type >= FYET_ERROR) {
            return fail_at(c, e->line > 0 ? e->line : 1, RC_ERR_INVALID,
                           "invalid %s: %s (column %d)",
                           (c->flags & RC_CONFIG_PARSE_JSON) ? "JSON" : "YAML",
                           e->msg ? e->msg : "syntax error", e->column);
        }
    }
    return fail_at(c, 1, RC_ERR_INVALID, "invalid %s",
                   (c->flags & RC_CONFIG_PARSE_JSON) ? "JSON" : "YAML");
}

rc_err_t rc_config_table_parse(const rc_config_table_t *table, void *base, const char *name,
                               const char *dir, const char *yaml, size_t len, char *errstr,
                               size_t errstr_size) {
    return rc_config_table_parse_ex(table, base, name, dir, yaml, len, 0, NULL, 0, errstr,
                                    errstr_size);
}

rc_err_t rc_config_table_parse_ex(const rc_config_table_t *table, void *base, const char *name,
                                  const char *dir, const char *yaml, size_t len, unsigned flags,
                                  char *where, size_t where_size, char *errstr,
                                  size_t errstr_size) {
    ctx_t c = {.file = name,
               .dir = dir,
               .flags = flags,
               .where = where,
               .where_size = where_size,
               .errstr = errstr,
               .errstr_size = errstr_size};
    if (where != NULL && where_size > 0) {
        where[0] = '\0';
    }
    struct fy_diag *diag = NULL;
    struct fy_parser *parser = NULL;
    struct fy_document *doc = NULL, *extra = NULL;
    rc_err_t rc;

    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL; /* never stderr: errors are collected and become errstr */
    dcfg.output_fn = diag_discard;
    dcfg.colorize = false;
    diag = fy_diag_create(&dcfg);
    if (diag == NULL) {
        rc = fail_nomem(&c);
        goto done;
    }
    fy_diag_set_collect_errors(diag, true);

    /* Duplicate keys are allowed here and reported by parse_table, which knows the key path. */
    struct fy_parse_cfg pcfg = {
        .flags = FYPCF_QUIET | FYPCF_ALLOW_DUPLICATE_KEYS | FYPCF_DEFAULT_VERSION_1_2 |
                 ((flags & RC_CONFIG_PARSE_JSON) ? FYPCF_JSON_FORCE : FYPCF_JSON_NONE),
        .diag = diag,
    };
    parser = fy_parser_create(&pcfg);
    if (parser == NULL || fy_parser_set_string(parser, yaml, len) != 0) {
        rc = fail_nomem(&c);
        goto done;
    }
    doc = fy_parse_load_document(parser);
    if (doc == NULL || fy_diag_got_error(diag)) {
        rc = fy_diag_got_error(diag) ? fail_syntax(&c, diag)
                                     : fail_at(&c, 1, RC_ERR_INVALID, "the file is empty");
        goto done;
    }
    extra = fy_parse_load_document(parser);
    if (fy_diag_got_error(diag)) {
        rc = fail_syntax(&c, diag);
        goto done;
    }
    if (extra != NULL) {
        rc = fail_at(&c, node_line(fy_document_root(extra), 1), RC_ERR_INVALID,
                     "only one YAML document is allowed (found a second one)");
        goto done;
    }
    struct fy_node *root = fy_document_root(doc);
    if (node_is_null(root)) {
        rc = fail_at(&c, 1, RC_ERR_INVALID, "the file is empty");
        goto done;
    }
    int line = node_line(root, 1);
    rc = deref(&c, &root, line);
    if (rc != RC_OK) {
        goto done;
    }
    if (!fy_node_is_mapping(root)) {
        char got[128];
        got_phrase(root, false, got, sizeof got);
        rc = fail_at(&c, line, RC_ERR_INVALID, "expected a %s at the top level, got %s",
                     (flags & RC_CONFIG_PARSE_JSON) ? "JSON object" : "map", got);
        goto done;
    }
    if (flags & RC_CONFIG_PARSE_ENV_OVERRIDES) {
        rc = env_overrides(&c, doc, table, root);
        if (rc != RC_OK) {
            goto done;
        }
    }
    rc = parse_table(&c, table, base, root, line);
done:
    for (size_t i = 0; i < c.n_uniq; i++) {
        free(c.uniq[i].value);
        free(c.uniq[i].path);
    }
    free(c.uniq);
    for (size_t i = 0; i < c.n_env_vars; i++) {
        free(c.env_vars[i]);
    }
    free(c.env_vars);
    if (extra) {
        fy_parse_document_destroy(parser, extra);
    }
    if (doc) {
        fy_parse_document_destroy(parser, doc);
    }
    if (parser) {
        fy_parser_destroy(parser);
    }
    if (diag) {
        fy_diag_destroy(diag);
    }
    return rc;
}

int rc_config_table_has_top_key(const char *text, size_t len, const char *key) {
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_discard;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (diag == NULL) {
        return -1;
    }
    struct fy_parse_cfg pcfg = {
        .flags = FYPCF_QUIET | FYPCF_ALLOW_DUPLICATE_KEYS | FYPCF_DEFAULT_VERSION_1_2,
        .diag = diag,
    };
    struct fy_document *doc = fy_document_build_from_string(&pcfg, text, len);
    int found = -1;
    if (doc != NULL) {
        struct fy_node *root = fy_document_root(doc);
        found = root != NULL && fy_node_is_mapping(root) &&
                fy_node_mapping_lookup_by_string(root, key, strlen(key)) != NULL;
        fy_document_destroy(doc);
    }
    fy_diag_destroy(diag);
    return found;
}

/* ---- free and print ---- */

void rc_config_table_free(const rc_config_table_t *t, void *vbase) {
    char *base = vbase;
    for (size_t i = 0; t != NULL && base != NULL && i < t->n_keys; i++) {
        const rc_config_key_t *k = &t->keys[i];
        bool wipe = (k->flags & RC_CONFIG_SECRET) != 0;
        char *field = base + k->offset;
        switch (k->type) {
        case RC_CONFIG_STRING:
        case RC_CONFIG_SECRET_FILE:
        case RC_CONFIG_ENUM_STR:
            /* two keys may fill one field (password, password_file): the first frees it */
            free_string((char **)field, wipe);
            break;
        case RC_CONFIG_STRING_LIST: {
            char **items = get_ptr(field);
            size_t *n = (size_t *)(base + k->count_offset);
            for (size_t j = 0; items != NULL && j < *n; j++) {
                free_string(&items[j], wipe);
            }
            free(items);
            set_ptr(field, NULL);
            *n = 0;
            break;
        }
        case RC_CONFIG_KV_MAP: {
            rc_kv_t *kv = get_ptr(field);
            size_t *n = (size_t *)(base + k->count_offset);
            for (size_t j = 0; kv != NULL && j < *n; j++) {
                free_string(&kv[j].key, false);
                free_string(&kv[j].value, wipe);
            }
            free(kv);
            set_ptr(field, NULL);
            *n = 0;
            break;
        }
        case RC_CONFIG_MAP:
            rc_config_table_free(k->sub, field);
            break;
        case RC_CONFIG_MAP_LIST: {
            char *items = get_ptr(field);
            size_t *n = (size_t *)(base + k->count_offset);
            for (size_t j = 0; items != NULL && j < *n; j++) {
                rc_config_table_free(k->sub, items + j * k->elem_size);
            }
            free(items);
            set_ptr(field, NULL);
            *n = 0;
            break;
        }
        default:
            break;
        }
    }
}

static void print_table(const rc_config_table_t *t, const char *prefix, FILE *out) {
    for (size_t i = 0; i < t->n_keys; i++) {
        const rc_config_key_t *k = &t->keys[i];
        char path[256], what[300], def[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", k->name);
        describe(k, false, what, sizeof what);
        fprintf(out, "%s: %s", path, what);
        if (k->type == RC_CONFIG_MAP_LIST && k->min > 0) {
            fmt_num(k->min, def, sizeof def);
            fprintf(out, ", at least %s", def);
        }
        if (k->flags & RC_CONFIG_REQUIRED) {
            fprintf(out, ", required");
        }
        if (k->def_doc != NULL) {
            fprintf(out, ", default %s", k->def_doc);
        } else if (k->def != NULL) {
            bool text = k->type == RC_CONFIG_STRING;
            if (text) {
                rc_config_table_quote(k->def, def, sizeof def);
            }
            fprintf(out, ", default %s", text ? def : k->def);
        }
        if (k->flags & RC_CONFIG_UNIQUE) {
            fprintf(out, ", unique");
        }
        if (k->flags & RC_CONFIG_SECRET) {
            fprintf(out, ", secret");
        }
        if (k->conflicts != NULL) {
            fprintf(out, ", not together with %s", k->conflicts);
        }
        fprintf(out, "\n    %s\n", k->desc);
        if (k->type == RC_CONFIG_MAP) {
            print_table(k->sub, path, out);
        } else if (k->type == RC_CONFIG_MAP_LIST) {
            char sub[260];
            snprintf(sub, sizeof sub, "%s[]", path);
            print_table(k->sub, sub, out);
        }
    }
}

void rc_config_table_print(const rc_config_table_t *table, FILE *out) {
    print_table(table, "", out);
}
