/* replay_report.c - what `tocsin replay` shows about its own run: the
 * progress bar on a terminal (stderr, redrawn at most 5 times a second,
 * from the reading thread) and the end summary's tallies (top N by count)
 * and detections per rule and per level with their first and last times.
 * A tally is a capped open-addressing table: one hash and a probe per
 * event, a copy of a key only when it is new, "other" past the cap. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/tstime.h"
#include "cli_int.h"

/* ---------------------------------------------------------------- tally */

static uint64_t tally_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int tally_grow(struct cli_tally *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 64;
    struct cli_tally_ent *n = calloc(ncap, sizeof(*n));
    if (!n)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->ent[i].key)
            continue;
        size_t j = t->ent[i].hash & (ncap - 1);
        while (n[j].key)
            j = (j + 1) & (ncap - 1);
        n[j] = t->ent[i];
    }
    free(t->ent);
    t->ent = n;
    t->cap = ncap;
    return 0;
}

void cli_tally_add(struct cli_tally *t, const char *key, size_t len)
{
    if (len > CLI_TALLY_KEY_MAX)
        len = CLI_TALLY_KEY_MAX;
    t->total++;
    if (!t->cap && tally_grow(t) != 0) {
        t->other++;
        return;
    }
    uint64_t h = tally_hash(key, len);
    size_t j = h & (t->cap - 1);
    for (; t->ent[j].key; j = (j + 1) & (t->cap - 1))
        if (t->ent[j].hash == h && t->ent[j].len == len && memcmp(t->ent[j].key, key, len) == 0) {
            t->ent[j].count++;
            return;
        }
    /* a new key: past the cap (or without memory) it counts as "other" */
    if (t->n >= CLI_TALLY_MAX) {
        t->other++;
        return;
    }
    if ((t->n + 1) * 2 > t->cap) {
        if (tally_grow(t) != 0) {
            t->other++;
            return;
        }
        for (j = h & (t->cap - 1); t->ent[j].key; j = (j + 1) & (t->cap - 1))
            ;
    }
    char *k = malloc(len + 1);
    if (!k) {
        t->other++;
        return;
    }
    memcpy(k, key, len);
    k[len] = '\0';
    t->ent[j] = (struct cli_tally_ent){.key = k, .len = len, .hash = h, .count = 1};
    t->n++;
}

