/* api_fill.c - bench tooling: a store with N incidents (no evidence) over 4
 * tenants, severities and statuses mixed, last seen one second apart, for
 * the API latency bench (bench/api.sh).
 *   api_fill DIR N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/tstime.h"
#include "../storage/storage.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: api_fill DIR N\n");
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    struct store_opts o = {0};
    o.path = argv[1];
    o.map_size = 1u << 30;
    struct store *s;
    struct ts_err err = {0};
    if (store_open(&s, &o, &err) != 0) {
        fprintf(stderr, "api_fill: %s\n", err.msg);
        return 1;
    }
    static const char *const tenants[] = {"agency-a", "agency-b", "agency-c", "agency-d"};
    static const char *const tags[] = {"attack.credential_access", "attack.t1110.001"};
    int64_t base = ts_epoch_from_utc(2026, 1, 1, 0, 0, 0) * TS_NS_PER_SEC;
    int rc = 0;
    for (long i = 0; i < n && !rc; i += 10000) {
        struct store_txn *t;
        if ((rc = store_txn_begin(s, 0, &t)) != 0)
            break;
        for (long j = i; j < i + 10000 && j < n && !rc; j++) {
            char id[40], key[48];
            snprintf(id, sizeof(id), "%032lx", (unsigned long)j * 2654435761ul);
            snprintf(key, sizeof(key), "src_ip=10.%ld.%ld.%ld", j >> 16 & 255, j >> 8 & 255,
                     j & 255);
            struct store_incident inc = {0};
            inc.id = id;
            inc.rule_id = "017dd23e-17b7-46ec-9279-c2482fa92e1f";
            inc.rule_title = j % 3 ? "SSH Brute Force From One Address" : "Password spraying";
            inc.level = "high";
            inc.tags = tags;
            inc.ntags = 2;
            inc.tenant = tenants[j % 4];
            inc.group_key = key;
            inc.last_seen_ns = base + j * TS_NS_PER_SEC;
            inc.first_seen_ns = inc.last_seen_ns - 30 * TS_NS_PER_SEC;
            inc.count = 5 + (uint64_t)(j % 50);
            inc.severity = (uint8_t)(j % 5);
            inc.details = "{\"type\":\"event_count\"}";
            rc = store_incident_put(t, &inc, NULL);
        }
        rc = rc ? (store_txn_abort(t), rc) : store_txn_commit(t, &err);
    }
    if (rc)
        fprintf(stderr, "api_fill: %s\n", store_strerror(rc));
    store_close(s);
    return rc ? 1 : 0;
}
