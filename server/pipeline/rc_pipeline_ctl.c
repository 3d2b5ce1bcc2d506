/* rc_pipeline_ctl.c: the registry of pipelines, their state-change requests and pipelines_dir.
 *
 * Pause/resume run in place (a flag and a wake-up). Everything that waits runs on a detached
 * helper thread per pipeline: first a pause, so the reader ends at a transaction boundary and a
 * later start resumes there without duplicates, then rc_pipeline_stop (join, flush), then what
 * the operation adds (start again, swap in a new config, remove the entry). Entries are
 * allocated one by one, so the list can grow while helpers hold entry pointers; an entry is
 * freed only by its own delete helper after it left the list under the write lock. */
#include "rc_pipeline_ctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rc_json.h"
#include "rc_log.h"
#include "rc_script.h"
#include "rc_transforms_body.h"

#define STATE_FILE_MAX (1024 * 1024)

typedef struct entry {
    rc_pipeline_t *p;
    rc_pipeline_config_t *own; /* config owned by the entry (REST/pipelines_dir); NULL = conf's */
    bool in_file;              /* named by the config file: DELETE is refused */
    /* guarded by ctl->lock: */
    bool busy;             /* a helper works on it */
    rc_pipeline_op_t op;   /* the helper's operation */
    rc_pipeline_t *next_p; /* REPLACE: the pipeline to swap in */
    rc_pipeline_config_t *next_own;
    bool shut;     /* a SHUTDOWN helper was started for it */
    bool finished; /* SHUTDOWN: the helper stopped it in time */
    char why[256]; /* SHUTDOWN: why it did not finish */
    char *xf_body; /* the scripts PUT .../transform set, as sent; NULL = the config's */
    size_t xf_len;
} entry_t;

struct rc_pipeline_ctl {
    const rc_config_t *conf;
    char *dir;           /* the config's directory: relative script and secret files */
    char *pipelines_dir; /* absolute or relative to cwd; NULL = REST changes are not kept */
    pthread_rwlock_t rw;
    entry_t **entries; /* guarded by rw */
    size_t n, cap;
    pthread_mutex_t lock; /* guards entry busy/op/next_*, helpers and shutting_down */
    pthread_cond_t idle;  /* signalled when helpers drops */
    size_t helpers;       /* helper threads running */
    size_t jobs;          /* REST create/replace threads running (rc_pipeline_ctl_job_begin) */
    bool shutting_down;
    double grace_s;
    struct timespec deadline; /* SHUTDOWN helpers: when the grace ends (CLOCK_MONOTONIC) */
};

const char *rc_pipeline_op_name(rc_pipeline_op_t op) {
    switch (op) {
    case RC_PIPELINE_OP_PAUSE:
        return "pause";
    case RC_PIPELINE_OP_RESUME:
        return "resume";
    case RC_PIPELINE_OP_STOP:
        return "stop";
    case RC_PIPELINE_OP_RESTART:
        return "restart";
    case RC_PIPELINE_OP_DELETE:
        return "delete";
    case RC_PIPELINE_OP_REPLACE:
        return "config change";
    case RC_PIPELINE_OP_SHUTDOWN:
        return "shutdown";
    }
    return "unknown";
}

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the list ---- */

static entry_t *entry_of(const rc_pipeline_ctl_t *c, const rc_pipeline_t *p) {
    for (size_t i = 0; i < c->n; i++) {
        if (c->entries[i]->p == p) {
            return c->entries[i];
        }
    }
    return NULL;
}

static entry_t *entry_named(const rc_pipeline_ctl_t *c, const char *name, size_t len) {
    for (size_t i = 0; i < c->n; i++) {
        const char *n = rc_pipeline_name(c->entries[i]->p);
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            return c->entries[i];
        }
    }
    return NULL;
}

/* Appends e; the caller holds the write lock (or no other thread runs yet). */
static rc_err_t list_add(rc_pipeline_ctl_t *c, entry_t *e) {
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 8;
        entry_t **n = realloc(c->entries, ncap * sizeof(*n));
        if (!n) {
            return RC_ERR_NOMEM;
        }
        c->entries = n;
        c->cap = ncap;
    }
    c->entries[c->n++] = e;
    return RC_OK;
}

static void list_remove(rc_pipeline_ctl_t *c, entry_t *e) {
    for (size_t i = 0; i < c->n; i++) {
        if (c->entries[i] == e) {
            memmove(&c->entries[i], &c->entries[i + 1], (c->n - i - 1) * sizeof(*c->entries));
            c->n--;
            return;
        }
    }
}

static void entry_free(entry_t *e) {
    if (!e) {
        return;
    }
    rc_pipeline_destroy(e->p);
    rc_config_pipeline_destroy(e->own);
    rc_pipeline_destroy(e->next_p);
    rc_config_pipeline_destroy(e->next_own);
    free(e->xf_body);
    free(e);
}

void rc_pipeline_ctl_rdlock(rc_pipeline_ctl_t *c) {
    pthread_rwlock_rdlock(&c->rw);
}

void rc_pipeline_ctl_unlock(rc_pipeline_ctl_t *c) {
    pthread_rwlock_unlock(&c->rw);
}

size_t rc_pipeline_ctl_count(const rc_pipeline_ctl_t *c) {
    return c->n;
}

rc_pipeline_t *rc_pipeline_ctl_get(const rc_pipeline_ctl_t *c, size_t i) {
    return i < c->n ? c->entries[i]->p : NULL;
}

rc_pipeline_t *rc_pipeline_ctl_find(const rc_pipeline_ctl_t *c, const char *name, size_t len) {
    entry_t *e = entry_named(c, name, len);
    return e ? e->p : NULL;
}

