/* health.c - what each sending host looks like from here, so that Tocsin
 * never goes blind without saying so (issue 10): per (tenant, host) the
 * events seen, those whose time was clamped or came with a parse warning,
 * when it last sent, and how far its event times sit from ingest time — a
 * steady whole number of hours off is a zone mismatch, reported with the
 * configuration line that fixes it.
 *
 * One table per worker thread (ingest_health_note: that thread only, under
 * the table's mutex, which is uncontended except while a report reads it);
 * ingest_health_report merges the tables (any thread). Capped at
 * HEALTH_MAX_HOSTS per table: events of further hosts are counted as
 * "other hosts". */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "ingest.h"

#define HEALTH_MAX_HOSTS 65536
#define HEALTH_NAME_MAX 127
#define HOUR_NS (3600LL * TS_NS_PER_SEC)

struct hhost {
    char tenant[TS_TENANT_MAX + 1];
    char host[HEALTH_NAME_MAX + 1];
    char topic[HEALTH_NAME_MAX + 1];
    uint64_t hash;
    uint64_t events, clamped, warnings;
    int64_t first_ns, last_ns;       /* ingest times */
    /* event time - ingest time, seconds, over events with their own time */
    uint64_t n;
    double mean, m2;
    int assumed_off;                 /* zone offset the times were read with */
    int64_t warned_zone_ns, warned_clamp_ns;
    bool silent;
};

struct ingest_health {
    pthread_mutex_t mu;
    struct hhost *h;
    size_t n, cap;
    uint32_t *idx; /* 1 + index; open addressing */
    size_t idxcap;
    uint64_t other; /* events of hosts beyond the cap */
};

static uint64_t fnv(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

int ingest_health_create(struct ingest_health **out)
{
    struct ingest_health *h = calloc(1, sizeof(*h));
    if (!h)
        return TS_E_NOMEM;
    pthread_mutex_init(&h->mu, NULL);
    *out = h;
    return 0;
}

void ingest_health_destroy(struct ingest_health *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->mu);
    free(h->h);
    free(h->idx);
    free(h);
}

static void copy_name(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static struct hhost *find(struct ingest_health *h, const char *tenant, const char *host,
                          size_t hl, const char *topic)
{
    size_t tl = strlen(tenant);
    uint64_t k = fnv(host, hl, fnv(tenant, tl, 1469598103934665603ull) ^ 0xff);
    if (h->idxcap) {
        for (size_t i = k & (h->idxcap - 1); h->idx[i]; i = (i + 1) & (h->idxcap - 1)) {
            struct hhost *e = &h->h[h->idx[i] - 1];
            if (e->hash == k && strncmp(e->host, host, hl) == 0 && e->host[hl] == '\0' &&
                strcmp(e->tenant, tenant) == 0)
                return e;
        }
    }
    if (h->n >= HEALTH_MAX_HOSTS || tl > TS_TENANT_MAX || hl > HEALTH_NAME_MAX)
        return NULL;
    if ((h->n + 1) * 2 > h->idxcap) {
        size_t ncap = h->idxcap ? h->idxcap * 2 : 64;
        uint32_t *ni = calloc(ncap, sizeof(*ni));
        if (!ni)
            return NULL;
        for (size_t j = 0; j < h->n; j++) {
            size_t i = h->h[j].hash & (ncap - 1);
            while (ni[i])
                i = (i + 1) & (ncap - 1);
            ni[i] = (uint32_t)j + 1;
        }
        free(h->idx);
        h->idx = ni;
        h->idxcap = ncap;
    }
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 32;
        struct hhost *nh = realloc(h->h, ncap * sizeof(*nh));
        if (!nh)
            return NULL;
        h->h = nh;
        h->cap = ncap;
    }
    struct hhost *e = &h->h[h->n];
    memset(e, 0, sizeof(*e));
    copy_name(e->tenant, sizeof(e->tenant), tenant, tl);
    copy_name(e->host, sizeof(e->host), host, hl);
    copy_name(e->topic, sizeof(e->topic), topic ? topic : "", topic ? strlen(topic) : 0);
    e->hash = k;
    size_t i = k & (h->idxcap - 1);
    while (h->idx[i])
        i = (i + 1) & (h->idxcap - 1);
    h->idx[i] = (uint32_t)++h->n;
    return e;
}