static int ent_cmp(const void *a, const void *b)
{
    const struct cli_tally_ent *x = *(const struct cli_tally_ent *const *)a;
    const struct cli_tally_ent *y = *(const struct cli_tally_ent *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

void cli_tally_print(struct cli_tally *t, FILE *out, size_t top)
{
    if (!t->n && !t->other)
        return;
    const struct cli_tally_ent **v = malloc((t->n ? t->n : 1) * sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; v && i < t->cap; i++)
        if (t->ent[i].key)
            v[k++] = &t->ent[i];
    if (v)
        qsort(v, k, sizeof(*v), ent_cmp);
    fprintf(out, "  by %-10s ", t->label);
    if (k > top)
        fprintf(out, "(top %zu of %zu%s) ", top, k, t->other ? "+" : "");
    uint64_t rest = t->other;
    for (size_t i = 0; v && i < k; i++) {
        if (i < top)
            fprintf(out, "%s%s %llu", i ? ", " : "", v[i]->key, (unsigned long long)v[i]->count);
        else
            rest += v[i]->count;
    }
    if (rest)
        fprintf(out, ", other %llu", (unsigned long long)rest);
    fputc('\n', out);
    free(v);
}

void cli_tally_free(struct cli_tally *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->ent[i].key);
    free(t->ent);
    t->ent = NULL;
    t->cap = t->n = 0;
}

/* ------------------------------------------------------------- progress */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void cli_progress_start(struct cli_progress *p, FILE *out, bool on, uint64_t total_bytes,
                        bool total_known)
{
    memset(p, 0, sizeof(*p));
    p->out = out;
    p->on = on && out && isatty(fileno(out));
    p->total = total_bytes;
    p->known = total_known && total_bytes > 0;
    p->start_ns = mono_ns();
}

static void hms(char *buf, size_t len, double s)
{
    if (s < 0)
        s = 0;
    unsigned long t = (unsigned long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

static void draw(struct cli_progress *p, int64_t now)
{
    double el = (double)(now - p->start_ns) / 1e9;
    double lps = el > 0 ? (double)p->lines / el : 0, bps = el > 0 ? (double)p->bytes / el : 0;
    char e[32], eta[48] = "";
    hms(e, sizeof(e), el);
    char line[320];
    if (p->known) {
        double f = p->total ? (double)p->bytes / (double)p->total : 0;
        if (f > 1)
            f = 1;
        char bar[31];
        int fill = (int)(f * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        if (bps > 0 && f < 1) {
            char r[32];
            hms(r, sizeof(r), (double)(p->total - p->bytes) / bps);
            snprintf(eta, sizeof(eta), "  ETA %s", r);
        }
        snprintf(line, sizeof(line), "\r[%s] %3.0f%%  %llu lines  %.0f lines/s  %.1f MB/s  "
                 "elapsed %s%s\033[K", bar, f * 100, (unsigned long long)p->lines, lps,
                 bps / 1e6, e, eta);
    } else {
        snprintf(line, sizeof(line), "\r%llu lines  %.1f MB  %.0f lines/s  elapsed %s\033[K",
                 (unsigned long long)p->lines, (double)p->bytes / 1e6, lps, e);
    }
    fputs(line, p->out);
    fflush(p->out);
    p->drawn = true;
}

void cli_progress_add(struct cli_progress *p, uint64_t lines, uint64_t bytes)
{
    p->lines += lines;
    p->bytes += bytes;
    if (!p->on)
        return;
    int64_t now = mono_ns();
    if (now - p->last_ns < 200000000LL) /* at most 5 redraws a second */
        return;
    p->last_ns = now;
    draw(p, now);
}

double cli_progress_end(struct cli_progress *p)
{
    int64_t now = mono_ns();
    if (p->on && p->drawn) {
        fputs("\r\033[K", p->out); /* the summary takes the line */
        fflush(p->out);
    }
    return (double)(now - p->start_ns) / 1e9;
}

/* ----------------------------------------------------- detections summary */

struct rule_row {
    size_t idx;
    const struct rt_det_rule_stat *st;
};

static int row_cmp(const void *a, const void *b)
{
    const struct rule_row *x = a, *y = b;
    if (x->st->n != y->st->n)
        return x->st->n > y->st->n ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

void cli_detections_summary(const struct rt_det *d, FILE *out, size_t top)
{
    if (!d->printed || !d->printed_rs)
        return;
    size_t n = rule_set_count(d->printed_rs), k = 0;
    struct rule_row *v = malloc((n ? n : 1) * sizeof(*v));
    if (!v)
        return;
    static const char *const levels[] = {"critical", "high", "medium", "low", "informational",
                                         NULL};
    struct rt_det_rule_stat lv[6] = {{0}};
    for (size_t i = 0; i < n; i++) {
        const struct rt_det_rule_stat *st = &d->printed[i];
        if (!st->n)
            continue;
        v[k++] = (struct rule_row){i, st};
        const char *l = rule_set_info(d->printed_rs, i)->level;
        int li = 5;
        for (int j = 0; levels[j]; j++)
            if (l && strcmp(l, levels[j]) == 0)
                li = j;
        if (!lv[li].n || st->first_ns < lv[li].first_ns)
            lv[li].first_ns = st->first_ns;
        if (!lv[li].n || st->last_ns > lv[li].last_ns)
            lv[li].last_ns = st->last_ns;
        lv[li].n += st->n;
    }
    if (!k) {
        free(v);
        return;
    }
    char a[48], b[48];
    fprintf(out, "  detections by level:\n");
    for (int j = 0; j < 6; j++) {
        if (!lv[j].n)
            continue;
        ts_format_rfc3339(lv[j].first_ns, a, sizeof(a));
        ts_format_rfc3339(lv[j].last_ns, b, sizeof(b));
        fprintf(out, "    %-13s %9llu  %s .. %s\n", j < 5 ? levels[j] : "(no level)",
                (unsigned long long)lv[j].n, a, b);
    }
    qsort(v, k, sizeof(*v), row_cmp);
    fprintf(out, "  detections by rule%s:\n", k > top ? " (top by count)" : "");
    uint64_t rest = 0;
    for (size_t i = 0; i < k; i++) {
        if (i >= top) {
            rest += v[i].st->n;
            continue;
        }
        const struct rule_info *ri = rule_set_info(d->printed_rs, v[i].idx);
        ts_format_rfc3339(v[i].st->first_ns, a, sizeof(a));
        ts_format_rfc3339(v[i].st->last_ns, b, sizeof(b));
        fprintf(out, "    %9llu  %-8s %s .. %s  %s\n", (unsigned long long)v[i].st->n,
                ri->level ? ri->level : "-", a, b, ri->title ? ri->title : ri->id ? ri->id : "?");
    }
    if (rest)
        fprintf(out, "    %9llu  in %zu more rules\n", (unsigned long long)rest, k - top);
    free(v);
}
