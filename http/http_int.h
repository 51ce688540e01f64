/* http_int.h - internals shared by the files of http/: tokens and roles,
 * the rate limiter, the router, cursors, and the request being served.
 * Not for other folders (unit tests include it). */
#ifndef TS_HTTP_INT_H
#define TS_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/ts.h"
#include "http.h"

/* ---------------------------------------------------------------- tokens */

enum http_role {
    HTTP_ROLE_NONE = 0,    /* public endpoints: no token needed */
    HTTP_ROLE_VIEWER = 1,  /* read */
    HTTP_ROLE_ANALYST = 2, /* + ack/resolve/reopen/comment, rule tests */
    HTTP_ROLE_ADMIN = 3,   /* + rules reload, escalation retry */
};
const char *http_role_name(enum http_role r); /* "viewer" ... ("none" for 0) */
int http_role_parse(const char *s, enum http_role *out); /* 0 or TS_E_INVAL */

#define HTTP_TOKENS_MAX 10000      /* tokens in one file */
#define HTTP_TOKEN_TENANTS_MAX 1024 /* tenants of one token */
#define HTTP_TOKEN_NAME_MAX 64
#define HTTP_TOKEN_LEN_MAX 4096    /* a presented token longer than this: 401 */
#define HTTP_TOKENS_FILE_MAX (4u << 20)

struct http_token {
    char *name;          /* [A-Za-z0-9._:@-], 1..HTTP_TOKEN_NAME_MAX bytes */
    uint8_t sha256[32];  /* of the token as presented after "Bearer " */
    enum http_role role;
    bool all_tenants;    /* tenants: ["*"] */
    char **tenants;      /* otherwise these (valid tenant ids) */
    size_t ntenants;
};

/* An immutable table, reference-counted: a request holds a reference for
 * its duration, a reload swaps in a new table. */
struct http_tokens {
    struct http_token *v;
    size_t n;
    atomic_uint refs;
};

/* Load a tokens file / buffer (name used in errors). The document:
 *   tokens:
 *     - {name: N, sha256: HEX64, role: viewer|analyst|admin, tenants: [T, ...] | ["*"]}
 * Every error is file:line:col (unknown keys, duplicate names or hashes,
 * a hash that is not 64 hex digits, an invalid tenant). refs = 1. */
int http_tokens_load(const char *path, struct http_tokens **out, struct ts_err *err);
int http_tokens_load_buffer(const char *name, const char *buf, size_t len,
                            struct http_tokens **out, struct ts_err *err);
void http_tokens_ref(struct http_tokens *t);
void http_tokens_unref(struct http_tokens *t); /* frees at 0; NULL accepted */
/* The token whose sha256 is that of the presented bytes, or NULL. Every
 * entry is compared (CRYPTO_memcmp, no early exit), so the time taken
 * says nothing about which hash, or how much of one, matched. */
const struct http_token *http_tokens_find(const struct http_tokens *t, const char *presented,
                                          size_t len);
/* May the token see incidents of this tenant ("" for none)? */
bool http_token_tenant_ok(const struct http_token *k, const char *tenant);
/* The presented token of an Authorization header value ("Bearer T",
 * scheme case-insensitive); NULL when absent or malformed. *len gets its
 * length. */
const char *http_bearer(const char *authorization, size_t *len);

/* ------------------------------------------------------------ rate limits */

#define HTTP_RATE_KEYS_MAX 4096 /* buckets kept; the idle or oldest are dropped */

struct http_ratelimit;
/* rate: tokens per second (> 0), burst: bucket size (>= 1). */
int http_ratelimit_create(struct http_ratelimit **out, double rate, double burst);
void http_ratelimit_destroy(struct http_ratelimit *r);
/* Take one token of key's bucket at now_ns (monotonic). true: allowed;
 * false: refused, *retry_sec (may be NULL) gets the seconds until one is
 * back (at least 1). Any thread. */
bool http_ratelimit_take(struct http_ratelimit *r, const char *key, int64_t now_ns,
                         unsigned *retry_sec);

/* ----------------------------------------------------------------- router */

#define HTTP_CAPS_MAX 4      /* {param} segments in a pattern */
#define HTTP_PATH_MAX 2048   /* longer paths: 414 */
#define HTTP_SEGMENT_MAX 256 /* a captured segment */

struct http_req;

struct http_route {
    const char *method;  /* "GET", "POST" (HEAD is served as GET) */
    const char *pattern; /* "/api/v1/incidents/{id}/ack": literal segments
                            and {name} segments (one non-empty segment) */
    enum http_role role; /* least role; HTTP_ROLE_NONE: public */
    int (*fn)(struct http_req *r);
};

struct http_match {
    const struct http_route *route;
    size_t ncaps;
    const char *caps[HTTP_CAPS_MAX]; /* into buf */
    char buf[HTTP_PATH_MAX + HTTP_CAPS_MAX];
    char allow[64];                  /* 405: the methods the path allows */
};

/* Find the route for method and path (no query string). 0: m->route set,
 * captures in m->caps; TS_E_NOTFOUND: no pattern matches the path (404);
 * TS_E_INVAL: the path matches but not with this method (405, m->allow
 * lists the methods); TS_E_LIMIT: path too long or a segment too long. */
int http_route_find(const struct http_route *routes, size_t n, const char *method,
                    const char *path, struct http_match *m);

/* ----------------------------------------------------------------- cursor */

#define HTTP_CURSOR_MAX 200 /* encoded length bound (with the NUL) */

