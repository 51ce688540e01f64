/* channel_int.h - internals of the delivery channels (channel*.c) and the
 * dispatcher (dispatch.c): the loaded channel configuration, the
 * per-thread deliverer and the per-type send functions. Not a public
 * interface; tests include it for the message builders. */
#ifndef ESC_CHANNEL_INT_H
#define ESC_CHANNEL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "escalate.h"

struct esc_kv {
    const char *k, *v;
};

/* One configured channel; strings in the esc_channels arena. */
struct esc_chan {
    const char *name;
    enum esc_channel_type type;
    unsigned line;               /* where it is defined (messages) */
    int64_t timeout_ns;          /* whole attempt */
    int64_t connect_timeout_ns;  /* webhook, smtp */
    /* webhook / smtp */
    const char *url;
    const char *url_safe;        /* url for messages: esc_url_redact (no userinfo,
                                    query, fragment) */
    const char *secret;          /* webhook: "whsec_..." (may be NULL: unsigned) */
    const char *ca_file, *ca_path, *client_cert, *client_key, *client_key_password;
    bool insecure;               /* skip TLS verification (tests only; a warning
                                    is logged when the channels are loaded) */
    bool allow_plaintext;        /* smtp://: go on without TLS when the server
                                    offers no STARTTLS (logged likewise); else
                                    TLS is required */
    struct esc_kv *headers;      /* extra HTTP headers */
    size_t nheaders;
    /* smtp */
    const char *from;
    const char **to;
    size_t nto;
    const char *username, *password;
    /* kafka */
    const char *brokers, *topic;
    struct esc_kv *props;
    size_t nprops;
    /* file */
    const char *path;
    /* every secret of the channel (URL userinfo, password and query values,
     * webhook secret, passwords, sensitive headers and Kafka properties):
     * esc_error_scrub replaces them in error texts */
    const char **hidden;
    size_t nhidden;
};

struct esc_channels {
    struct ts_arena *arena;
    struct esc_chan *v;
    size_t n;
    struct esc_dispatch_opts dispatch; /* defaults filled in */
};

const struct esc_chan *esc_channels_find(const struct esc_channels *c, const char *name,
                                         size_t *idx);

/* Per-thread state of one channel (lazily made). */
struct esc_chan_state {
    void *curl;      /* CURL * (webhook, smtp) */
    void *rk;        /* rd_kafka_t * (kafka) */
    char kerr[320];  /* kafka: the last authentication or TLS error, "" if none */
};

struct esc_deliverer {
    const struct esc_channels *c;
    struct esc_chan_state *st; /* c->n */
    struct ts_buf scratch;     /* signature, message, line */
    struct ts_buf scratch2;
};

/* The "report" part of an entry id "<incident>:<revision>:<recipient>:<report>"
 * (after the last ':'), or "" when the id has another form. */
const char *esc_entry_report(const struct store_outbox *e);
/* "<incident>:<revision>", or "<incident>:due<unix s>" for an entry of the
 * due pass (esc_due_queue), into buf (>= STORE_ID_MAX + 24). */
void esc_idempotency_key(const struct store_outbox *e, char *buf, size_t len);

/* Make an attempt's error text fit to store (last_error), log and print:
 * every URL in it redacted (esc_text_redact_urls), every secret of ch (may
 * be NULL) replaced by "***", control characters shown as escapes as in a
 * text report (esc_text_escape: \x1b, \r, \u009b ...). In place;
 * error holds ESC_ERROR_MAX bytes. esc_deliver applies it to every error. */
void esc_error_scrub(const struct esc_chan *ch, char *error);

/* Senders: fill error (ESC_ERROR_MAX) unless delivered. */
enum esc_outcome esc_send_webhook(struct esc_deliverer *d, size_t idx,
                                  const struct store_outbox *e, int64_t now_ns, char *error);
enum esc_outcome esc_send_smtp(struct esc_deliverer *d, size_t idx, const struct store_outbox *e,
                               int64_t now_ns, char *error);
enum esc_outcome esc_send_kafka(struct esc_deliverer *d, size_t idx,
                                const struct store_outbox *e, char *error);
enum esc_outcome esc_send_file(struct esc_deliverer *d, size_t idx, const struct store_outbox *e,
                               int64_t now_ns, char *error);
void esc_kafka_state_free(struct esc_chan_state *s);
void esc_curl_state_free(struct esc_chan_state *s);
/* curl_global_init once per process (thread-safe). 0 or TS_E_UNSUPPORTED. */
int esc_curl_global(void);

/* The e-mail (RFC 5322) of an entry: headers (Date from now_ns, From, To,
 * Subject "[TBSC] <report title>" RFC 2047-encoded when not ASCII,
 * Message-ID from the entry id, Idempotency-Key) and a base64 text/plain
 * UTF-8 body holding a short preamble and the JSON document. CRLF lines. */
int esc_smtp_message(const struct esc_chan *ch, const struct store_outbox *e, int64_t now_ns,
                     struct ts_buf *out);
/* "[TBSC] " + the report's title (report.title_vi, else title_en, else a
 * fixed Vietnamese title) from the JSON payload. */
int esc_smtp_subject(const struct store_outbox *e, struct ts_buf *out);
/* The JSON line the file channel appends (no newline inside, one at the end). */
int esc_file_line(const struct store_outbox *e, int64_t now_ns, struct ts_buf *out);

#endif
