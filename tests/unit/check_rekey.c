/* check_rekey.c - the distributed mode's re-keyed hop (runtime/rekey.c,
 * correlate.h's corr_use_*): a record gives back the event correlation
 * reads (typed values, ns time, source, raw), a damaged one is refused with
 * a reason at every length, and detections split by their routing keys over
 * several engines fed one use each give exactly the incidents of one engine
 * fed everything (no incident in two engines). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_corr_util.h"
#include "../../runtime/runtime_int.h"

static const char RULES[] =
    DET_RULE("fail")
    "title: Brute force\nid: 11111111-0000-4000-8000-000000000001\nname: bf\n"
    "correlation:\n  type: event_count\n  rules: [fail]\n  group-by: [src_ip]\n"
    "  timespan: 1m\n  condition: {gte: 5}\nlevel: high\n---\n"
    "title: Spraying\nid: 11111111-0000-4000-8000-000000000002\nname: spray\n"
    "correlation:\n  type: value_count\n  rules: [fail]\n  group-by: [src_ip]\n"
    "  timespan: 10m\n  condition: {field: user, gte: 3}\nlevel: high\n";

static void mk_event(struct ts_event *ev, struct ts_arena *a)
{
    ts_event_init(ev, a);
    ev->time_ns = T0 + 123456789;
    ev->time_from_event = true;
    ev->tenant = "agency-a";
    ev->src = (struct ts_srcpos){.kind = TS_SRC_KAFKA, .name = "logs.sshd", .partition = 7,
                                 .offset = 4242};
    ev->raw = "Failed password for root from 203.0.113.9";
    ev->raw_len = (uint32_t)strlen(ev->raw);
    struct ts_ip ip;
    ck_assert_int_eq(ts_ip_parse("203.0.113.9", 11, &ip), 0);
    ck_assert_int_eq(ts_event_add_ip(ev, "src_ip", &ip), 0);
    ck_assert_int_eq(ts_event_add_str(ev, "user", "root", 4), 0);
    ck_assert_int_eq(ts_event_add_int(ev, "port", -2201), 0);
    ck_assert_int_eq(ts_event_add_float(ev, "score", 0.25), 0);
    ck_assert_int_eq(ts_event_add_bool(ev, "ok", false), 0);
    static const struct ts_value items[2] = {{.type = TS_V_STR, .len = 1, .u.s = "a"},
                                             {.type = TS_V_INT, .u.i = 5}};
    struct ts_value l = {.type = TS_V_LIST, .len = 2, .u.items = items};
    ck_assert_int_eq(ts_event_add(ev, "tags", 4, &l), 0);
}

START_TEST(test_record_gives_back_the_typed_event)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 4096, 1 << 20), 0);
    struct ts_event ev, back;
    mk_event(&ev, a);
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(rt_rekey_encode(&b, &ev, "fail", "bf", NULL, 0), 0);
    ts_event_init(&back, a);
    struct rt_rekey_rec rec;
    const char *why = "x";
    ck_assert_int_eq(rt_rekey_decode(b.data, b.len, &back, &rec, &why), 0);
    ck_assert_ptr_null(why);
    ck_assert_str_eq(rec.rule, "fail");
    ck_assert_str_eq(rec.use, "bf");
    ck_assert_int_eq(back.time_ns, ev.time_ns);
    ck_assert(back.time_from_event && !back.time_clamped);
    ck_assert_str_eq(back.tenant, "agency-a");
    ck_assert_int_eq(back.src.kind, TS_SRC_KAFKA);
    ck_assert_str_eq(back.src.name, "logs.sshd");
    ck_assert_int_eq(back.src.partition, 7);
    ck_assert_int_eq(back.src.offset, 4242);
    ck_assert_uint_eq(back.raw_len, ev.raw_len);
    ck_assert(memcmp(back.raw, ev.raw, ev.raw_len) == 0);
    ck_assert_uint_eq(back.nfields, 6);
    const struct ts_field *f = ts_event_getz(&back, "src_ip");
    ck_assert(f && f->v.type == TS_V_IP && f->v.u.ip.family == 4 &&
              memcmp(f->v.u.ip.addr, ts_event_getz(&ev, "src_ip")->v.u.ip.addr, 4) == 0);
    f = ts_event_getz(&back, "user");
    ck_assert(f && f->v.type == TS_V_STR && f->v.len == 4 && !memcmp(f->v.u.s, "root", 4));
    f = ts_event_getz(&back, "port");
    ck_assert(f && f->v.type == TS_V_INT && f->v.u.i == -2201);
    f = ts_event_getz(&back, "score");
    ck_assert(f && f->v.type == TS_V_FLOAT && f->v.u.f == 0.25);
    f = ts_event_getz(&back, "ok");
    ck_assert(f && f->v.type == TS_V_BOOL && !f->v.u.b);
    f = ts_event_getz(&back, "tags");
    ck_assert(f && f->v.type == TS_V_LIST && f->v.len == 2 && f->v.u.items[1].u.i == 5);
    ts_buf_free(&b);
    ts_arena_destroy(a);
}
END_TEST

/* With an engine, only what correlation reads travels: src_ip (group-by),
 * user (spraying's value field). */
