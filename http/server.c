/* server.c - the HTTP server on libmicrohttpd: listening socket, TLS,
 * the request life cycle (route, token, rate cap, body cap, handler,
 * response), and the server's own request counters.
 *
 * Threads: libmicrohttpd's pool (opts.threads internal polling threads)
 * calls on_request/on_completed; everything here that they share is the
 * token table (swapped under tok_mu, reference-counted), the rate limiter
 * (its own mutex), the metrics cache (metrics_mu) and atomic counters.
 * create and destroy run on the owner's thread. A polled server (the fuzz
 * target's) has no thread: its owner hands it connections and runs it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "http_int.h"

#define ROUTES_MAX 64 /* counters per route */
#define TLS_FILE_MAX (1u << 20)
#define RESPONSE_MAX ((size_t)256 << 20) /* show of an incident with 10000 references */

static const double dur_bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
#define NDUR (TS_ARRAY_LEN(dur_bounds))

struct http_server {
    struct MHD_Daemon *d;
    struct http_opts o;   /* listen, tls_*, tokens, version: copies below */
    char *listen, *tokens_path, *version;
    char *cert_pem, *key_pem;
    uint16_t port;
    pthread_mutex_t tok_mu;
    struct http_tokens *tokens; /* NULL: no token file */
    struct http_ratelimit *rl;  /* NULL: no rate cap */
    /* the /metrics store-side cache (api.c) */
    pthread_mutex_t metrics_mu;
    struct ts_buf metrics_cache;
    int64_t metrics_built_ns;
    /* counters */
    _Atomic uint64_t by_route[ROUTES_MAX + 1][6]; /* [route or unmatched][1xx..5xx, other] */
    _Atomic uint64_t dur[NDUR + 1];
    _Atomic uint64_t dur_sum_us;
    _Atomic uint64_t refused_rate, refused_body, refused_auth;
    /* startup: libmicrohttpd's last message, for the error */
    bool starting;
    char start_msg[256];
};

/* Per connection and request (MHD's con_cls). */
struct conn_state {
    struct http_tokens *tokens;    /* a reference, for tok */
    const struct http_token *tok;
    struct http_match m;
    int route_idx;                 /* -1: none */
    struct ts_buf body;
    bool answered;                 /* a response was queued early */
    bool too_large;                /* the body went past the cap (no length given) */
    uint64_t discarded;            /* bytes of it dropped since */
    int64_t start_ns;
};

/* -------------------------------------------------------------- responses */

static void count(struct http_server *s, int route_idx, unsigned status)
{
    unsigned cls = status >= 100 && status < 600 ? status / 100 - 1 : 5;
    size_t r = route_idx >= 0 && route_idx < ROUTES_MAX ? (size_t)route_idx : ROUTES_MAX;
    atomic_fetch_add(&s->by_route[r][cls], 1);
}

static void free_buf(void *p)
{
    free(p);
}

