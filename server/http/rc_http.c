/* rc_http.c: h2o server on a dedicated thread.
 *
 * The loop runs with a short maximum wait so that a stop request (an atomic flag) is seen
 * within 100 ms; every response is JSON, errors included. */
#include "rc_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <h2o.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rc_buf.h"
#include "rc_json.h"
#include "rc_log.h"
#include "rc_rest.h"

typedef struct rc_http_handler {
    h2o_handler_t super;
    rc_http_t *http;
} rc_http_handler_t;

struct rc_http {
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    int fd;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    rc_pipeline_ctl_t *ctl;
    rc_rest_t rest;
};

static void send_json(h2o_req_t *req, int status, const char *reason, const char *body,
                      size_t len) {
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, len);
}

static int on_healthz(h2o_handler_t *self, h2o_req_t *req) {
    (void)self;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        static const char body[] = "{\"error\":\"method not allowed: use GET\"}";
        send_json(req, 405, "Method Not Allowed", body, sizeof(body) - 1);
        return 0;
    }
    static const char body[] = "{\"status\":\"ok\"}";
    send_json(req, 200, "OK", body, sizeof(body) - 1);
    return 0;
}

/* Ready when every pipeline streams from its source or was deliberately paused. 503 lists the
 * states of all. */
static int on_readyz(h2o_handler_t *self, h2o_req_t *req) {
    rc_http_t *h = ((rc_http_handler_t *)self)->http;
    rc_buf_t body = RC_BUF_INIT;
    bool ready = true;
    rc_buf_puts(&body, "{\"pipelines\":{");
    rc_pipeline_ctl_rdlock(h->ctl);
    for (size_t i = 0; i < rc_pipeline_ctl_count(h->ctl); i++) {
        rc_pipeline_t *p = rc_pipeline_ctl_get(h->ctl, i);
        rc_pipeline_state_t st = rc_pipeline_status(p, NULL, 0);
        ready = ready && (st == RC_PIPELINE_RUNNING || st == RC_PIPELINE_PAUSED);
        if (i > 0) {
            rc_buf_putc(&body, ',');
        }
        rc_json_write_string(&body, rc_pipeline_name(p), strlen(rc_pipeline_name(p)));
        rc_buf_putc(&body, ':');
        rc_json_write_string(&body, rc_pipeline_state_name(st), strlen(rc_pipeline_state_name(st)));
    }
    rc_pipeline_ctl_unlock(h->ctl);
    rc_buf_printf(&body, "},\"ready\":%s}", ready ? "true" : "false");
    char *copy = h2o_mem_alloc_pool(&req->pool, body.len ? body.len : 1);
    memcpy(copy, body.data, body.len);
    send_json(req, ready ? 200 : 503, ready ? "OK" : "Service Unavailable", copy, body.len);
    rc_buf_free(&body);
    return 0;
}

static int on_not_found(h2o_handler_t *self, h2o_req_t *req) {
    (void)self;
    /* The path is echoed inside a JSON string: anything but plain URL characters becomes '?'. */
    size_t plen = req->path_normalized.len > 200 ? 200 : req->path_normalized.len;
    char path[201];
    for (size_t i = 0; i < plen; i++) {
        char c = req->path_normalized.base[i];
        path[i] = (isalnum((unsigned char)c) || strchr("/._~-", c)) ? c : '?';
    }
    path[plen] = '\0';
    char *body = h2o_mem_alloc_pool(&req->pool, 256);
    int n = snprintf(body, 256, "{\"error\":\"no such endpoint: %s\"}", path);
    send_json(req, 404, "Not Found", body, (size_t)(n < 256 ? n : 255));
    return 0;
}

static int on_v1(h2o_handler_t *self, h2o_req_t *req) {
    return rc_rest_on_v1(&((rc_http_handler_t *)self)->http->rest, req);
}

static int on_metrics(h2o_handler_t *self, h2o_req_t *req) {
    return rc_rest_on_metrics(&((rc_http_handler_t *)self)->http->rest, req);
}

