/* store_fill.c - fill a Tocsin LMDB store with a fixed set of incidents and
 * evidence for the CLI tests (tests/integration/test_incidents_cli.sh):
 *   store_fill DIR
 * inc-0 .. inc-5: tenants agency-a (even) / agency-b (odd), last seen
 * 2024-04-01T10:0i:00Z, 3 evidence records each (the first two with raw
 * text), inc-5 already resolved. Prints nothing; exit 0 on success. */
#include <stdio.h>
#include <string.h>

#include "../../core/tstime.h"
#include "../../storage/storage.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: store_fill DIR\n");
        return 2;
    }
    struct store_opts o = {0};
    o.path = argv[1];
    o.map_size = 4u << 20;
    o.evidence_raw_max = 2;
    struct store *s;
    struct ts_err err = {0};
    if (store_open(&s, &o, &err) != 0) {
        fprintf(stderr, "store_fill: %s: %s\n", err.file, err.msg);
        return 1;
    }
    struct store_txn *t;
    int rc = store_txn_begin(s, 0, &t);
    static const char *const tags[] = {"attack.credential_access", "attack.t1110.001"};
    static const char *const users[] = {"root", "admin", "oracle"};
    int64_t base = ts_epoch_from_utc(2024, 4, 1, 10, 0, 0) * TS_NS_PER_SEC;
    for (int i = 0; i < 6 && !rc; i++) {
        char id[16];
        snprintf(id, sizeof(id), "inc-%d", i);
        struct store_incident inc = {0};
        inc.id = id;
        inc.rule_id = "4c3f1e2a-0b9d-4e8f-a1c2-7d6e5f4a3b2c";
        inc.rule_title = i % 2 ? "Password spraying" : "SSH brute force";
        inc.level = "high";
        inc.author = "Tocsin tests";
        inc.tags = tags;
        inc.ntags = 2;
        inc.tenant = i % 2 ? "agency-b" : "agency-a";
        inc.group_key = "src_ip=203.0.113.45";
        inc.last_seen_ns = base + (int64_t)i * 60 * TS_NS_PER_SEC;
        inc.first_seen_ns = inc.last_seen_ns - 30 * TS_NS_PER_SEC;
        inc.count = 5 + (uint64_t)i;
        inc.severity = (uint8_t)(2 + i % 3);
        inc.distinct_field = "user";
        inc.distinct = users;
        inc.ndistinct = 3;
        inc.details = "{\"type\":\"event_count\",\"timespan\":\"1m\",\"threshold\":5}";
        rc = store_incident_put(t, &inc, NULL);
        for (int e = 0; e < 3 && !rc; e++) {
            struct store_evidence ev = {0};
            ev.source = "logs.syslog";
            ev.partition = 1;
            ev.offset = 100 * i + e;
            ev.event_ns = inc.first_seen_ns + e * TS_NS_PER_SEC;
            ev.raw = "Nov 20 10:00:01 portal-01 sshd[4242]: Failed password for root from "
                     "203.0.113.45 port 52144 ssh2";
            ev.raw_len = strlen(ev.raw);
            rc = store_evidence_add(t, id, &ev, NULL);
        }
        if (!rc)
            rc = store_offset_put(t, "logs.syslog", 1, 100 * i + 3);
    }
    if (!rc)
        rc = store_incident_set_status(t, "inc-5", STORE_STATUS_RESOLVED, "fixture", NULL);
    if (rc) {
        fprintf(stderr, "store_fill: %s (%s)\n", store_strerror(rc), store_txn_errmsg(t));
        store_txn_abort(t);
        store_close(s);
        return 1;
    }
    rc = store_txn_commit(t, &err);
    if (rc)
        fprintf(stderr, "store_fill: %s\n", err.msg);
    store_close(s);
    return rc ? 1 : 0;
}
