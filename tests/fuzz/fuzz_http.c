/* fuzz_http.c - libFuzzer target for the API's request handling (http/).
 * Each input is one connection's raw bytes to the server as `serve` runs it
 * (libmicrohttpd, started once over a store in a temporary directory
 * holding incidents inc-1 of agency-a and inc-2 of agency-b, two tokens:
 * "tok-admin" admin of every tenant, "tok-a" analyst of agency-a): the
 * request line, headers, query string and body go through libmicrohttpd,
 * the router, the bearer-token check and the handlers (JSON bodies of
 * ack/resolve/comment, incident queries with their cursors ...), and the
 * response is read. The server is a polled one (http_int.h): the input goes
 * over a socketpair and the server runs on the fuzzer's thread, so an
 * incomplete request costs a few runs instead of a wait (thousands of
 * inputs a second, where a TCP connection to the threaded server waited
 * 50 ms for each). The same input is also given to the parsing layers
 * directly (route lookup of its request line, the cursor of its query
 * string, the token of its Authorization header, and the whole input as a
 * tokens file). Seeds: tests/fuzz/corpus/http/ (whole HTTP/1.x requests). */
#include <errno.h>
#include <linux/sockios.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/log.h"
#include "../../http/http_int.h"
#include "../../storage/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct store *store;
static struct http_server *srv;
static struct http_tokens *tokens;
static bool show;

/* the server is run until nothing moved for IDLE_RUNS runs in a row, at
 * most RUNS_MAX times per input */
#define IDLE_RUNS 3
#define RUNS_MAX 100000