/* The pipeline (other than self) on the same source server with the same server_id, or NULL. */
static entry_t *server_id_user(const rc_pipeline_ctl_t *c, const rc_pipeline_config_t *pc,
                               const entry_t *self) {
    for (size_t i = 0; i < c->n; i++) {
        const rc_pipeline_config_t *o = rc_pipeline_config(c->entries[i]->p);
        if (c->entries[i] != self && o->source.server_id == pc->source.server_id &&
            rc_config_source_same(&o->source, &pc->source)) {
            return c->entries[i];
        }
    }
    return NULL;
}

/* ---- pipelines_dir ---- */

static void state_path(const rc_pipeline_ctl_t *c, const char *name, const char *prefix,
                       const char *suffix, char *out, size_t out_size) {
    snprintf(out, out_size, "%s/%s%s%s", c->pipelines_dir, prefix, name, suffix);
}

/* The file of a pipeline's config, and of the scripts PUT .../transform gave it (not *.json, so
 * load_state does not take it for a pipeline). */
#define SUFFIX_CONFIG     ".json"
#define SUFFIX_TRANSFORMS ".transforms"

/* Writes pipelines_dir/NAME.json (or NAME.transforms) (mode 0600) through a temporary file,
 * fsync and rename, so a crash leaves the old or the new file, never a half one. The body is the
 * client's JSON as sent: ${VAR} and password_file stay references, resolved again at each load. */
static rc_err_t state_write(const rc_pipeline_ctl_t *c, const char *name, const char *suffix,
                            const char *body, size_t len, char *errstr, size_t errstr_size) {
    if (!c->pipelines_dir) {
        return RC_OK;
    }
    char tmp[PATH_MAX], path[PATH_MAX], tsuffix[32];
    snprintf(tsuffix, sizeof(tsuffix), "%s.tmp", suffix);
    state_path(c, name, ".", tsuffix, tmp, sizeof(tmp));
    state_path(c, name, "", suffix, path, sizeof(path));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return rc_seterr(errstr, errstr_size, RC_ERR_IO, "pipelines_dir: cannot write %s: %s", tmp,
                         strerror(errno));
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, body + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return rc_seterr(errstr, errstr_size, RC_ERR_IO, "pipelines_dir: cannot write %s: %s",
                             tmp, strerror(e));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return rc_seterr(errstr, errstr_size, RC_ERR_IO, "pipelines_dir: cannot write %s: %s", path,
                         strerror(e));
    }
    int dfd = open(c->pipelines_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself survives a crash */
        close(dfd);
    }
    return RC_OK;
}

static rc_err_t state_remove(const rc_pipeline_ctl_t *c, const char *name, const char *suffix,
                             char *errstr, size_t errstr_size) {
    if (!c->pipelines_dir) {
        return RC_OK;
    }
    char path[PATH_MAX];
    state_path(c, name, "", suffix, path, sizeof(path));
    if (unlink(path) != 0 && errno != ENOENT) {
        return rc_seterr(errstr, errstr_size, RC_ERR_IO, "pipelines_dir: cannot remove %s: %s",
                         path, strerror(errno));
    }
    int dfd = open(c->pipelines_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return RC_OK;
}

static char *read_file(const char *path, size_t *len, char *errstr, size_t errstr_size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        goto done;
    }
    if (st.st_size > STATE_FILE_MAX) {
        rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: larger than %d bytes", path, STATE_FILE_MAX);
        goto done;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t off = 0;
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        off += (size_t)r;
    }
    buf[off] = '\0';
    *len = off;
done:
    if (fd >= 0) {
        close(fd);
    }
    return buf;
}

