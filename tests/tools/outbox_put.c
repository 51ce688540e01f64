/* outbox_put.c - put one pending escalation outbox entry into a Tocsin store
 * for the channel tests (tests/integration/test_kafka_tls.py):
 *   outbox_put DIR ID CHANNEL
 * incident "inc-tls", revision 1, recipient "managing_body", payload a small
 * JSON document naming ID; due now. Prints nothing; exit 0 on success. */
#include <stdio.h>
#include <string.h>

#include "../../storage/storage.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: outbox_put DIR ID CHANNEL\n");
        return 2;
    }
    struct store_opts o = {0};
    o.path = argv[1];
    o.map_size = 4u << 20;
    struct store *s;
    struct ts_err err = {0};
    if (store_open(&s, &o, &err) != 0) {
        fprintf(stderr, "outbox_put: %s: %s\n", err.file, err.msg);
        return 1;
    }
    char payload[512];
    int n = snprintf(payload, sizeof(payload), "{\"report_id\":\"%s\",\"incident\":\"inc-tls\"}",
                     argv[2]);
    struct store_outbox e = {.id = argv[2],
                             .incident_id = "inc-tls",
                             .revision = 1,
                             .recipient = "managing_body",
                             .channel = argv[3],
                             .payload = payload,
                             .payload_len = (size_t)n};
    struct store_txn *t;
    int rc = store_txn_begin(s, 0, &t);
    if (!rc)
        rc = store_outbox_put(t, &e);
    if (!rc)
        rc = store_txn_commit(t, &err);
    else
        store_txn_abort(t);
    store_close(s);
    if (rc) {
        fprintf(stderr, "outbox_put: %s %s\n", store_strerror(rc), err.msg);
        return 1;
    }
    return 0;
}