static void stop(void)
{
    http_server_destroy(srv);
    store_close(store);
    http_tokens_unref(tokens);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_http: could not remove %s\n", dir);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    show = getenv("FUZZ_HTTP_SHOW") != NULL;
    ts_log_set_level(TS_LOG_ERROR); /* not a warning per reset connection */
    snprintf(dir, sizeof(dir), "/tmp/tocsin-fuzz-http.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char admin[65], analyst[65], path[128], text[512];
    http_token_sha256_hex("tok-admin", 9, admin);
    http_token_sha256_hex("tok-a", 5, analyst);
    int n = snprintf(text, sizeof(text),
                     "tokens:\n"
                     "  - {name: lead, sha256: %s, role: admin, tenants: [\"*\"]}\n"
                     "  - {name: analyst-a, sha256: %s, role: analyst, tenants: [agency-a]}\n",
                     admin, analyst);
    snprintf(path, sizeof(path), "%s/tokens.yml", dir);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(text, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0 || chmod(path, 0600))
        abort();
    struct ts_err err = {0};
    if (http_tokens_load_buffer("tokens.yml", text, (size_t)n, &tokens, &err) != 0)
        abort();
    char sdir[96];
    snprintf(sdir, sizeof(sdir), "%s/store", dir);
    struct store_opts so = {.path = sdir, .map_size = 16u << 20};
    if (store_open(&store, &so, &err) != 0) {
        fprintf(stderr, "fuzz_http: store: %s\n", err.msg);
        abort();
    }
    /* incidents for the handlers to find: inc-1 of agency-a, inc-2 of agency-b */
    for (int i = 0; i < 2; i++) {
        struct store_txn *t = NULL;
        struct store_incident in = {0};
        in.id = i ? "inc-2" : "inc-1";
        in.rule_id = "r1";
        in.rule_title = "Rule one";
        in.tenant = i ? "agency-b" : "agency-a";
        in.group_key = "src_ip=10.0.0.1";
        in.first_seen_ns = in.last_seen_ns = 1700000000LL * 1000000000LL;
        in.count = 5;
        in.severity = 3;
        if (store_txn_begin(store, 0, &t) != 0 || store_incident_put(t, &in, NULL) != 0 ||
            store_txn_commit(t, NULL) != 0)
            abort();
    }
    struct http_opts o = {.tokens = path, .store = store, .version = "fuzz", .timeout_sec = 2,
                          .rate = -1, .metrics_cache_ns = -1};
    if (http_server_create_polled(&srv, &o, &err) != 0) {
        fprintf(stderr, "fuzz_http: server: %s\n", err.msg);
        abort();
    }
    atexit(stop);
}

/* The parsing layers without a socket; s is NUL-terminated at len. */
static void layers(const char *s, size_t len)
{
    char line[HTTP_PATH_MAX + 64];
    const char *eol = memchr(s, '\n', len);
    size_t ll = eol ? (size_t)(eol - s) : len;
    if (ll >= sizeof(line))
        ll = sizeof(line) - 1;
    memcpy(line, s, ll);
    line[ll] = '\0';
    char *sp = strchr(line, ' ');
    if (sp) {
        *sp = '\0';
        char *target = sp + 1, *end = strchr(target, ' ');
        if (end)
            *end = '\0';
        char *q = strchr(target, '?');
        if (q) {
            *q++ = '\0';
            char *c = strstr(q, "cursor=");
            if (c) {
                c += 7;
                c[strcspn(c, "&")] = '\0';
                uint8_t kind;
                int64_t seen;
                char id[128];
                (void)http_cursor_decode_kind(c, &kind, &seen, id, sizeof(id));
            }
        }
        struct http_match m;
        (void)http_route_find(http_api_routes, http_api_nroutes, line, target, &m);
    }
    /* the Authorization header's token */
    for (size_t i = 0; i + 15 < len; i++) {
        if ((i == 0 || s[i - 1] == '\n') && strncasecmp(s + i, "authorization:", 14) == 0) {
            const char *v = s + i + 14;
            size_t vl = 0;
            while (i + 14 + vl < len && v[vl] != '\r' && v[vl] != '\n' && vl < 8191)
                vl++;
            char *h = strndup(v, vl);
            if (!h)
                return;
            size_t tl = 0;
            const char *tok = http_bearer(h[0] == ' ' ? h + 1 : h, &tl);
            const struct http_token *k = tok ? http_tokens_find(tokens, tok, tl) : NULL;
            if (k)
                (void)http_token_tenant_ok(k, "agency-a");
            free(h);
            break;
        }
    }
    struct http_tokens *t = NULL;
    struct ts_err err = {0};
    if (http_tokens_load_buffer("fuzz.yml", s, len, &t, &err) == 0)
        http_tokens_unref(t);
}

/* Has buf (n bytes) a whole response? Interim 1xx responses are skipped;
 * the body ends at its Content-Length, at the chunked encoding's last
 * chunk, or with the headers for 204 and 304. */
static bool complete(const char *buf, size_t n)
{
    size_t at = 0;
    for (;;) {
        const char *rest = buf + at;
        const char *end = memmem(rest, n - at, "\r\n\r\n", 4);
        if (!end)
            return false;
        size_t hl = (size_t)(end - rest) + 4;
        if (n - at < 12 || memcmp(rest, "HTTP/1.", 7) != 0)
            return true; /* not a response we can read: stop */
        int status = atoi(rest + 9);
        if (status >= 100 && status < 200) {
            at += hl;
            continue;
        }
        if (status == 204 || status == 304)
            return true;
        for (const char *h = rest; h < end; h++) {
            if (*h != '\n')
                continue;
            if (strncasecmp(h + 1, "content-length:", 15) == 0)
                return n - at >= hl + strtoul(h + 16, NULL, 10);
            if (strncasecmp(h + 1, "transfer-encoding:", 18) == 0)
                return memmem(rest + hl, n - at - hl, "0\r\n\r\n", 5) != NULL;
        }
        return false; /* until the server closes */
    }
}

/* The input as one request on a fresh connection: one end of a socketpair
 * is handed to the server, the input written to the other and its write
 * side shut, and the server run on this thread until the response is whole,
 * the server closed, or nothing moved for a few runs (an incomplete request
 * gets no answer: libmicrohttpd would wait for the rest). Then our end is
 * closed and the server run until it has let the connection go. */
static void over_socketpair(const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        perror("fuzz_http: socketpair");
        abort();
    }
    if (http_server_add_connection(srv, sv[0]) != 0) { /* it closed sv[0] */
        fprintf(stderr, "fuzz_http: the server refused a connection (%u open)\n",
                http_server_connections(srv));
        abort();
    }
    static char buf[1 << 20];
    size_t off = 0, n = 0;
    bool shut = false;
    int idle = 0, outq = -1;
    for (long iter = 0; idle < IDLE_RUNS && iter < RUNS_MAX; iter++) {
        bool moved = false;
        if (off < size) {
            ssize_t w = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
            if (w > 0)
                off += (size_t)w, moved = true;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                off = size; /* the server closed: the rest cannot go */
        }
        if (off == size && !shut) {
            shutdown(sv[1], SHUT_WR);
            shut = true;
        }
        (void)http_server_run(srv);
        ssize_t r;
        while ((r = recv(sv[1], buf + n, sizeof(buf) - n, 0)) > 0 || (r < 0 && errno == EINTR)) {
            if (r < 0)
                continue;
            n += (size_t)r;
            moved = true;
            if (n == sizeof(buf))
                n = 0; /* a response that large: not kept, read to its end */
        }
        if (r == 0 || (n && complete(buf, n)))
            break; /* closed by the server, or answered */
        int q = 0; /* the input the server has not read yet */
        if (ioctl(sv[1], SIOCOUTQ, &q) == 0 && q != outq)
            outq = q, moved = true;
        idle = moved ? 0 : idle + 1;
    }
    if (show) /* FUZZ_HTTP_SHOW=1: what came back, to check the harness */
        fprintf(stderr, "fuzz_http: %zu bytes in, %zu back after %d idle runs: %.*s\n", size, n,
                idle, (int)strcspn(buf, "\r\n") < (int)n ? (int)strcspn(buf, "\r\n") : (int)n,
                buf);
    close(sv[1]);
    for (int i = 0; i < RUNS_MAX && http_server_connections(srv); i++)
        (void)http_server_run(srv);
    if (http_server_connections(srv)) {
        fprintf(stderr, "fuzz_http: the server kept the closed connection\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv)
        setup();
    if (size > (1u << 20))
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    layers(s, size);
    free(s);
    over_socketpair(data, size);
    return 0;
}
