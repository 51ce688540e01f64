/* channel_http.c - the libcurl channels: HTTPS webhooks signed per Standard
 * Webhooks (https://www.standardwebhooks.com/) and e-mail over SMTP.
 *
 * Each deliverer (one thread) keeps one curl easy handle per channel, made
 * on first use and reused (its connection cache keeps the TLS session);
 * every option is set again before each transfer. TLS verification is on
 * unless the channel says `insecure: true`. curl's errors are translated
 * here into one line (curl_easy_strerror + the error buffer) and an
 * outcome: a transport error is transient, an HTTP status is classified by
 * esc_http_outcome; an SMTP rejection of the message (5xx) is permanent. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>

#include "../core/tstime.h"
#include "channel_int.h"

#define RESP_KEEP 200 /* bytes of a response body kept for the error text */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc; /* written once under curl_once */

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : TS_E_UNSUPPORTED;
}

int esc_curl_global(void)
{
    pthread_once(&curl_once, curl_init);
    return curl_init_rc;
}

void esc_curl_state_free(struct esc_chan_state *s)
{
    if (s->curl)
        curl_easy_cleanup(s->curl);
    s->curl = NULL;
}

struct resp {
    char text[RESP_KEEP + 1];
    size_t n;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct resp *r = ctx;
    size_t n = size * nmemb;
    size_t take = n < RESP_KEEP - r->n ? n : RESP_KEEP - r->n;
    memcpy(r->text + r->n, p, take);
    r->n += take;
    r->text[r->n] = '\0';
    return n;
}

static long ms(int64_t ns)
{
    int64_t v = ns / 1000000;
    return v < 1 ? 1 : (long)v;
}

/* The handle of channel idx, reset and with the common options. */
static CURL *handle(struct esc_deliverer *d, size_t idx, char *ebuf, char *error)
{
    const struct esc_chan *ch = &d->c->v[idx];
    CURL *c = d->st[idx].curl;
    if (!c && !(c = d->st[idx].curl = curl_easy_init())) {
        snprintf(error, ESC_ERROR_MAX, "curl_easy_init failed");
        return NULL;
    }
    curl_easy_reset(c);
    ebuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_URL, ch->url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms(ch->timeout_ns));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms(ch->connect_timeout_ns));
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, ch->insecure ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, ch->insecure ? 0L : 2L);
    if (ch->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, ch->ca_file);
    if (ch->ca_path)
        curl_easy_setopt(c, CURLOPT_CAPATH, ch->ca_path);
    if (ch->client_cert)
        curl_easy_setopt(c, CURLOPT_SSLCERT, ch->client_cert);
    if (ch->client_key)
        curl_easy_setopt(c, CURLOPT_SSLKEY, ch->client_key);
    if (ch->client_key_password)
        curl_easy_setopt(c, CURLOPT_KEYPASSWD, ch->client_key_password);
    return c;
}

static void curl_error(char *error, const char *what, CURLcode rc, const char *ebuf)
{
    snprintf(error, ESC_ERROR_MAX, "%s: %s%s%s", what, curl_easy_strerror(rc),
             ebuf[0] ? ": " : "", ebuf);
}

static int add_header(struct curl_slist **h, const char *name, const char *value)
{
    char line[ESC_TEXT_MAX + 256];
    snprintf(line, sizeof(line), "%s: %s", name, value);
    struct curl_slist *n = curl_slist_append(*h, line);
    if (!n)
        return TS_E_NOMEM;
    *h = n;
    return 0;
}

/* ------------------------------------------------------------- webhook */