START_TEST(test_record_carries_only_the_fields_correlation_reads)
{
    struct harness h;
    h_open(&h, RULES, NULL);
    struct ts_event ev, back;
    mk_event(&ev, h.a);
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(rt_rekey_encode(&b, &ev, "fail", "bf", h.c, 0), 0);
    ts_event_init(&back, h.a);
    struct rt_rekey_rec rec;
    const char *why;
    ck_assert_int_eq(rt_rekey_decode(b.data, b.len, &back, &rec, &why), 0);
    ck_assert_ptr_nonnull(ts_event_getz(&back, "src_ip"));
    ck_assert_ptr_nonnull(ts_event_getz(&back, "user"));
    ck_assert_ptr_null(ts_event_getz(&back, "port"));
    ck_assert_ptr_null(ts_event_getz(&back, "tags"));
    ts_buf_free(&b);
    h_close(&h);
}
END_TEST

START_TEST(test_damaged_record_is_refused_at_every_length)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 4096, 1 << 20), 0);
    struct ts_event ev, back;
    mk_event(&ev, a);
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(rt_rekey_encode(&b, &ev, "fail", "bf", NULL, 0), 0);
    struct rt_rekey_rec rec;
    const char *why;
    for (size_t n = 0; n < b.len; n++) {
        ts_event_init(&back, a);
        why = NULL;
        ck_assert_int_eq(rt_rekey_decode(b.data, n, &back, &rec, &why), TS_E_PARSE);
        ck_assert_ptr_nonnull(why);
    }
    char *copy = malloc(b.len + 1);
    memcpy(copy, b.data, b.len);
    copy[b.len] = 'x'; /* trailing bytes */
    ck_assert_int_eq(rt_rekey_decode(copy, b.len + 1, &back, &rec, &why), TS_E_PARSE);
    copy[0] = '{'; /* a JSON line on the internal topic */
    ck_assert_int_eq(rt_rekey_decode(copy, b.len, &back, &rec, &why), TS_E_PARSE);
    ck_assert(strstr(why, "magic") != NULL);
    copy[0] = 'T';
    copy[1] = 9;
    ck_assert_int_eq(rt_rekey_decode(copy, b.len, &back, &rec, &why), TS_E_PARSE);
    ck_assert(strstr(why, "version") != NULL);
    free(copy);
    /* a tenant that is not an id never reaches correlation */
    ev.tenant = "bad tenant!";
    ts_buf_reset(&b);
    ck_assert_int_eq(rt_rekey_encode(&b, &ev, "fail", "bf", NULL, 0), 0);
    ck_assert_int_eq(rt_rekey_decode(b.data, b.len, &back, &rec, &why), TS_E_PARSE);
    ck_assert(strstr(why, "tenant") != NULL);
    ts_buf_free(&b);
    ts_arena_destroy(a);
}
END_TEST

/* Feed ev to the single engine (every use) and, through a record, each use
 * to the node its routing key hashes to. */