static void register_handler(rc_http_t *h, h2o_hostconf_t *host, const char *path,
                             int (*on_req)(h2o_handler_t *, h2o_req_t *)) {
    h2o_pathconf_t *pc = h2o_config_register_path(host, path, 0);
    rc_http_handler_t *hd = (rc_http_handler_t *)h2o_create_handler(pc, sizeof(*hd));
    hd->super.on_req = on_req;
    hd->http = h;
}

static void on_accept(h2o_socket_t *listener, const char *err) {
    if (err) {
        return;
    }
    rc_http_t *h = listener->data;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock) {
        h2o_accept(&h->accept_ctx, sock);
    }
}

static void *http_main(void *arg) {
    rc_http_t *h = arg;
    while (!atomic_load(&h->stop)) {
        h2o_evloop_run(h->ctx.loop, 100);
    }
    return NULL;
}

/* Parses "host:port" / "[v6]:port" and binds a listening socket. */
static int bind_listen(const char *listen_addr, char *errstr, size_t errstr_size) {
    char host[256];
    const char *port;
    if (listen_addr[0] == '[') {
        const char *close_b = strchr(listen_addr, ']');
        if (!close_b || close_b[1] != ':') {
            rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                      "http.listen '%s' is not of the form host:port", listen_addr);
            return -1;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(close_b - listen_addr - 1), listen_addr + 1);
        port = close_b + 2;
    } else {
        const char *colon = strrchr(listen_addr, ':');
        if (!colon) {
            rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                      "http.listen '%s' is not of the form host:port", listen_addr);
            return -1;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_addr), listen_addr);
        port = colon + 1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "http.listen '%s': %s", listen_addr,
                  gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        rc_seterr(errstr, errstr_size, RC_ERR_IO, "http.listen '%s': cannot listen: %s",
                  listen_addr, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

rc_http_t *rc_http_start(const char *listen_addr, rc_pipeline_ctl_t *ctl, const char *token,
                         char *errstr, size_t errstr_size) {
    rc_http_t *h = calloc(1, sizeof(*h));
    if (!h) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    h->ctl = ctl;
    if (rc_rest_init(&h->rest, ctl, token, errstr, errstr_size) != RC_OK) {
        free(h);
        return NULL;
    }
    h->fd = bind_listen(listen_addr, errstr, errstr_size);
    if (h->fd < 0) {
        free(h);
        return NULL;
    }
    h2o_config_init(&h->config);
    h->config.max_request_entity_size = 1024 * 1024; /* a pipeline is a few KiB; 413 past it */
    h2o_hostconf_t *host =
        h2o_config_register_host(&h->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    register_handler(h, host, "/healthz", on_healthz);
    register_handler(h, host, "/readyz", on_readyz);
    register_handler(h, host, "/metrics", on_metrics);
    register_handler(h, host, "/v1", on_v1);
    register_handler(h, host, "/", on_not_found);
    h2o_context_init(&h->ctx, h2o_evloop_create(), &h->config);
    rc_rest_attach(&h->rest, h->ctx.loop);
    h->accept_ctx.ctx = &h->ctx;
    h->accept_ctx.hosts = h->config.hosts;
    h->listener = h2o_evloop_socket_create(h->ctx.loop, h->fd, H2O_SOCKET_FLAG_DONT_READ);
    h->listener->data = h;
    h2o_socket_read_start(h->listener, on_accept);
    if (pthread_create(&h->thread, NULL, http_main, h) != 0) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "cannot start the http thread");
        rc_http_stop(h);
        return NULL;
    }
    h->started = true;
    rc_info("http", "listening on %s", listen_addr);
    return h;
}

void rc_http_stop(rc_http_t *h) {
    if (!h) {
        return;
    }
    atomic_store(&h->stop, true);
    if (h->started) {
        pthread_join(h->thread, NULL);
    }
    if (h->listener) {
        h2o_socket_read_stop(h->listener);
        h2o_socket_close(h->listener);
        h2o_evloop_run(h->ctx.loop, 0); /* let the close complete */
    }
    h2o_evloop_t *loop = h->ctx.loop;
    rc_rest_detach(&h->rest);
    h2o_context_dispose(&h->ctx);
    if (loop) {
        h2o_evloop_destroy(loop);
    }
    h2o_config_dispose(&h->config);
    free(h);
}