static int json_file(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

/* Adds (or, over a config-file pipeline of the same name, substitutes) every pipelines_dir file. */
static rc_err_t load_state(rc_pipeline_ctl_t *c, char *errstr, size_t errstr_size) {
    struct dirent **names = NULL;
    int n = scandir(c->pipelines_dir, &names, json_file, alphasort);
    if (n < 0) {
        return errno == ENOENT ? RC_OK
                               : rc_seterr(errstr, errstr_size, RC_ERR_IO,
                                           "pipelines_dir %s: cannot read it: %s", c->pipelines_dir,
                                           strerror(errno));
    }
    rc_err_t rc = RC_OK;
    for (int i = 0; i < n && rc == RC_OK; i++) {
        char path[PATH_MAX], field[256], why[1024];
        snprintf(path, sizeof(path), "%s/%s", c->pipelines_dir, names[i]->d_name);
        size_t len = 0;
        char *text = read_file(path, &len, errstr, errstr_size);
        if (!text) {
            rc = RC_ERR_IO;
            break;
        }
        rc_pipeline_config_t *pc = rc_config_pipeline_parse(path, c->dir, text, len, true, field,
                                                            sizeof(field), errstr, errstr_size);
        explicit_bzero(text, len);
        free(text);
        if (!pc) {
            rc = RC_ERR_INVALID;
            break;
        }
        size_t stem = strlen(names[i]->d_name) - 5;
        if (strlen(pc->name) != stem || memcmp(pc->name, names[i]->d_name, stem) != 0) {
            rc = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                           "%s: name: \"%s\" does not match the file name", path, pc->name);
            rc_config_pipeline_destroy(pc);
            break;
        }
        entry_t *old = entry_named(c, pc->name, strlen(pc->name));
        entry_t *taken = server_id_user(c, pc, old);
        if (taken) {
            rc = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                           "%s: source.server_id: %u is already used by pipeline %s on the same "
                           "source",
                           path, (unsigned)pc->source.server_id, rc_pipeline_name(taken->p));
            rc_config_pipeline_destroy(pc);
            break;
        }
        rc_pipeline_t *p = rc_pipeline_new(c->conf, pc, why, sizeof(why));
        if (!p) {
            rc = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s: %s", path, why);
            rc_config_pipeline_destroy(pc);
            break;
        }
        if (old) {
            rc_info("main",
                    "pipeline %s: the config file's definition is replaced by %s (changed "
                    "over REST)",
                    pc->name, path);
            rc_pipeline_destroy(old->p);
            rc_config_pipeline_destroy(old->own);
            old->p = p;
            old->own = pc;
            continue;
        }
        entry_t *e = calloc(1, sizeof(*e));
        if (!e || list_add(c, e) != RC_OK) {
            free(e);
            rc_pipeline_destroy(p);
            rc_config_pipeline_destroy(pc);
            rc = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
            break;
        }
        e->p = p;
        e->own = pc;
        rc_info("main", "pipeline %s: loaded from %s", pc->name, path);
    }
    for (int i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Compiles the scripts of body (PUT .../transform, or the NAME.transforms file named `what`) for
 * the pipeline configured by pc. RC_CTL_BAD_REQUEST for a body that is not a list of transforms,
 * RC_CTL_UNPROCESSABLE for a script that does not load. No lock is held: a script's top level
 * may run up to the time budget. */
static rc_ctl_result_t compile_body(const rc_pipeline_config_t *pc, const char *what,
                                    const char *body, size_t len, rc_transform_chain_t **out,
                                    size_t *n_out, char *field, size_t field_size, char *errstr,
                                    size_t errstr_size) {
    rc_transforms_body_t tb;
    *out = NULL;
    if (rc_transforms_body_parse(what, body, len, &tb, field, field_size, errstr, errstr_size) !=
        RC_OK) {
        rc_transforms_body_free(&tb);
        return RC_CTL_BAD_REQUEST;
    }
    rc_ctl_result_t r = RC_CTL_OK;
    *n_out = tb.n;
    if (tb.n > 0 && !(*out = rc_pipeline_transforms_new(pc, tb.specs, tb.n, errstr, errstr_size))) {
        /* "pipeline P: transforms[i]: transforms[i]:LINE: message": name the entry */
        const char *at = strstr(errstr, "transforms[");
        size_t flen = at ? strcspn(at, ":") : 0;
        snprintf(field, field_size, "%.*s%s", (int)flen, at ? at : "", at ? ".script" : "");
        r = RC_CTL_UNPROCESSABLE;
    }
    rc_transforms_body_free(&tb);
    return r;
}

/* Gives every pipeline the scripts of its pipelines_dir/NAME.transforms, if it has one. */
static rc_err_t load_transforms(rc_pipeline_ctl_t *c, char *errstr, size_t errstr_size) {
    for (size_t i = 0; i < c->n; i++) {
        rc_pipeline_t *p = c->entries[i]->p;
        char path[PATH_MAX], field[256];
        state_path(c, rc_pipeline_name(p), "", SUFFIX_TRANSFORMS, path, sizeof(path));
        if (access(path, F_OK) != 0) {
            continue;
        }
        size_t len = 0, n = 0;
        char *text = read_file(path, &len, errstr, errstr_size);
        if (!text) {
            return RC_ERR_IO;
        }
        rc_transform_chain_t *chain = NULL;
        rc_ctl_result_t r = compile_body(rc_pipeline_config(p), path, text, len, &chain, &n, field,
                                         sizeof(field), errstr, errstr_size);
        if (r == RC_CTL_OK) {
            c->entries[i]->xf_body = text;
            c->entries[i]->xf_len = len;
        } else {
            free(text);
        }
        if (r != RC_CTL_OK) {
            if (r == RC_CTL_UNPROCESSABLE) {
                char why[1024];
                snprintf(why, sizeof(why), "%s", errstr);
                rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s: %s", path, why);
            }
            return RC_ERR_INVALID;
        }
        rc_pipeline_set_transforms(p, chain);
        rc_info("main", "pipeline %s: %zu transform(s) from %s (set over REST)",
                rc_pipeline_name(p), n, path);
    }
    return RC_OK;
}

/* ---- construction ---- */

rc_pipeline_ctl_t *rc_pipeline_ctl_new(const rc_config_t *conf, bool check_only, char *errstr,
                                       size_t errstr_size) {
    rc_pipeline_ctl_t *c = calloc(1, sizeof(*c));
    char *path_copy = conf->path ? strdup(conf->path) : strdup(".");
    if (!c || !path_copy) {
        free(c);
        free(path_copy);
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->conf = conf;
    c->grace_s = conf->shutdown_grace_s;
    pthread_rwlock_init(&c->rw, NULL);
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are monotonic */
    pthread_cond_init(&c->idle, &ca);
    pthread_condattr_destroy(&ca);
    /* A config directory: conf->path is its settings file, in the directory. */
    c->dir = strdup(dirname(path_copy));
    free(path_copy);
    if (!c->dir) {
        goto nomem;
    }
    if (conf->pipelines_dir) {
        size_t need = strlen(c->dir) + strlen(conf->pipelines_dir) + 2;
        if (!(c->pipelines_dir = malloc(need))) {
            goto nomem;
        }
        if (conf->pipelines_dir[0] == '/') {
            snprintf(c->pipelines_dir, need, "%s", conf->pipelines_dir);
        } else {
            snprintf(c->pipelines_dir, need, "%s/%s", c->dir, conf->pipelines_dir);
        }
    }
    for (size_t i = 0; i < conf->n_pipelines; i++) {
        entry_t *e = calloc(1, sizeof(*e));
        if (!e || list_add(c, e) != RC_OK) {
            free(e);
            goto nomem;
        }
        e->in_file = true;
        e->p = rc_pipeline_new(conf, &conf->pipelines[i], errstr, errstr_size);
        if (!e->p) {
            char why[1024];
            snprintf(why, sizeof(why), "%s", errstr);
            rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s: %s", conf->path, why);
            goto fail;
        }
    }
    if (c->pipelines_dir) {
        if (!check_only && mkdir(c->pipelines_dir, 0700) != 0 && errno != EEXIST) {
            rc_seterr(errstr, errstr_size, RC_ERR_IO, "pipelines_dir %s: cannot create it: %s",
                      c->pipelines_dir, strerror(errno));
            goto fail;
        }
        if (load_state(c, errstr, errstr_size) != RC_OK ||
            load_transforms(c, errstr, errstr_size) != RC_OK) {
            goto fail;
        }
    }
    return c;
nomem:
    rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
fail:
    rc_pipeline_ctl_destroy(c);
    return NULL;
}

void rc_pipeline_ctl_start_all(rc_pipeline_ctl_t *c) {
    char errstr[1024];
    for (size_t i = 0; i < c->n; i++) {
        if (rc_pipeline_start(c->entries[i]->p, errstr, sizeof(errstr)) != RC_OK) {
            rc_error("main", "%s", errstr); /* the pipeline is FAILED; the others run on */
        }
    }
}

/* ---- helpers ---- */

static bool is_idle(rc_pipeline_state_t s) {
    return s == RC_PIPELINE_PAUSED || s == RC_PIPELINE_STOPPED || s == RC_PIPELINE_FAILED ||
           s == RC_PIPELINE_CREATED;
}

typedef struct helper_arg {
    rc_pipeline_ctl_t *ctl;
    entry_t *e;
} helper_arg_t;

/* Pauses p and waits, until deadline (monotonic seconds), for the reader to stop at a
 * transaction boundary; then stops it, giving Kafka what is left of the time. False when the
 * boundary was not reached in time. @thread helper */
static bool stop_at_boundary(rc_pipeline_t *p, double deadline) {
    rc_pipeline_pause(p);
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
    while (mono_now() < deadline && !is_idle(rc_pipeline_status(p, NULL, 0))) {
        nanosleep(&tick, NULL);
    }
    bool at_boundary = is_idle(rc_pipeline_status(p, NULL, 0));
    double left = deadline - mono_now();
    rc_pipeline_stop(p, left > 0 ? left : 0);
    rc_pipeline_resume(p); /* only clears the flag: no reader runs now */
    return at_boundary;
}

/* @thread helper */
static void *helper_main(void *arg) {
    helper_arg_t *h = arg;
    rc_pipeline_ctl_t *c = h->ctl;
    entry_t *e = h->e;
    free(h);
    rc_pipeline_t *p = e->p;
    char errstr[1024];
    rc_pipeline_op_t op = e->op; /* set before the thread started; stable while busy */
    const char *name = rc_pipeline_name(p);
    if (op != RC_PIPELINE_OP_SHUTDOWN) {
        rc_info("pipeline", "pipeline %s: %s requested", name, rc_pipeline_op_name(op));
    }
    double deadline = mono_now() + c->grace_s;
    if (op == RC_PIPELINE_OP_SHUTDOWN) {
        deadline = (double)c->deadline.tv_sec + (double)c->deadline.tv_nsec / 1e9;
    }
    bool at_boundary = stop_at_boundary(p, deadline);

    if (op == RC_PIPELINE_OP_SHUTDOWN) {
        rc_pipeline_stats_t st;
        rc_pipeline_get_stats(p, &st);
        uint64_t open = st.events_produced - st.events_delivered - st.events_failed;
        pthread_mutex_lock(&c->lock);
        if (!at_boundary) {
            snprintf(e->why, sizeof(e->why), "did not reach a transaction boundary");
        } else if (open > 0) {
            snprintf(e->why, sizeof(e->why), "%llu events not acknowledged by Kafka",
                     (unsigned long long)open);
        } else {
            e->finished = true;
        }
        rc_info("main",
                "pipeline %s: %llu events read, %llu delivered, %llu failed, %llu transactions",
                name, (unsigned long long)st.events_read, (unsigned long long)st.events_delivered,
                (unsigned long long)st.events_failed, (unsigned long long)st.transactions);
        goto done_locked;
    }
    if (op == RC_PIPELINE_OP_DELETE) {
        pthread_rwlock_wrlock(&c->rw);
        list_remove(c, e);
        pthread_rwlock_unlock(&c->rw);
        rc_info("pipeline", "pipeline %s: deleted", name);
        entry_free(e); /* no request can reach it any more */
        pthread_mutex_lock(&c->lock);
        goto done_locked_no_entry;
    }
    if (op == RC_PIPELINE_OP_REPLACE) {
        rc_pipeline_t *np = e->next_p;
        const rc_pipeline_config_t *oc = rc_pipeline_config(p), *nc = rc_pipeline_config(np);
        /* Same server and same start: go on from the last transaction boundary. */
        if (rc_config_source_same(&oc->source, &nc->source) &&
            strcmp(oc->source.start, nc->source.start) == 0) {
            rc_pipeline_continue_from(np, p);
        }
        rc_pipeline_config_t *old_own = e->own;
        pthread_rwlock_wrlock(&c->rw);
        e->p = np;
        e->own = e->next_own;
        pthread_rwlock_unlock(&c->rw);
        e->next_p = NULL;
        e->next_own = NULL;
        rc_pipeline_destroy(p); /* stopped; nobody holds it now */
        rc_config_pipeline_destroy(old_own);
        p = np;
    }
    if (op == RC_PIPELINE_OP_RESTART || op == RC_PIPELINE_OP_REPLACE) {
        pthread_mutex_lock(&c->lock);
        bool down = c->shutting_down;
        pthread_mutex_unlock(&c->lock);
        if (!down && rc_pipeline_start(p, errstr, sizeof(errstr)) != RC_OK) {
            rc_error("pipeline", "pipeline %s: start after %s failed: %s", rc_pipeline_name(p),
                     rc_pipeline_op_name(op), errstr);
        }
    }
    pthread_mutex_lock(&c->lock);
done_locked:
    e->busy = false;
done_locked_no_entry:
    c->helpers--;
    pthread_cond_broadcast(&c->idle);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* Starts a detached helper for op on e; c->lock held. */
static rc_err_t spawn(rc_pipeline_ctl_t *c, entry_t *e, rc_pipeline_op_t op) {
    helper_arg_t *h = malloc(sizeof(*h));
    if (!h) {
        return RC_ERR_NOMEM;
    }
    h->ctl = c;
    h->e = e;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    e->op = op;
    e->busy = true;
    pthread_t t;
    if (pthread_create(&t, &attr, helper_main, h) != 0) {
        pthread_attr_destroy(&attr);
        e->busy = false;
        free(h);
        return RC_ERR_NOMEM;
    }
    pthread_attr_destroy(&attr);
    c->helpers++;
    return RC_OK;
}

/* ---- requests ---- */

rc_err_t rc_pipeline_ctl_request(rc_pipeline_ctl_t *c, rc_pipeline_t *p, rc_pipeline_op_t op,
                                 char *errstr, size_t errstr_size) {
    entry_t *e = entry_of(c, p);
    if (!e) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "unknown pipeline");
    }
    const char *name = rc_pipeline_name(p);
    rc_err_t err = RC_OK;
    pthread_mutex_lock(&c->lock);
    rc_pipeline_state_t st = rc_pipeline_status(p, NULL, 0);
    const char *sn = rc_pipeline_state_name(st);
    if (c->shutting_down) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "the server is shutting down");
        goto out;
    }
    if (e->busy) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "pipeline %s: a %s is in progress (state %s)", name,
                        rc_pipeline_op_name(e->op), sn);
        goto out;
    }
    bool stopped = st == RC_PIPELINE_STOPPED || st == RC_PIPELINE_STOPPING ||
                   st == RC_PIPELINE_FAILED || st == RC_PIPELINE_CREATED;
    switch (op) {
    case RC_PIPELINE_OP_PAUSE:
        if (rc_pipeline_pause_requested(p)) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                            "pipeline %s is already paused (state %s)", name, sn);
        } else if (stopped) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                            "pipeline %s is %s: only restart can start it", name, sn);
        } else {
            rc_pipeline_pause(p);
        }
        goto out;
    case RC_PIPELINE_OP_RESUME:
        if (!rc_pipeline_pause_requested(p)) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                            "pipeline %s is not paused (state %s)%s", name, sn,
                            stopped ? ": only restart can start it" : "");
        } else {
            rc_pipeline_resume(p);
        }
        goto out;
    case RC_PIPELINE_OP_STOP:
        if (st == RC_PIPELINE_STOPPED || st == RC_PIPELINE_CREATED) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                            "pipeline %s is already stopped (state %s)", name, sn);
            goto out;
        }
        break;
    case RC_PIPELINE_OP_DELETE:
        if (e->in_file) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                            "pipeline %s is defined in the config file %s: remove it there and "
                            "restart (stop it meanwhile)",
                            name, c->conf->path);
            goto out;
        }
        /* Forget it first: a crash from here on must not bring it back. */
        if ((err = state_remove(c, name, SUFFIX_CONFIG, errstr, errstr_size)) != RC_OK ||
            (err = state_remove(c, name, SUFFIX_TRANSFORMS, errstr, errstr_size)) != RC_OK) {
            goto out;
        }
        break;
    case RC_PIPELINE_OP_RESTART:
        break;
    case RC_PIPELINE_OP_REPLACE:
    case RC_PIPELINE_OP_SHUTDOWN:
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s is not a request",
                        rc_pipeline_op_name(op));
        goto out;
    }
    if (spawn(c, e, op) != RC_OK) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "pipeline %s: cannot start a thread",
                        name);
    }
