/* metric.h - Prometheus text exposition (format 0.0.4) writers: family
 * headers, samples with escaped label values, histograms; and a fixed-bucket
 * latency histogram with atomic counters to feed them.
 *
 * The writers validate names and escape label values and HELP text; they
 * keep no state (any thread, on its own buffer). They live in core because
 * both the HTTP server (its own series, http_metric_* in http/http.h are the
 * same functions) and the runtime's metrics hook write exposition text, and
 * the runtime must not depend on http/ (DESIGN: cli -> http -> runtime).
 * Errors: 0, TS_E_INVAL (a bad name or type), TS_E_LIMIT / TS_E_NOMEM from
 * the buffer; a failed sample leaves no half line behind.
 */
#ifndef TS_METRIC_H
#define TS_METRIC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ts.h"

struct ts_metric_label {
    const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
    const char *value; /* any text: escaped (\\, \", \n); invalid UTF-8
                          becomes U+FFFD; NULL = "" */
};

/* "# HELP name help\n# TYPE name type\n" (help escaped: \\ and \n).
 * type: "counter", "gauge", "histogram", "summary" or "untyped". */
int ts_metric_family(struct ts_buf *b, const char *name, const char *type, const char *help);
/* One sample line: name{labels} value\n ([a-zA-Z_:][a-zA-Z0-9_:]*). A
 * double that is NaN or infinite is written as NaN, +Inf, -Inf. */
int ts_metric_u64(struct ts_buf *b, const char *name, const struct ts_metric_label *labels,
                  size_t nlabels, uint64_t value);
int ts_metric_double(struct ts_buf *b, const char *name, const struct ts_metric_label *labels,
                     size_t nlabels, double value);
/* A histogram's samples: name_bucket{labels,le="b"} (cumulative) for each
 * of the nbounds upper bounds (ascending) and le="+Inf", then name_sum and
 * name_count. counts has nbounds + 1 entries: observations in each bucket
 * (not cumulative), the last one above the last bound. */
int ts_metric_histogram(struct ts_buf *b, const char *name, const struct ts_metric_label *labels,
                        size_t nlabels, const double *bounds, const uint64_t *counts,
                        size_t nbounds, double sum);

/* A latency histogram over fixed bounds in seconds (TS_HIST_BOUNDS: 1 ms
 * .. 60 s), observed from any thread with relaxed atomic adds (no lock:
 * cheap enough per batch). A scrape reads the counters one by one, so a
 * sample taken during an observation may be off by that one. */
#define TS_HIST_NBOUNDS 14
extern const double ts_hist_bounds[TS_HIST_NBOUNDS];
struct ts_hist {
    _Atomic uint64_t counts[TS_HIST_NBOUNDS + 1];
    _Atomic uint64_t sum_ns;
};
void ts_hist_observe(struct ts_hist *h, int64_t ns);
/* The histogram's samples as ts_metric_histogram writes them. */
int ts_hist_write(struct ts_buf *b, const char *name, const struct ts_metric_label *labels,
                  size_t nlabels, struct ts_hist *h);

#endif