enum esc_outcome esc_send_webhook(struct esc_deliverer *d, size_t idx,
                                  const struct store_outbox *e, int64_t now_ns, char *error)
{
    const struct esc_chan *ch = &d->c->v[idx];
    char ebuf[CURL_ERROR_SIZE];
    CURL *c = handle(d, idx, ebuf, error);
    if (!c)
        return ESC_OUT_RETRY;
    int64_t ts = now_ns / TS_NS_PER_SEC;
    char tsbuf[32], key[STORE_ID_MAX + 32];
    snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long)ts);
    esc_idempotency_key(e, key, sizeof(key));
    struct curl_slist *h = NULL;
    int rc = add_header(&h, "Content-Type", "application/json");
    rc = rc ? rc : add_header(&h, "webhook-id", e->id);
    rc = rc ? rc : add_header(&h, "webhook-timestamp", tsbuf);
    rc = rc ? rc : add_header(&h, "Idempotency-Key", key);
    rc = rc ? rc : add_header(&h, "Expect", ""); /* no 100-continue round trip */
    if (!rc && ch->secret) {
        struct ts_buf *sig = &d->scratch;
        ts_buf_reset(sig);
        struct ts_err err = {0};
        rc = esc_webhook_sign(ch->secret, e->id, ts, e->payload, e->payload_len, sig, &err);
        if (rc) {
            curl_slist_free_all(h);
            snprintf(error, ESC_ERROR_MAX, "signature: %.400s", err.code ? err.msg : ts_strerror(rc));
            return ESC_OUT_RETRY;
        }
        rc = add_header(&h, "webhook-signature", sig->data);
    }
    for (size_t i = 0; !rc && i < ch->nheaders; i++)
        rc = add_header(&h, ch->headers[i].k, ch->headers[i].v);
    if (rc) {
        curl_slist_free_all(h);
        snprintf(error, ESC_ERROR_MAX, "headers: %s", ts_strerror(rc));
        return ESC_OUT_RETRY;
    }
    struct resp r = {.n = 0};
    r.text[0] = '\0';
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, e->payload ? (const char *)e->payload : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)e->payload_len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "tocsin-escalation/1");
    CURLcode cr = curl_easy_perform(c);
    long status = 0;
    if (cr == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    if (cr != CURLE_OK) {
        curl_error(error, ch->url_safe, cr, ebuf);
        return ESC_OUT_RETRY;
    }
    enum esc_outcome o = esc_http_outcome(status);
    if (o != ESC_OUT_DELIVERED) {
        for (size_t i = 0; i < r.n; i++)
            if ((unsigned char)r.text[i] < 0x20)
                r.text[i] = ' ';
        snprintf(error, ESC_ERROR_MAX, "%s: HTTP %ld%s%s", ch->url_safe, status,
                 r.n ? ": " : "", r.text);
    }
    return o;
}

/* ---------------------------------------------------------------- smtp */

static const char default_title[] = "Báo cáo sự cố an toàn thông tin mạng";

int esc_smtp_subject(const struct store_outbox *e, struct ts_buf *out)
{
    json_error_t je;
    json_t *doc = e->payload && e->payload_len
                      ? json_loadb(e->payload, e->payload_len, JSON_REJECT_DUPLICATES, &je)
                      : NULL;
    const char *title = NULL;
    json_t *rep = doc ? json_object_get(doc, "report") : NULL;
    if (rep) {
        title = json_string_value(json_object_get(rep, "title_vi"));
        if (!title || !*title)
            title = json_string_value(json_object_get(rep, "title_en"));
    }
    if (!title || !*title)
        title = default_title;
    int rc = ts_buf_puts(out, "[TBSC] ");
    size_t n = strlen(title);
    for (size_t i = 0; !rc && i < n; i++) /* one line, whatever the document says */
        rc = ts_buf_putc(out, title[i] == '\r' || title[i] == '\n' ? ' ' : title[i]);
    json_decref(doc);
    return rc;
}

/* RFC 2047 encoded-words (UTF-8, base64) for a non-ASCII header value;
 * split at character boundaries so each word stays under 75 bytes. */
