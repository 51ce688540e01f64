/* fuzz_http.c - libFuzzer target for the API's request handling (http/).
 * A request cannot be fed to libmicrohttpd from memory, so each input is
 * sent as raw bytes to a server on 127.0.0.1 (a free port, started once
 * over a store in a temporary directory holding incidents inc-1 of agency-a
 * and inc-2 of agency-b, two tokens: "tok-admin" admin of
 * every tenant, "tok-a" analyst of agency-a), and the response is read:
 * the request line, headers, query string and body go through
 * libmicrohttpd, the router, the bearer-token check and the handlers (JSON
 * bodies of ack/resolve/comment, rules test and reload, incident queries
 * with their cursors) as in `serve`. The same input is also given to the
 * parsing layers directly (route lookup of its request line, the cursor of
 * its query string, the token of its Authorization header, and the whole
 * input as a tokens file). Seeds: tests/fuzz/corpus/http/ (whole HTTP/1.x
 * requests). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../core/log.h"
#include "../../http/http_int.h"
#include "../../storage/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct store *store;
static struct http_server *srv;
static struct http_tokens *tokens;
static uint16_t port;

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
    struct http_opts o = {.listen = "127.0.0.1:0", .tokens = path, .store = store,
                          .version = "fuzz", .threads = 1, .timeout_sec = 2, .rate = -1,
                          .metrics_cache_ns = -1};
    if (http_server_create(&srv, &o, &err) != 0) {
        fprintf(stderr, "fuzz_http: server: %s\n", err.msg);
        abort();
    }
    port = http_server_port(srv);
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

/* The input as one request on a fresh connection; the response read until
 * it is whole, the server closes, or nothing came for 50 ms (libmicrohttpd
 * keeps a half-closed connection until its timeout: an incomplete request
 * gets no answer). */
static void over_socket(const uint8_t *data, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        abort();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close with a reset: no TIME_WAIT */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    /* libFuzzer's timer signal may interrupt any call here (EINTR): an
     * interrupted connect goes on in the background, the others retry */
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        int e = errno, so = 0;
        socklen_t sl = sizeof(so);
        struct pollfd wp = {.fd = fd, .events = POLLOUT};
        if (e == EINTR) {
            while (poll(&wp, 1, 2000) < 0 && errno == EINTR) {
            }
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0)
                e = 0;
            else
                e = so ? so : e;
        }
        if (e) {
            fprintf(stderr, "fuzz_http: connect: %s\n", strerror(e));
            abort();
        }
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    static char buf[1 << 20];
    size_t n = 0;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    for (;;) {
        int pr = poll(&pf, 1, 50);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0 || n >= sizeof(buf))
            break;
        ssize_t r = recv(fd, buf + n, sizeof(buf) - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (complete(buf, n))
            break;
    }
    close(fd);
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
    over_socket(data, size);
    return 0;
}