void ingest_health_note(struct ingest_health *h, const struct ts_event *ev, int64_t own_time_ns,
                        int assumed_off, bool warning)
{
    const struct ts_field *f = ts_event_getz(ev, "host");
    const char *host = f && f->v.type == TS_V_STR ? f->v.u.s : "-";
    size_t hl = f && f->v.type == TS_V_STR ? f->v.len : 1;
    pthread_mutex_lock(&h->mu);
    struct hhost *e = find(h, ev->tenant ? ev->tenant : "", host, hl, ev->src.name);
    if (!e) {
        h->other++;
        pthread_mutex_unlock(&h->mu);
        return;
    }
    e->events++;
    e->clamped += ev->time_clamped;
    e->warnings += warning;
    if (!e->first_ns)
        e->first_ns = ev->ingest_ns;
    e->last_ns = ev->ingest_ns;
    e->silent = false;
    if (ev->time_from_event) { /* Welford, on the time the event claimed */
        double d = (double)(own_time_ns - ev->ingest_ns) / 1e9;
        e->n++;
        double delta = d - e->mean;
        e->mean += delta / (double)e->n;
        e->m2 += delta * (d - e->mean);
        e->assumed_off = assumed_off;
    }
    pthread_mutex_unlock(&h->mu);
}

/* Event times a steady whole number of hours (1..26) off ingest time:
 * *hours (signed: event - ingest) and true. */
static bool zone_mismatch(const struct hhost *e, int *hours)
{
    if (e->n < 20)
        return false;
    double sd = sqrt(e->m2 / (double)(e->n - 1));
    double hrs = e->mean / 3600.0;
    long r = lround(hrs);
    if (r == 0 || labs(r) > 26 || fabs(hrs - (double)r) > 0.1 || sd > 600.0)
        return false;
    *hours = (int)r;
    return true;
}

static void fmt_off(int off, char *buf, size_t len)
{
    if (off == 0) {
        snprintf(buf, len, "UTC");
        return;
    }
    int a = off < 0 ? -off : off;
    snprintf(buf, len, "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

void ingest_health_report(struct ingest_health *const *hs, size_t nh, int64_t now_ns,
                          int64_t silent_after_ns, struct ingest_health_summary *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (size_t t = 0; t < nh; t++) {
        struct ingest_health *h = hs[t];
        if (!h)
            continue;
        pthread_mutex_lock(&h->mu);
        sum->other_events += h->other;
        for (size_t i = 0; i < h->n; i++) {
            struct hhost *e = &h->h[i];
            sum->hosts++;
            sum->clamped += e->clamped;
            sum->warnings += e->warnings;
            int hours;
            if (zone_mismatch(e, &hours)) {
                sum->zone_mismatches++;
                if (!e->warned_zone_ns || now_ns - e->warned_zone_ns >= HOUR_NS) {
                    char zone[16];
                    fmt_off(e->assumed_off + hours * 3600, zone, sizeof(zone));
                    ts_warn("host %s (tenant %s, %s): event times sit %+d h from ingest time "
                            "over %llu events: likely a zone mismatch; if its clock keeps %s, "
                            "add to the config: ingest: {hosts: {\"%s\": \"%s\"}}",
                            e->host, e->tenant[0] ? e->tenant : "-", e->topic, hours,
                            (unsigned long long)e->n, zone, e->host, zone);
                    e->warned_zone_ns = now_ns;
                }
            }
            if (e->clamped && (!e->warned_clamp_ns || now_ns - e->warned_clamp_ns >= HOUR_NS)) {
                ts_warn("host %s (tenant %s, %s): %llu of %llu events dated too far ahead: "
                        "clamped to ingest time (its clock, or forged lines)",
                        e->host, e->tenant[0] ? e->tenant : "-", e->topic,
                        (unsigned long long)e->clamped, (unsigned long long)e->events);
                e->warned_clamp_ns = now_ns;
            }
            if (silent_after_ns > 0 && now_ns - e->last_ns > silent_after_ns) {
                sum->silent++;
                if (!e->silent) {
                    ts_warn("host %s (tenant %s, %s) has sent nothing for %lld s (after %llu "
                            "events)",
                            e->host, e->tenant[0] ? e->tenant : "-", e->topic,
                            (long long)((now_ns - e->last_ns) / TS_NS_PER_SEC),
                            (unsigned long long)e->events);
                    e->silent = true;
                }
            }
        }
        pthread_mutex_unlock(&h->mu);
    }
}
