/* http.h - Tocsin's HTTP server: the API v1 over the incident store, the
 * Prometheus metrics, health and readiness (docs/api.md).
 *
 * ---------------------------------------------------------------- model
 * One `struct http_server` is a libmicrohttpd daemon with its own threads
 * (an internal polling thread per pool member): it listens from
 * http_server_create() until http_server_destroy(). Requests are served
 * concurrently by those threads; each request reads the store in its own
 * short read transaction and changes it in its own write transaction, so
 * the server can run inside the engine or beside it (`tocsin serve`).
 *
 * Auth: bearer tokens from a YAML file (sha256 only, docs/api.md "Tokens"),
 * roles viewer < analyst < admin, each token limited to its tenants. No or
 * an unknown token: 401; a role too low: 403; an incident of a tenant the
 * token may not see: 404, exactly as if it did not exist. /healthz,
 * /readyz and /metrics need no token.
 * Caps: request body (413), a token bucket per token, or per client
 * address for requests without a valid token (429 with Retry-After).
 *
 * ---------------------------------------------------------------- hooks
 * What only the running pipeline knows comes through struct http_hooks,
 * which the runtime fills in. Hooks are called from the server's threads,
 * concurrently, and must be thread-safe; they must not block for long
 * (a request thread waits for them). A NULL hook makes its endpoint answer
 * as documented next to it.
 *
 * ---------------------------------------------------------------- metrics
 * The text writers (http_metric_*) are for any Prometheus exposition text
 * (format 0.0.4): the server's own series and what the runtime's metrics
 * hook appends. They validate names and escape label values and HELP text;
 * they keep no state (any thread, on its own buffer).
 *
 * Errors: 0 or a negative TS_E_* code (core/ts.h); create fills ts_err.
 */
#ifndef TS_HTTP_H
#define TS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/ts.h"

struct store;
struct esc_env;

#define HTTP_BODY_MAX_DEFAULT (1u << 20) /* request body cap when opts say 0 */

/* A rule test request (POST /api/v1/rules/test), parsed and checked by the
 * server. Strings are borrowed for the call (rule and events are not
 * NUL-terminated in general: use the lengths). */
struct http_rule_test {
    const char *rule;      /* Sigma YAML: one or more documents */
    size_t rule_len;
    const char *events;    /* raw events, one per line (syslog, JSON ...) */
    size_t events_len;
    const char *format;    /* input format name ("auto" when not given) */
    const char *profile;   /* mapping profile name; NULL: chosen per event */
    const char *tenant;    /* NULL: none */
    const char *by;        /* the token's name */
};

struct http_hooks {
    void *ctx; /* passed to every hook */
    /* Append the runtime's series (consumer, lag, latency, detections ...)
     * as exposition text to out, after the server's own (the http_metric_*
     * writers help). 0, or a TS_E_* code: the scrape answers 500.
     * NULL: /metrics has the store-side series only. */
    int (*metrics)(void *ctx, struct ts_buf *out);
    /* Readiness: 0 when ready, else non-zero with a one-line reason in
     * reason (cap bytes, NUL-terminated) for the 503 body.
     * NULL: ready when the store is open. */
    int (*ready)(void *ctx, char *reason, size_t cap);
    /* GET /api/v1/rules: append a JSON document (the loaded rules with
     * their hit counts) to out; 0, or a TS_E_* code (500).
     * NULL: 404 "rules are not served by this process". */
    int (*rules_list)(void *ctx, struct ts_buf *out);
    /* POST /api/v1/rules/reload (admin): reload the rules; by is the
     * token's name. Returns the HTTP status (200 reloaded, 409/422 refused
     * with the reason, ...) with a JSON object in out, or a negative
     * TS_E_* code (500). NULL: 404. */
    int (*rules_reload)(void *ctx, const char *by, struct ts_buf *out);
    /* POST /api/v1/rules/test (analyst): run the rule over the events and
     * append {"detections":[...]} (with the match explanation) to out.
     * Returns the HTTP status (200, 422 for a rule that does not load with
     * its file:line:col ...) or a negative TS_E_* code (500). NULL: 404. */
    int (*rule_test)(void *ctx, const struct http_rule_test *req, struct ts_buf *out);
    /* POST /api/v1/incidents/{id}/ack|resolve|reopen where the store is a
     * node's copy of the distributed mode's incidents topic: publish the
     * change (to: an enum store_status) and wait until this node applied
     * it (the request thread waits: at most some 25 s). Called after the
     * server checked that the token sees the incident. Returns 0 applied
     * (*revision), 1 published but not applied here in time (202),
     * TS_E_NOTFOUND (404), TS_E_INVAL (409, *now: the status it has),
     * TS_E_KAFKA (503: not changed on any node; msg says why), another
     * TS_E_* code (500, msg). NULL: the server changes its store itself. */
    int (*status_change)(void *ctx, const char *id, int to, const char *by, const char *comment,
                         int *now, uint64_t *revision, char *msg, size_t cap);
};

