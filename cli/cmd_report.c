/* cmd_report.c - `tocsin report --db DIR INCIDENT --stage S --format F`: the
 * escalation report of one incident kept in the LMDB store, for one
 * recipient and stage, as JSON (docs/report-schema.json), a STIX 2.1 bundle
 * or readable text in Vietnamese or English (escalate/escalate.h).
 * Reads the store in one read transaction (the engine may be running).
 * Exit: 0 ok, 1 failure (not found, storage error), 2 usage/configuration. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/tstime.h"
#include "../escalate/escalate.h"
#include "../storage/storage.h"
#include "cli.h"
#include "cli_int.h"

static const char report_usage[] =
    "usage: tocsin report --db DIR INCIDENT_ID [--stage initial|update|final]\n"
    "                     [--format json|stix|text] [--lang vi|en] [--recipient ID]\n"
    "                     [--regime NAME] [--regimes DIR] [--taxonomy FILE] [--policy FILE]\n"
    "                     [--assets FILE] [--org FILE] [--rules PATH]\n"
    "                     [--initial-ref NUMBER] [--initial-date TIME]\n"
    "The report on an incident of the store DIR for one recipient and stage\n"
    "(docs/escalation.md). Defaults: --stage initial, --format text, --lang vi,\n"
    "the regime named by --regime, else by the policy, else law116-2025, read from\n"
    "--regimes (default etc/escalation); --taxonomy defaults to\n"
    "etc/escalation/taxonomy.yml. --assets is the asset inventory (docs/assets.md),\n"
    "--org the reporting organisations (etc/escalation/org.example.yml); --rules a\n"
    "directory of Sigma rules in which the incident's rule is looked up by id, so\n"
    "that the STIX indicator carries the rule itself. --recipient defaults to the\n"
    "first recipient owed a report of that stage. --initial-ref and --initial-date\n"
    "(RFC 3339, or a date read at +07:00) fill form 04's reference to the initial\n"
    "report as numbered and dated when it was sent (else \"chưa khai báo\").\n";

struct rep_args {
    const char *db, *id, *regime, *regimes, *taxonomy, *policy, *assets, *org, *rules,
        *recipient;
    struct esc_report_opts o;
};

static int parse_args(int argc, char **argv, struct rep_args *a)
{
    memset(a, 0, sizeof(*a));
    a->o.stage = ESC_STAGE_INITIAL;
    a->o.format = ESC_FORMAT_TEXT;
    a->o.lang = ESC_LANG_VI;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(report_usage, stdout);
            return -1;
        }
        if (o[0] != '-' || !o[1]) {
            if (a->id) {
                fprintf(stderr, "tocsin report: unexpected argument \"%s\"\n", o);
                return 2;
            }
            a->id = o;
            continue;
        }
        if (!v) {
            fprintf(stderr, "tocsin report: %s needs a value\n%s", o, report_usage);
            return 2;
        }
        i++;
        if (!strcmp(o, "--db") || !strcmp(o, "-d"))
            a->db = v;
        else if (!strcmp(o, "--regime"))
            a->regime = v;
        else if (!strcmp(o, "--regimes"))
            a->regimes = v;
        else if (!strcmp(o, "--taxonomy"))
            a->taxonomy = v;
        else if (!strcmp(o, "--policy"))
            a->policy = v;
        else if (!strcmp(o, "--assets"))
            a->assets = v;
        else if (!strcmp(o, "--org"))
            a->org = v;
        else if (!strcmp(o, "--rules"))
            a->rules = v;
        else if (!strcmp(o, "--recipient"))
            a->recipient = v;
        else if (!strcmp(o, "--initial-ref"))
            a->o.initial_ref = v;
        else if (!strcmp(o, "--initial-date")) {
            size_t used = 0;
            if (ts_parse_iso8601(v, strlen(v), 7 * 3600, &a->o.initial_at_ns, &used) != 0 ||
                used != strlen(v)) {
                fprintf(stderr, "tocsin report: --initial-date \"%s\": expected a time like "
                                "2026-11-20T12:00:00+07:00 or 2026-11-20\n", v);
                return 2;
            }
        }
        else if (!strcmp(o, "--stage")) {
            if (esc_stage_parse(v, &a->o.stage) != 0) {
                fprintf(stderr, "tocsin report: --stage \"%s\": expected initial, update or "
                                "final\n", v);
                return 2;
            }
        } else if (!strcmp(o, "--format")) {
            if (!strcmp(v, "json"))
                a->o.format = ESC_FORMAT_JSON;
            else if (!strcmp(v, "stix"))
                a->o.format = ESC_FORMAT_STIX;
            else if (!strcmp(v, "text"))
                a->o.format = ESC_FORMAT_TEXT;
            else {
                fprintf(stderr, "tocsin report: --format \"%s\": expected json, stix or text\n",
                        v);
                return 2;
            }
        } else if (!strcmp(o, "--lang")) {
            if (!strcmp(v, "vi"))
                a->o.lang = ESC_LANG_VI;
            else if (!strcmp(v, "en"))
                a->o.lang = ESC_LANG_EN;
            else {
                fprintf(stderr, "tocsin report: --lang \"%s\": expected vi or en\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "tocsin report: unknown option \"%s\"\n%s", o, report_usage);
            return 2;
        }
    }
    if (!a->db || !a->id) {
        fprintf(stderr, "tocsin report: --db DIR and INCIDENT_ID are required\n%s",
                report_usage);
        return 2;
    }
    return 0;
}

static int config_error(const struct ts_err *err, int rc)
{
    char msg[1024];
    ts_err_format(err, msg, sizeof(msg));
    fprintf(stderr, "tocsin report: %s\n", err->code ? msg : ts_strerror(rc));
    return 2;
}

/* --------------------------------------------------- Sigma rule by id */

