/* rc_pipeline_ctl.h: the set of pipelines of one process and the control operations on them.
 *
 * REST calls arrive on the h2o thread, which must never wait for seconds. Pause and resume
 * only set a flag and wake the reader, so they run in place. Stop and restart have to join
 * threads and flush Kafka (up to the shutdown grace), so each runs on a short-lived helper
 * thread, one at a time per pipeline; a second stop/restart while one runs is a conflict. The
 * caller sees the change through the pipeline's state (STOPPING, STOPPED, RUNNING ...).
 * @thread request functions: http; shutdown/destroy: main */
#ifndef RC_PIPELINE_CTL_H
#define RC_PIPELINE_CTL_H

#include <stddef.h>

#include "rc_err.h"
#include "rc_pipeline.h"

typedef struct rc_pipeline_ctl rc_pipeline_ctl_t;

typedef enum rc_pipeline_op {
    RC_PIPELINE_OP_PAUSE,
    RC_PIPELINE_OP_RESUME,
    RC_PIPELINE_OP_STOP,
    RC_PIPELINE_OP_RESTART,
} rc_pipeline_op_t;

/* pipelines (not owned) must outlive the controller. grace_s bounds how long a stop waits for
 * the reader to reach a transaction boundary and then for Kafka to acknowledge. */
rc_pipeline_ctl_t *rc_pipeline_ctl_new(rc_pipeline_t **pipelines, size_t n, double grace_s);
size_t rc_pipeline_ctl_count(const rc_pipeline_ctl_t *c);
rc_pipeline_t *rc_pipeline_ctl_get(const rc_pipeline_ctl_t *c, size_t i);
/* The pipeline called name[0..len), or NULL. */
rc_pipeline_t *rc_pipeline_ctl_find(const rc_pipeline_ctl_t *c, const char *name, size_t len);

/* Starts op on p without blocking. RC_OK when accepted; RC_ERR_INVALID when it conflicts with
 * the pipeline's state (errstr says why, naming the pipeline and its state); RC_ERR_NOMEM. */
rc_err_t rc_pipeline_ctl_request(rc_pipeline_ctl_t *c, rc_pipeline_t *p, rc_pipeline_op_t op,
                                 char *errstr, size_t errstr_size);
const char *rc_pipeline_op_name(rc_pipeline_op_t op);

/* Refuses new requests and waits for running helpers. Call before stopping the pipelines. */
void rc_pipeline_ctl_shutdown(rc_pipeline_ctl_t *c);
/* Shuts down (if not done) and frees the controller, not the pipelines. Accepts NULL. */
void rc_pipeline_ctl_destroy(rc_pipeline_ctl_t *c);

#endif