out:
    pthread_mutex_unlock(&c->lock);
    return err;
}

/* Parses a pipeline sent by a client and builds its rc_pipeline, compiling its scripts: no lock
 * is held, since a script's top-level code may take long. want_name: the name it must have (a
 * replacement), or NULL. */
static rc_ctl_result_t build(rc_pipeline_ctl_t *c, const char *want_name, const char *body,
                             size_t len, rc_pipeline_config_t **pc_out, rc_pipeline_t **p_out,
                             char *field, size_t field_size, char *errstr, size_t errstr_size) {
    char why[1024];
    *pc_out = NULL;
    *p_out = NULL;
    if (field_size) {
        field[0] = '\0';
    }
    rc_pipeline_config_t *pc = rc_config_pipeline_parse("request body", c->dir, body, len, true,
                                                        field, field_size, errstr, errstr_size);
    if (!pc) {
        return RC_CTL_BAD_REQUEST;
    }
    if (want_name && strcmp(pc->name, want_name) != 0) {
        snprintf(field, field_size, "name");
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                  "request body: name: \"%s\" differs from the pipeline in the path (%s); a "
                  "pipeline cannot be renamed",
                  pc->name, want_name);
        rc_config_pipeline_destroy(pc);
        return RC_CTL_BAD_REQUEST;
    }
    rc_pipeline_t *p = rc_pipeline_new(c->conf, pc, why, sizeof(why));
    if (!p) {
        /* regexes are checked by the tables; what is left is a script that does not load */
        snprintf(field, field_size, "transforms");
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "request body: %s", why);
        rc_config_pipeline_destroy(pc);
        return RC_CTL_BAD_REQUEST;
    }
    *pc_out = pc;
    *p_out = p;
    return RC_CTL_OK;
}

