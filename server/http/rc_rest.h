/* rc_rest.h: the REST API under /v1 and the Prometheus exposition at /metrics.
 *
 * Handlers run on the h2o thread; they read pipelines through their locked accessors and change
 * them only through rc_pipeline_ctl, which never blocks the loop. Every response is JSON except
 * /metrics (text format 0.0.4).
 * @thread http */
#ifndef RC_REST_H
#define RC_REST_H

#include <h2o.h>
#include <stdbool.h>
#include <stdint.h>

#include "rc_buf.h"
#include "rc_pipeline_ctl.h"

typedef struct rc_rest {
    rc_pipeline_ctl_t *ctl;
    /* POST/PUT of a pipeline build it (scripts compiled) on a job thread, which hands the
     * result back to the loop through this queue; the loop answers. */
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t done;
    bool has_token;
    uint8_t token_sha256[32]; /* only the digest is kept; compared in constant time */
} rc_rest_t;

/* token may be NULL (no authentication). RC_ERR_INVALID when it is empty. */
rc_err_t rc_rest_init(rc_rest_t *r, rc_pipeline_ctl_t *ctl, const char *token, char *errstr,
                      size_t errstr_size);

/* Joins the loop's message queue (after h2o_context_init) / leaves it before the loop goes;
 * no job may run any more then (rc_pipeline_ctl_busy is false). */
void rc_rest_attach(rc_rest_t *r, h2o_loop_t *loop);
void rc_rest_detach(rc_rest_t *r);

/* h2o on_req bodies; they answer (POST/PUT of a pipeline later, from the loop) and return 0. */
int rc_rest_on_v1(rc_rest_t *r, h2o_req_t *req);
int rc_rest_on_metrics(rc_rest_t *r, h2o_req_t *req);

/* Appends the Prometheus text exposition of every pipeline of ctl (rc_metrics.c). */
void rc_metrics_write(rc_buf_t *out, rc_pipeline_ctl_t *ctl);
/* Appends one pipeline's status object (also used by /v1 and ?expand=status). */
void rc_rest_write_status(rc_buf_t *out, rc_pipeline_t *p);

#endif
