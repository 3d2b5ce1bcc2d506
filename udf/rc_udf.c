/* rc_udf.c: the UDF registry, the call wrapper shared by the engines, and the plugin loader.
 *
 * Entries live in a fixed array of pointers that only grows (writers hold a mutex, readers
 * see the count with acquire ordering), so a trampoline can keep an entry's pointer or index
 * for life and call without a lock. Plugins are opened with RTLD_NOW | RTLD_LOCAL and never
 * closed: their functions are referenced by every script VM. */
#include "rc_udf.h"

#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rc_mp.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static rc_udf_t *udfs[RC_UDF_MAX];
static atomic_size_t n_udfs;
static char *loaded[64]; /* real paths of the plugins loaded, to load each once */
static size_t n_loaded;

void rc_udf_register_builtins(void); /* rc_udf_builtin.c */

static pthread_once_t once = PTHREAD_ONCE_INIT;

void rc_udf_init(void) {
    pthread_once(&once, rc_udf_register_builtins);
}

size_t rc_udf_count(void) {
    return atomic_load_explicit(&n_udfs, memory_order_acquire);
}

const rc_udf_t *rc_udf_at(size_t i) {
    return i < rc_udf_count() ? udfs[i] : NULL;
}

const rc_udf_t *rc_udf_find(const char *name) {
    size_t n = rc_udf_count();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(udfs[i]->name, name) == 0) {
            return udfs[i];
        }
    }
    return NULL;
}

static bool is_identifier(const char *s) {
    if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_')) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_') {
            return false;
        }
    }
    return strlen(s) <= 64;
}

/* Names a script already has: a UDF must not hide them. */
static const char *const reserved[] = {
    "transform",    "copy",     "null",     "ACTION_CONT", "ACTION_DROP", "print",   "error",
    "pairs",        "ipairs",   "type",     "tostring",    "tonumber",    "string",  "table",
    "math",         "os",       "bit",      "Object",      "Array",       "JSON",    "Math",
    "String",       "Number",   "Date",     "Error",       "RegExp",      "Boolean", "undefined",
    "NaN",          "Infinity", "Function", "eval",        "assert",      "select",  "pcall",
    "xpcall",       "next",     "rawget",   "rawset",      "rawequal",    "unpack",  "setmetatable",
    "getmetatable", "_G",       "_VERSION", NULL,
};

rc_err_t rc_udf_register(const rowcast_udf_def_t *def, const char *origin, char *errstr,
                         size_t errstr_size) {
    const char *name = def && def->name ? def->name : "";
    if (!def || !is_identifier(def->name)) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                         "UDF name \"%.80s\" is not an identifier ([A-Za-z_][A-Za-z0-9_]*, at "
                         "most 64 characters)",
                         name);
    }
    for (int i = 0; reserved[i]; i++) {
        if (strcmp(reserved[i], name) == 0) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "UDF %s: the name is taken by the script runtime", name);
        }
    }
    if (!def->fn || def->min_args < 0 || def->min_args > 255 ||
        (def->max_args != -1 && (def->max_args < def->min_args || def->max_args > 255))) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                         "UDF %s: needs a function and 0 <= min_args <= max_args <= 255 (or "
                         "max_args -1), got %d..%d",
                         name, def->min_args, def->max_args);
    }
    rc_err_t err = RC_OK;
    pthread_mutex_lock(&lock);
    const rc_udf_t *old = rc_udf_find(name);
    size_t n = rc_udf_count();
    rc_udf_t *u = NULL;
    if (old) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "UDF %s is already registered (by %s)",
                        name, old->origin);
    } else if (n == RC_UDF_MAX) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "UDF %s: too many UDFs (at most %d)",
                        name, RC_UDF_MAX);
    } else if (!(u = calloc(1, sizeof(*u))) || !(u->name = strdup(name)) ||
               !(u->doc = strdup(def->doc ? def->doc : "")) ||
               !(u->origin = strdup(origin ? origin : "built-in"))) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "UDF %s: out of memory", name);
    }
    if (err == RC_OK) {
        u->min_args = def->min_args;
        u->max_args = def->max_args;
        u->fn = def->fn;
        u->data = def->data;
        udfs[n] = u;
        atomic_store_explicit(&n_udfs, n + 1, memory_order_release);
    } else if (u) {
        free(u->name);
        free(u->doc);
        free(u->origin);
        free(u);
    }
    pthread_mutex_unlock(&lock);
    return err;
}

/* ---- calls ---- */

static int sbuffer_write(void *data, const char *buf, size_t len) {
    return msgpack_sbuffer_write(data, buf, len);
}

static void arity(const rc_udf_t *u, char *buf, size_t size) {
    if (u->max_args == u->min_args) {
        snprintf(buf, size, "%d argument%s", u->min_args, u->min_args == 1 ? "" : "s");
    } else if (u->max_args < 0) {
        snprintf(buf, size, "at least %d argument%s", u->min_args, u->min_args == 1 ? "" : "s");
    } else {
        snprintf(buf, size, "%d to %d arguments", u->min_args, u->max_args);
    }
}