/* The name and server_id checks against the list; a lock on the list held. */
static rc_ctl_result_t check_free(rc_pipeline_ctl_t *c, const rc_pipeline_config_t *pc,
                                  const entry_t *self, char *field, size_t field_size, char *errstr,
                                  size_t errstr_size) {
    if (!self && entry_named(c, pc->name, strlen(pc->name))) {
        snprintf(field, field_size, "name");
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                  "request body: name: pipeline %s already exists", pc->name);
        return RC_CTL_CONFLICT;
    }
    entry_t *taken = server_id_user(c, pc, self);
    if (taken) {
        snprintf(field, field_size, "source.server_id");
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                  "request body: source.server_id: %u is already used by pipeline %s on the "
                  "same source",
                  (unsigned)pc->source.server_id, rc_pipeline_name(taken->p));
        return RC_CTL_CONFLICT;
    }
    return RC_CTL_OK;
}

rc_err_t rc_pipeline_ctl_seek(rc_pipeline_ctl_t *c, rc_pipeline_t *p, const char *start,
                              char *errstr, size_t errstr_size) {
    entry_t *e = entry_of(c, p);
    if (!e) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "unknown pipeline");
    }
    rc_err_t err = RC_OK;
    pthread_mutex_lock(&c->lock);
    rc_pipeline_state_t st = rc_pipeline_status(p, NULL, 0);
    if (c->shutting_down) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "the server is shutting down");
    } else if (e->busy) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "pipeline %s: a %s is in progress (state %s)", rc_pipeline_name(p),
                        rc_pipeline_op_name(e->op), rc_pipeline_state_name(st));
    } else if (st != RC_PIPELINE_STOPPED && st != RC_PIPELINE_FAILED && st != RC_PIPELINE_CREATED) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "pipeline %s is %s: stop it before moving its position",
                        rc_pipeline_name(p), rc_pipeline_state_name(st));
    } else {
        rc_pipeline_seek(p, start);
        rc_info("pipeline", "pipeline %s: next start at %s (set over REST)", rc_pipeline_name(p),
                start);
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

bool rc_pipeline_ctl_job_begin(rc_pipeline_ctl_t *c) {
    pthread_mutex_lock(&c->lock);
    bool ok = !c->shutting_down;
    if (ok) {
        c->jobs++;
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

void rc_pipeline_ctl_job_end(rc_pipeline_ctl_t *c) {
    pthread_mutex_lock(&c->lock);
    c->jobs--;
    pthread_cond_broadcast(&c->idle);
    pthread_mutex_unlock(&c->lock);
}

rc_ctl_result_t rc_pipeline_ctl_create(rc_pipeline_ctl_t *c, const char *body, size_t len,
                                       char *name_out, size_t name_out_size, char *field,
                                       size_t field_size, char *errstr, size_t errstr_size) {
    rc_pipeline_config_t *pc = NULL;
    rc_pipeline_t *p = NULL;
    entry_t *e = NULL;
    rc_ctl_result_t r = build(c, NULL, body, len, &pc, &p, field, field_size, errstr, errstr_size);
    if (r != RC_CTL_OK) {
        return r;
    }
    /* The write lock makes the checks and the insertion one step. */
    pthread_rwlock_wrlock(&c->rw);
    pthread_mutex_lock(&c->lock);
    if (c->shutting_down) {
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "the server is shutting down");
        r = RC_CTL_CONFLICT;
        goto fail;
    }
    if ((r = check_free(c, pc, NULL, field, field_size, errstr, errstr_size)) != RC_CTL_OK) {
        goto fail;
    }
    if (!(e = calloc(1, sizeof(*e))) || list_add(c, e) != RC_OK) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        r = RC_CTL_FAILED;
        goto fail;
    }
    if (state_write(c, pc->name, SUFFIX_CONFIG, body, len, errstr, errstr_size) != RC_OK) {
        list_remove(c, e);
        r = RC_CTL_FAILED;
        goto fail;
    }
    e->p = p;
    e->own = pc;
    /* Busy until started, so a shutdown waits for the start and then stops it; counted as a
     * helper so that it waits at all. */
    e->busy = true;
    e->op = RC_PIPELINE_OP_RESTART;
    c->helpers++;
    pthread_mutex_unlock(&c->lock);
    pthread_rwlock_unlock(&c->rw);
    snprintf(name_out, name_out_size, "%s", pc->name);
    rc_info("pipeline", "pipeline %s: created over REST%s", pc->name,
            c->pipelines_dir ? "" : " (not kept: pipelines_dir is not set)");
    if (rc_pipeline_start(p, errstr, errstr_size) != RC_OK) {
        rc_error("pipeline", "%s", errstr); /* FAILED, visible in its status */
    }
    pthread_mutex_lock(&c->lock);
    e->busy = false;
    c->helpers--;
    pthread_cond_broadcast(&c->idle);
    pthread_mutex_unlock(&c->lock);
    return RC_CTL_OK;
fail:
    pthread_mutex_unlock(&c->lock);
    pthread_rwlock_unlock(&c->rw);
    free(e);
    rc_pipeline_destroy(p);
    rc_config_pipeline_destroy(pc);
    return r;
}

rc_ctl_result_t rc_pipeline_ctl_replace(rc_pipeline_ctl_t *c, const char *name, const char *body,
                                        size_t len, char *field, size_t field_size, char *errstr,
                                        size_t errstr_size) {
    rc_pipeline_config_t *pc = NULL;
    rc_pipeline_t *np = NULL;
    rc_ctl_result_t r = build(c, name, body, len, &pc, &np, field, field_size, errstr, errstr_size);
    if (r != RC_CTL_OK) {
        return r;
    }
    pthread_rwlock_rdlock(&c->rw);
    pthread_mutex_lock(&c->lock);
    entry_t *e = entry_named(c, name, strlen(name));
    if (!e) { /* deleted while its new config was being built */
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "no such pipeline: %s", name);
        r = RC_CTL_NOT_FOUND;
        goto fail;
    }
    if (c->shutting_down || e->busy) {
        if (c->shutting_down) {
            rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "the server is shutting down");
        } else {
            rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                      "pipeline %s: a %s is in progress (state %s)", name,
                      rc_pipeline_op_name(e->op),
                      rc_pipeline_state_name(rc_pipeline_status(e->p, NULL, 0)));
        }
        r = RC_CTL_CONFLICT;
        goto fail;
    }
    /* Creates take the write lock, which this read lock holds off: the check cannot race. */
    if ((r = check_free(c, pc, e, field, field_size, errstr, errstr_size)) != RC_CTL_OK) {
        goto fail;
    }
    /* The new config's transforms replace scripts set by PUT .../transform, now and after a
     * restart. */
    if (state_write(c, pc->name, SUFFIX_CONFIG, body, len, errstr, errstr_size) != RC_OK ||
        state_remove(c, pc->name, SUFFIX_TRANSFORMS, errstr, errstr_size) != RC_OK) {
        r = RC_CTL_FAILED;
        goto fail;
    }
    free(e->xf_body);
    e->xf_body = NULL;
    e->next_p = np;
    e->next_own = pc;
    if (spawn(c, e, RC_PIPELINE_OP_REPLACE) != RC_OK) {
        e->next_p = NULL;
        e->next_own = NULL;
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "pipeline %s: cannot start a thread", name);
        r = RC_CTL_FAILED;
        goto fail;
    }
    pthread_mutex_unlock(&c->lock);
    pthread_rwlock_unlock(&c->rw);
    return RC_CTL_OK;
