/* rc_http.h: the HTTP server (h2o event loop on its own thread).
 *
 * Serves GET /healthz now; the REST API and /metrics grow here. Handlers read pipeline state
 * through rc_pipeline's locked accessors only.
 * @thread http (one event loop thread); start/stop are called from main */
#ifndef RC_HTTP_H
#define RC_HTTP_H

#include <stddef.h>

#include "rc_err.h"
#include "rc_pipeline.h"
#include "rc_pipeline_ctl.h"

typedef struct rc_http rc_http_t;

/* Binds listen ("host:port", IPv4 or [IPv6]) and starts the thread. errstr names the address.
 * ctl (and its pipelines) must outlive the server. token (NULL = none) guards mutating REST
 * calls; only its SHA-256 is kept. */
rc_http_t *rc_http_start(const char *listen, rc_pipeline_ctl_t *ctl, const char *token,
                         char *errstr, size_t errstr_size);
/* Stops the loop, joins the thread, frees everything. Accepts NULL. */
void rc_http_stop(rc_http_t *h);

#endif