rc_err_t rc_udf_call(const rc_udf_t *u, const uint8_t *args, size_t args_len, uint32_t argc,
                     msgpack_sbuffer *out, char *errstr, size_t errstr_size) {
    if ((int64_t)argc < u->min_args || (u->max_args >= 0 && (int64_t)argc > u->max_args)) {
        char want[64];
        arity(u, want, sizeof(want));
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s: expected %s, got %u", u->name,
                         want, argc);
    }
    size_t start = out->size;
    char why[512] = "";
    rowcast_udf_out_t o = {out, sbuffer_write};
    int rc = u->fn(args, args_len, argc, &o, why, sizeof(why), u->data);
    if (rc != 0) {
        out->size = start;
        why[sizeof(why) - 1] = '\0';
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s: %s", u->name,
                         why[0] ? why : "failed");
    }
    const uint8_t *p = (const uint8_t *)out->data + start,
                  *end = (const uint8_t *)out->data + out->size;
    if (out->size == start || rc_mp_skip(&p, end) != RC_OK || p != end) {
        out->size = start;
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                         "%s: the function did not write exactly one msgpack value", u->name);
    }
    return RC_OK;
}

/* ---- plugins ---- */

static int host_add(const rowcast_udf_host_t *host, const rowcast_udf_def_t *def) {
    const char *origin = host->opaque;
    return rc_udf_register(def, origin, host->errstr, host->errstr_size) == RC_OK ? 0 : -1;
}

rc_err_t rc_udf_load(const char *path, char *errstr, size_t errstr_size) {
    rc_udf_init();
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        return rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: cannot load the UDF plugin: %m",
                         path);
    }
    for (size_t i = 0; i < n_loaded; i++) {
        if (strcmp(loaded[i], real) == 0) {
            return RC_OK;
        }
    }
    if (n_loaded == sizeof(loaded) / sizeof(loaded[0])) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                         "%s: too many UDF plugins (at most %zu)", path,
                         sizeof(loaded) / sizeof(loaded[0]));
    }
    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: cannot load the UDF plugin: %s", path,
                         e ? e : "dlopen failed");
    }
    const uint32_t *abi = dlsym(h, ROWCAST_UDF_ABI_SYMBOL);
    int (*init)(const rowcast_udf_host_t *) = NULL;
    *(void **)&init = dlsym(h, ROWCAST_UDF_INIT_SYMBOL);
    rc_err_t err = RC_OK;
    char why[512] = "";
    if (!abi) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "%s: not a rowcast UDF plugin: it does not export %s (put "
                        "ROWCAST_UDF_PLUGIN(); in its source)",
                        path, ROWCAST_UDF_ABI_SYMBOL);
    } else if (*abi != ROWCAST_UDF_ABI_VERSION) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "%s: the plugin was built for UDF ABI version %u, this rowcast speaks "
                        "version %d: rebuild it against this rowcast's rowcast/udf.h",
                        path, *abi, ROWCAST_UDF_ABI_VERSION);
    } else if (!init) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "%s: not a rowcast UDF plugin: it does not export %s()", path,
                        ROWCAST_UDF_INIT_SYMBOL);
    } else {
        rowcast_udf_host_t host = {ROWCAST_UDF_ABI_VERSION, real, why, sizeof(why), host_add};
        size_t before = rc_udf_count();
        if (init(&host) != 0) {
            why[sizeof(why) - 1] = '\0';
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s: %s() failed: %s", path,
                            ROWCAST_UDF_INIT_SYMBOL, why[0] ? why : "no reason given");
        } else if (rc_udf_count() == before) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s: %s() registered no function",
                            path, ROWCAST_UDF_INIT_SYMBOL);
        }
    }
    if (err != RC_OK) {
        if (!abi || *abi != ROWCAST_UDF_ABI_VERSION || !init) {
            dlclose(h); /* nothing of it was used */
        }
        /* else functions it registered before failing stay (a script may hold them), and so
         * does the handle */
        return err;
    }
    loaded[n_loaded] = strdup(real);
    if (loaded[n_loaded]) {
        n_loaded++;
    }
    return RC_OK;
}

rc_err_t rc_udf_load_all(char *const *paths, size_t n, const char *base_dir, char *errstr,
                         size_t errstr_size) {
    rc_udf_init();
    for (size_t i = 0; i < n; i++) {
        char *path = NULL, why[900];
        if (paths[i][0] != '/' && base_dir && base_dir[0]) {
            if (asprintf(&path, "%s/%s", base_dir, paths[i]) < 0) {
                path = NULL;
            }
        } else {
            path = strdup(paths[i]);
        }
        if (!path) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "udfs[%zu]: out of memory", i);
        }
        rc_err_t err = rc_udf_load(path, why, sizeof(why));
        free(path);
        if (err != RC_OK) {
            return rc_seterr(errstr, errstr_size, err, "udfs[%zu]: %s", i, why);
        }
    }
    return RC_OK;
}

void rc_udf_print_help(FILE *out) {
    rc_udf_init();
    fprintf(out, "# UDFs: native functions every script (lua and js) can call as globals.\n"
                 "# name(arguments) -> result: what it does   [where it comes from]\n");
    size_t n = rc_udf_count();
    for (size_t i = 0; i < n; i++) {
        const rc_udf_t *u = udfs[i];
        if (strcmp(u->origin, "built-in") == 0) {
            fprintf(out, "%s\n", u->doc[0] ? u->doc : u->name);
        } else {
            fprintf(out, "%s   [%s]\n", u->doc[0] ? u->doc : u->name, u->origin);
        }
    }
}