fail:
    pthread_mutex_unlock(&c->lock);
    pthread_rwlock_unlock(&c->rw);
    rc_pipeline_destroy(np);
    rc_config_pipeline_destroy(pc);
    return r;
}

rc_ctl_result_t rc_pipeline_ctl_set_transforms(rc_pipeline_ctl_t *c, const char *name,
                                               const char *body, size_t len, char *field,
                                               size_t field_size, char *errstr,
                                               size_t errstr_size) {
    /* What compiling needs of the pipeline's config, copied: the config may be replaced (and
     * freed) while the scripts compile without a lock. */
    rc_pipeline_config_t pc = {0};
    rc_pipeline_t *seen = NULL;
    rc_ctl_result_t r = RC_CTL_OK;
    if (field_size) {
        field[0] = '\0';
    }
    pthread_rwlock_rdlock(&c->rw);
    entry_t *e = entry_named(c, name, strlen(name));
    if (e) {
        const rc_pipeline_config_t *cur = rc_pipeline_config(e->p);
        seen = e->p;
        pc.name = strdup(cur->name);
        pc.dead_letter_topic = cur->dead_letter_topic ? strdup(cur->dead_letter_topic) : NULL;
        pc.on_error = cur->on_error;
        pc.transform_budget_ms = cur->transform_budget_ms;
        pc.transform_memory_mb = cur->transform_memory_mb;
    }
    pthread_rwlock_unlock(&c->rw);
    if (!e) {
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "no such pipeline: %s", name);
        return RC_CTL_NOT_FOUND;
    }
    rc_transform_chain_t *chain = NULL;
    char *copy = NULL;
    size_t n = 0;
    if (!pc.name || (pc.on_error == 2 && !pc.dead_letter_topic)) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        r = RC_CTL_FAILED;
        goto out;
    }
    if ((r = compile_body(&pc, "request body", body, len, &chain, &n, field, field_size, errstr,
                          errstr_size)) != RC_CTL_OK) {
        goto out;
    }
    pthread_rwlock_rdlock(&c->rw);
    pthread_mutex_lock(&c->lock);
    e = entry_named(c, name, strlen(name));
    if (!e) { /* deleted while the scripts compiled */
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "no such pipeline: %s", name);
        r = RC_CTL_NOT_FOUND;
    } else if (c->shutting_down) {
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "the server is shutting down");
        r = RC_CTL_CONFLICT;
    } else if (e->p != seen ||
               (e->busy && (e->op == RC_PIPELINE_OP_REPLACE || e->op == RC_PIPELINE_OP_DELETE ||
                            e->op == RC_PIPELINE_OP_SHUTDOWN))) {
        /* a config change would drop the scripts, a delete would forget them */
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                  "pipeline %s: a %s is in progress (state %s); send the scripts again after it",
                  name, e->p != seen ? "config change" : rc_pipeline_op_name(e->op),
                  rc_pipeline_state_name(rc_pipeline_status(e->p, NULL, 0)));
        r = RC_CTL_CONFLICT;
    } else if (!(copy = malloc(len ? len : 1))) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        r = RC_CTL_FAILED;
    } else if (state_write(c, name, SUFFIX_TRANSFORMS, body, len, errstr, errstr_size) != RC_OK) {
        r = RC_CTL_FAILED;
    } else {
        memcpy(copy, body, len);
        free(e->xf_body);
        e->xf_body = copy;
        e->xf_len = len;
        copy = NULL;
        rc_pipeline_set_transforms(e->p, chain);
        chain = NULL;
        rc_info("pipeline", "pipeline %s: %zu transform(s) replaced over REST%s", name, n,
                c->pipelines_dir ? "" : " (not kept: pipelines_dir is not set)");
    }
    pthread_mutex_unlock(&c->lock);
    pthread_rwlock_unlock(&c->rw);