#define RULE_FILE_MAX (1u << 20)
#define RULE_SEARCH_DEPTH 8

/* The file starts a line with "id: <id>" (optionally quoted). */
static bool has_id(const char *text, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, "id:", 3)) {
            const char *v = p + 3;
            while (*v == ' ' || *v == '\t')
                v++;
            if (*v == '\'' || *v == '"')
                v++;
            if (!strncmp(v, id, n) && strchr("'\" \t\r\n", v[n] ? v[n] : '\n'))
                return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

static char *read_small(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(RULE_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, RULE_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n > RULE_FILE_MAX) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static char *find_rule(const char *path, const char *id, int depth)
{
    struct stat st;
    if (depth > RULE_SEARCH_DEPTH || stat(path, &st) != 0)
        return NULL;
    if (S_ISREG(st.st_mode)) {
        size_t n = strlen(path);
        if (n < 4 || (strcmp(path + n - 4, ".yml") && strcmp(path + n - 5, ".yaml")))
            return NULL;
        char *t = read_small(path);
        if (t && has_id(t, id))
            return t;
        free(t);
        return NULL;
    }
    if (!S_ISDIR(st.st_mode))
        return NULL;
    DIR *d = opendir(path);
    if (!d)
        return NULL;
    char *found = NULL;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= sizeof(sub))
            continue;
        found = find_rule(sub, id, depth + 1);
    }
    closedir(d);
    return found;
}

/* ---------------------------------------------------------------- main */

struct ev_read {
    struct store_evidence v[ESC_EVIDENCE_REFS_MAX];
    size_t n;
};

static int ev_keep(void *ctx, const struct store_evidence *ev)
{
    struct ev_read *r = ctx;
    if (r->n == ESC_EVIDENCE_REFS_MAX)
        return 1;
    r->v[r->n++] = *ev;
    return 0;
}