static void feed_both(struct harness *one, struct harness *nodes, size_t nn, struct ts_event *ev,
                      struct ts_arena *ra)
{
    long idx = rule_set_find(one->rs, "fail");
    ck_assert_int_ge(idx, 0);
    ck_assert_int_eq(corr_feed(one->c, (size_t)idx, ev), 0);
    size_t nu = corr_use_count(one->c, (size_t)idx);
    ck_assert_uint_eq(nu, 2);
    struct ts_buf key, val;
    ts_buf_init(&key, 0);
    ts_buf_init(&val, 0);
    for (size_t u = 0; u < nu; u++) {
        ts_buf_reset(&key);
        ts_buf_reset(&val);
        ck_assert_int_eq(corr_use_key(one->c, (size_t)idx, u, ev, &key), 0);
        const char *use = corr_use_name(one->c, (size_t)idx, u);
        ck_assert_int_eq(rt_rekey_encode(&val, ev, "fail", use, one->c, 4096), 0);
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < key.len; i++)
            h = (h ^ (unsigned char)key.data[i]) * 1099511628211ull;
        struct harness *n = &nodes[h % nn];
        ts_arena_reset(ra);
        struct ts_event back;
        ts_event_init(&back, ra);
        struct rt_rekey_rec rec;
        const char *why;
        ck_assert_int_eq(rt_rekey_decode(val.data, val.len, &back, &rec, &why), 0);
        long nidx = rule_set_find(n->rs, rec.rule);
        long nu2 = corr_use_find(n->c, (size_t)nidx, rec.use);
        ck_assert_int_eq(nu2, (long)u);
        ck_assert_int_eq(corr_feed_use(n->c, (size_t)nidx, (size_t)nu2, &back), 0);
    }
    ts_buf_free(&key);
    ts_buf_free(&val);
}

START_TEST(test_split_by_key_gives_the_incidents_of_one_engine)
{
    struct harness one, nodes[3];
    h_open(&one, RULES, NULL);
    for (int i = 0; i < 3; i++)
        h_open(&nodes[i], RULES, NULL);
    struct ts_arena *ra;
    ck_assert_int_eq(ts_arena_create(&ra, 4096, 1 << 20), 0);
    /* 30 addresses, each failing against 6 "hosts" (sources) within a minute,
     * with 1-4 user names; batches of 16 detections, ends in between */
    int fed = 0;
    for (int round = 0; round < 2; round++)
        for (int a = 0; a < 30; a++)
            for (int k = 0; k < 6; k++) {
                ts_arena_reset(one.a);
                struct ts_event ev;
                ts_event_init(&ev, one.a);
                ev.time_ns = T0 + (int64_t)(round * 900 + a * 20 + k * 3) * SEC;
                ev.tenant = a % 7 ? "agency-a" : "agency-b";
                char src[16], ip[32], user[16];
                snprintf(src, sizeof(src), "p%d", (a + k) % 6);
                snprintf(ip, sizeof(ip), "203.0.113.%d", a + 1);
                snprintf(user, sizeof(user), "u%d", k % (1 + a % 4));
                ev.src = (struct ts_srcpos){.kind = TS_SRC_KAFKA, .name = src,
                                            .partition = (a + k) % 6, .offset = fed};
                ev.raw = "raw";
                ev.raw_len = 3;
                ck_assert_int_eq(ts_event_add_str(&ev, "src_ip", ip, strlen(ip)), 0);
                ck_assert_int_eq(ts_event_add_str(&ev, "user", user, strlen(user)), 0);
                if (fed % 16 == 0) {
                    h_end(&one);
                    for (int i = 0; i < 3; i++)
                        h_end(&nodes[i]);
                    corr_batch_begin(one.c);
                    for (int i = 0; i < 3; i++)
                        corr_batch_begin(nodes[i].c);
                }
                feed_both(&one, nodes, 3, &ev, ra);
                fed++;
            }
    h_end(&one);
    size_t total = 0, used = 0;
    for (int i = 0; i < 3; i++) {
        h_end(&nodes[i]);
        total += nodes[i].ninc;
        used += nodes[i].ninc > 0;
    }
    ck_assert_uint_ge(one.ninc, 30); /* brute force for all, spraying for some */
    ck_assert_uint_eq(total, one.ninc);
    ck_assert_uint_ge(used, 2);
    for (size_t j = 0; j < one.ninc; j++) {
        const struct inc_rec *r = &one.inc[j], *m = NULL;
        int where = 0;
        for (int i = 0; i < 3; i++)
            for (size_t x = 0; x < nodes[i].ninc; x++)
                if (!strcmp(nodes[i].inc[x].id, r->id)) {
                    m = &nodes[i].inc[x];
                    where++;
                }
        ck_assert_msg(where == 1, "incident %s in %d engines", r->id, where);
        ck_assert_uint_eq(m->count, r->count);
        ck_assert_int_eq(m->first, r->first);
        ck_assert_int_eq(m->last, r->last);
        ck_assert_str_eq(m->group, r->group);
        ck_assert_uint_eq(m->nvalues, r->nvalues);
    }
    ts_arena_destroy(ra);
    h_close(&one);
    for (int i = 0; i < 3; i++)
        h_close(&nodes[i]);
}
END_TEST