out:
    free(copy);
    rc_transform_chain_destroy(chain);
    free(pc.name);
    free(pc.dead_letter_topic);
    return r;
}

static void write_match(rc_buf_t *out, const char *schema, const char *table) {
    rc_buf_puts(out, ",\"match\":{");
    if (schema) {
        rc_buf_puts(out, "\"schema\":");
        rc_json_write_string(out, schema, strlen(schema));
    }
    if (table) {
        rc_buf_puts(out, schema ? ",\"table\":" : "\"table\":");
        rc_json_write_string(out, table, strlen(table));
    }
    rc_buf_puts(out, "}}");
}

void rc_pipeline_ctl_write_transforms(rc_pipeline_ctl_t *c, rc_pipeline_t *p, rc_buf_t *out) {
    entry_t *e = entry_of(c, p);
    rc_transforms_body_t tb = {0};
    char field[64], why[256];
    /* a copy, parsed without the lock (a body may be up to 1 MiB) */
    char *kept = NULL;
    size_t kept_len = 0;
    pthread_mutex_lock(&c->lock);
    if (e && e->xf_body && (kept = malloc(e->xf_len ? e->xf_len : 1))) {
        memcpy(kept, e->xf_body, e->xf_len);
        kept_len = e->xf_len;
    }
    pthread_mutex_unlock(&c->lock);
    bool rest = kept && rc_transforms_body_parse("kept scripts", kept, kept_len, &tb, field,
                                                 sizeof(field), why, sizeof(why)) == RC_OK;
    free(kept);
    rc_buf_printf(out, "{\"source\":\"%s\",\"transforms\":[", rest ? "rest" : "config");
    if (rest) {
        for (size_t i = 0; i < tb.n; i++) {
            rc_buf_puts(out, i ? ",{\"engine\":" : "{\"engine\":");
            rc_json_write_string(out, tb.specs[i].engine, strlen(tb.specs[i].engine));
            rc_buf_puts(out, ",\"script\":");
            rc_json_write_string(out, tb.specs[i].source, tb.specs[i].source_len);
            write_match(out, tb.specs[i].match_schema, tb.specs[i].match_table);
        }
    } else {
        const rc_pipeline_config_t *pc = rc_pipeline_config(p);
        for (size_t i = 0; i < pc->n_transforms; i++) {
            const rc_transform_config_t *t = &pc->transforms[i];
            rc_buf_puts(out, i ? ",{\"engine\":" : "{\"engine\":");
            rc_json_write_string(out, t->engine, strlen(t->engine));
            rc_buf_puts(out, ",\"file\":");
            rc_json_write_string(out, t->file, strlen(t->file));
            write_match(out, t->match_schema, t->match_table);
        }
    }
    rc_buf_puts(out, "]}");
    rc_transforms_body_free(&tb);
}

