/* rc_pipeline_ctl.c: state-change requests (pause, resume, stop, restart) on pipelines.
 *
 * Pause/resume run in place (a flag and a wake-up). Stop and restart run on a helper thread per
 * pipeline: first a pause, so the reader ends at a transaction boundary and a later start
 * resumes there without duplicates, then rc_pipeline_stop (join, flush), then for a restart
 * rc_pipeline_start. One mutex guards the helper bookkeeping; it is never held while waiting. */
#include "rc_pipeline_ctl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_log.h"

typedef struct helper {
    rc_pipeline_ctl_t *ctl;
    rc_pipeline_t *p;
    rc_pipeline_op_t op;
    pthread_t thread;
    bool joinable;    /* a thread was started and not joined yet */
    atomic_bool busy; /* the thread is still working */
} helper_t;

struct rc_pipeline_ctl {
    rc_pipeline_t **pipelines;
    size_t n;
    double grace_s;
    pthread_mutex_t lock; /* guards helpers[].joinable/op/thread and shutting_down */
    bool shutting_down;
    helper_t *helpers;
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
    }
    return "unknown";
}

rc_pipeline_ctl_t *rc_pipeline_ctl_new(rc_pipeline_t **pipelines, size_t n, double grace_s) {
    rc_pipeline_ctl_t *c = calloc(1, sizeof(*c));
    if (!c) {
        return NULL;
    }
    c->helpers = calloc(n ? n : 1, sizeof(*c->helpers));
    if (!c->helpers) {
        free(c);
        return NULL;
    }
    c->pipelines = pipelines;
    c->n = n;
    c->grace_s = grace_s;
    pthread_mutex_init(&c->lock, NULL);
    for (size_t i = 0; i < n; i++) {
        c->helpers[i].ctl = c;
        c->helpers[i].p = pipelines[i];
    }
    return c;
}

size_t rc_pipeline_ctl_count(const rc_pipeline_ctl_t *c) {
    return c->n;
}

rc_pipeline_t *rc_pipeline_ctl_get(const rc_pipeline_ctl_t *c, size_t i) {
    return i < c->n ? c->pipelines[i] : NULL;
}

static size_t index_of(const rc_pipeline_ctl_t *c, const rc_pipeline_t *p) {
    for (size_t i = 0; i < c->n; i++) {
        if (c->pipelines[i] == p) {
            return i;
        }
    }
    return c->n;
}

rc_pipeline_t *rc_pipeline_ctl_find(const rc_pipeline_ctl_t *c, const char *name, size_t len) {
    for (size_t i = 0; i < c->n; i++) {
        const char *n = rc_pipeline_name(c->pipelines[i]);
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            return c->pipelines[i];
        }
    }
    return NULL;
}

static bool is_idle(rc_pipeline_state_t s) {
    return s == RC_PIPELINE_PAUSED || s == RC_PIPELINE_STOPPED || s == RC_PIPELINE_FAILED ||
           s == RC_PIPELINE_CREATED;
}

/* @thread helper */
static void *helper_main(void *arg) {
    helper_t *h = arg;
    rc_pipeline_t *p = h->p;
    double grace = h->ctl->grace_s;
    rc_info("pipeline", "pipeline %s: %s requested", rc_pipeline_name(p),
            rc_pipeline_op_name(h->op));
    /* Let the reader finish its transaction and disconnect, within the grace period. */
    rc_pipeline_pause(p);
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
    for (double waited = 0; waited < grace && !is_idle(rc_pipeline_status(p, NULL, 0));
         waited += 0.05) {
        nanosleep(&tick, NULL);
    }
    rc_pipeline_stop(p, grace);
    rc_pipeline_resume(p); /* only clears the flag: no reader runs now */
    if (h->op == RC_PIPELINE_OP_RESTART) {
        char errstr[1024];
        if (rc_pipeline_start(p, errstr, sizeof(errstr)) != RC_OK) {
            rc_error("pipeline", "pipeline %s: restart failed: %s", rc_pipeline_name(p), errstr);
        }
    }
    atomic_store(&h->busy, false);
    return NULL;
}

rc_err_t rc_pipeline_ctl_request(rc_pipeline_ctl_t *c, rc_pipeline_t *p, rc_pipeline_op_t op,
                                 char *errstr, size_t errstr_size) {
    size_t i = index_of(c, p);
    if (i == c->n) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "unknown pipeline");
    }
    helper_t *h = &c->helpers[i];
    const char *name = rc_pipeline_name(p);
    rc_err_t err = RC_OK;
    pthread_mutex_lock(&c->lock);
    rc_pipeline_state_t st = rc_pipeline_status(p, NULL, 0);
    const char *sn = rc_pipeline_state_name(st);
    if (c->shutting_down) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "the server is shutting down");
        goto out;
    }
    if (atomic_load(&h->busy)) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "pipeline %s: a %s is in progress (state %s)", name,
                        rc_pipeline_op_name(h->op), sn);
        goto out;
    }
    if (h->joinable) { /* the last helper is done: reap it */
        pthread_join(h->thread, NULL);
        h->joinable = false;
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
    case RC_PIPELINE_OP_RESTART:
        break;
    }
    h->op = op;
    atomic_store(&h->busy, true);
    if (pthread_create(&h->thread, NULL, helper_main, h) != 0) {
        atomic_store(&h->busy, false);
        err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "pipeline %s: cannot start a thread",
                        name);
        goto out;
    }
    h->joinable = true;
out:
    pthread_mutex_unlock(&c->lock);
    return err;
}

void rc_pipeline_ctl_shutdown(rc_pipeline_ctl_t *c) {
    if (!c) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->shutting_down = true;
    pthread_mutex_unlock(&c->lock);
    /* No new helper can start now; joining outside the lock lets requests answer 409. */
    for (size_t i = 0; i < c->n; i++) {
        if (c->helpers[i].joinable) {
            pthread_join(c->helpers[i].thread, NULL);
            c->helpers[i].joinable = false;
        }
    }
}

void rc_pipeline_ctl_destroy(rc_pipeline_ctl_t *c) {
    if (!c) {
        return;
    }
    rc_pipeline_ctl_shutdown(c);
    pthread_mutex_destroy(&c->lock);
    free(c->helpers);
    free(c);
}