/* Out of order within the allowance (the re-keyed mode's lanes skew): five
 * failures make an episode, an earlier sixth moves its start, so the first
 * episode is undone before any output. Its evidence must not name it (the
 * store has no such incident: the batch's LMDB transaction failed with "not
 * found" and stopped the source); every event is evidence of the incident
 * that stands. */
START_TEST(test_episode_undone_within_a_batch_leaves_no_evidence_behind)
{
    struct harness h;
    h_open(&h, RULES, NULL);
    corr_batch_begin(h.c);
    static const int at[] = {10, 20, 30, 40, 50, 5};
    for (size_t i = 0; i < 6; i++)
        FEED(&h, "fail", T0 + at[i] * SEC, "src_ip", "203.0.113.7", "user", "root");
    struct corr_batch b;
    ck_assert_int_eq(corr_batch_end(h.c, &b), 0);
    const struct corr_incident *bf = NULL;
    for (size_t i = 0; i < b.nincidents; i++)
        if (!strcmp(b.incidents[i].rule_id, "11111111-0000-4000-8000-000000000001"))
            bf = &b.incidents[i];
    ck_assert_ptr_nonnull(bf);
    ck_assert_uint_eq(bf->count, 6);
    ck_assert_int_eq(bf->first_seen, T0 + 5 * SEC);
    size_t mine = 0;
    for (size_t e = 0; e < b.nevidence; e++) {
        bool listed = false;
        for (size_t i = 0; i < b.nincidents && !listed; i++)
            listed = !strcmp(b.evidence[e].incident, b.incidents[i].id);
        ck_assert_msg(listed, "evidence of incident %s, which is not in the output",
                      b.evidence[e].incident);
        mine += !strcmp(b.evidence[e].incident, bf->id);
    }
    ck_assert_uint_eq(mine, 6);
    h_close(&h);
}
END_TEST

/* The raw line travels only as far as the engine keeps it. */
START_TEST(test_record_carries_the_raw_up_to_what_evidence_keeps)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 4096, 1 << 20), 0);
    struct ts_event ev, back;
    mk_event(&ev, a);
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(rt_rekey_encode(&b, &ev, "fail", "bf", NULL, 10), 0);
    ts_event_init(&back, a);
    struct rt_rekey_rec rec;
    const char *why;
    ck_assert_int_eq(rt_rekey_decode(b.data, b.len, &back, &rec, &why), 0);
    ck_assert_uint_eq(back.raw_len, 10);
    ck_assert(memcmp(back.raw, "Failed pas", 10) == 0);
    ts_buf_free(&b);
    ts_arena_destroy(a);
}
END_TEST

/* The switch without a store is refused where it is set, before any
 * Kafka client exists. */