static int put_header_text(struct ts_buf *out, const char *s)
{
    size_t n = strlen(s);
    bool ascii = true;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            ascii = false;
    if (ascii)
        return ts_buf_append(out, s, n);
    int rc = 0;
    size_t i = 0;
    while (!rc && i < n) {
        size_t j = i, take = 0;
        while (j < n && take < 45) { /* 45 bytes -> 60 base64 chars */
            size_t cl = 1;
            unsigned char c = (unsigned char)s[j];
            if (c >= 0xf0)
                cl = 4;
            else if (c >= 0xe0)
                cl = 3;
            else if (c >= 0xc0)
                cl = 2;
            if (take + cl > 45 || j + cl > n)
                break;
            j += cl;
            take += cl;
        }
        if (j == i)
            j = i + 1;
        rc = ts_buf_puts(out, i ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
        rc = rc ? rc : ts_buf_base64(out, s + i, j - i);
        rc = rc ? rc : ts_buf_puts(out, "?=");
        i = j;
    }
    return rc;
}

static const char *const wday[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int esc_smtp_message(const struct esc_chan *ch, const struct store_outbox *e, int64_t now_ns,
                     struct ts_buf *out)
{
    int64_t sec = now_ns / TS_NS_PER_SEC, days = sec / 86400, rem = sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, dd;
    ts_civil_from_days(days, &y, &m, &dd);
    char key[STORE_ID_MAX + 32];
    esc_idempotency_key(e, key, sizeof(key));
    int rc = ts_buf_printf(out, "Date: %s, %02u %s %lld %02d:%02d:%02d +0000\r\n",
                           wday[((days % 7) + 7) % 7], dd, mon[m - 1], (long long)y,
                           (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    rc = rc ? rc : ts_buf_printf(out, "From: <%s>\r\nTo: ", ch->from);
    for (size_t i = 0; !rc && i < ch->nto; i++)
        rc = ts_buf_printf(out, "%s<%s>", i ? ",\r\n " : "", ch->to[i]);
    rc = rc ? rc : ts_buf_puts(out, "\r\nSubject: ");
    if (!rc) {
        struct ts_buf subj;
        ts_buf_init(&subj, 8192);
        rc = esc_smtp_subject(e, &subj);
        rc = rc ? rc : put_header_text(out, subj.data);
        ts_buf_free(&subj);
    }
    /* Message-ID from the entry id: a repeat of the same entry is the same
     * message to the receiver's tools (the id has only [A-Za-z0-9._:-]). */
    rc = rc ? rc : ts_buf_puts(out, "\r\nMessage-ID: <");
    for (const char *p = e->id; !rc && *p; p++)
        rc = ts_buf_putc(out, *p == ':' ? '.' : *p);
    rc = rc ? rc : ts_buf_printf(out, "@tocsin>\r\nIdempotency-Key: %s\r\n", key);
    rc = rc ? rc : ts_buf_puts(out, "MIME-Version: 1.0\r\n"
                                    "Content-Type: text/plain; charset=utf-8\r\n"
                                    "Content-Transfer-Encoding: base64\r\n\r\n");
    if (rc)
        return rc;
    struct ts_buf body;
    ts_buf_init(&body, STORE_PAYLOAD_MAX + 4096u);
    rc = ts_buf_printf(&body,
                       "Báo cáo sự cố / Incident report %s\n"
                       "Sự cố / Incident: %s (revision %llu)\n"
                       "Nơi nhận / Recipient: %s\n"
                       "Tài liệu JSON / JSON document (docs/report-schema.json):\n\n",
                       e->id, e->incident_id, (unsigned long long)e->revision, e->recipient);
    rc = rc ? rc : ts_buf_append(&body, e->payload ? e->payload : "", e->payload_len);
    rc = rc ? rc : ts_buf_putc(&body, '\n');
    struct ts_buf b64;
    ts_buf_init(&b64, STORE_PAYLOAD_MAX * 2u);
    rc = rc ? rc : ts_buf_base64(&b64, body.data, body.len);
    for (size_t i = 0; !rc && i < b64.len; i += 76) {
        size_t n = b64.len - i < 76 ? b64.len - i : 76;
        rc = ts_buf_append(out, b64.data + i, n);
        rc = rc ? rc : ts_buf_puts(out, "\r\n");
    }
    ts_buf_free(&b64);
    ts_buf_free(&body);
    return rc;
}

struct upload {
    const char *p;
    size_t n, off;
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *ctx)
{
    struct upload *u = ctx;
    size_t room = size * nitems, left = u->n - u->off;
    size_t take = left < room ? left : room;
    memcpy(buf, u->p + u->off, take);
    u->off += take;
    return take;
}

enum esc_outcome esc_send_smtp(struct esc_deliverer *d, size_t idx, const struct store_outbox *e,
                               int64_t now_ns, char *error)
{
    const struct esc_chan *ch = &d->c->v[idx];
    struct ts_buf *msg = &d->scratch;
    ts_buf_reset(msg);
    int rc = esc_smtp_message(ch, e, now_ns, msg);
    if (rc) {
        snprintf(error, ESC_ERROR_MAX, "smtp message: %s", ts_strerror(rc));
        return ESC_OUT_PERMANENT;
    }
    char ebuf[CURL_ERROR_SIZE];
    CURL *c = handle(d, idx, ebuf, error);
    if (!c)
        return ESC_OUT_RETRY;
    struct curl_slist *rcpt = NULL;
    char from[ESC_TEXT_MAX + 3];
    snprintf(from, sizeof(from), "<%s>", ch->from);
    for (size_t i = 0; i < ch->nto; i++) {
        char a[ESC_TEXT_MAX + 3];
        snprintf(a, sizeof(a), "<%s>", ch->to[i]);
        struct curl_slist *n = curl_slist_append(rcpt, a);
        if (!n) {
            curl_slist_free_all(rcpt);
            snprintf(error, ESC_ERROR_MAX, "out of memory");
            return ESC_OUT_RETRY;
        }
        rcpt = n;
    }
    struct upload u = {msg->data, msg->len, 0};
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg->len);
    /* smtp://: STARTTLS is required (CURLUSESSL_ALL: curl stops before AUTH
     * and MAIL when the server does not offer it) unless the channel says
     * allow_plaintext; smtps:// is TLS from the first byte */
    curl_easy_setopt(c, CURLOPT_USE_SSL,
                     (long)(ch->allow_plaintext ? CURLUSESSL_TRY : CURLUSESSL_ALL));
    if (ch->username)
        curl_easy_setopt(c, CURLOPT_USERNAME, ch->username);
    if (ch->password)
        curl_easy_setopt(c, CURLOPT_PASSWORD, ch->password);
    CURLcode cr = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
    curl_slist_free_all(rcpt);
    if (cr == CURLE_OK)
        return ESC_OUT_DELIVERED;
    curl_error(error, ch->url_safe, cr, ebuf);
    if (cr == CURLE_USE_SSL_FAILED) {
        size_t l = strlen(error);
        snprintf(error + l, ESC_ERROR_MAX - l,
                 " (the channel requires TLS and the server offered no STARTTLS: nothing was "
                 "sent; allow_plaintext: true accepts such a server)");
        return ESC_OUT_RETRY;
    }
    /* 5xx to MAIL/RCPT/DATA: the server refuses this message for good */
    if ((cr == CURLE_SEND_ERROR || cr == CURLE_RECV_ERROR || cr == CURLE_UPLOAD_FAILED ||
         cr == CURLE_WEIRD_SERVER_REPLY) &&
        code >= 500 && code < 600) {
        size_t l = strlen(error);
        snprintf(error + l, ESC_ERROR_MAX - l, " (SMTP %ld)", code);
        return ESC_OUT_PERMANENT;
    }
    return ESC_OUT_RETRY;
}