/* ---- shutdown ---- */

/* Waits until no helper runs or the monotonic deadline passes; c->lock held. */
static bool wait_helpers(rc_pipeline_ctl_t *c, const struct timespec *deadline) {
    while (c->helpers > 0) {
        if (pthread_cond_timedwait(&c->idle, &c->lock, deadline) == ETIMEDOUT) {
            return c->helpers == 0;
        }
    }
    return true;
}

bool rc_pipeline_ctl_stop_all(rc_pipeline_ctl_t *c, double grace_s, char *unfinished,
                              size_t unfinished_size) {
    struct timespec now, until;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double end = (double)now.tv_sec + (double)now.tv_nsec / 1e9 + grace_s;
    pthread_mutex_lock(&c->lock);
    c->shutting_down = true;
    c->deadline.tv_sec = (time_t)end;
    c->deadline.tv_nsec = (long)((end - (double)(time_t)end) * 1e9);
    pthread_mutex_unlock(&c->lock);
    /* one more second for joins after the workers gave up at the grace */
    until = c->deadline;
    until.tv_sec += 1;
    /* Every pipeline gets a shutdown helper. One that a REST request's helper is working on
     * (a restart may have started it again just before shutting_down) gets its own once that
     * helper is done; deleted ones leave the list. Lock order everywhere: the list lock, then
     * c->lock; the list lock is let go while waiting, since a delete helper needs it. */
    bool all_done = false;
    for (;;) {
        bool spawned = false;
        pthread_rwlock_rdlock(&c->rw);
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < c->n; i++) {
            entry_t *e = c->entries[i];
            if (!e->busy && !e->shut) {
                e->shut = true;
                if (spawn(c, e, RC_PIPELINE_OP_SHUTDOWN) != RC_OK) {
                    snprintf(e->why, sizeof(e->why), "cannot start a thread to stop it");
                } else {
                    spawned = true;
                }
            }
        }
        pthread_rwlock_unlock(&c->rw);
        if (!spawned && c->helpers == 0) {
            all_done = true;
            pthread_mutex_unlock(&c->lock);
            break;
        }
        bool in_time = wait_helpers(c, &until);
        pthread_mutex_unlock(&c->lock);
        if (!in_time) {
            break;
        }
    }

    size_t o = 0;
    bool ok = all_done;
    if (unfinished_size) {
        unfinished[0] = '\0';
    }
    pthread_rwlock_rdlock(&c->rw);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n; i++) {
        entry_t *e = c->entries[i];
        const char *why = e->busy       ? "still stopping"
                          : e->finished ? NULL
                          : e->why[0]   ? e->why
                                        : "not stopped";
        if (why) {
            ok = false;
            int w = snprintf(unfinished + o, o < unfinished_size ? unfinished_size - o : 0,
                             "%s%s (%s)", o ? ", " : "", rc_pipeline_name(e->p), why);
            o += w > 0 ? (size_t)w : 0;
        }
    }
    pthread_mutex_unlock(&c->lock);
    pthread_rwlock_unlock(&c->rw);
    return ok;
}

bool rc_pipeline_ctl_busy(rc_pipeline_ctl_t *c) {
    pthread_mutex_lock(&c->lock);
    bool busy = c->helpers > 0 || c->jobs > 0;
    pthread_mutex_unlock(&c->lock);
    return busy;
}

void rc_pipeline_ctl_destroy(rc_pipeline_ctl_t *c) {
    if (!c) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->shutting_down = true;
    while (c->helpers > 0 || c->jobs > 0) {
        pthread_cond_wait(&c->idle, &c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < c->n; i++) {
        entry_free(c->entries[i]);
    }
    free(c->entries);
    free(c->dir);
    free(c->pipelines_dir);
    pthread_cond_destroy(&c->idle);
    pthread_mutex_destroy(&c->lock);
    pthread_rwlock_destroy(&c->rw);
    free(c);
}
