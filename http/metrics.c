/* metrics.c - the Prometheus text exposition writers of http.h, over
 * core's (core/metric.h: the runtime's metrics hook writes with those, as
 * the runtime must not depend on http/). Stateless; any thread on its own
 * buffer. */
#include "../core/metric.h"
#include "http_int.h"

#define LABELS_MAX 16 /* labels of one sample; the server writes two at most */

static int labels(const struct http_label *l, size_t n, struct ts_metric_label *out)
{
    if (n > LABELS_MAX)
        return TS_E_INVAL;
    for (size_t i = 0; i < n; i++)
        out[i] = (struct ts_metric_label){l[i].name, l[i].value};
    return 0;
}

int http_metric_family(struct ts_buf *b, const char *name, const char *type, const char *help)
{
    return ts_metric_family(b, name, type, help);
}

int http_metric_u64(struct ts_buf *b, const char *name, const struct http_label *l,
                    size_t nl, uint64_t value)
{
    struct ts_metric_label ml[LABELS_MAX];
    int rc = labels(l, nl, ml);
    return rc ? rc : ts_metric_u64(b, name, ml, nl, value);
}

int http_metric_double(struct ts_buf *b, const char *name, const struct http_label *l,
                       size_t nl, double value)
{
    struct ts_metric_label ml[LABELS_MAX];
    int rc = labels(l, nl, ml);
    return rc ? rc : ts_metric_double(b, name, ml, nl, value);
}

int http_metric_histogram(struct ts_buf *b, const char *name, const struct http_label *l,
                          size_t nl, const double *bounds, const uint64_t *counts,
                          size_t nbounds, double sum)
{
    struct ts_metric_label ml[LABELS_MAX];
    int rc = labels(l, nl, ml);
    return rc ? rc : ts_metric_histogram(b, name, ml, nl, bounds, counts, nbounds, sum);
}
