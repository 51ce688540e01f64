/* cmd_summary.c - `tocsin summary`: the periodic monitoring report of a
 * store (runtime/summary.c computes and renders it; this file parses and
 * prints). Exit: 0 ok, 1 storage error, 2 usage/configuration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/tstime.h"
#include "../runtime/runtime.h"
#include "cli.h"
#include "cli_int.h"

static const char summary_usage[] =
    "usage: tocsin summary --db DIR [--period day|week|month|custom] [--from T --to T]\n"
    "                      [--format text|json|html] [--lang vi|en] [--tenant X]\n"
    "                      [--regime NAME] [--regimes DIR] [--taxonomy FILE] [--policy FILE]\n"
    "                      [--org FILE] [--assets FILE] [--utc-offset +07:00]\n"
    "The monitoring report of a period (docs/escalation.md \"Monitoring reports\"):\n"
    "incidents by status, severity, type, tenant and rule, events in them, response\n"
    "times, escalations delivered/pending/failed/overdue, counted losses, top sources\n"
    "and targets. --period (default week): the last full day, week (Monday-Sunday) or\n"
    "month in local time; custom takes --from and --to (RFC 3339, or a date read at\n"
    "the UTC offset). The regime options type the incidents and count the overdue\n"
    "reports (as for tocsin report). Default format text, language vi.\n";

/* RFC 3339, or a date (its midnight at the offset off). */
static int parse_when(const char *v, int off, int64_t *out)
{
    char day[32];
    if (strlen(v) == 10) {
        snprintf(day, sizeof(day), "%sT00:00:00", v);
        v = day;
    }
    size_t used = 0;
    return ts_parse_iso8601(v, strlen(v), off, out, &used) == 0 && used == strlen(v) ? 0 : -1;
}

int cmd_summary(int argc, char **argv)
{
    const char *db = NULL, *period = "week", *from = NULL, *to = NULL, *tenant = NULL,
               *offset = "+07:00";
    struct cli_esc_opts eo = {0};
    enum rt_summary_format fmt = RT_SUMMARY_TEXT;
    enum esc_lang lang = ESC_LANG_VI;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(summary_usage, stdout);
            return 0;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **dst = !strcmp(o, "--db") || !strcmp(o, "-d") ? &db
                           : !strcmp(o, "--period")               ? &period
                           : !strcmp(o, "--from")                 ? &from
                           : !strcmp(o, "--to")                   ? &to
                           : !strcmp(o, "--tenant")               ? &tenant
                           : !strcmp(o, "--utc-offset")           ? &offset
                                                                  : cli_esc_opt(&eo, o);
        bool f = !strcmp(o, "--format"), l = !strcmp(o, "--lang");
        if (!dst && !f && !l) {
            fprintf(stderr, "tocsin summary: unknown option \"%s\"\n%s", o, summary_usage);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "tocsin summary: %s needs a value\n", o);
            return 2;
        }
        i++;
        if (f) {
            if (!strcmp(v, "text"))
                fmt = RT_SUMMARY_TEXT;
            else if (!strcmp(v, "json"))
                fmt = RT_SUMMARY_JSON;
            else if (!strcmp(v, "html"))
                fmt = RT_SUMMARY_HTML;
            else {
                fprintf(stderr, "tocsin summary: --format \"%s\": expected text, json or html\n",
                        v);
                return 2;
            }
        } else if (l) {
            if (strcmp(v, "vi") && strcmp(v, "en")) {
                fprintf(stderr, "tocsin summary: --lang \"%s\": expected vi or en\n", v);
                return 2;
            }
            lang = !strcmp(v, "vi") ? ESC_LANG_VI : ESC_LANG_EN;
        } else {
            *dst = v;
        }
    }
    if (!db) {
        fprintf(stderr, "tocsin summary: --db DIR is required\n%s", summary_usage);
        return 2;
    }
    int64_t offns = 0;
    char tmp[48];
    snprintf(tmp, sizeof(tmp), "1970-01-02T00:00:00%s", offset);
    if (strlen(offset) > 8 || parse_when(tmp, 0, &offns) != 0) {
        fprintf(stderr, "tocsin summary: --utc-offset \"%s\": expected like +07:00\n", offset);
        return 2;
    }
    int off = (int)(86400 - offns / TS_NS_PER_SEC);
    struct rt_summary_opts so = {.kind = period, .tenant = tenant, .utc_offset_sec = off};
    if (!strcmp(period, "custom")) {
        if (!from || !to || parse_when(from, off, &so.from_ns) || parse_when(to, off, &so.to_ns) ||
            so.to_ns <= so.from_ns) {
            fprintf(stderr, "tocsin summary: --period custom needs --from T --to T (RFC 3339 or "
                            "a date), FROM before TO\n");
            return 2;
        }
    } else if (from || to) {
        fprintf(stderr, "tocsin summary: --from and --to go with --period custom\n");
        return 2;
    } else if (rt_summary_period(period, ts_now_ns(), off, &so.from_ns, &so.to_ns) != 0) {
        fprintf(stderr, "tocsin summary: --period \"%s\": expected day, week, month or custom\n",
                period);
        return 2;
    }
    struct rt_esc esc;
    memset(&esc, 0, sizeof(esc));
    bool esc_open = false;
    if (cli_esc_open(&esc, &eo) != 0) {
        if (cli_esc_given(&eo))
            return 2; /* what was named must load (the error is printed) */
        fprintf(stderr, "tocsin summary: note: no escalation configuration: incident types "
                        "are \"other\" and overdue reports unknown\n");
    } else {
        esc_open = true;
        so.env = &esc.env;
    }
    struct store *st = NULL;
    struct ts_err err = {0};
    int ret = 1;
    struct rt_summary *sum = NULL;
    if (rt_store_open_read(db, 0, &st, &err) != 0) {
        fprintf(stderr, "tocsin summary: %s: %s\n", db, err.msg);
        goto done;
    }
    if (rt_summary_compute(st, &so, &sum, &err) != 0) {
        fprintf(stderr, "tocsin summary: %s\n", err.msg);
        goto done;
    }
    struct ts_buf b;
    ts_buf_init(&b, 16u << 20);
    if (rt_summary_render(sum, fmt, lang, &b) != 0) {
        fprintf(stderr, "tocsin summary: the report is larger than 16 MiB\n");
        ts_buf_free(&b);
        goto done;
    }
    fwrite(b.data, 1, b.len, stdout);
    ts_buf_free(&b);
    ret = 0;
done:
    rt_summary_free(sum);
    store_close(st);
    if (esc_open)
        rt_esc_close(&esc);
    return ret;
}
