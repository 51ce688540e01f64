/* metric.c - Prometheus text exposition writers and the latency
 * histogram (metric.h). Stateless writers; any thread on its own buffer. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"

static bool name_ok(const char *s, bool colon)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                     (colon && c == ':');
        if (!alpha && !(p > s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* Text with \\ and \n escaped (and \" when quoted), invalid UTF-8 as
 * U+FFFD, other control bytes kept (the format allows them). */
static int put_escaped(struct ts_buf *b, const char *s, bool quoted)
{
    size_t n = s ? strlen(s) : 0;
    int rc = 0;
    while (n && !rc) {
        size_t ok = ts_utf8_valid_prefix(s, n);
        for (size_t i = 0; i < ok && !rc; i++) {
            char c = s[i];
            if (c == '\\')
                rc = ts_buf_puts(b, "\\\\");
            else if (c == '\n')
                rc = ts_buf_puts(b, "\\n");
            else if (c == '"' && quoted)
                rc = ts_buf_puts(b, "\\\"");
            else
                rc = ts_buf_putc(b, c);
        }
        if (ok < n && !rc) {
            rc = ts_buf_puts(b, "\xef\xbf\xbd");
            ok++;
        }
        s += ok;
        n -= ok;
    }
    return rc;
}

int ts_metric_family(struct ts_buf *b, const char *name, const char *type, const char *help)
{
    static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    bool type_ok = false;
    for (size_t i = 0; i < TS_ARRAY_LEN(types); i++)
        type_ok |= type && !strcmp(type, types[i]);
    if (!name_ok(name, true) || !type_ok)
        return TS_E_INVAL;
    int rc = ts_buf_printf(b, "# HELP %s ", name);
    rc = rc ? rc : put_escaped(b, help ? help : "", false);
    return rc ? rc : ts_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static int put_labels(struct ts_buf *b, const struct ts_metric_label *l, size_t n, const char *le)
{
    if (!n && !le)
        return 0;
    int rc = ts_buf_putc(b, '{');
    for (size_t i = 0; i < n && !rc; i++) {
        if (!name_ok(l[i].name, false) || !strncmp(l[i].name, "__", 2))
            return TS_E_INVAL;
        rc = ts_buf_printf(b, "%s%s=\"", i ? "," : "", l[i].name);
        rc = rc ? rc : put_escaped(b, l[i].value, true);
        rc = rc ? rc : ts_buf_putc(b, '"');
    }
    if (le && !rc)
        rc = ts_buf_printf(b, "%sle=\"%s\"", n ? "," : "", le);
    return rc ? rc : ts_buf_putc(b, '}');
}

static void fmt_double(double v, char *buf, size_t cap)
{
    if (isnan(v))
        snprintf(buf, cap, "NaN");
    else if (isinf(v))
        snprintf(buf, cap, "%s", v > 0 ? "+Inf" : "-Inf");
    else {
        /* the shortest of %.15g .. %.17g that reads back as v */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, cap, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    }
}

static int sample(struct ts_buf *b, const char *name, const char *suffix,
                  const struct ts_metric_label *l, size_t nl, const char *le, const char *value)
{
    if (!name_ok(name, true))
        return TS_E_INVAL;
    size_t mark = b->len;
    int rc = ts_buf_printf(b, "%s%s", name, suffix);
    rc = rc ? rc : put_labels(b, l, nl, le);
    rc = rc ? rc : ts_buf_printf(b, " %s\n", value);
    if (rc && b->data) { /* never leave half a line */
        b->len = mark;
        b->data[mark] = '\0';
    }
    return rc;
}

int ts_metric_u64(struct ts_buf *b, const char *name, const struct ts_metric_label *labels,
                    size_t nlabels, uint64_t value)
{
    char v[24];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)value);
    return sample(b, name, "", labels, nlabels, NULL, v);
}

int ts_metric_double(struct ts_buf *b, const char *name, const struct ts_metric_label *labels,
                       size_t nlabels, double value)
{
    char v[40];
    fmt_double(value, v, sizeof(v));
    return sample(b, name, "", labels, nlabels, NULL, v);
}

int ts_metric_histogram(struct ts_buf *b, const char *name, const struct ts_metric_label *labels,
                          size_t nlabels, const double *bounds, const uint64_t *counts,
                          size_t nbounds, double sum)
{
    uint64_t cum = 0;
    char le[40], v[40];
    int rc = 0;
    for (size_t i = 0; i < nbounds && !rc; i++) {
        if (i && !(bounds[i] > bounds[i - 1]))
            return TS_E_INVAL;
        cum += counts[i];
        fmt_double(bounds[i], le, sizeof(le));
        snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
        rc = sample(b, name, "_bucket", labels, nlabels, le, v);
    }
    cum += counts[nbounds];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
    rc = rc ? rc : sample(b, name, "_bucket", labels, nlabels, "+Inf", v);
    fmt_double(sum, le, sizeof(le));
    rc = rc ? rc : sample(b, name, "_sum", labels, nlabels, NULL, le);
    return rc ? rc : sample(b, name, "_count", labels, nlabels, NULL, v);
}

const double ts_hist_bounds[TS_HIST_NBOUNDS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                0.25,  0.5,    1,     2.5,  5,     10,  60};

void ts_hist_observe(struct ts_hist *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    double s = (double)ns / 1e9;
    size_t i = 0;
    while (i < TS_HIST_NBOUNDS && s > ts_hist_bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns, memory_order_relaxed);
}

int ts_hist_write(struct ts_buf *b, const char *name, const struct ts_metric_label *labels,
                  size_t nlabels, struct ts_hist *h)
{
    uint64_t counts[TS_HIST_NBOUNDS + 1];
    for (size_t i = 0; i <= TS_HIST_NBOUNDS; i++)
        counts[i] = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    double sum = (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9;
    return ts_metric_histogram(b, name, labels, nlabels, ts_hist_bounds, counts,
                               TS_HIST_NBOUNDS, sum);
}