struct http_opts {
    const char *listen;      /* "HOST:PORT" or "[IPv6]:PORT"; HOST may be a
                                name (first address); port 0: any free port
                                (see http_server_port). Required. */
    const char *tls_cert;    /* PEM files: both or neither; with them the  */
    const char *tls_key;     /* server speaks HTTPS only (TLS 1.2+)        */
    const char *tokens;      /* the tokens file (docs/api.md); NULL: no
                                token is valid (every /api/ request 401) */
    struct store *store;     /* borrowed, must outlive the server; NULL:
                                /api/ answers 503 and /readyz 503 */
    const struct esc_env *esc; /* borrowed (regime, taxonomy ...), must
                                outlive the server; NULL: the report
                                endpoint answers 404 with the reason */
    const char *version;     /* tocsin_build_info's version; NULL "unknown" */
    unsigned threads;        /* request threads, 1..64; 0 = 4 */
    unsigned max_connections; /* 0 = 256; per client address: a quarter */
    unsigned timeout_sec;    /* idle connection timeout; 0 = 30 */
    size_t body_max;         /* request body cap; 0 = HTTP_BODY_MAX_DEFAULT */
    double rate;             /* requests per second per token (or client
                                address); 0 = 50; < 0: no rate cap */
    double burst;            /* bucket size; 0 = 2 * rate (at least 1) */
    int64_t metrics_cache_ns; /* the store-side series are recomputed at
                                most this often (a scan of the incidents);
                                0 = 5 s; < 0: on every scrape */
    struct http_hooks hooks;
};

struct http_server;

/* Load the tokens, the TLS files, bind and start serving.
 * Errors: TS_E_INVAL (options: listen, a lone cert or key, ...),
 * TS_E_CONFIG / TS_E_PARSE (tokens file: file:line:col in err), TS_E_IO
 * (a file, or the address cannot be bound: err says which),
 * TS_E_UNSUPPORTED (TLS asked but libmicrohttpd has none), TS_E_NOMEM.
 * err may be NULL. */
int http_server_create(struct http_server **out, const struct http_opts *o,
                       struct ts_err *err);
/* Stop accepting, finish the requests in hand, free. NULL accepted.
 * Not from a hook (a request thread). */
void http_server_destroy(struct http_server *s);
/* The port the server listens on (the chosen one when opts asked for 0). */
uint16_t http_server_port(const struct http_server *s);
/* Read the tokens file again and swap the table in; requests in flight
 * finish with the old one. On error (err: file:line:col) the old table
 * stays. Any thread. */
int http_server_reload_tokens(struct http_server *s, struct ts_err *err);

/* "sha256 hex" of a token as the tokens file wants it: out gets 64
 * lowercase hex digits and a NUL. */
void http_token_sha256_hex(const char *token, size_t len, char out[65]);

/* ------------------------------------------------ exposition text writers */

struct http_label {
    const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
    const char *value; /* any text: escaped (\\, \", \n); invalid UTF-8
                          becomes U+FFFD; NULL = "" */
};

/* "# HELP name help\n# TYPE name type\n" (help escaped: \\ and \n).
 * type: "counter", "gauge", "histogram", "summary" or "untyped".
 * TS_E_INVAL for a bad name or type; TS_E_LIMIT/TS_E_NOMEM from b. */
int http_metric_family(struct ts_buf *b, const char *name, const char *type,
                       const char *help);
/* One sample line: name{labels} value\n. Names are checked as above
 * ([a-zA-Z_:][a-zA-Z0-9_:]*). A double that is NaN or infinite is written
 * as NaN, +Inf, -Inf. */
int http_metric_u64(struct ts_buf *b, const char *name, const struct http_label *labels,
                    size_t nlabels, uint64_t value);
int http_metric_double(struct ts_buf *b, const char *name, const struct http_label *labels,
                       size_t nlabels, double value);
/* A histogram's samples: name_bucket{labels,le="b"} (cumulative) for each
 * of the nbounds upper bounds (ascending) and le="+Inf", then name_sum and
 * name_count. counts has nbounds + 1 entries: observations in each bucket
 * (not cumulative), the last one above the last bound. */
int http_metric_histogram(struct ts_buf *b, const char *name, const struct http_label *labels,
                          size_t nlabels, const double *bounds, const uint64_t *counts,
                          size_t nbounds, double sum);

#endif