int cmd_report(int argc, char **argv)
{
    struct rep_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    static char full_id[STORE_ID_MAX + 1]; /* a unique prefix of the id will do */
    if (cli_incident_id("tocsin report", a.db, a.id, full_id))
        return 1;
    a.id = full_id;
    struct ts_err err = {0};
    struct esc_regime *regime = NULL;
    struct esc_taxonomy *tax = NULL;
    struct esc_policy *pol = NULL;
    struct esc_assets *assets = NULL;
    struct esc_orgs *orgs = NULL;
    struct store *st = NULL;
    struct store_txn *t = NULL;
    struct ts_arena *arena = NULL;
    struct ev_read *evr = NULL;
    char *rule_text = NULL;
    struct ts_buf out;
    ts_buf_init(&out, 64u << 20);
    int ret = 2;
    char dbuf[1024], tbuf[1200];
    const char *dir = a.regimes ? a.regimes : rt_default_dir("etc/escalation", dbuf, sizeof(dbuf));
    if (!dir)
        dir = "etc/escalation";

    if (a.policy && (rc = esc_policy_load(a.policy, &pol, &err)) != 0)
        goto config;
    const char *rname = a.regime ? a.regime : esc_policy_regime(pol);
    if ((rc = esc_regime_load_named(dir, rname ? rname : "law116-2025", &regime, &err)) != 0)
        goto config;
    if (esc_regime_lapsed(regime))
        fprintf(stderr, "tocsin: report: note: regime %s: %s\n", esc_regime_id(regime),
                esc_regime_lapsed(regime));
    if ((rc = esc_policy_check(pol, regime, &err)) != 0)
        goto config;
    snprintf(tbuf, sizeof(tbuf), "%s/taxonomy.yml", dir);
    if ((rc = esc_taxonomy_load(a.taxonomy ? a.taxonomy : tbuf, &tax, &err)) != 0)
        goto config;
    if (a.assets && (rc = esc_assets_load(a.assets, &assets, &err)) != 0)
        goto config;
    if (a.org && (rc = esc_orgs_load(a.org, &orgs, &err)) != 0)
        goto config;

    ret = 1;
    if ((rc = rt_store_open_read(a.db, 0, &st, &err)) != 0) {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin report: %s\n", err.code ? msg : store_strerror(rc));
        goto done;
    }
    if ((rc = ts_arena_create(&arena, 64u << 10, (size_t)64 << 20)) != 0 ||
        !(evr = calloc(1, sizeof(*evr))) ||
        (rc = store_txn_begin(st, STORE_TXN_RDONLY, &t)) != 0) {
        fprintf(stderr, "tocsin report: %s\n", store_strerror(rc ? rc : TS_E_NOMEM));
        goto done;
    }
    struct store_incident inc;
    if ((rc = store_incident_get(t, a.id, arena, &inc)) != 0) {
        fprintf(stderr, "tocsin report: incident \"%s\": %s\n", a.id,
                rc == TS_E_NOTFOUND ? "not found" : store_strerror(rc));
        goto done;
    }
    rc = store_evidence_foreach(t, a.id, arena, ev_keep, evr);
    if (rc != 0 && rc != 1) {
        fprintf(stderr, "tocsin report: evidence of \"%s\": %s\n", a.id, store_strerror(rc));
        goto done;
    }
    if (a.rules && inc.rule_id && *inc.rule_id && a.o.format == ESC_FORMAT_STIX) {
        rule_text = find_rule(a.rules, inc.rule_id, 0);
        if (!rule_text)
            fprintf(stderr, "tocsin report: rule %s not found under %s: the indicator "
                            "carries a reference only\n", inc.rule_id, a.rules);
    }
    struct esc_sent sent[ESC_SENT_MAX];
    size_t nsent = 0;
    if ((rc = esc_sent_read(t, a.id, arena, sent, ESC_SENT_MAX, &nsent)) != 0) {
        fprintf(stderr, "tocsin report: outbox of \"%s\": %s\n", a.id, store_strerror(rc));
        goto done;
    }
    struct esc_env env = {regime, tax, pol, orgs, assets};
    a.o.sent = sent;
    a.o.nsent = nsent;
    a.o.recipient = a.recipient;
    a.o.evidence = evr->v;
    a.o.nevidence = evr->n;
    a.o.rule_text = rule_text;
    rc = esc_report_render(&env, &inc, &a.o, &out);
    if (rc == TS_E_INVAL && a.recipient) {
        fprintf(stderr, "tocsin report: regime %s has no recipient \"%s\"\n",
                esc_regime_id(regime), a.recipient);
        ret = 2;
        goto done;
    }
    if (rc) {
        fprintf(stderr, "tocsin report: %s\n", ts_strerror(rc));
        goto done;
    }
    if (out.len && out.data[out.len - 1] != '\n')
        ts_buf_putc(&out, '\n');
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        perror("tocsin report: stdout");
        goto done;
    }
    ret = 0;
    goto done;
config:
    ret = config_error(&err, rc);
done:
    store_txn_abort(t);
    store_close(st);
    ts_arena_destroy(arena);
    free(evr);
    free(rule_text);
    ts_buf_free(&out);
    esc_regime_free(regime);
    esc_taxonomy_free(tax);
    esc_policy_free(pol);
    esc_assets_free(assets);
    esc_orgs_free(orgs);
    return ret;
}
