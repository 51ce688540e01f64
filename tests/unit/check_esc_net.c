/* check_esc_net.c - escalation delivery against small servers the test runs
 * on 127.0.0.1 (a thread each): an SMTP server that offers no STARTTLS and
 * an HTTP server whose paths answer 200, answer 401 echoing the request
 * line, or accept a request and never answer. What they receive is
 * recorded, so the tests see what left Tocsin: no password or report over
 * plaintext SMTP, no secret of a URL in an error text or log line, and
 * (with the dispatcher's threads and a real LMDB outbox) no entry delivered
 * twice nor held up by a hanging endpoint (issue 17). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_store_util.h"
#include "../../core/tstime.h"
#include "../../escalate/escalate.h"

/* -------------------------------------------------------------- servers */

#define CONN_MAX 32
#define REQ_MAX 256
#define LOG_MAX (1u << 20)

struct req {
    char path[128];
    char id[STORE_ID_MAX + 1]; /* webhook-id */
    int64_t at_ns;             /* ts_mono_ns when it was complete */
};

struct conn {
    int fd;
    bool hang;
    size_t n;
    char buf[1u << 16];
};

struct srv {
    int lfd, port;
    bool smtp;
    pthread_t th;
    atomic_bool stop;
    pthread_mutex_t mu;
    char *log; /* smtp: every byte received */
    size_t nlog;
    struct req req[REQ_MAX]; /* http: every complete request */
    size_t nreq;
    struct conn *c[CONN_MAX];
};

static void srv_log(struct srv *s, const char *p, size_t n)
{
    pthread_mutex_lock(&s->mu);
    if (n > LOG_MAX - 1 - s->nlog)
        n = LOG_MAX - 1 - s->nlog;
    memcpy(s->log + s->nlog, p, n);
    s->nlog += n;
    s->log[s->nlog] = '\0';
    pthread_mutex_unlock(&s->mu);
}

static void say(int fd, const char *s)
{
    size_t n = strlen(s);
    ssize_t w = write(fd, s, n);
    (void)w;
}

/* One line (CRLF dropped) of an SMTP session; false at EOF or timeout. */
static bool smtp_line(struct srv *s, int fd, char *line, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r <= 0)
            return false;
        srv_log(s, &ch, 1);
        if (ch == '\n') {
            if (n && line[n - 1] == '\r')
                n--;
            line[n] = '\0';
            return true;
        }
        if (n + 1 < cap)
            line[n++] = ch;
    }
}

/* A willing server without STARTTLS: AUTH PLAIN, MAIL, RCPT, DATA. */
static void smtp_session(struct srv *s, int fd)
{
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    say(fd, "220 test.invalid ESMTP\r\n");
    char line[4096];
    bool data = false, creds = false;
    while (smtp_line(s, fd, line, sizeof(line))) {
        if (data) {
            if (!strcmp(line, ".")) {
                data = false;
                say(fd, "250 2.0.0 queued\r\n");
            }
        } else if (creds || !strncasecmp(line, "AUTH PLAIN ", 11)) {
            creds = false; /* the credentials, after "334" or inline */
            say(fd, "235 2.7.0 authenticated\r\n");
        } else if (!strncasecmp(line, "EHLO", 4)) {
            say(fd, "250-test.invalid\r\n250-AUTH PLAIN\r\n250 SIZE 10000000\r\n");
        } else if (!strncasecmp(line, "STARTTLS", 8)) {
            say(fd, "454 4.7.0 TLS not available\r\n");
        } else if (!strcasecmp(line, "AUTH PLAIN")) {
            creds = true;
            say(fd, "334 \r\n");
        } else if (!strncasecmp(line, "DATA", 4)) {
            data = true;
            say(fd, "354 go ahead\r\n");
        } else if (!strncasecmp(line, "QUIT", 4)) {
            say(fd, "221 bye\r\n");
            break;
        } else {
            say(fd, "250 2.0.0 ok\r\n");
        }
    }
}

static void http_close(struct srv *s, int i)
{
    close(s->c[i]->fd);
    free(s->c[i]);
    s->c[i] = NULL;
}

