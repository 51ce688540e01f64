/* check_kafka_err.c - ingest_kafka_err_kind (ingest/kafka_err.c): what
 * librdkafka reports decides between a setting to fix (stop, name it) and a
 * broker that is away (wait). The sentences are librdkafka 2.0.2's, as seen
 * against Kafka 3.9.1 (tests/kafka/broker.sh start-secure): a broker that
 * stops and restarts, a wrong CA, a wrong SCRAM password, a broker that
 * requires a client certificate; and the forms other librdkafka versions
 * give a TLS handshake or a SASL exchange cut short by a broker going down. */
#include <librdkafka/rdkafka.h>

#include "../../ingest/ingest.h"
#include "check_util.h"

#define K(err, reason) ingest_kafka_err_kind(RD_KAFKA_RESP_ERR_##err, reason)

START_TEST(test_a_broker_restarting_over_tls_is_waited_for)
{
    /* seen during broker.sh stop / restart of a SASL_SSL listener */
    ck_assert_int_eq(K(_TRANSPORT, "sasl_ssl://127.0.0.1:38539/1: Disconnected (after 4723ms "
                                   "in state UP)"), INGEST_KAFKA_ERR_TRANSPORT);
    ck_assert_int_eq(K(_TRANSPORT, "sasl_ssl://127.0.0.1:38539/1: SSL handshake failed: "
                                   "Disconnected: connecting to a PLAINTEXT broker listener? "
                                   "(after 2ms in state SSL_HANDSHAKE)"),
                     INGEST_KAFKA_ERR_TRANSPORT);
    ck_assert_int_eq(K(_TRANSPORT, "GroupCoordinator: 127.0.0.1:47155: Receive failed: "
                                   "error:0A000126:SSL routines::unexpected eof while reading "
                                   "(after 9ms in state UP)"), INGEST_KAFKA_ERR_TRANSPORT);
    ck_assert_int_eq(K(_ALL_BROKERS_DOWN, "2/2 brokers are down"), INGEST_KAFKA_ERR_TRANSPORT);
    /* the same cut-short handshake under the _SSL code (the sentence is not
     * "Disconnected", so librdkafka keeps _SSL): waited for, not fatal */
    ck_assert_int_eq(K(_SSL, "sasl_ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: "
                             "Connection reset by peer (after 1ms in state SSL_HANDSHAKE)"),
                     INGEST_KAFKA_ERR_TRANSPORT);
    ck_assert_int_eq(K(_SSL, "ssl://127.0.0.1:9093/1: SSL handshake failed: Broken pipe (after "
                             "0ms in state SSL_HANDSHAKE)"), INGEST_KAFKA_ERR_TRANSPORT);
    ck_assert_int_eq(K(_SSL, "ssl://127.0.0.1:9093/1: SSL handshake failed: error:0A000126:SSL "
                             "routines::unexpected eof while reading (after 3ms in state "
                             "SSL_HANDSHAKE)"), INGEST_KAFKA_ERR_TRANSPORT);
    /* a SCRAM exchange the broker cut short */
    ck_assert_int_eq(K(_AUTHENTICATION, "sasl_ssl://127.0.0.1:9093/1: SASL authentication error: "
                                        "Disconnected (after 5ms in state AUTH_REQ)"),
                     INGEST_KAFKA_ERR_TRANSPORT);
    ck_assert_int_eq(K(_AUTHENTICATION, "sasl_ssl://127.0.0.1:9093/1: Failed to initialize SASL "
                                        "authentication: Local: Broker transport failure"),
                     INGEST_KAFKA_ERR_TRANSPORT);
}
END_TEST

START_TEST(test_a_wrong_ca_or_password_or_missing_client_certificate_is_a_setting)
{
    ck_assert_int_eq(K(_SSL, "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: "
                             "error:0A000086:SSL routines::certificate verify failed: broker "
                             "certificate could not be verified, verify that ssl.ca.location "
                             "is correctly configured or root CA certificates are installed "
                             "(install ca-certificates package) (after 4ms in state "
                             "SSL_HANDSHAKE)"), INGEST_KAFKA_ERR_TLS);
    ck_assert_int_eq(K(_SSL, "ssl://127.0.0.1:9092/bootstrap: SSL handshake failed: "
                             "error:0A00010B:SSL routines::wrong version number (after 0ms in "
                             "state SSL_HANDSHAKE)"), INGEST_KAFKA_ERR_TLS);
    /* an _SSL sentence that names neither: a setting, as before */
    ck_assert_int_eq(K(_SSL, "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: "
                             "error:0A0000C1:SSL routines::no cipher match"),
                     INGEST_KAFKA_ERR_TLS);
    ck_assert_int_eq(K(_AUTHENTICATION, "sasl_ssl://127.0.0.1:9093/bootstrap: SASL "
                                        "authentication error: Authentication failed during "
                                        "authentication due to invalid credentials with SASL "
                                        "mechanism SCRAM-SHA-512 (after 3ms in state AUTH_REQ)"),
                     INGEST_KAFKA_ERR_AUTH);
    ck_assert_int_eq(K(_AUTHENTICATION, "sasl_ssl://127.0.0.1:9093/bootstrap: Unsupported "
                                        "SASL mechanism: broker only supports SCRAM-SHA-512"),
                     INGEST_KAFKA_ERR_AUTH);
    /* ssl.client.auth=required and no client certificate: the broker's
     * alert after the TLS 1.3 handshake comes as _TRANSPORT */
    ck_assert_int_eq(K(_TRANSPORT, "ssl://127.0.0.1:51541/bootstrap: Receive failed: "
                                   "error:0A000412:SSL routines::sslv3 alert bad certificate: "
                                   "SSL alert number 42 (after 5ms in state APIVERSION_QUERY)"),
                     INGEST_KAFKA_ERR_TLS);
    ck_assert_int_eq(K(_TRANSPORT, "ssl://127.0.0.1:51541/bootstrap: Receive failed: "
                                   "error:0A00045C:SSL routines::tlsv13 alert certificate "
                                   "required: SSL alert number 116"), INGEST_KAFKA_ERR_TLS);
}
END_TEST

START_TEST(test_other_errors_are_left_to_librdkafka)
{
    ck_assert_int_eq(K(_FATAL, "fenced"), INGEST_KAFKA_ERR_OTHER);
    ck_assert_int_eq(K(TOPIC_AUTHORIZATION_FAILED, "Topic authorization failed"),
                     INGEST_KAFKA_ERR_OTHER);
    ck_assert_int_eq(ingest_kafka_err_kind(RD_KAFKA_RESP_ERR__SSL, NULL), INGEST_KAFKA_ERR_TLS);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("kafka_err");
    TCase *t = tcase_create("kafka_err");
    tcase_add_test(t, test_a_broker_restarting_over_tls_is_waited_for);
    tcase_add_test(t, test_a_wrong_ca_or_password_or_missing_client_certificate_is_a_setting);
    tcase_add_test(t, test_other_errors_are_left_to_librdkafka);
    suite_add_tcase(s, t);
    return s;
}

TS_CHECK_MAIN(make_suite)