/* Queue status with body (taken from b, which is left empty), and the
 * extra headers and cache policy of r when there is one. */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               const char *content_type, struct ts_buf *b,
                               const char *hname, const char *hvalue,
                               const struct http_req *r)
{
    struct MHD_Response *resp;
    if (b->len) {
        resp = MHD_create_response_from_buffer_with_free_callback(b->len, b->data, free_buf);
        if (resp)
            b->data = NULL, b->len = b->cap = 0;
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;
    if (status != MHD_HTTP_NOT_MODIFIED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            r && r->cache_control ? r->cache_control : "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (hname)
        MHD_add_response_header(resp, hname, hvalue);
    for (size_t i = 0; r && i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    enum MHD_Result res = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return res;
}

static enum MHD_Result respond_error(struct http_server *s, struct conn_state *cs,
                                     struct MHD_Connection *conn, unsigned status,
                                     const char *msg, const char *hname, const char *hvalue)
{
    struct ts_buf b;
    ts_buf_init(&b, 4096);
    ts_buf_puts(&b, "{\"error\":");
    ts_buf_json_str(&b, msg, strlen(msg));
    ts_buf_puts(&b, "}\n");
    count(s, cs->route_idx, status);
    cs->answered = true;
    enum MHD_Result r = respond(conn, status, "application/json", &b, hname, hvalue, NULL);
    ts_buf_free(&b);
    return r;
}

/* ----------------------------------------------------------- request args */

const char *http_req_arg(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_req_header(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int http_req_header_add(struct http_req *r, const char *name, const char *value)
{
    if (r->nheaders == HTTP_REQ_HEADERS_MAX)
        return TS_E_LIMIT;
    r->headers[r->nheaders].name = name;
    r->headers[r->nheaders].value = value;
    r->nheaders++;
    return 0;
}

struct args_check {
    const char *const *names;
    const char *bad;
};

static enum MHD_Result arg_known(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    TS_UNUSED(kind);
    TS_UNUSED(value);
    struct args_check *a = cls;
    for (const char *const *n = a->names; *n; n++)
        if (!strcmp(*n, key))
            return MHD_YES;
    a->bad = key;
    return MHD_NO;
}

int http_req_args_only(struct http_req *r, const char *const *names)
{
    struct args_check a = {names, NULL};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, arg_known, &a);
    if (!a.bad)
        return 0;
    http_req_error(r, 400, "unknown query parameter \"%.64s\"", a.bad);
    return TS_E_INVAL;
}

int http_req_error(struct http_req *r, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ts_buf_reset(&r->out);
    r->status = status;
    r->content_type = "application/json";
    r->cache_control = NULL; /* an error drops what a handler had set */
    r->nheaders = 0;
    int rc = ts_buf_puts(&r->out, "{\"error\":");
    rc = rc ? rc : ts_buf_json_str(&r->out, msg, strlen(msg));
    rc = rc ? rc : ts_buf_puts(&r->out, "}\n");
    return rc;
}

struct store *http_req_store(struct http_req *r)
{
    return r->srv->o.store;
}

const struct esc_env *http_req_esc(struct http_req *r)
{
    return r->srv->o.esc;
}

const struct http_hooks *http_req_hooks(struct http_req *r)
{
    return &r->srv->o.hooks;
}

const char *http_req_version(struct http_req *r)
{
    return r->srv->version ? r->srv->version : "unknown";
}

int64_t http_req_metrics_cache_ns(struct http_req *r)
{
    return r->srv->o.metrics_cache_ns;
}

pthread_mutex_t *http_req_metrics_mu(struct http_req *r)
{
    return &r->srv->metrics_mu;
}

struct ts_buf *http_req_metrics_cache(struct http_req *r, int64_t **built_ns)
{
    *built_ns = &r->srv->metrics_built_ns;
    return &r->srv->metrics_cache;
}

/* ------------------------------------------------------------- the server */

static void client_addr(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

/* The rate cap for key; false (and a 429 queued) when refused. */
static bool rate_ok(struct http_server *s, struct conn_state *cs, struct MHD_Connection *conn,
                    const char *key)
{
    unsigned retry = 1;
    if (!s->rl || http_ratelimit_take(s->rl, key, ts_mono_ns(), &retry))
        return true;
    atomic_fetch_add(&s->refused_rate, 1);
    char ra[16];
    snprintf(ra, sizeof(ra), "%u", retry);
    respond_error(s, cs, conn, 429, "too many requests: slow down", MHD_HTTP_HEADER_RETRY_AFTER,
                  ra);
    return false;
}

/* First call for a request: route, token, role, rate and size caps. Queues
 * the refusal itself (cs->answered) when one applies. */
static enum MHD_Result admit(struct http_server *s, struct conn_state *cs,
                             struct MHD_Connection *conn, const char *url, const char *method)
{
    char ip[INET6_ADDRSTRLEN + 4], key[HTTP_TOKEN_NAME_MAX + 8];
    client_addr(conn, ip, sizeof(ip));
    snprintf(key, sizeof(key), "ip:%s", ip);
    int rc = http_route_find(http_api_routes, http_api_nroutes, method, url, &cs->m);
    cs->route_idx = rc == 0 ? (int)(cs->m.route - http_api_routes) : -1;
    bool api = !strncmp(url, "/api/", 5) || !strcmp(url, "/api");
    /* everything under /api/ needs a token, even a path that does not
     * exist: no route is revealed to a caller without one */
    if (api || (rc == 0 && cs->m.route->role != HTTP_ROLE_NONE)) {
        size_t tl = 0;
        const char *tok = http_bearer(
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
            &tl);
        pthread_mutex_lock(&s->tok_mu);
        cs->tokens = s->tokens;
        if (cs->tokens)
            http_tokens_ref(cs->tokens);
        pthread_mutex_unlock(&s->tok_mu);
        cs->tok = tok ? http_tokens_find(cs->tokens, tok, tl) : NULL;
        if (!cs->tok) {
            if (!rate_ok(s, cs, conn, key))
                return MHD_YES;
            atomic_fetch_add(&s->refused_auth, 1);
            return respond_error(s, cs, conn, 401,
                                 tok ? "invalid token" : "a bearer token is required",
                                 MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"tocsin\"");
        }
        snprintf(key, sizeof(key), "t:%s", cs->tok->name);
    }
    if (!rate_ok(s, cs, conn, key))
        return MHD_YES;
    if (rc == TS_E_LIMIT)
        return respond_error(s, cs, conn, 414, "path too long", NULL, NULL);
    if (rc == TS_E_INVAL)
        return respond_error(s, cs, conn, 405, "method not allowed", MHD_HTTP_HEADER_ALLOW,
                             cs->m.allow);
    if (rc != 0)
        return respond_error(s, cs, conn, 404, "not found", NULL, NULL);
    if (cs->m.route->role != HTTP_ROLE_NONE && cs->tok->role < cs->m.route->role) {
        char msg[96];
        snprintf(msg, sizeof(msg), "this needs the %s role; the token has %s",
                 http_role_name(cs->m.route->role), http_role_name(cs->tok->role));
        return respond_error(s, cs, conn, 403, msg, NULL, NULL);
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || *end || n > s->o.body_max) {
            atomic_fetch_add(&s->refused_body, 1);
            char msg[96];
            snprintf(msg, sizeof(msg), "request body larger than %zu bytes", s->o.body_max);
            return respond_error(s, cs, conn, 413, msg, MHD_HTTP_HEADER_CONNECTION, "close");
        }
    }
    return MHD_YES;
}

/* Last call: the whole body is in; run the handler and queue its answer. */
static enum MHD_Result serve(struct http_server *s, struct conn_state *cs,
                             struct MHD_Connection *conn, const char *url, const char *method)
{
    struct http_req r;
    memset(&r, 0, sizeof(r));
    r.srv = s;
    r.conn = conn;
    r.method = method;
    r.path = url;
    r.ncaps = cs->m.ncaps;
    memcpy(r.caps, cs->m.caps, sizeof(r.caps));
    r.tok = cs->tok;
    r.body = cs->body.data ? cs->body.data : "";
    r.body_len = cs->body.len;
    r.status = 200;
    r.content_type = "application/json";
    ts_buf_init(&r.out, RESPONSE_MAX);
    int rc = ts_arena_create(&r.arena, 64u << 10, (size_t)256 << 20);
    if (!rc)
        rc = cs->m.route->fn(&r);
    if (rc) {
        ts_error("http: %s %s: %s", method, url, ts_strerror(rc));
        http_req_error(&r, rc == TS_E_LIMIT ? 507 : 500, "internal error: %s", ts_strerror(rc));
    }
    count(s, cs->route_idx, r.status);
    enum MHD_Result res = respond(conn, r.status, r.content_type, &r.out, NULL, NULL, &r);
    ts_buf_free(&r.out);
    ts_arena_destroy(r.arena);
    return res;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    TS_UNUSED(version);
    struct http_server *s = cls;
    struct conn_state *cs = *con_cls;
    if (!cs) {
        if (!(cs = calloc(1, sizeof(*cs))))
            return MHD_NO;
        cs->start_ns = ts_mono_ns();
        ts_buf_init(&cs->body, s->o.body_max);
        *con_cls = cs;
        return admit(s, cs, conn, url, method);
    }
    if (cs->answered) { /* refused early: drop whatever body follows */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* a body without Content-Length (chunked) that grows past the cap:
         * libmicrohttpd cannot answer before the upload ends, so the rest
         * is dropped and the answer is 413 - or, after 4 times the cap
         * more, the connection is closed */
        if (!cs->too_large && ts_buf_append(&cs->body, upload_data, *upload_data_size) != 0)
            cs->too_large = true;
        else if (cs->too_large && (cs->discarded += *upload_data_size) > 4 * s->o.body_max)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (cs->too_large) {
        atomic_fetch_add(&s->refused_body, 1);
        char msg[96];
        snprintf(msg, sizeof(msg), "request body larger than %zu bytes", s->o.body_max);
        return respond_error(s, cs, conn, 413, msg, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    cs->answered = true;
    return serve(s, cs, conn, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    TS_UNUSED(conn);
    TS_UNUSED(toe);
    struct http_server *s = cls;
    struct conn_state *cs = *con_cls;
    if (!cs)
        return;
    int64_t us = (ts_mono_ns() - cs->start_ns) / 1000;
    size_t i = 0;
    while (i < NDUR && (double)us / 1e6 > dur_bounds[i])
        i++;
    atomic_fetch_add(&s->dur[i], 1);
    atomic_fetch_add(&s->dur_sum_us, (uint64_t)(us > 0 ? us : 0));
    http_tokens_unref(cs->tokens);
    ts_buf_free(&cs->body);
    free(cs);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *s = cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (s->starting)
        snprintf(s->start_msg, sizeof(s->start_msg), "%s", msg);
    else
        ts_warn("http: %s", msg);
}

int http_server_metrics(struct http_server *s, struct ts_buf *b)
{
    static const char *const cls[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
    int rc = http_metric_family(b, "tocsin_http_requests_total", "counter",
                                "HTTP requests answered, by route and status class");
    for (size_t r = 0; r <= ROUTES_MAX && !rc; r++) {
        if (r < ROUTES_MAX && r >= http_api_nroutes)
            continue;
        for (size_t c = 0; c < 6 && !rc; c++) {
            uint64_t v = atomic_load(&s->by_route[r][c]);
            if (!v)
                continue;
            char route[160];
            if (r < ROUTES_MAX)
                snprintf(route, sizeof(route), "%s %s", http_api_routes[r].method,
                         http_api_routes[r].pattern);
            else
                snprintf(route, sizeof(route), "unmatched");
            struct http_label l[] = {{"route", route}, {"code", cls[c]}};
            rc = http_metric_u64(b, "tocsin_http_requests_total", l, 2, v);
        }
    }
    rc = rc ? rc : http_metric_family(b, "tocsin_http_refused_total", "counter",
                                      "HTTP requests refused by a cap or for want of a token");
    const struct {
        const char *why;
        _Atomic uint64_t *v;
    } refused[] = {{"rate", &s->refused_rate}, {"body", &s->refused_body},
                   {"auth", &s->refused_auth}};
    for (size_t i = 0; i < TS_ARRAY_LEN(refused) && !rc; i++) {
        struct http_label l = {"reason", refused[i].why};
        rc = http_metric_u64(b, "tocsin_http_refused_total", &l, 1, atomic_load(refused[i].v));
    }
    uint64_t counts[NDUR + 1];
    for (size_t i = 0; i <= NDUR; i++)
        counts[i] = atomic_load(&s->dur[i]);
    rc = rc ? rc : http_metric_family(b, "tocsin_http_request_duration_seconds", "histogram",
                                      "Time from a request's headers to its completion");
    rc = rc ? rc : http_metric_histogram(b, "tocsin_http_request_duration_seconds", NULL, 0,
                                         dur_bounds, counts, NDUR,
                                         (double)atomic_load(&s->dur_sum_us) / 1e6);
    return rc;
}

/* ---------------------------------------------------------- create/destroy */

static int read_file(const char *path, char **out, struct ts_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ts_err_set(err, TS_E_IO, path, 0, 0, "cannot open: %s", strerror(errno));
    char *buf = malloc(TLS_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, TLS_FILE_MAX + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!buf)
        return TS_E_NOMEM;
    if (bad || n > TLS_FILE_MAX) {
        free(buf);
        return ts_err_set(err, TS_E_IO, path, 0, 0, bad ? "cannot read" : "larger than 1 MiB");
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* Bind a listening socket to "HOST:PORT" / "[V6]:PORT". */
static int listen_on(const char *spec, int *fd_out, uint16_t *port, struct ts_err *err)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    const char *h = spec;
    size_t hl = colon ? (size_t)(colon - spec) : 0;
    if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']')
        h++, hl -= 2;
    if (!colon || hl == 0 || hl >= sizeof(host) || !colon[1])
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0,
                          "listen \"%s\": expected HOST:PORT (e.g. 127.0.0.1:8080)", spec);
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || p > 65535)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "listen \"%s\": bad port", spec);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int g = getaddrinfo(host, colon + 1, &hints, &ai);
    if (g != 0 || !ai)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "listen \"%s\": %s", spec,
                          gai_strerror(g));
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return ts_err_set(err, TS_E_IO, NULL, 0, 0, "listen \"%s\": %s", spec, strerror(e));
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    *port = (uint16_t)p;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    *fd_out = fd;
    return 0;
}

static char *dup_opt(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

/* polled: no listening socket and no thread (http_server_create_polled) */
static int create(struct http_server **out, const struct http_opts *o, bool polled,
                  struct ts_err *err)
{
    *out = NULL;
    if (!o || (!o->listen && !polled))
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "http: no listen address");
    if (!o->tls_cert != !o->tls_key)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0,
                          "http: tls_cert and tls_key go together (one is missing)");
    if (o->threads > 64)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "http: threads: 1..64");
    if (o->tls_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return ts_err_set(err, TS_E_UNSUPPORTED, NULL, 0, 0,
                          "http: this libmicrohttpd has no TLS support");
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return TS_E_NOMEM;
    pthread_mutex_init(&s->tok_mu, NULL);
    pthread_mutex_init(&s->metrics_mu, NULL);
    ts_buf_init(&s->metrics_cache, 64u << 20);
    s->o = *o;
    bool oom = false;
    s->listen = dup_opt(polled ? "polled" : o->listen, &oom);
    s->tokens_path = dup_opt(o->tokens, &oom);
    s->version = dup_opt(o->version, &oom);
    s->o.listen = s->listen;
    s->o.tokens = s->tokens_path;
    s->o.version = s->version;
    s->o.tls_cert = s->o.tls_key = NULL; /* read below, not kept */
    if (!s->o.threads)
        s->o.threads = 4;
    if (!s->o.max_connections)
        s->o.max_connections = 256;
    if (!s->o.timeout_sec)
        s->o.timeout_sec = 30;
    if (!s->o.body_max)
        s->o.body_max = HTTP_BODY_MAX_DEFAULT;
    if (s->o.rate == 0)
        s->o.rate = 50;
    if (s->o.burst <= 0)
        s->o.burst = s->o.rate * 2 < 1 ? 1 : s->o.rate * 2;
    if (!s->o.metrics_cache_ns)
        s->o.metrics_cache_ns = 5 * TS_NS_PER_SEC;
    int rc = oom ? TS_E_NOMEM : 0;
    if (!rc && s->tokens_path)
        rc = http_tokens_load(s->tokens_path, &s->tokens, err);
    if (!rc && s->o.rate > 0)
        rc = http_ratelimit_create(&s->rl, s->o.rate, s->o.burst);
    if (!rc && o->tls_cert) {
        rc = read_file(o->tls_cert, &s->cert_pem, err);
        rc = rc ? rc : read_file(o->tls_key, &s->key_pem, err);
    }
    int fd = -1;
    if (!rc && !polled)
        rc = listen_on(s->listen, &fd, &s->port, err);
    if (rc) {
        if (rc == TS_E_NOMEM)
            ts_err_set(err, rc, NULL, 0, 0, "http: out of memory");
        http_server_destroy(s);
        return rc;
    }
    unsigned per_ip = s->o.max_connections / 4 ? s->o.max_connections / 4 : 1;
    unsigned flags = MHD_USE_ERROR_LOG;
    flags |= polled ? MHD_USE_NO_LISTEN_SOCKET : MHD_USE_AUTO_INTERNAL_THREAD;
    if (s->cert_pem)
        flags |= MHD_USE_TLS;
    s->starting = true;
    struct MHD_OptionItem listen_opts[] = { /* none when polled */
        {polled ? MHD_OPTION_END : MHD_OPTION_LISTEN_SOCKET, fd, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, s->o.threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem tls_opts[] = {
        {s->cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_END, 0, NULL},
    };
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, listen_opts,
        MHD_OPTION_CONNECTION_LIMIT, s->o.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        per_ip, MHD_OPTION_CONNECTION_TIMEOUT, s->o.timeout_sec, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_EXTERNAL_LOGGER, on_log, s, MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_END);
    s->starting = false;
    if (!s->d) {
        if (fd >= 0)
            close(fd);
        rc = ts_err_set(err, TS_E_IO, NULL, 0, 0, "http: cannot start the server on %s%s%s",
                        s->listen, s->start_msg[0] ? ": " : "", s->start_msg);
        http_server_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

int http_server_create(struct http_server **out, const struct http_opts *o, struct ts_err *err)
{
    return create(out, o, false, err);
}

int http_server_create_polled(struct http_server **out, const struct http_opts *o,
                              struct ts_err *err)
{
    return create(out, o, true, err);
}

int http_server_add_connection(struct http_server *s, int fd)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return MHD_add_connection(s->d, fd, (const struct sockaddr *)&a, sizeof(a)) == MHD_YES
               ? 0
               : TS_E_IO;
}

int http_server_run(struct http_server *s)
{
    return MHD_run(s->d) == MHD_YES ? 0 : TS_E_IO;
}

unsigned http_server_connections(struct http_server *s)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return i ? i->num_connections : 0;
}

void http_server_destroy(struct http_server *s)
{
    if (!s)
        return;
    if (s->d)
        MHD_stop_daemon(s->d);
    http_tokens_unref(s->tokens);
    http_ratelimit_destroy(s->rl);
    pthread_mutex_destroy(&s->tok_mu);
    pthread_mutex_destroy(&s->metrics_mu);
    ts_buf_free(&s->metrics_cache);
    if (s->key_pem) /* do not leave the private key in freed memory */
        memset(s->key_pem, 0, strlen(s->key_pem));
    free(s->key_pem);
    free(s->cert_pem);
    free(s->listen);
    free(s->tokens_path);
    free(s->version);
    free(s);
}

uint16_t http_server_port(const struct http_server *s)
{
    return s ? s->port : 0;
}

int http_server_reload_tokens(struct http_server *s, struct ts_err *err)
{
    if (!s->tokens_path)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "http: no tokens file configured");
    struct http_tokens *t = NULL;
    int rc = http_tokens_load(s->tokens_path, &t, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->tok_mu);
    struct http_tokens *old = s->tokens;
    s->tokens = t;
    pthread_mutex_unlock(&s->tok_mu);
    http_tokens_unref(old);
    return 0;
}