/* Complete requests in c's buffer: recorded, then answered by path. */
static void http_serve(struct srv *s, int i)
{
    struct conn *c = s->c[i];
    for (;;) {
        c->buf[c->n] = '\0';
        char *end = strstr(c->buf, "\r\n\r\n");
        if (!end)
            return;
        size_t hl = (size_t)(end + 4 - c->buf), bl = 0;
        char *cl = strcasestr(c->buf, "\r\nContent-Length:");
        if (cl && cl < end)
            bl = (size_t)strtoul(cl + 17, NULL, 10);
        if (c->n < hl + bl)
            return;
        struct req r;
        memset(&r, 0, sizeof(r));
        sscanf(c->buf, "%*s %127s", r.path);
        char *wid = strcasestr(c->buf, "\r\nwebhook-id: ");
        if (wid && wid < end)
            sscanf(wid + 14, "%128[^\r]", r.id);
        r.at_ns = ts_mono_ns();
        pthread_mutex_lock(&s->mu);
        if (s->nreq < REQ_MAX)
            s->req[s->nreq++] = r;
        pthread_mutex_unlock(&s->mu);
        if (!strncmp(r.path, "/hang", 5)) {
            c->hang = true; /* read on, never answer */
        } else if (!strncmp(r.path, "/fail", 5)) {
            char line[512], resp[768];
            snprintf(line, sizeof(line), "%.*s", (int)strcspn(c->buf, "\r"), c->buf);
            snprintf(resp, sizeof(resp),
                     "HTTP/1.1 401 Unauthorized\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(line) + 8, "refused ");
            say(c->fd, resp);
            say(c->fd, line);
        } else {
            say(c->fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
        memmove(c->buf, c->buf + hl + bl, c->n - hl - bl);
        c->n -= hl + bl;
    }
}

static void *srv_main(void *p)
{
    struct srv *s = p;
    while (!atomic_load(&s->stop)) {
        struct pollfd pf[CONN_MAX + 1];
        int map[CONN_MAX + 1], n = 0;
        pf[n] = (struct pollfd){s->lfd, POLLIN, 0};
        map[n++] = -1;
        for (int i = 0; i < CONN_MAX; i++)
            if (s->c[i]) {
                pf[n] = (struct pollfd){s->c[i]->fd, POLLIN, 0};
                map[n++] = i;
            }
        if (poll(pf, (nfds_t)n, 20) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (map[k] < 0) {
                int fd = accept(s->lfd, NULL, NULL);
                if (fd < 0)
                    continue;
                if (s->smtp) {
                    smtp_session(s, fd);
                    close(fd);
                    continue;
                }
                int i = 0;
                while (i < CONN_MAX && s->c[i])
                    i++;
                struct conn *c = i < CONN_MAX ? calloc(1, sizeof(*c)) : NULL;
                if (!c) {
                    close(fd);
                    continue;
                }
                c->fd = fd;
                s->c[i] = c;
                continue;
            }
            struct conn *c = s->c[map[k]];
            ssize_t r = read(c->fd, c->buf + c->n, sizeof(c->buf) - 1 - c->n);
            if (r <= 0) {
                http_close(s, map[k]);
                continue;
            }
            c->n += (size_t)r;
            if (!c->hang)
                http_serve(s, map[k]);
            else
                c->n = 0;
        }
    }
    for (int i = 0; i < CONN_MAX; i++)
        if (s->c[i])
            http_close(s, i);
    return NULL;
}

static struct srv *srv_start(bool smtp)
{
    struct srv *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    s->log = calloc(1, LOG_MAX);
    ck_assert_ptr_nonnull(s->log);
    s->smtp = smtp;
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->stop, false);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s->lfd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(s->lfd, 64), 0);
    socklen_t al = sizeof(a);
    ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
    return s;
}

static void srv_stop(struct srv *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
    free(s->log);
    free(s);
}

/* Requests the HTTP server has seen with this webhook-id. */
static int srv_count(struct srv *s, const char *id, int64_t *first_ns)
{
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nreq; i++)
        if (!strcmp(s->req[i].id, id)) {
            if (!n && first_ns)
                *first_ns = s->req[i].at_ns;
            n++;
        }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* --------------------------------------------------------------- stderr */

static int saved_fd = -1;
static char cap_path[64];

static void capture_begin(void)
{
    snprintf(cap_path, sizeof(cap_path), "/tmp/tocsin-esc-log-XXXXXX");
    int fd = mkstemp(cap_path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    saved_fd = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

/* What was written to stderr since capture_begin (static buffer). */
static const char *capture_end(void)
{
    static char text[1u << 16];
    fflush(stderr);
    dup2(saved_fd, STDERR_FILENO);
    close(saved_fd);
    FILE *f = fopen(cap_path, "r");
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    unlink(cap_path);
    fputs(text, stderr); /* still visible in the test's output */
    return text;
}

/* ------------------------------------------------------------- fixtures */

static struct esc_channels *load(const char *yml)
{
    struct esc_channels *c = NULL;
    struct ts_err err = {0};
    int rc = esc_channels_load_buffer("ch.yml", yml, strlen(yml), &c, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    return c;
}

static const char doc[] = "{\"report_id\":\"0123456789abcdef0123456789abcdef:3:managing_body:"
                          "initial-notice\",\"report\":{\"title_vi\":\"REPORT-BODY-MARKER\"}}";

static struct store_outbox entry(const char *channel)
{
    struct store_outbox e;
    memset(&e, 0, sizeof(e));
    e.id = "0123456789abcdef0123456789abcdef:3:managing_body:initial-notice";
    e.incident_id = "0123456789abcdef0123456789abcdef";
    e.revision = 3;
    e.recipient = "managing_body";
    e.channel = channel;
    e.payload = doc;
    e.payload_len = strlen(doc);
    return e;
}

/* ----------------------------------------------------------------- smtp */

/* base64("\0soc@example.vn\0Pa55-w0rd!"): what AUTH PLAIN would send */
#define AUTH_PLAIN_B64 "AHNvY0BleGFtcGxlLnZuAFBhNTUtdzByZCE="

START_TEST(test_smtp_refuses_server_without_starttls)
{
    struct srv *s = srv_start(true);
    char yml[1024];
    snprintf(yml, sizeof(yml),
             "channels:\n"
             "  email:mb:\n"
             "    type: smtp\n"
             "    url: smtp://127.0.0.1:%d\n"
             "    from: soc@example.vn\n"
             "    to: [mb@example.vn]\n"
             "    username: soc@example.vn\n"
             "    password: Pa55-w0rd!\n"
             "    timeout: 5s\n",
             s->port);
    struct esc_channels *c = load(yml);
    struct esc_deliverer *d = NULL;
    ck_assert_int_eq(esc_deliverer_create(&d, c), 0);
    char error[ESC_ERROR_MAX];
    struct store_outbox e = entry("email:mb");
    enum esc_outcome o = esc_deliver(d, &e, 0, error);
    esc_deliverer_destroy(d);
    pthread_mutex_lock(&s->mu);
    char *log = strdup(s->log);
    pthread_mutex_unlock(&s->mu);
    srv_stop(s);
    /* the server was asked who it is, then left: no login, no message */
    ck_assert_msg(strstr(log, "EHLO") != NULL, "the client spoke: %s", log);
    ck_assert_msg(strstr(log, AUTH_PLAIN_B64) == NULL && strstr(log, "AUTH") == NULL,
                  "credentials sent in the clear: %s", log);
    ck_assert_msg(strstr(log, "MAIL FROM") == NULL && strstr(log, "DATA") == NULL,
                  "the report was sent in the clear: %s", log);
    ck_assert_int_ne(o, ESC_OUT_DELIVERED);
    ck_assert_msg(strstr(error, "STARTTLS") != NULL && strstr(error, "TLS") != NULL, "%s",
                  error);
    ck_assert_msg(strstr(error, "Pa55-w0rd!") == NULL, "%s", error);
    free(log);
    esc_channels_free(c);
}
END_TEST

START_TEST(test_smtp_allow_plaintext_is_logged_and_sends_without_starttls)
{
    struct srv *s = srv_start(true);
    char yml[1024];
    snprintf(yml, sizeof(yml),
             "channels:\n"
             "  email:lab:\n"
             "    type: smtp\n"
             "    url: smtp://127.0.0.1:%d\n"
             "    from: soc@example.vn\n"
             "    to: [mb@example.vn]\n"
             "    allow_plaintext: true\n"
             "    timeout: 5s\n",
             s->port);
    capture_begin();
    struct esc_channels *c = load(yml);
    const char *log = capture_end();
    ck_assert_msg(strstr(log, "warning: escalation channel email:lab: allow_plaintext") != NULL,
                  "no warning at load: \"%s\"", log);
    struct esc_deliverer *d = NULL;
    ck_assert_int_eq(esc_deliverer_create(&d, c), 0);
    char error[ESC_ERROR_MAX];
    struct store_outbox e = entry("email:lab");
    ck_assert_msg(esc_deliver(d, &e, 0, error) == ESC_OUT_DELIVERED, "%s", error);
    esc_deliverer_destroy(d);
    pthread_mutex_lock(&s->mu);
    ck_assert_ptr_nonnull(strstr(s->log, "MAIL FROM:<soc@example.vn>"));
    ck_assert_ptr_nonnull(strstr(s->log, "DATA"));
    pthread_mutex_unlock(&s->mu);
    srv_stop(s);
    esc_channels_free(c);
    /* smtps:// is TLS anyway: the opt-out there is a mistake */
    const char bad[] = "channels:\n  e: {type: smtp, url: \"smtps://x\", from: a@b.vn, to: c@d.vn,\n"
                       "      allow_plaintext: true}\n";
    struct ts_err err = {0};
    ck_assert_int_eq(esc_channels_load_buffer("ch.yml", bad, strlen(bad), &c, &err), TS_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "allow_plaintext") != NULL, "%s", err.msg);
}
END_TEST

/* ---------------------------------------------------- secrets of URLs */

static char alerts_path[128];

static void setup(void)
{
    st_mkdir();
    snprintf(alerts_path, sizeof(alerts_path), "%s/alerts.jsonl", st_dir);
}

static void teardown(void)
{
    unlink(alerts_path);
    st_rmdir();
}

static void put(struct store *st, const char *id, const char *channel)
{
    struct store_txn *t = st_begin(st);
    struct store_outbox e = entry(channel);
    char inc[40];
    snprintf(inc, sizeof(inc), "%.32s", id);
    e.id = id;
    e.incident_id = inc;
    ck_assert_int_eq(store_outbox_put(t, &e), 0);
    st_commit(t);
}

static void no_secret(const char *what, const char *text)
{
    static const char *const secrets[] = {"S3cr3tPass", "T0KEN", "alice:", "fr4gment"};
    for (size_t i = 0; i < TS_ARRAY_LEN(secrets); i++)
        ck_assert_msg(strstr(text, secrets[i]) == NULL, "%s shows \"%s\": %s", what, secrets[i],
                      text);
}

/* A receiver that refuses (401, echoing the request line with the token)
 * and one that cannot be reached: the errors kept as last_error, the log
 * lines and the alerts say where, never with the URL's secrets. */
START_TEST(test_failed_delivery_hides_url_credentials_in_last_error_and_log)
{
    struct srv *s = srv_start(false);
    char yml[2048];
    snprintf(yml, sizeof(yml),
             "dispatch: {max_attempts: 1, alerts_file: %s}\n"
             "channels:\n"
             "  webhook:national:\n"
             "    type: webhook\n"
             "    url: \"http://alice:S3cr3tPass@127.0.0.1:%d/fail?token=T0KEN#fr4gment\"\n"
             "    insecure: true\n"
             "    timeout: 5s\n"
             "  webhook:down:\n"
             "    type: webhook\n"
             "    url: \"https://alice:S3cr3tPass@127.0.0.1:1/hook?token=T0KEN\"\n"
             "    timeout: 5s\n",
             alerts_path, s->port);
    capture_begin();
    struct esc_channels *c = load(yml);
    struct store *st = st_open();
    put(st, "0123456789abcdef0123456789abcdef:3:national:initial-notice", "webhook:national");
    put(st, "fedcba9876543210fedcba9876543210:1:national:initial-notice", "webhook:down");
    struct esc_dispatch_stats ds = {0};
    struct ts_err err = {0};
    int n = esc_dispatch_once(st, c, NULL, 0, &ds, &err);
    const char *log = capture_end();
    int reached = srv_count(s, "0123456789abcdef0123456789abcdef:3:national:initial-notice", NULL);
    srv_stop(s);
    ck_assert_int_eq(reached, 1);
    ck_assert_int_eq(n, 2);
    ck_assert_uint_eq(ds.failed, 2);
    no_secret("the log", log);
    ck_assert_msg(strstr(log, "dead letter") != NULL, "%s", log);
    struct ts_arena *a = st_arena();
    struct store_txn *t = st_rbegin(st);
    struct store_outbox e;
    ck_assert_int_eq(store_outbox_get(t, "0123456789abcdef0123456789abcdef:3:national:"
                                         "initial-notice", a, &e), 0);
    no_secret("last_error", e.last_error);
    ck_assert_msg(strstr(e.last_error, "127.0.0.1") && strstr(e.last_error, "HTTP 401"), "%s",
                  e.last_error);
    ck_assert_int_eq(store_outbox_get(t, "fedcba9876543210fedcba9876543210:1:national:"
                                         "initial-notice", a, &e), 0);
    no_secret("last_error", e.last_error);
    ck_assert_msg(strstr(e.last_error, "127.0.0.1"), "%s", e.last_error);
    store_txn_abort(t);
    ts_arena_destroy(a);
    FILE *f = fopen(alerts_path, "r");
    ck_assert_ptr_nonnull(f);
    char alerts[8192];
    size_t an = fread(alerts, 1, sizeof(alerts) - 1, f);
    alerts[an] = '\0';
    fclose(f);
    no_secret("the alerts file", alerts);
    store_close(st);
    esc_channels_free(c);
}
END_TEST

/* ----------------------------------------------------------- dispatcher */

/* Two entries to an endpoint that accepts and never answers (timeout 4 s),
 * four to two endpoints that answer at once (timeout 1 s); three threads,
 * lease 6 s, back-off 1 h (a timed-out entry is not tried again here).
 * Each answering endpoint gets its entries within its own timeout, not
 * after the hanging one's; every entry reaches its endpoint exactly once
 * (a lease that ran out while entries waited behind the hanging one let
 * another thread claim and send them again). */
START_TEST(test_hanging_endpoint_holds_up_no_other_entry_and_none_is_sent_twice)
{
    struct srv *s = srv_start(false);
    char yml[2048];
    snprintf(yml, sizeof(yml),
             "dispatch: {threads: 3, lease: 6s, backoff_base: 1h, backoff_cap: 2h, poll: 50ms}\n"
             "channels:\n"
             "  webhook:hang: {type: webhook, url: \"http://127.0.0.1:%d/hang\", insecure: true,\n"
             "                 timeout: 4s, connect_timeout: 1s}\n"
             "  webhook:a: {type: webhook, url: \"http://127.0.0.1:%d/a\", insecure: true,\n"
             "              timeout: 1s, connect_timeout: 1s}\n"
             "  webhook:b: {type: webhook, url: \"http://127.0.0.1:%d/b\", insecure: true,\n"
             "              timeout: 1s, connect_timeout: 1s}\n",
             s->port, s->port, s->port);
    struct esc_channels *c = load(yml);
    struct store *st = st_open();
    /* ids sort the hanging endpoint's entries first: they are due first */
    static const char *const chans[] = {"webhook:hang", "webhook:hang", "webhook:a",
                                        "webhook:b",    "webhook:a",    "webhook:b"};
    char ids[6][80];
    for (int i = 0; i < 6; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%032d:1:national:initial-notice", i);
        put(st, ids[i], chans[i]);
    }
    struct esc_dispatcher *d = NULL;
    struct ts_err err = {0};
    int64_t t0 = ts_mono_ns();
    ck_assert_int_eq(esc_dispatcher_start(&d, st, c, NULL, &err), 0);
    /* until both hanging attempts timed out and were marked (or 12 s) */
    struct esc_dispatch_stats ds;
    for (int i = 0; i < 480; i++) {
        esc_dispatcher_stats(d, &ds);
        if (ds.delivered == 4 && ds.retried == 2)
            break;
        struct timespec ts = {0, 25 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    esc_dispatcher_stop(d);
    for (int i = 0; i < 6; i++) {
        int64_t at = 0;
        int k = srv_count(s, ids[i], &at);
        ck_assert_msg(k == 1, "%s (%s) reached its endpoint %d times", ids[i], chans[i], k);
        if (i >= 2)
            ck_assert_msg(at - t0 < 2 * TS_NS_PER_SEC,
                          "%s (%s) arrived %lld ms after the start, behind the hanging endpoint",
                          ids[i], chans[i], (long long)((at - t0) / 1000000));
    }
    ck_assert_uint_eq(ds.delivered, 4);
    ck_assert_uint_eq(ds.retried, 2);
    srv_stop(s);
    store_close(st);
    esc_channels_free(c);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("esc_net");
    TCase *tc = tcase_create("net");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_smtp_refuses_server_without_starttls);
    tcase_add_test(tc, test_smtp_allow_plaintext_is_logged_and_sends_without_starttls);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("store");
    tcase_add_checked_fixture(ts, setup, teardown);
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_failed_delivery_hides_url_credentials_in_last_error_and_log);
    tcase_add_test(ts, test_hanging_endpoint_holds_up_no_other_entry_and_none_is_sent_twice);
    suite_add_tcase(s, ts);
    return s;
}

TS_CHECK_MAIN(make_suite)