/* A page position: the last incident of the page in listing order
 * (last_seen, id). Encoded as base64url without padding of 'c', version
 * 1, be64(last_seen), id bytes. Opaque to clients. */
int http_cursor_encode(int64_t last_seen_ns, const char *id, char *out, size_t cap);
/* 0, or TS_E_INVAL (not a cursor of this version, id empty, too long or
 * with NUL). id gets the NUL-terminated id (idcap > STORE_ID_MAX). */
int http_cursor_decode(const char *s, int64_t *last_seen_ns, char *id, size_t idcap);
/* The same for a page order (GET /api/v1/incidents?sort=): the kind says
 * which order and, for severity, the severity pass the cursor is in; a
 * cursor of one kind is refused by the decoder of another (decode_kind
 * returns it, http_cursor_decode accepts OLDEST only). */
#define HTTP_CURSOR_OLDEST 1
#define HTTP_CURSOR_NEWEST 2
#define HTTP_CURSOR_SEVERITY(sev) ((uint8_t)(3 + (sev))) /* sev 0..4 */
#define HTTP_CURSOR_KIND_MAX 7
int http_cursor_encode_kind(uint8_t kind, int64_t last_seen_ns, const char *id, char *out,
                            size_t cap);
int http_cursor_decode_kind(const char *s, uint8_t *kind, int64_t *last_seen_ns, char *id,
                            size_t idcap);

/* ---------------------------------------------------------------- request */

struct http_server;

#define HTTP_REQ_HEADERS_MAX 12 /* extra response headers of one request */

/* One request being served (one thread). */
struct http_req {
    struct http_server *srv;
    void *conn;                    /* struct MHD_Connection */
    const char *method;            /* "GET", "POST" ... ("HEAD" served as GET) */
    const char *path;
    const char *caps[HTTP_CAPS_MAX]; /* route captures ({id}) */
    size_t ncaps;
    const struct http_token *tok;  /* the caller; NULL on public routes */
    const char *body;              /* NUL-terminated; body_len bytes */
    size_t body_len;
    struct ts_arena *arena;        /* per request */
    /* the response */
    unsigned status;
    const char *content_type;      /* static string */
    const char *cache_control;     /* static string; NULL: "no-store" */
    struct {
        const char *name, *value;  /* static or in arena */
    } headers[HTTP_REQ_HEADERS_MAX]; /* extra response headers */
    size_t nheaders;
    struct ts_buf out;
};

/* Query parameter (NULL when absent). */
const char *http_req_arg(struct http_req *r, const char *name);
/* Request header (NULL when absent); borrowed for the request. */
const char *http_req_header(struct http_req *r, const char *name);
/* Add a response header (name and value must live until the response is
 * queued: static strings, or the request's arena). TS_E_LIMIT past
 * HTTP_REQ_HEADERS_MAX. */
int http_req_header_add(struct http_req *r, const char *name, const char *value);
/* 400 unless every query parameter is one of names (NULL-terminated). */
int http_req_args_only(struct http_req *r, const char *const *names);
/* A JSON error body {"error": msg} with status; returns 0. */
int http_req_error(struct http_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct store *http_req_store(struct http_req *r);
const struct esc_env *http_req_esc(struct http_req *r);
const struct http_hooks *http_req_hooks(struct http_req *r);
const char *http_req_version(struct http_req *r);
int64_t http_req_metrics_cache_ns(struct http_req *r);
/* The server-wide metrics cache (api.c builds it; server.c owns it). */
pthread_mutex_t *http_req_metrics_mu(struct http_req *r);
struct ts_buf *http_req_metrics_cache(struct http_req *r, int64_t **built_ns);
/* Request counters of the server (exposed as tocsin_http_* series). */
int http_server_metrics(struct http_server *s, struct ts_buf *b);

/* A server without a listening socket or a thread of its own, for the fuzz
 * target (tests/fuzz/fuzz_http.c): the owner hands it connected sockets
 * (one end of a socketpair; it owns and closes fd from then on, also on
 * failure) and serves them by calling http_server_run (libmicrohttpd's
 * MHD_run: what is ready is read, handled and written, without waiting) on
 * its own thread. opts.listen and opts.threads are ignored; the rest is as
 * for http_server_create, and http_server_destroy ends it. */
int http_server_create_polled(struct http_server **out, const struct http_opts *o,
                              struct ts_err *err);
int http_server_add_connection(struct http_server *s, int fd);
int http_server_run(struct http_server *s);
/* Connections the server holds (polled servers only). */
unsigned http_server_connections(struct http_server *s);

/* ---------------------------------------------------------------- console */

/* One static asset of the web console, embedded at build time by
 * scripts/embed.sh from http/console/ into $(BUILD)/gen/console_assets.c. */
struct http_asset {
    const char *name;         /* basename: "app.js" */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    const char *etag;         /* quoted: "\"<32 hex of its SHA-256>\"" */
};
extern const struct http_asset http_console_assets[];
extern const size_t http_console_nassets;

/* The asset called name, or NULL. */
const struct http_asset *http_console_find(const char *name);
/* GET / (index.html) and GET /assets/{name} (console.c): public, with the
 * console's Content-Security-Policy, nosniff, ETag and 304s. */
int http_console_index(struct http_req *r);
int http_console_asset(struct http_req *r);

/* Route table and handlers (api.c). */
extern const struct http_route http_api_routes[];
extern const size_t http_api_nroutes;

#endif
