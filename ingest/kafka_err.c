/* kafka_err.c - what an error librdkafka reports means for a running
 * consumer: a setting to fix (stop with a message that names it) or a broker
 * that is away for now (wait, count, say so).
 *
 * librdkafka gives a code and a sentence. The code alone is not enough: a
 * TLS handshake that a broker going down cuts short can come as _SSL ("SSL
 * handshake failed: Connection reset by peer", "... unexpected eof while
 * reading"), a SCRAM exchange cut short as _AUTHENTICATION ("SASL
 * authentication error: Disconnected"), and a broker that asks for a client
 * certificate (TLS 1.3 checks it after the handshake) refuses it in a
 * _TRANSPORT "Receive failed: ... alert certificate required". So the
 * sentence decides: certificate and TLS protocol words mean a setting,
 * transport words mean an outage. Pure functions; any thread.
 */
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <string.h>

#include "ingest.h"

/* OpenSSL's and librdkafka's words for a TLS setting that will not work on
 * the next try either: the broker's certificate, the client's, the TLS
 * version or ciphers, a port that does not speak TLS. */
static const char *const tls_setting[] = {
    "certificate",          /* verify failed, required, unknown, expired, bad ... */
    "unknown ca",
    "wrong version number", /* a TLS client on a plaintext port */
    "no protocols available",
    "unsupported protocol",
    "handshake failure",    /* alert 40: no common cipher or a refused client */
    "no shared cipher",
    "unexpected message",   /* librdkafka: client SSL authentication might be required */
    "key values mismatch",  /* ssl.key.location does not match the certificate */
    "bad decrypt",          /* ssl.key.password */
    "access denied",
    "decrypt error",
};

/* Words of a connection that went away or never came: the broker is down,
 * starting or stopping. */
static const char *const transport_words[] = {
    "Disconnected",   "Connection reset",  "Broken pipe",         "unexpected eof",
    "timed out",      "Connection refused", "transport failure",   "Connection closed",
    "No route to host", "Network is unreachable", "brokers are down", "Timed out",
};

static bool has_any(const char *s, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(s, words[i]))
            return true;
    return false;
}

enum ingest_kafka_err_kind ingest_kafka_err_kind(int err, const char *reason)
{
    const char *r = reason ? reason : "";
    bool tls = has_any(r, tls_setting, sizeof(tls_setting) / sizeof(tls_setting[0]));
    bool gone = has_any(r, transport_words, sizeof(transport_words) / sizeof(transport_words[0]));
    switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
        /* a refused login says so ("invalid credentials", "Unsupported SASL
         * mechanism"); an exchange the broker cut short is an outage */
        if (tls)
            return INGEST_KAFKA_ERR_TLS;
        return gone ? INGEST_KAFKA_ERR_TRANSPORT : INGEST_KAFKA_ERR_AUTH;
    case RD_KAFKA_RESP_ERR__SSL:
        return tls || !gone ? INGEST_KAFKA_ERR_TLS : INGEST_KAFKA_ERR_TRANSPORT;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
        /* a broker that asks for a client certificate refuses the missing
         * one after the TLS 1.3 handshake: "Receive failed: ... tlsv13
         * alert certificate required" */
        return tls && strstr(r, "alert") ? INGEST_KAFKA_ERR_TLS : INGEST_KAFKA_ERR_TRANSPORT;
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
        return INGEST_KAFKA_ERR_TRANSPORT;
    default:
        return INGEST_KAFKA_ERR_OTHER;
    }
}
