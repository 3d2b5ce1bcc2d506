/* rc_pipeline_ctl.h: the set of pipelines of one process and the control operations on them.
 *
 * The controller owns every pipeline: those of the config file and those created or changed over
 * REST, which it keeps in the config's pipelines_dir (one NAME.json each) so a restart brings them
 * back. REST calls arrive on the h2o thread, which must never wait for seconds. Pause and resume
 * only set a flag and wake the reader, so they run in place. Stop, restart, delete and a config
 * replacement join threads and flush Kafka (up to the shutdown grace), so each runs on a helper
 * thread, one at a time per pipeline; a second one while one runs is a conflict. The caller sees
 * the change through the pipeline's state (STOPPING, STOPPED, RUNNING ...) and, for a delete,
 * through the pipeline disappearing.
 *
 * Locking: a read-write lock guards the list of pipelines and which rc_pipeline_t each entry
 * holds. The http thread holds it for reading while it serves a request (rc_pipeline_ctl_rdlock);
 * helpers take it for writing only to swap or remove an entry (microseconds). A mutex guards the
 * helper bookkeeping; nothing waits while holding either.
 * @thread request functions: http; new/start_all/stop_all/destroy: main */
#ifndef RC_PIPELINE_CTL_H
#define RC_PIPELINE_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "rc_config.h"
#include "rc_err.h"
#include "rc_pipeline.h"

typedef struct rc_pipeline_ctl rc_pipeline_ctl_t;

typedef enum rc_pipeline_op {
    RC_PIPELINE_OP_PAUSE,
    RC_PIPELINE_OP_RESUME,
    RC_PIPELINE_OP_STOP,
    RC_PIPELINE_OP_RESTART,
    RC_PIPELINE_OP_DELETE,
    RC_PIPELINE_OP_REPLACE,  /* PUT .../config: stop, swap in the new config, start */
    RC_PIPELINE_OP_SHUTDOWN, /* SIGTERM: stop at a transaction boundary and flush */
} rc_pipeline_op_t;

/* What a create/replace/delete request came to; rc_rest maps it to an HTTP status. */
typedef enum rc_ctl_result {
    RC_CTL_OK = 0,        /* accepted */
    RC_CTL_BAD_REQUEST,   /* the body is not a valid pipeline (field names the key) */
    RC_CTL_NOT_FOUND,     /* no such pipeline */
    RC_CTL_CONFLICT,      /* the name or server_id is taken, or the state forbids it */
    RC_CTL_FAILED,        /* the server could not do it (pipelines_dir not writable, no memory) */
    RC_CTL_UNPROCESSABLE, /* a script does not load (errstr names it and the line) */
} rc_ctl_result_t;

/* Builds a pipeline for each of conf's pipelines and for each pipelines_dir/NAME.json (which
 * replaces a config-file pipeline of the same name); nothing starts. check_only reads pipelines_dir
 * without creating it. conf must outlive the controller. On error returns NULL with a sentence
 * naming the file and key in errstr. */
rc_pipeline_ctl_t *rc_pipeline_ctl_new(const rc_config_t *conf, bool check_only, char *errstr,
                                       size_t errstr_size);
/* Starts every pipeline; one that cannot start is FAILED and the others run on. */
void rc_pipeline_ctl_start_all(rc_pipeline_ctl_t *c);

/* The read side of the list lock, held by the http thread around a request that reads or
 * changes a pipeline (not around rc_pipeline_ctl_create, which takes the write side). */
void rc_pipeline_ctl_rdlock(rc_pipeline_ctl_t *c);
void rc_pipeline_ctl_unlock(rc_pipeline_ctl_t *c);
/* With the read lock held: */
size_t rc_pipeline_ctl_count(const rc_pipeline_ctl_t *c);
rc_pipeline_t *rc_pipeline_ctl_get(const rc_pipeline_ctl_t *c, size_t i);
/* The pipeline called name[0..len), or NULL. */
rc_pipeline_t *rc_pipeline_ctl_find(const rc_pipeline_ctl_t *c, const char *name, size_t len);

/* Starts op (pause, resume, stop, restart, delete) on p without blocking; read lock held. RC_OK
 * when accepted; RC_ERR_INVALID when it conflicts with the pipeline's state (errstr says why,
 * naming the pipeline and its state); RC_ERR_IO when pipelines_dir cannot be updated; RC_ERR_NOMEM. */
rc_err_t rc_pipeline_ctl_request(rc_pipeline_ctl_t *c, rc_pipeline_t *p, rc_pipeline_op_t op,
                                 char *errstr, size_t errstr_size);