START_TEST(test_distributed_without_data_dir_is_refused_at_the_switch)
{
    char dir[] = "/tmp/check_rekey_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char rules[64], cfg[64];
    snprintf(rules, sizeof(rules), "%s/r.yml", dir);
    snprintf(cfg, sizeof(cfg), "%s/tocsin.yml", dir);
    FILE *f = fopen(rules, "w");
    ck_assert_ptr_nonnull(f);
    fputs(RULES, f);
    fclose(f);
    f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "kafka:\n  brokers: 127.0.0.1:1\ntopics:\n  - name: logs\npaths:\n"
               "  rules: [%s]\ncorrelate:\n  distributed: true\n", rules);
    fclose(f);
    struct rt_run *r = NULL;
    struct ts_err err = {0};
    FILE *devnull = fopen("/dev/null", "w");
    struct rt_run_opts o = {.config_path = cfg, .detections_out = devnull};
    ck_assert_int_eq(rt_run_create(&r, &o, &err), TS_E_CONFIG);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(err.file, cfg);
    ck_assert_uint_eq(err.line, 8);
    ck_assert_uint_eq(err.col, 16);
    ck_assert_msg(strstr(err.msg, "paths.data_dir") != NULL, "%s", err.msg);
    fclose(devnull);
    unlink(rules);
    unlink(cfg);
    rmdir(dir);
}
END_TEST

/* State follows partitions (runtime/dist.c): every state key a record's
 * batch writes belongs to the internal partition that record went to, so
 * the changelog partition of a key is its records' partition; a lane's
 * watermark belongs to its lane. */
#define BF_ID "11111111-0000-4000-8000-000000000001"

START_TEST(test_state_key_partition_is_its_records_partition)
{
    struct harness h;
    h_open(&h, RULES, NULL);
    struct rt_dist d = {.nparts = 6};
    long idx = rule_set_find(h.rs, "fail");
    ck_assert_int_ge(idx, 0);
    struct ts_buf key;
    ts_buf_init(&key, 0);
    int32_t want[2][40];
    for (int a = 0; a < 40; a++) {
        ts_arena_reset(h.a);
        struct ts_event ev;
        ts_event_init(&ev, h.a);
        ev.time_ns = T0 + a * SEC;
        ev.tenant = "agency-a";
        ev.src = (struct ts_srcpos){.kind = TS_SRC_KAFKA, .name = "in", .partition = 0};
        char ip[32];
        snprintf(ip, sizeof(ip), "198.51.100.%d", a + 1);
        ck_assert_int_eq(ts_event_add_str(&ev, "src_ip", ip, strlen(ip)), 0);
        ck_assert_int_eq(ts_event_add_str(&ev, "user", "root", 4), 0);
        for (size_t u = 0; u < 2; u++) {
            ts_buf_reset(&key);
            ck_assert_int_eq(corr_use_key(h.c, (size_t)idx, u, &ev, &key), 0);
            want[u][a] = ingest_kafka_partition_of(key.data, key.len, 6);
            ck_assert_int_eq(corr_feed_use(h.c, (size_t)idx, u, &ev), 0);
        }
    }
    struct corr_batch b;
    ck_assert_int_eq(corr_batch_end(h.c, &b), 0);
    size_t seen = 0;
    bool parts[6] = {false};
    for (size_t i = 0; i < b.nstate; i++) {
        const char *k = b.state[i].key;
        if (k[0] != 'k')
            continue;
        /* 'k' rule NUL tenant NUL (varint len, bytes): the address in it */
        const char *ip = memmem(k, b.state[i].key_len, "198.51.100.", 11);
        ck_assert_ptr_nonnull(ip);
        int a = 0;
        for (const char *q = ip + 11; q < k + b.state[i].key_len && *q >= '0' && *q <= '9'; q++)
            a = a * 10 + (*q - '0');
        a--;
        size_t u = !strcmp(k + 1, BF_ID) ? 0 : 1; /* the state key name is the rule's id */
        int32_t p = rt_dist_key_part(&d, k, b.state[i].key_len, b.state[i].val,
                                     b.state[i].val_len);
        ck_assert_int_eq(p, want[u][a]);
        parts[p] = true;
        seen++;
    }
    ck_assert_uint_eq(seen, 80);
    int used = 0;
    for (int p = 0; p < 6; p++)
        used += parts[p];
    ck_assert_int_ge(used, 4); /* 80 keys spread over the partitions */
    /* a watermark lane: "<topic>" US "<internal partition>" */
    char lane[32] = "\001sK\0\0\0\0in\0373";
    size_t ll = 7 + 4;
    lane[2] = (char)TS_SRC_KAFKA;
    ck_assert_int_eq(rt_dist_key_part(&d, lane, ll, NULL, 0), 3);
    ck_assert_int_eq(rt_dist_key_part(&d, lane, ll - 2, NULL, 0), RT_DIST_NOPART);
    ts_buf_free(&key);
    h_close(&h);
}
END_TEST

/* Keys dropped from the engine (a partition moved away) export nothing and
 * come back whole by import (the partition back, from LMDB or the
 * changelog); the other keys are untouched. */
static bool drop_bf(void *ctx, const void *name, size_t len)
{
    (void)ctx;
    return len > sizeof(BF_ID) + 1 && ((const char *)name)[0] == 'k' &&
           !memcmp((const char *)name + 1, BF_ID, sizeof(BF_ID));
}

START_TEST(test_dropped_keys_come_back_by_import)
{
    struct harness h;
    h_open(&h, RULES, NULL);
    for (int i = 0; i < 4; i++)
        FEED(&h, "fail", T0 + i * SEC, "src_ip", "203.0.113.5", "user", i % 2 ? "a" : "b");
    struct corr_batch b;
    ck_assert_int_eq(corr_batch_end(h.c, &b), 0);
    struct ts_buf saved, buf;
    ts_buf_init(&saved, 0);
    ts_buf_init(&buf, 0);
    size_t nbf = 0, nsp = 0;
    for (size_t i = 0; i < b.nstate; i++) {
        if (drop_bf(NULL, b.state[i].key, b.state[i].key_len)) {
            uint32_t l[2] = {(uint32_t)b.state[i].key_len, (uint32_t)b.state[i].val_len};
            ts_buf_append(&saved, l, sizeof(l));
            ts_buf_append(&saved, b.state[i].key, l[0]);
            ts_buf_append(&saved, b.state[i].val, l[1]);
            nbf++;
        } else if (((const char *)b.state[i].key)[0] == 'k') {
            nsp++;
        }
    }
    ck_assert_uint_eq(nbf, 1);
    ck_assert_uint_eq(nsp, 1);
    ck_assert_int_eq(corr_state_drop(h.c, drop_bf, NULL), 1);
    for (size_t o = 0; o < saved.len;) {
        uint32_t l[2];
        memcpy(l, saved.data + o, sizeof(l));
        const char *k = saved.data + o + sizeof(l);
        ts_buf_reset(&buf);
        ck_assert_int_eq(corr_state_export(h.c, k, l[0], &buf), TS_E_NOTFOUND);
        ck_assert_int_eq(corr_state_import(h.c, k, l[0], k + l[0], l[1]), 0);
        ts_buf_reset(&buf);
        ck_assert_int_eq(corr_state_export(h.c, k, l[0], &buf), 0);
        ck_assert_uint_eq(buf.len, l[1]);
        ck_assert_int_eq(memcmp(buf.data, k + l[0], l[1]), 0);
        o += sizeof(l) + l[0] + l[1];
    }
    /* the fifth failure completes the brute force as if nothing happened */
    FEED(&h, "fail", T0 + 5 * SEC, "src_ip", "203.0.113.5", "user", "c");
    h_end(&h);
    ck_assert_uint_eq(h_count(&h, BF_ID), 1);
    ts_buf_free(&saved);
    ts_buf_free(&buf);
    h_close(&h);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("rekey");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_record_gives_back_the_typed_event);
    tcase_add_test(tc, test_record_carries_only_the_fields_correlation_reads);
    tcase_add_test(tc, test_damaged_record_is_refused_at_every_length);
    tcase_add_test(tc, test_split_by_key_gives_the_incidents_of_one_engine);
    tcase_add_test(tc, test_episode_undone_within_a_batch_leaves_no_evidence_behind);
    tcase_add_test(tc, test_record_carries_the_raw_up_to_what_evidence_keeps);
    tcase_add_test(tc, test_distributed_without_data_dir_is_refused_at_the_switch);
    tcase_add_test(tc, test_state_key_partition_is_its_records_partition);
    tcase_add_test(tc, test_dropped_keys_come_back_by_import);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