const char *rc_pipeline_op_name(rc_pipeline_op_t op);

/* POST /v1/pipelines: body is one pipeline object as JSON. Validates it through the config
 * tables (field gets the key path at fault) and builds it, compiling its scripts, without any
 * lock; then checks that the name is free and that no pipeline on the same source uses its
 * server_id, keeps it in pipelines_dir and starts it. Because a script's top-level code may run
 * long, the http thread calls this from a job thread (rc_pipeline_ctl_job_begin/end), never
 * itself; no lock may be held. On RC_CTL_OK name_out gets the new pipeline's name. */
rc_ctl_result_t rc_pipeline_ctl_create(rc_pipeline_ctl_t *c, const char *body, size_t len,
                                       char *name_out, size_t name_out_size, char *field,
                                       size_t field_size, char *errstr, size_t errstr_size);

/* PUT /v1/pipelines/{name}/config: builds body like create (its name must be name), keeps it
 * and has a helper stop the pipeline at a transaction boundary, swap in the new config and start
 * again from that boundary (from the new start when the source server or start changed). From
 * a job thread like create; no lock may be held. */
rc_ctl_result_t rc_pipeline_ctl_replace(rc_pipeline_ctl_t *c, const char *name, const char *body,
                                        size_t len, char *field, size_t field_size, char *errstr,
                                        size_t errstr_size);

/* PUT /v1/pipelines/{name}/transform: body is {"transforms": [...]} (rc_transforms_body.h). The
 * scripts compile under the pipeline's budget and memory cap without any lock; when they load,
 * they are kept in pipelines_dir/NAME.transforms (which a restart applies over the pipeline's
 * configured transforms, and a later PUT .../config or DELETE removes) and handed to the
 * pipeline, which swaps them in at its next batch boundary without stopping. RC_CTL_BAD_REQUEST
 * for a malformed body (field names the key), RC_CTL_UNPROCESSABLE for a script that does not
 * load (the running scripts stay), RC_CTL_CONFLICT while a stop/restart/config change/delete is
 * in progress. From a job thread like create; no lock may be held. */
rc_ctl_result_t rc_pipeline_ctl_set_transforms(rc_pipeline_ctl_t *c, const char *name,
                                               const char *body, size_t len, char *field,
                                               size_t field_size, char *errstr, size_t errstr_size);

/* GET .../transform (read lock held): appends {"source": "rest", "transforms": [{engine, script,
 * match}]} for scripts set by PUT .../transform, else {"source": "config", "transforms":
 * [{engine, file, match}]}: what the pipeline runs (or will, from its next batch). */
struct rc_buf;
void rc_pipeline_ctl_write_transforms(rc_pipeline_ctl_t *c, rc_pipeline_t *p, struct rc_buf *out);

/* PATCH .../position: p (read lock held) must be stopped (STOPPED, FAILED or never started) and
 * no change in progress; its next start begins at `start` (any form of source.start).
 * RC_ERR_INVALID (a conflict, errstr says why) otherwise. The seek wins over the position stored
 * in Kafka for that start. */
rc_err_t rc_pipeline_ctl_seek(rc_pipeline_ctl_t *c, rc_pipeline_t *p, const char *start,
                              char *errstr, size_t errstr_size);

/* A job thread of the REST layer is about to run (false: the server is shutting down, refuse
 * the request) / has ended. While one runs the controller is busy (rc_pipeline_ctl_busy). */
bool rc_pipeline_ctl_job_begin(rc_pipeline_ctl_t *c);
void rc_pipeline_ctl_job_end(rc_pipeline_ctl_t *c);

/* SIGTERM: refuses new requests, then stops every pipeline in parallel: each reader ends at a
 * transaction boundary, the worker flushes Kafka. Waits at most grace_s (plus one second for
 * threads to be joined). Returns true when every pipeline finished; otherwise false with the
 * names of those that did not and why in unfinished. After false with helpers still running,
 * the controller must not be destroyed (the process should _exit). */
bool rc_pipeline_ctl_stop_all(rc_pipeline_ctl_t *c, double grace_s, char *unfinished,
                              size_t unfinished_size);
/* True while helper or job threads still run (after a stop_all that timed out, or a request
 * whose script is still loading). */
bool rc_pipeline_ctl_busy(rc_pipeline_ctl_t *c);
/* Waits for helpers, stops and frees every pipeline and the controller. Accepts NULL. */
void rc_pipeline_ctl_destroy(rc_pipeline_ctl_t *c);

#endif
