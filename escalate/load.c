/* load.c - the YAML loaders of escalate/: regimes, the type taxonomy, the
 * routing policy, the organisations (tenant config) and the asset
 * inventory. Each object owns one arena holding all of its strings and
 * tables; it is loaded whole or not at all, and is immutable afterwards
 * (any thread may read it). Errors are file:line:col, first error wins;
 * unknown keys are errors. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/tstime.h"
#include "esc_int.h"

#define ARENA_CHUNK (16u << 10)
#define ARENA_CAP ((size_t)64 << 20)
#define LIST_MAX 256

/* ------------------------------------------------------------ vocabulary */

static const char *const type_names[ESC_TYPE_COUNT] = {
    "dos", "phishing", "malware", "takeover", "defacement",
    "ransomware", "destruction", "espionage", "combined", "other",
};
static const char *const impact_names[ESC_IMPACT_COUNT] = {
    "outage", "data_leak", "loss_of_control", "data_loss", "integrity",
};
static const char *const stage_names[] = {"initial", "update", "final"};

const char *esc_type_name(enum esc_type t)
{
    return (unsigned)t < ESC_TYPE_COUNT ? type_names[t] : NULL;
}

int esc_type_parse(const char *name, enum esc_type *out)
{
    for (unsigned i = 0; name && i < ESC_TYPE_COUNT; i++)
        if (!strcmp(name, type_names[i])) {
            *out = (enum esc_type)i;
            return 0;
        }
    return TS_E_INVAL;
}

const char *esc_impact_name(unsigned bit)
{
    return bit < ESC_IMPACT_COUNT ? impact_names[bit] : NULL;
}

const char *esc_stage_name(enum esc_stage s)
{
    return (unsigned)s < 3 ? stage_names[s] : NULL;
}

int esc_stage_parse(const char *name, enum esc_stage *out)
{
    for (unsigned i = 0; name && i < 3; i++)
        if (!strcmp(name, stage_names[i])) {
            *out = (enum esc_stage)i;
            return 0;
        }
    return TS_E_INVAL;
}

const char *esc_text_get(const struct esc_text *t, enum esc_lang lang)
{
    const char *s = lang == ESC_LANG_VI ? t->vi : t->en;
    return s ? s : (t->vi ? t->vi : t->en);
}

/* ------------------------------------------------------------- helpers */

int esc_fail(struct esc_lctx *x, const struct ts_ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_yconf_vfail(x, TS_E_CONFIG, n, fmt, ap);
    va_end(ap);
    return rc;
}

int esc_nomem(struct esc_lctx *x)
{
    return ts_yconf_nomem(x);
}

int esc_yaml_open(const char *path, const char *name, const char *buf, size_t len,
                  struct ts_ystream **out, const struct ts_ynode **root, struct ts_err *err)
{
    struct ts_ystream *s = NULL;
    int rc;
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f)
            return ts_err_set(err, TS_E_IO, path, 0, 0, "cannot open: %s", strerror(errno));
        if (fseek(f, 0, SEEK_END) == 0) {
            long sz = ftell(f);
            if (sz > (long)ESC_FILE_MAX) {
                fclose(f);
                return ts_err_set(err, TS_E_LIMIT, path, 0, 0, "file larger than %u bytes",
                                  ESC_FILE_MAX);
            }
        }
        fclose(f);
        rc = ts_yaml_load_file(path, &s, err);
        name = path;
    } else {
        if (len > ESC_FILE_MAX)
            return ts_err_set(err, TS_E_LIMIT, name, 0, 0, "input larger than %u bytes",
                              ESC_FILE_MAX);
        rc = ts_yaml_load_buffer(name, buf, len, &s, err);
    }
    if (rc)
        return rc;
    if ((rc = esc_yaml_root(s, name, root, err)) != 0) {
        ts_yaml_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int esc_yaml_root(const struct ts_ystream *s, const char *name, const struct ts_ynode **root,
                  struct ts_err *err)
{
    if (s->ndocs != 1 || !s->docs[0].root || s->docs[0].root->kind != TS_Y_MAP)
        return ts_err_set(err, TS_E_CONFIG, name, 1, 1,
                          "expected exactly one YAML document holding a mapping");
    *root = s->docs[0].root;
    return 0;
}

static int check_keys(struct esc_lctx *x, const struct ts_ynode *map, const char *what,
                      const char *const *known)
{
    return ts_yconf_check_keys(x, map, what, known, ts_yconf_count(known), NULL);
}

/* A string of at most ESC_TEXT_MAX bytes of UTF-8 ("" allowed). */
static int get_str(struct esc_lctx *x, const struct ts_ynode *n, const char *what,
                   const char **out)
{
    char *s = NULL;
    int rc = ts_yconf_text(x, n, what, ESC_TEXT_MAX, TS_YCONF_EMPTY_OK | TS_YCONF_UTF8, &s);
    if (!rc)
        *out = s;
    return rc;
}

/* An optional string key: absent or null leaves *out as it is. */
static int opt_str(struct esc_lctx *x, const struct ts_ynode *map, const char *key,
                   const char **out)
{
    const struct ts_ynode *n = ts_yaml_get(map, key);
    if (!n || (n->kind == TS_Y_SCALAR && n->style == TS_YS_PLAIN && ts_yaml_is_null(n)))
        return 0;
    return get_str(x, n, key, out);
}

static int get_id(struct esc_lctx *x, const struct ts_ynode *n, const char *what,
                  const char **out)
{
    int rc = get_str(x, n, what, out);
    if (rc)
        return rc;
    size_t l = strlen(*out);
    if (l == 0 || l > ESC_ID_MAX)
        return esc_fail(x, n, "%s must be 1 to %u characters", what, ESC_ID_MAX);
    for (const char *p = *out; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return esc_fail(x, n, "%s \"%s\": only letters, digits, '-', '_' and '.'", what,
                            *out);
    return 0;
}

/* A string or a list of strings. */
static int get_list(struct esc_lctx *x, const struct ts_ynode *n, const char *what,
                    const char ***out, size_t *nout)
{
    size_t cnt = n && n->kind == TS_Y_SEQ ? n->nitems : 1;
    if (!n || n->kind == TS_Y_MAP)
        return esc_fail(x, n, "%s must be a string or a list of strings", what);
    if (cnt > LIST_MAX)
        return esc_fail(x, n, "%s: more than %u entries", what, LIST_MAX);
    const char **v = ts_arena_alloc(x->arena, (cnt ? cnt : 1) * sizeof(*v));
    if (!v)
        return esc_nomem(x);
    for (size_t i = 0; i < cnt; i++) {
        int rc = get_str(x, n->kind == TS_Y_SEQ ? n->items[i] : n, what, &v[i]);
        if (rc)
            return rc;
    }
    *out = v;
    *nout = cnt;
    return 0;
}

static int get_text(struct esc_lctx *x, const struct ts_ynode *n, const char *what,
                    struct esc_text *out)
{
    if (n && n->kind == TS_Y_SCALAR) {
        int rc = get_str(x, n, what, &out->vi);
        out->en = out->vi;
        return rc;
    }
    static const char *const k[] = {"vi", "en", NULL};
    int rc = check_keys(x, n, what, k);
    rc = rc ? rc : opt_str(x, n, "vi", &out->vi);
    rc = rc ? rc : opt_str(x, n, "en", &out->en);
    if (!rc && !out->vi && !out->en)
        rc = esc_fail(x, n, "%s needs vi or en", what);
    return rc;
}

static int get_int(struct esc_lctx *x, const struct ts_ynode *n, const char *what, long lo,
                   long hi, int *out)
{
    long long v;
    int rc = ts_yconf_int(x, n, what, lo, hi, &v);
    if (!rc)
        *out = (int)v;
    return rc;
}

static int get_bool(struct esc_lctx *x, const struct ts_ynode *n, const char *what, bool *out)
{
    return ts_yconf_bool(x, n, what, out);
}

/* A duration, or 0 / at_once. */
static int get_duration(struct esc_lctx *x, const struct ts_ynode *n, const char *what,
                        int64_t *out)
{
    if (ts_yconf_is(n, "at_once")) {
        *out = 0;
        return 0;
    }
    return ts_yconf_duration(x, n, what, 0, out);
}

static int get_severity(struct esc_lctx *x, const struct ts_ynode *n, int *out)
{
    uint8_t s;
    if (!n || n->kind != TS_Y_SCALAR || store_severity_parse(n->str, &s) != 0)
        return esc_fail(x, n, "severity must be informational, low, medium, high or critical");
    *out = s;
    return 0;
}

static int get_types(struct esc_lctx *x, const struct ts_ynode *n, uint32_t *out)
{
    const char **v;
    size_t cnt;
    int rc = get_list(x, n, "types", &v, &cnt);
    for (size_t i = 0; !rc && i < cnt; i++) {
        enum esc_type t;
        if (esc_type_parse(v[i], &t) != 0)
            return esc_fail(x, n->kind == TS_Y_SEQ ? n->items[i] : n,
                            "unknown incident type \"%s\" (known: dos, phishing, malware, "
                            "takeover, defacement, ransomware, destruction, espionage, "
                            "combined, other)", v[i]);
        *out |= 1u << t;
    }
    return rc;
}

static int get_impacts(struct esc_lctx *x, const struct ts_ynode *n, uint32_t *out)
{
    const char **v;
    size_t cnt;
    int rc = get_list(x, n, "impacts", &v, &cnt);
    for (size_t i = 0; !rc && i < cnt; i++) {
        unsigned b = 0;
        while (b < ESC_IMPACT_COUNT && strcmp(impact_names[b], v[i]) != 0)
            b++;
        if (b == ESC_IMPACT_COUNT)
            return esc_fail(x, n->kind == TS_Y_SEQ ? n->items[i] : n,
                            "unknown impact \"%s\" (known: outage, data_leak, "
                            "loss_of_control, data_loss, integrity)", v[i]);
        *out |= 1u << b;
    }
    return rc;
}

static int get_cond(struct esc_lctx *x, const struct ts_ynode *n, struct esc_cond *c)
{
    static const char *const k[] = {"min_level", "min_severity", "types", "impacts", "open",
                                    NULL};
    c->min_level = 0;
    c->min_severity = -1;
    c->types = c->impacts = 0;
    c->open = -1;
    int rc = check_keys(x, n, "a condition", k);
    const struct ts_ynode *v;
    if (!rc && (v = ts_yaml_get(n, "min_level")))
        rc = get_int(x, v, "min_level", 1, 5, &c->min_level);
    if (!rc && (v = ts_yaml_get(n, "min_severity")))
        rc = get_severity(x, v, &c->min_severity);
    if (!rc && (v = ts_yaml_get(n, "types")))
        rc = get_types(x, v, &c->types);
    if (!rc && (v = ts_yaml_get(n, "impacts")))
        rc = get_impacts(x, v, &c->impacts);
    if (!rc && (v = ts_yaml_get(n, "open"))) {
        bool b = false;
        if ((rc = get_bool(x, v, "open", &b)) == 0)
            c->open = b;
    }
    return rc;
}

/* A condition map, or a list of them (any of). */
static int get_conds(struct esc_lctx *x, const struct ts_ynode *n, struct esc_conds *out)
{
    size_t cnt = n->kind == TS_Y_SEQ ? n->nitems : 1;
    if (cnt > LIST_MAX)
        return esc_fail(x, n, "more than %u conditions", LIST_MAX);
    out->v = ts_arena_alloc(x->arena, (cnt ? cnt : 1) * sizeof(*out->v));
    if (!out->v)
        return esc_nomem(x);
    out->n = cnt;
    for (size_t i = 0; i < cnt; i++) {
        int rc = get_cond(x, n->kind == TS_Y_SEQ ? n->items[i] : n, &out->v[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int arena_new(struct ts_arena **a)
{
    return ts_arena_create(a, ARENA_CHUNK, ARENA_CAP);
}

/* ---------------------------------------------------------------- regime */

static const char *const role_names[] = {"managing_body", "response_unit", "national", "other",
                                         NULL};

static int load_recipient(struct esc_lctx *x, const struct ts_ynode *n, struct esc_recipient *r)
{
    static const char *const k[] = {"id", "role", "name", "basis", "required", "route", NULL};
    int rc = check_keys(x, n, "a recipient", k);
    const struct ts_ynode *v;
    if (!rc)
        rc = get_id(x, ts_yaml_get(n, "id"), "recipient id", &r->id);
    r->role = ESC_ROLE_OTHER;
    if (!rc && (v = ts_yaml_get(n, "role"))) {
        unsigned i = 0;
        while (role_names[i] && (v->kind != TS_Y_SCALAR || strcmp(role_names[i], v->str)))
            i++;
        if (!role_names[i])
            rc = esc_fail(x, v, "role must be managing_body, response_unit, national or other");
        r->role = (enum esc_role)i;
    }
    if (!rc) {
        v = ts_yaml_get(n, "name");
        rc = v ? get_text(x, v, "name", &r->name) : esc_fail(x, n, "a recipient needs a name");
    }
    r->required = true;
    if (!rc && (v = ts_yaml_get(n, "required")))
        rc = get_bool(x, v, "required", &r->required);
    rc = rc ? rc : opt_str(x, n, "route", &r->route);
    if (!rc && r->route && strcmp(r->route, "mps") && strcmp(r->route, "mod"))
        rc = esc_fail(x, ts_yaml_get(n, "route"), "route must be mps or mod, not \"%s\"",
                      r->route);
    return rc ? rc : opt_str(x, n, "basis", &r->basis);
}

static int load_report(struct esc_lctx *x, struct esc_regime *r, const struct ts_ynode *n,
                       struct esc_rreport *p)
{
    static const char *const k[] = {"id", "stage", "form", "title", "heading", "when", "from",
                                    "within", "every", "to", "send", "basis", NULL};
    int rc = check_keys(x, n, "a report", k);
    const struct ts_ynode *v;
    if (!rc)
        rc = get_id(x, ts_yaml_get(n, "id"), "report id", &p->id);
    for (size_t i = 0; !rc && i < r->nreports; i++)
        if (!strcmp(r->reports[i].id, p->id))
            rc = esc_fail(x, ts_yaml_get(n, "id"), "duplicate report id \"%s\"", p->id);
    if (!rc) {
        v = ts_yaml_get(n, "stage");
        if (!v || v->kind != TS_Y_SCALAR || esc_stage_parse(v->str, &p->stage) != 0)
            rc = esc_fail(x, v ? v : n, "stage must be initial, update or final");
    }
    rc = rc ? rc : opt_str(x, n, "form", &p->form);
    if (!rc && (v = ts_yaml_get(n, "title")))
        rc = get_text(x, v, "title", &p->title);
    if (!rc && (v = ts_yaml_get(n, "heading")))
        rc = get_text(x, v, "heading", &p->heading);
    if (!rc && (v = ts_yaml_get(n, "when"))) {
        const char **w;
        size_t nw;
        rc = get_list(x, v, "when", &w, &nw);
        for (size_t i = 0; !rc && i < nw; i++) {
            if (!strcmp(w[i], "serious"))
                p->when |= ESC_WHEN_SERIOUS;
            else if (!strcmp(w[i], "national_security"))
                p->when |= ESC_WHEN_NATSEC;
            else if (!strcmp(w[i], "beyond_capacity"))
                p->when |= ESC_WHEN_BEYOND;
            else if (!strcmp(w[i], "incident"))
                p->when |= ESC_WHEN_INCIDENT;
            else if (strcmp(w[i], "always") != 0)
                rc = esc_fail(x, v, "when: \"%s\": expected incident, serious, "
                                    "national_security, beyond_capacity or always", w[i]);
        }
    }
    if (!rc && (v = ts_yaml_get(n, "from"))) {
        if (v->kind == TS_Y_SCALAR && !strcmp(v->str, "detection"))
            p->anchor = ESC_ANCHOR_DETECTED;
        else if (v->kind == TS_Y_SCALAR && !strcmp(v->str, "response_end"))
            p->anchor = ESC_ANCHOR_RESPONSE_END;
        else
            rc = esc_fail(x, v, "from must be detection or response_end");
    }
    if (!rc) {
        v = ts_yaml_get(n, "within");
        rc = v ? get_duration(x, v, "within", &p->within_ns)
               : esc_fail(x, n, "report \"%s\" needs within (a deadline, or at_once)", p->id);
    }
    if (!rc && (v = ts_yaml_get(n, "every"))) {
        rc = get_duration(x, v, "every", &p->every_ns);
        if (!rc && p->every_ns <= 0)
            rc = esc_fail(x, v, "every must be a positive duration");
    }
    if (!rc) {
        const char **to;
        size_t nto;
        v = ts_yaml_get(n, "to");
        rc = v ? get_list(x, v, "to", &to, &nto)
               : esc_fail(x, n, "report \"%s\" needs to (recipient ids)", p->id);
        for (size_t i = 0; !rc && i < nto; i++) {
            int ri = esc_regime_recipient(r, to[i]);
            if (ri < 0)
                rc = esc_fail(x, v, "to: unknown recipient \"%s\"", to[i]);
            else
                p->to |= 1u << ri;
        }
    }
    p->send = p->stage == ESC_STAGE_FINAL ? ESC_SEND_ON_RESOLVE
              : p->stage == ESC_STAGE_UPDATE ? ESC_SEND_MANUAL : ESC_SEND_ON_DETECT;
    if (!rc && (v = ts_yaml_get(n, "send"))) {
        static const char *const sn[] = {"on_detect", "on_change", "on_resolve", "manual"};
        unsigned i = 0;
        while (i < 4 && (v->kind != TS_Y_SCALAR || strcmp(sn[i], v->str)))
            i++;
        if (i == 4)
            rc = esc_fail(x, v, "send must be on_detect, on_change, on_resolve or manual");
        p->send = (enum esc_send)i;
    }
    if (!rc && p->anchor == ESC_ANCHOR_RESPONSE_END && p->send == ESC_SEND_ON_DETECT)
        p->send = ESC_SEND_ON_RESOLVE;
    return rc ? rc : opt_str(x, n, "basis", &p->basis);
}

static int regime_from_root(struct esc_lctx *x, const struct ts_ynode *root, struct esc_regime *r)
{
    static const char *const k[] = {"regime", "title", "basis", "effective_from", "lapsed", "notes",
                                    "reportable", "serious", "national_security",
                                    "beyond_capacity", "recipients", "reports", NULL};
    int rc = check_keys(x, root, "the regime", k);
    const struct ts_ynode *v;
    if (!rc)
        rc = get_id(x, ts_yaml_get(root, "regime"), "regime", &r->id);
    if (!rc) {
        v = ts_yaml_get(root, "title");
        rc = v ? get_text(x, v, "title", &r->title) : esc_fail(x, root, "the regime needs a title");
    }
    if (!rc && (v = ts_yaml_get(root, "basis")))
        rc = get_list(x, v, "basis", &r->basis, &r->nbasis);
    rc = rc ? rc : opt_str(x, root, "effective_from", &r->effective_from);
    rc = rc ? rc : opt_str(x, root, "lapsed", &r->lapsed);
    if (!rc && (v = ts_yaml_get(root, "notes")) && v->kind == TS_Y_MAP)
        rc = esc_fail(x, v, "notes must be a string or a list of strings");
    struct {
        const char *key;
        struct esc_conds *c;
    } cs[] = {{"reportable", &r->reportable}, {"serious", &r->serious}, {"national_security", &r->natsec},
              {"beyond_capacity", &r->beyond}};
    for (size_t i = 0; !rc && i < TS_ARRAY_LEN(cs); i++)
        if ((v = ts_yaml_get(root, cs[i].key)))
            rc = get_conds(x, v, cs[i].c);
    if (!rc) {
        v = ts_yaml_get(root, "recipients");
        if (!v || v->kind != TS_Y_SEQ || v->nitems == 0)
            rc = esc_fail(x, v ? v : root, "recipients must be a non-empty list");
        else if (v->nitems > ESC_RECIPIENTS_MAX)
            rc = esc_fail(x, v, "more than %u recipients", ESC_RECIPIENTS_MAX);
        for (size_t i = 0; !rc && i < v->nitems; i++) {
            rc = load_recipient(x, v->items[i], &r->recipients[i]);
            if (!rc && esc_regime_recipient(r, r->recipients[i].id) >= 0)
                rc = esc_fail(x, v->items[i], "duplicate recipient \"%s\"",
                              r->recipients[i].id);
            if (!rc)
                r->nrecipients++;
        }
    }
    if (!rc) {
        v = ts_yaml_get(root, "reports");
        if (!v || v->kind != TS_Y_SEQ || v->nitems == 0)
            rc = esc_fail(x, v ? v : root, "reports must be a non-empty list");
        else if (v->nitems > ESC_REPORTS_MAX)
            rc = esc_fail(x, v, "more than %u reports", ESC_REPORTS_MAX);
        for (size_t i = 0; !rc && i < v->nitems; i++) {
            rc = load_report(x, r, v->items[i], &r->reports[i]);
            if (!rc)
                r->nreports++;
        }
    }
    return rc;
}

static int regime_load(const char *path, const char *name, const char *buf, size_t len,
                       const struct ts_ystream *tree, struct esc_regime **out, struct ts_err *err)
{
    struct ts_ystream *s = NULL; /* NULL: tree, the caller's */
    const struct ts_ynode *root;
    *out = NULL;
    int rc = tree ? esc_yaml_root(tree, name, &root, err)
                  : esc_yaml_open(path, name, buf, len, &s, &root, err);
    if (rc)
        return rc;
    struct esc_regime *r = calloc(1, sizeof(*r));
    struct esc_lctx x = {.file = path ? path : name, .err = err};
    if (!r || arena_new(&r->arena) != 0) {
        free(r);
        ts_yaml_free(s);
        return esc_nomem(&x);
    }
    x.arena = r->arena;
    rc = regime_from_root(&x, root, r);
    ts_yaml_free(s);
    if (rc) {
        esc_regime_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int esc_regime_load(const char *path, struct esc_regime **out, struct ts_err *err)
{
    return regime_load(path, NULL, NULL, 0, NULL, out, err);
}

int esc_regime_load_buffer(const char *name, const char *buf, size_t len, struct esc_regime **out,
                           struct ts_err *err)
{
    return regime_load(NULL, name, buf, len, NULL, out, err);
}

int esc_regime_load_tree(const char *name, const struct ts_ystream *tree, struct esc_regime **out,
                         struct ts_err *err)
{
    return regime_load(NULL, name, NULL, 0, tree, out, err);
}

int esc_regime_load_named(const char *dir, const char *name, struct esc_regime **out,
                          struct ts_err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > ESC_ID_MAX || name[0] == '.')
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "invalid regime name \"%s\"",
                          name ? name : "");
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
            name[i] != '-' && name[i] != '_' && name[i] != '.')
            return ts_err_set(err, TS_E_INVAL, NULL, 0, 0,
                              "invalid regime name \"%s\" (expected [a-z0-9._-]+)", name);
    char path[1024];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s.yml", dir ? dir : ".", name) >= sizeof(path))
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "regime directory path too long");
    int rc = esc_regime_load(path, out, err);
    if (rc == 0 && strcmp((*out)->id, name) != 0) {
        ts_err_set(err, TS_E_CONFIG, path, 1, 1, "file names regime \"%s\", not \"%s\"",
                   (*out)->id, name);
        esc_regime_free(*out);
        *out = NULL;
        return TS_E_CONFIG;
    }
    return rc;
}

void esc_regime_free(struct esc_regime *r)
{
    if (!r)
        return;
    ts_arena_destroy(r->arena);
    free(r);
}

const char *esc_regime_id(const struct esc_regime *r)
{
    return r->id;
}

const char *esc_regime_title(const struct esc_regime *r, enum esc_lang lang)
{
    return esc_text_get(&r->title, lang);
}

const char *esc_regime_lapsed(const struct esc_regime *r)
{
    return r ? r->lapsed : NULL;
}

const char *esc_regime_managing_body(const struct esc_regime *r)
{
    for (size_t i = 0; r && i < r->nrecipients; i++)
        if (r->recipients[i].role == ESC_ROLE_MANAGING_BODY)
            return r->recipients[i].id;
    return NULL;
}

int esc_regime_recipient(const struct esc_regime *r, const char *id)
{
    for (size_t i = 0; id && i < r->nrecipients; i++)
        if (!strcmp(r->recipients[i].id, id))
            return (int)i;
    return -1;
}

const struct esc_rreport *esc_regime_report(const struct esc_regime *r, const char *id)
{
    for (size_t i = 0; id && i < r->nreports; i++)
        if (!strcmp(r->reports[i].id, id))
            return &r->reports[i];
    return NULL;
}

/* -------------------------------------------------------------- taxonomy */

static const struct esc_text builtin_labels[ESC_TYPE_COUNT] = {
    {"Tấn công từ chối dịch vụ", "Denial of service"},
    {"Tấn công giả mạo (lừa đảo)", "Phishing / spoofing"},
    {"Tấn công sử dụng mã độc", "Malware"},
    {"Truy cập trái phép, chiếm quyền điều khiển", "Unauthorised access / takeover"},
    {"Thay đổi giao diện", "Defacement"},
    {"Mã hóa dữ liệu, tống tiền", "Ransomware / data encryption"},
    {"Phá hoại thông tin, dữ liệu, phần mềm", "Destruction of data or software"},
    {"Nghe trộm, gián điệp, lấy cắp thông tin, dữ liệu", "Espionage / data theft"},
    {"Tấn công tổng hợp", "Combined attack"},
    {"Loại khác", "Other"},
};

const char *esc_type_label(const struct esc_taxonomy *t, enum esc_type type, enum esc_lang l)
{
    if ((unsigned)type >= ESC_TYPE_COUNT)
        type = ESC_TYPE_OTHER;
    if (t && (t->types[type].label.vi || t->types[type].label.en))
        return esc_text_get(&t->types[type].label, l);
    return esc_text_get(&builtin_labels[type], l);
}

const char *esc_taxonomy_type_label(const struct esc_taxonomy *t, enum esc_type type,
                                    enum esc_lang lang)
{
    return esc_type_label(t, type, lang);
}

static int tag_cmp(const void *a, const void *b)
{
    return strcmp(((const struct esc_tagmap *)a)->tag, ((const struct esc_tagmap *)b)->tag);
}

static int taxonomy_from_root(struct esc_lctx *x, const struct ts_ynode *root,
                              struct esc_taxonomy *t)
{
    static const char *const k[] = {"taxonomy", "combine", "types", "priority", "tags", NULL};
    int rc = check_keys(x, root, "the taxonomy", k);
    const struct ts_ynode *v;
    if (!rc && (v = ts_yaml_get(root, "combine")))
        rc = get_bool(x, v, "combine", &t->combine);
    if (!rc && (v = ts_yaml_get(root, "types"))) {
        static const char *const tk[] = {"vi", "en", "impacts", "symptoms", NULL};
        if (v->kind != TS_Y_MAP)
            rc = esc_fail(x, v, "types must be a mapping of type names");
        for (size_t i = 0; !rc && i < v->npairs; i++) {
            enum esc_type ty;
            const struct ts_ynode *kn = v->pairs[i].key, *vn = v->pairs[i].val;
            if (esc_type_parse(kn->str, &ty) != 0) {
                rc = esc_fail(x, kn, "unknown incident type \"%s\"", kn->str);
                break;
            }
            struct esc_typedef *d = &t->types[ty];
            rc = check_keys(x, vn, "a type", tk);
            rc = rc ? rc : opt_str(x, vn, "vi", &d->label.vi);
            rc = rc ? rc : opt_str(x, vn, "en", &d->label.en);
            const struct ts_ynode *w;
            if (!rc && (w = ts_yaml_get(vn, "impacts")))
                rc = get_impacts(x, w, &d->impacts);
            if (!rc && (w = ts_yaml_get(vn, "symptoms")))
                rc = get_text(x, w, "symptoms", &d->symptoms);
        }
    }
    if (!rc && (v = ts_yaml_get(root, "priority"))) {
        uint32_t seen = 0;
        if (v->kind != TS_Y_SEQ)
            rc = esc_fail(x, v, "priority must be a list of type names");
        for (size_t i = 0; !rc && i < v->nitems; i++) {
            enum esc_type ty;
            const struct ts_ynode *it = v->items[i];
            if (it->kind != TS_Y_SCALAR || esc_type_parse(it->str, &ty) != 0)
                rc = esc_fail(x, it, "priority: unknown incident type");
            else if (seen & (1u << ty))
                rc = esc_fail(x, it, "priority: \"%s\" listed twice", it->str);
            else {
                seen |= 1u << ty;
                t->priority[t->npriority++] = ty;
            }
        }
    }
    if (!rc && (v = ts_yaml_get(root, "tags"))) {
        if (v->kind != TS_Y_MAP)
            return esc_fail(x, v, "tags must be a mapping of tag: type");
        if (v->npairs > ESC_TAGS_MAX)
            return esc_fail(x, v, "more than %u tags", ESC_TAGS_MAX);
        t->tags = ts_arena_alloc(x->arena, (v->npairs ? v->npairs : 1) * sizeof(*t->tags));
        if (!t->tags)
            return esc_nomem(x);
        for (size_t i = 0; !rc && i < v->npairs; i++) {
            const struct ts_ynode *kn = v->pairs[i].key, *vn = v->pairs[i].val;
            struct esc_tagmap *m = &t->tags[t->ntags];
            memset(m, 0, sizeof(*m));
            const char *tag;
            rc = get_str(x, kn, "tag", &tag);
            if (rc)
                break;
            for (char *p = (char *)tag; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            m->tag = tag;
            if (vn->kind == TS_Y_MAP) {
                static const char *const mk[] = {"type", "types", "impacts", NULL};
                rc = check_keys(x, vn, "a tag mapping", mk);
                const struct ts_ynode *w;
                if (!rc && (w = ts_yaml_get(vn, "type")))
                    rc = get_types(x, w, &m->types);
                if (!rc && (w = ts_yaml_get(vn, "types")))
                    rc = get_types(x, w, &m->types);
                if (!rc && (w = ts_yaml_get(vn, "impacts")))
                    rc = get_impacts(x, w, &m->impacts);
            } else {
                rc = get_types(x, vn, &m->types);
            }
            for (size_t j = 0; !rc && j < t->ntags; j++)
                if (!strcmp(t->tags[j].tag, m->tag))
                    rc = esc_fail(x, kn, "tag \"%s\" mapped twice", m->tag);
            if (!rc)
                t->ntags++;
        }
        if (!rc)
            qsort(t->tags, t->ntags, sizeof(*t->tags), tag_cmp);
    }
    return rc;
}

static int taxonomy_load(const char *path, const char *name, const char *buf, size_t len,
                         const struct ts_ystream *tree,
                         struct esc_taxonomy **out, struct ts_err *err)
{
    struct ts_ystream *s = NULL; /* NULL: tree, the caller's */
    const struct ts_ynode *root;
    *out = NULL;
    int rc = tree ? esc_yaml_root(tree, name, &root, err)
                  : esc_yaml_open(path, name, buf, len, &s, &root, err);
    if (rc)
        return rc;
    struct esc_taxonomy *t = calloc(1, sizeof(*t));
    struct esc_lctx x = {.file = path ? path : name, .err = err};
    if (!t || arena_new(&t->arena) != 0) {
        free(t);
        ts_yaml_free(s);
        return esc_nomem(&x);
    }
    x.arena = t->arena;
    rc = taxonomy_from_root(&x, root, t);
    ts_yaml_free(s);
    if (rc) {
        esc_taxonomy_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int esc_taxonomy_load(const char *path, struct esc_taxonomy **out, struct ts_err *err)
{
    return taxonomy_load(path, NULL, NULL, 0, NULL, out, err);
}

int esc_taxonomy_load_buffer(const char *name, const char *buf, size_t len,
                             struct esc_taxonomy **out, struct ts_err *err)
{
    return taxonomy_load(NULL, name, buf, len, NULL, out, err);
}

int esc_taxonomy_load_tree(const char *name, const struct ts_ystream *tree,
                           struct esc_taxonomy **out, struct ts_err *err)
{
    return taxonomy_load(NULL, name, NULL, 0, tree, out, err);
}

void esc_taxonomy_free(struct esc_taxonomy *t)
{
    if (!t)
        return;
    ts_arena_destroy(t->arena);
    free(t);
}

/* ---------------------------------------------------------------- policy */

static int load_rule(struct esc_lctx *x, const struct ts_ynode *n, struct esc_prule *p)
{
    static const char *const k[] = {"name", "match", "set", "suppress", "escalate", NULL};
    static const char *const mk[] = {"tenants", "regimes", "types", "min_severity",
                                     "min_level", NULL};
    static const char *const sk[] = {"serious", "national_security", "beyond_capacity", NULL};
    static const char *const ek[] = {"to", "reports", NULL};
    p->line = n->line;
    p->min_severity = -1;
    p->set_serious = p->set_natsec = p->set_beyond = -1;
    int rc = check_keys(x, n, "a policy rule", k);
    const struct ts_ynode *v, *w;
    if (!rc)
        rc = get_id(x, ts_yaml_get(n, "name"), "rule name", &p->name);
    if (!rc && (v = ts_yaml_get(n, "match"))) {
        rc = check_keys(x, v, "match", mk);
        if (!rc && (w = ts_yaml_get(v, "tenants")))
            rc = get_list(x, w, "tenants", &p->tenants, &p->ntenants);
        if (!rc && (w = ts_yaml_get(v, "regimes")))
            rc = get_list(x, w, "regimes", &p->regimes, &p->nregimes);
        if (!rc && (w = ts_yaml_get(v, "types")))
            rc = get_types(x, w, &p->types);
        if (!rc && (w = ts_yaml_get(v, "min_severity")))
            rc = get_severity(x, w, &p->min_severity);
        if (!rc && (w = ts_yaml_get(v, "min_level")))
            rc = get_int(x, w, "min_level", 1, 5, &p->min_level);
    }
    if (!rc && (v = ts_yaml_get(n, "set"))) {
        rc = check_keys(x, v, "set", sk);
        int *dst[] = {&p->set_serious, &p->set_natsec, &p->set_beyond};
        for (size_t i = 0; !rc && i < 3; i++)
            if ((w = ts_yaml_get(v, sk[i]))) {
                bool b = false;
                if ((rc = get_bool(x, w, sk[i], &b)) == 0)
                    *dst[i] = b;
            }
    }
    if (!rc && (v = ts_yaml_get(n, "suppress")))
        rc = get_bool(x, v, "suppress", &p->suppress);
    if (!rc && (v = ts_yaml_get(n, "escalate"))) {
        rc = check_keys(x, v, "escalate", ek);
        if (!rc) {
            w = ts_yaml_get(v, "to");
            rc = w ? get_list(x, w, "to", &p->to, &p->nto)
                   : esc_fail(x, v, "escalate needs to (recipient ids)");
        }
        if (!rc && (w = ts_yaml_get(v, "reports")))
            rc = get_list(x, w, "reports", &p->reports, &p->nreports);
    }
    return rc;
}

static int policy_from_root(struct esc_lctx *x, const struct ts_ynode *root, struct esc_policy *p)
{
    static const char *const k[] = {"regime", "rules", "channels", "auto_send", NULL};
    static const char *const ak[] = {"periodic", "overdue", NULL};
    int rc = check_keys(x, root, "the policy", k);
    const struct ts_ynode *v, *w;
    if (!rc && (v = ts_yaml_get(root, "auto_send"))) {
        p->auto_line = v->line;
        rc = check_keys(x, v, "auto_send", ak);
        if (!rc && (w = ts_yaml_get(v, "overdue")))
            p->auto_line = w->line;
        bool b = false;
        if (!rc && (w = ts_yaml_get(v, "periodic")) && !(rc = get_bool(x, w, "periodic", &b)) &&
            b)
            p->auto_kinds |= ESC_AUTO_PERIODIC;
        if (!rc && (w = ts_yaml_get(v, "overdue"))) {
            /* true / false, or the report ids sent when overdue */
            if (w->kind == TS_Y_SCALAR && w->style == TS_YS_PLAIN &&
                (!strcmp(w->str, "true") || !strcmp(w->str, "false"))) {
                if (!(rc = get_bool(x, w, "overdue", &b)) && b)
                    p->auto_kinds |= ESC_AUTO_OVERDUE;
            } else if (w->kind == TS_Y_SEQ) {
                rc = get_list(x, w, "overdue", &p->auto_overdue, &p->nauto_overdue);
                for (size_t i = 0; !rc && i < p->nauto_overdue; i++)
                    rc = get_id(x, w->items[i], "report id", &p->auto_overdue[i]);
                if (!rc && p->nauto_overdue)
                    p->auto_kinds |= ESC_AUTO_OVERDUE;
            } else {
                rc = esc_fail(x, w, "overdue must be true, false or a list of report ids");
            }
        }
    }
    if (!rc && (v = ts_yaml_get(root, "regime")))
        rc = get_id(x, v, "regime", &p->regime);
    if (!rc && (v = ts_yaml_get(root, "rules"))) {
        if (v->kind != TS_Y_SEQ)
            return esc_fail(x, v, "rules must be a list");
        if (v->nitems > ESC_RULES_MAX)
            return esc_fail(x, v, "more than %u rules", ESC_RULES_MAX);
        p->rules = ts_arena_alloc(x->arena, (v->nitems ? v->nitems : 1) * sizeof(*p->rules));
        if (!p->rules)
            return esc_nomem(x);
        memset(p->rules, 0, (v->nitems ? v->nitems : 1) * sizeof(*p->rules));
        for (size_t i = 0; !rc && i < v->nitems; i++) {
            rc = load_rule(x, v->items[i], &p->rules[i]);
            for (size_t j = 0; !rc && j < i; j++)
                if (!strcmp(p->rules[j].name, p->rules[i].name))
                    rc = esc_fail(x, v->items[i], "duplicate rule name \"%s\"",
                                  p->rules[i].name);
            if (!rc)
                p->nrules++;
        }
    }
    if (!rc && (v = ts_yaml_get(root, "channels"))) {
        if (v->kind != TS_Y_MAP)
            return esc_fail(x, v, "channels must map recipient ids to channels");
        if (v->npairs > ESC_RECIPIENTS_MAX * 4)
            return esc_fail(x, v, "too many channels");
        p->channels = ts_arena_alloc(x->arena, (v->npairs ? v->npairs : 1) * sizeof(*p->channels));
        if (!p->channels)
            return esc_nomem(x);
        for (size_t i = 0; !rc && i < v->npairs; i++) {
            rc = get_id(x, v->pairs[i].key, "recipient id", &p->channels[i].recipient);
            rc = rc ? rc : get_str(x, v->pairs[i].val, "channel", &p->channels[i].channel);
            if (!rc)
                p->nchannels++;
        }
    }
    return rc;
}

static int policy_load(const char *path, const char *name, const char *buf, size_t len,
                       const struct ts_ystream *tree, struct esc_policy **out, struct ts_err *err)
{
    struct ts_ystream *s = NULL; /* NULL: tree, the caller's */
    const struct ts_ynode *root;
    *out = NULL;
    int rc = tree ? esc_yaml_root(tree, name, &root, err)
                  : esc_yaml_open(path, name, buf, len, &s, &root, err);
    if (rc)
        return rc;
    struct esc_policy *p = calloc(1, sizeof(*p));
    struct esc_lctx x = {.file = path ? path : name, .err = err};
    if (!p || arena_new(&p->arena) != 0) {
        free(p);
        ts_yaml_free(s);
        return esc_nomem(&x);
    }
    x.arena = p->arena;
    p->file = ts_arena_strndup(p->arena, x.file, strlen(x.file));
    rc = p->file ? policy_from_root(&x, root, p) : esc_nomem(&x);
    ts_yaml_free(s);
    if (rc) {
        esc_policy_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int esc_policy_load(const char *path, struct esc_policy **out, struct ts_err *err)
{
    return policy_load(path, NULL, NULL, 0, NULL, out, err);
}

int esc_policy_load_buffer(const char *name, const char *buf, size_t len,
                           struct esc_policy **out, struct ts_err *err)
{
    return policy_load(NULL, name, buf, len, NULL, out, err);
}

int esc_policy_load_tree(const char *name, const struct ts_ystream *tree, struct esc_policy **out,
                         struct ts_err *err)
{
    return policy_load(NULL, name, NULL, 0, tree, out, err);
}

void esc_policy_free(struct esc_policy *p)
{
    if (!p)
        return;
    ts_arena_destroy(p->arena);
    free(p);
}

int esc_policy_check(const struct esc_policy *p, const struct esc_regime *r, struct ts_err *err)
{
    for (size_t i = 0; p && i < p->nrules; i++) {
        const struct esc_prule *pr = &p->rules[i];
        size_t k = 0;
        while (k < pr->nregimes && strcmp(pr->regimes[k], r->id) != 0)
            k++;
        if (pr->nregimes && k == pr->nregimes)
            continue; /* the rule is for other regimes */
        for (size_t j = 0; j < pr->nto; j++)
            if (esc_regime_recipient(r, pr->to[j]) < 0)
                return ts_err_set(err, TS_E_CONFIG, p->file, pr->line, 0,
                                  "rule \"%s\": regime %s has no recipient \"%s\"", pr->name,
                                  r->id, pr->to[j]);
        for (size_t j = 0; j < pr->nreports; j++)
            if (!esc_regime_report(r, pr->reports[j]))
                return ts_err_set(err, TS_E_CONFIG, p->file, pr->line, 0,
                                  "rule \"%s\": regime %s has no report \"%s\"", pr->name,
                                  r->id, pr->reports[j]);
    }
    for (size_t i = 0; p && i < p->nauto_overdue; i++)
        if (!esc_regime_report(r, p->auto_overdue[i]))
            return ts_err_set(err, TS_E_CONFIG, p->file, p->auto_line, 0,
                              "auto_send: regime %s has no report \"%s\"", r->id,
                              p->auto_overdue[i]);
    for (size_t i = 0; p && i < p->nchannels; i++)
        if (esc_regime_recipient(r, p->channels[i].recipient) < 0)
            return ts_err_set(err, TS_E_CONFIG, p->file, 0, 0,
                              "channels: regime %s has no recipient \"%s\"", r->id,
                              p->channels[i].recipient);
    return 0;
}

unsigned esc_policy_auto_send(const struct esc_policy *p)
{
    return p ? p->auto_kinds : 0;
}

const char *esc_policy_regime(const struct esc_policy *p)
{
    return p ? p->regime : NULL;
}

const char *esc_policy_channel(const struct esc_policy *p, const struct esc_org *org,
                               const char *recipient)
{
    for (size_t i = 0; org && i < org->nrecipients; i++)
        if (!strcmp(org->recipients[i].id, recipient) && org->recipients[i].channel)
            return org->recipients[i].channel;
    for (size_t i = 0; p && i < p->nchannels; i++)
        if (!strcmp(p->channels[i].recipient, recipient))
            return p->channels[i].channel;
    return "default";
}

const char *esc_env_channel(const struct esc_env *env, const char *tenant, const char *recipient)
{
    if (!env || !recipient)
        return "default";
    return esc_policy_channel(env->policy, tenant ? esc_orgs_find(env->orgs, tenant) : NULL,
                              recipient);
}

/* ------------------------------------------------------------------ orgs */

static int load_contact(struct esc_lctx *x, const struct ts_ynode *n, struct esc_contact *c)
{
    static const char *const k[] = {"name", "role", "email", "phone", NULL};
    int rc = check_keys(x, n, "a contact", k);
    rc = rc ? rc : opt_str(x, n, "name", &c->name);
    rc = rc ? rc : opt_str(x, n, "role", &c->role);
    rc = rc ? rc : opt_str(x, n, "email", &c->email);
    rc = rc ? rc : opt_str(x, n, "phone", &c->phone);
    if (!rc && !c->name && !c->email && !c->phone)
        rc = esc_fail(x, n, "a contact needs a name, an email or a phone");
    return rc;
}

static int load_org(struct esc_lctx *x, const struct ts_ynode *n, struct esc_org *o)
{
    static const char *const k[] = {"name", "address", "email", "phone", "contact", "tlp",
                                    "utc_offset", "actions_taken", "support_requested",
                                    "recipients", "route", "security_provider",
                                    "network_provider", "os", "services", "security_measures",
                                    "system_purpose", "place", "confidential", "signer", NULL};
    static const char *const sk[] = {"name", "role", NULL};
    static const char *const rk[] = {"name", "email", "phone", "channel", NULL};
    o->line = n->line;
    o->col = n->col;
    int rc = check_keys(x, n, "an organisation", k);
    const struct ts_ynode *v;
    if (!rc) {
        v = ts_yaml_get(n, "name");
        rc = v ? get_str(x, v, "name", &o->name) : esc_fail(x, n, "an organisation needs a name");
    }
    rc = rc ? rc : opt_str(x, n, "address", &o->address);
    rc = rc ? rc : opt_str(x, n, "email", &o->email);
    rc = rc ? rc : opt_str(x, n, "phone", &o->phone);
    if (!rc && (v = ts_yaml_get(n, "contact")))
        rc = load_contact(x, v, &o->contact);
    o->tlp = "amber";
    rc = rc ? rc : opt_str(x, n, "tlp", &o->tlp);
    if (!rc && strcmp(o->tlp, "white") && strcmp(o->tlp, "clear") && strcmp(o->tlp, "green") &&
        strcmp(o->tlp, "amber") && strcmp(o->tlp, "red"))
        rc = esc_fail(x, ts_yaml_get(n, "tlp"), "tlp must be clear, white, green, amber or red");
    o->utc_offset_sec = 7 * 3600;
    if (!rc && (v = ts_yaml_get(n, "utc_offset"))) {
        int64_t ns;
        size_t used;
        char tmp[48];
        if (v->kind != TS_Y_SCALAR || v->len > 8)
            rc = esc_fail(x, v, "utc_offset must be like +07:00");
        else {
            snprintf(tmp, sizeof(tmp), "1970-01-02T00:00:00%s", v->str);
            if (ts_parse_iso8601(tmp, strlen(tmp), 0, &ns, &used) != 0 || used != strlen(tmp))
                rc = esc_fail(x, v, "utc_offset must be like +07:00");
            else
                o->utc_offset_sec = (int)(86400 - ns / TS_NS_PER_SEC);
        }
    }
    if (!rc && (v = ts_yaml_get(n, "actions_taken")))
        rc = get_text(x, v, "actions_taken", &o->actions_taken);
    if (!rc && (v = ts_yaml_get(n, "support_requested")))
        rc = get_text(x, v, "support_requested", &o->support_requested);
    rc = rc ? rc : opt_str(x, n, "route", &o->route);
    if (!rc && o->route && strcmp(o->route, "mps") && strcmp(o->route, "mod"))
        rc = esc_fail(x, ts_yaml_get(n, "route"),
                      "route must be mps (Ministry of Public Security) or mod (Ministry of "
                      "Defence), not \"%s\"", o->route);
    rc = rc ? rc : opt_str(x, n, "security_provider", &o->security_provider);
    rc = rc ? rc : opt_str(x, n, "network_provider", &o->network_provider);
    rc = rc ? rc : opt_str(x, n, "os", &o->os);
    rc = rc ? rc : opt_str(x, n, "services", &o->services);
    rc = rc ? rc : opt_str(x, n, "security_measures", &o->security_measures);
    rc = rc ? rc : opt_str(x, n, "system_purpose", &o->system_purpose);
    rc = rc ? rc : opt_str(x, n, "place", &o->place);
    o->confidential = -1;
    if (!rc && (v = ts_yaml_get(n, "confidential"))) {
        bool b = false;
        if ((rc = get_bool(x, v, "confidential", &b)) == 0)
            o->confidential = b;
    }
    if (!rc && (v = ts_yaml_get(n, "signer"))) {
        rc = check_keys(x, v, "signer", sk);
        rc = rc ? rc : opt_str(x, v, "name", &o->signer.name);
        rc = rc ? rc : opt_str(x, v, "role", &o->signer.role);
    }
    if (!rc && (v = ts_yaml_get(n, "recipients"))) {
        if (v->kind != TS_Y_MAP)
            return esc_fail(x, v, "recipients must map recipient ids to names/channels");
        if (v->npairs > ESC_RECIPIENTS_MAX)
            return esc_fail(x, v, "more than %u recipients", ESC_RECIPIENTS_MAX);
        o->recipients = ts_arena_alloc(x->arena, (v->npairs ? v->npairs : 1) *
                                                     sizeof(*o->recipients));
        if (!o->recipients)
            return esc_nomem(x);
        for (size_t i = 0; !rc && i < v->npairs; i++) {
            struct esc_org_recipient *r = &o->recipients[i];
            memset(r, 0, sizeof(*r));
            const struct ts_ynode *rv = v->pairs[i].val;
            rc = get_id(x, v->pairs[i].key, "recipient id", &r->id);
            rc = rc ? rc : check_keys(x, rv, "a recipient", rk);
            rc = rc ? rc : opt_str(x, rv, "name", &r->name);
            rc = rc ? rc : opt_str(x, rv, "email", &r->email);
            rc = rc ? rc : opt_str(x, rv, "phone", &r->phone);
            rc = rc ? rc : opt_str(x, rv, "channel", &r->channel);
            if (!rc)
                o->nrecipients++;
        }
    }
    return rc;
}

static int orgs_from_root(struct esc_lctx *x, const struct ts_ynode *root, struct esc_orgs *o)
{
    static const char *const k[] = {"default", "tenants", NULL};
    int rc = check_keys(x, root, "the organisations", k);
    const struct ts_ynode *v = ts_yaml_get(root, "tenants");
    const struct ts_ynode *d = ts_yaml_get(root, "default");
    size_t n = (v && v->kind == TS_Y_MAP ? v->npairs : 0) + (d ? 1 : 0);
    if (!rc && v && v->kind != TS_Y_MAP)
        return esc_fail(x, v, "tenants must map tenant names to organisations");
    if (!rc && n > ESC_TENANTS_MAX)
        return esc_fail(x, v, "more than %u tenants", ESC_TENANTS_MAX);
    if (rc)
        return rc;
    o->v = ts_arena_alloc(x->arena, (n ? n : 1) * sizeof(*o->v));
    if (!o->v)
        return esc_nomem(x);
    memset(o->v, 0, (n ? n : 1) * sizeof(*o->v));
    if (d) {
        rc = load_org(x, d, &o->v[0]);
        if (rc)
            return rc;
        o->dflt = &o->v[0];
        o->n = 1;
    }
    for (size_t i = 0; v && !rc && i < v->npairs; i++) {
        struct esc_org *g = &o->v[o->n];
        rc = get_str(x, v->pairs[i].key, "tenant", &g->tenant);
        for (size_t j = 0; !rc && j < o->n; j++)
            if (o->v[j].tenant && !strcmp(o->v[j].tenant, g->tenant))
                rc = esc_fail(x, v->pairs[i].key, "duplicate tenant \"%s\"", g->tenant);
        rc = rc ? rc : load_org(x, v->pairs[i].val, g);
        if (!rc)
            o->n++;
    }
    return rc;
}

static int orgs_load(const char *path, const char *name, const char *buf, size_t len,
                     const struct ts_ystream *tree, struct esc_orgs **out, struct ts_err *err)
{
    struct ts_ystream *s = NULL; /* NULL: tree, the caller's */
    const struct ts_ynode *root;
    *out = NULL;
    int rc = tree ? esc_yaml_root(tree, name, &root, err)
                  : esc_yaml_open(path, name, buf, len, &s, &root, err);
    if (rc)
        return rc;
    struct esc_orgs *o = calloc(1, sizeof(*o));
    struct esc_lctx x = {.file = path ? path : name, .err = err};
    if (!o || arena_new(&o->arena) != 0) {
        free(o);
        ts_yaml_free(s);
        return esc_nomem(&x);
    }
    x.arena = o->arena;
    o->file = ts_arena_strndup(o->arena, x.file, strlen(x.file));
    rc = o->file ? orgs_from_root(&x, root, o) : esc_nomem(&x);
    ts_yaml_free(s);
    if (rc) {
        esc_orgs_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

int esc_orgs_load(const char *path, struct esc_orgs **out, struct ts_err *err)
{
    return orgs_load(path, NULL, NULL, 0, NULL, out, err);
}

int esc_orgs_load_buffer(const char *name, const char *buf, size_t len, struct esc_orgs **out,
                         struct ts_err *err)
{
    return orgs_load(NULL, name, buf, len, NULL, out, err);
}

int esc_orgs_load_tree(const char *name, const struct ts_ystream *tree, struct esc_orgs **out,
                       struct ts_err *err)
{
    return orgs_load(NULL, name, NULL, 0, tree, out, err);
}

void esc_orgs_free(struct esc_orgs *o)
{
    if (!o)
        return;
    ts_arena_destroy(o->arena);
    free(o);
}

const struct esc_org *esc_orgs_find(const struct esc_orgs *o, const char *tenant)
{
    if (!o)
        return NULL;
    for (size_t i = 0; tenant && i < o->n; i++)
        if (o->v[i].tenant && !strcmp(o->v[i].tenant, tenant))
            return &o->v[i];
    return o->dflt;
}

/* ---------------------------------------------------------------- assets */

/* The inventory is parsed by enrich/ (enrich.h: one parser of the file and
 * of its ranges, one set of lookups); an esc_assets is a view of it as
 * struct esc_system, in the file's order, with the public ranges picked. */

/* Not private, loopback, link-local, CGNAT, ULA, multicast or unspecified. */
static bool ip_is_public(const struct ts_ip *ip)
{
    const uint8_t *a = ip->addr;
    if (ip->family == 4)
        return !(a[0] == 10 || a[0] == 127 || a[0] == 0 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
                 (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) ||
                 (a[0] == 100 && (a[1] & 0xc0) == 64) || a[0] >= 224);
    return !((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || a[0] == 0xff ||
             (a[0] == 0 && a[15] <= 1 && !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15)));
}

static int system_from(struct esc_lctx *x, const struct enrich_asset *as, struct esc_system *s)
{
    s->id = as->id;
    s->name = as->name;
    s->operator_ = as->operator_;
    s->managing_body = as->managing_body;
    s->level = as->level;
    s->route = as->route;
    s->tenants = as->tenants;
    s->ntenants = as->ntenants;
    s->hostnames = as->hostnames;
    s->nhostnames = as->nhostnames;
    s->domains = as->domains;
    s->ndomains = as->ndomains;
    s->ip_ranges = as->ip_ranges;
    s->nip_ranges = as->nip_ranges;
    const char **pub = ts_arena_alloc(x->arena, (as->nip_ranges + 1) * sizeof(*pub));
    struct esc_contact *c = ts_arena_alloc(x->arena, (as->ncontacts + 1) * sizeof(*c));
    if (!pub || !c)
        return esc_nomem(x);
    for (size_t i = 0; i < as->nip_ranges; i++)
        if (ip_is_public(&as->nets[i].net))
            pub[s->npublic_ips++] = as->ip_ranges[i];
    s->public_ips = pub;
    for (size_t i = 0; i < as->ncontacts; i++)
        c[i] = (struct esc_contact){as->contacts[i].name, as->contacts[i].role,
                                    as->contacts[i].email, as->contacts[i].phone};
    s->contacts = c;
    s->ncontacts = as->ncontacts;
    return 0;
}

static int assets_load(const char *path, const char *name, const char *buf, size_t len,
                       struct esc_assets **out, struct ts_err *err)
{
    struct enrich_assets *inv = NULL;
    *out = NULL;
    int rc = path ? enrich_assets_load(path, &inv, err)
                  : enrich_assets_load_buffer(name, buf, len, &inv, err);
    if (rc)
        return rc;
    struct esc_assets *a = calloc(1, sizeof(*a));
    struct esc_lctx x = {.file = path ? path : name, .err = err, .what = "the inventory"};
    if (!a || arena_new(&a->arena) != 0) {
        free(a);
        enrich_assets_free(inv);
        return esc_nomem(&x);
    }
    a->inv = inv;
    x.arena = a->arena;
    size_t n = enrich_assets_count(inv);
    a->v = ts_arena_alloc(a->arena, (n ? n : 1) * sizeof(*a->v));
    rc = a->v ? 0 : esc_nomem(&x);
    if (a->v)
        memset(a->v, 0, (n ? n : 1) * sizeof(*a->v));
    for (size_t i = 0; !rc && i < n; i++)
        if ((rc = system_from(&x, enrich_assets_at(inv, i), &a->v[i])) == 0)
            a->n++;
    if (rc) {
        esc_assets_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

int esc_assets_load(const char *path, struct esc_assets **out, struct ts_err *err)
{
    return assets_load(path, NULL, NULL, 0, out, err);
}

int esc_assets_load_buffer(const char *name, const char *buf, size_t len,
                           struct esc_assets **out, struct ts_err *err)
{
    return assets_load(NULL, name, buf, len, out, err);
}

void esc_assets_free(struct esc_assets *a)
{
    if (!a)
        return;
    enrich_assets_free(a->inv);
    ts_arena_destroy(a->arena);
    free(a);
}

static bool has_tenant(const struct esc_system *s, const char *tenant)
{
    for (size_t i = 0; i < s->ntenants; i++)
        if (!strcmp(s->tenants[i], tenant))
            return true;
    return false;
}

/* What a tenant sees of a system: 2 its own, 1 shared (no tenants), 0 not
 * at all. An incident without a tenant sees the shared systems only. */
static int rank(const struct esc_system *s, const char *tenant)
{
    if (!s->ntenants)
        return 1;
    return tenant && *tenant && has_tenant(s, tenant) ? 2 : 0;
}

const struct esc_system *esc_assets_by_id(const struct esc_assets *a, const char *tenant,
                                          const char *id)
{
    const struct esc_system *shared = NULL;
    for (size_t i = 0; a && id && i < a->n; i++)
        if (!strcmp(a->v[i].id, id)) {
            int r = rank(&a->v[i], tenant);
            if (r == 2)
                return &a->v[i];
            if (r == 1 && !shared)
                shared = &a->v[i];
        }
    return shared;
}

/* One value (host name, domain or address) -> system, the tenant's own
 * systems first, then the shared ones: enrich's lookups (the same as the
 * enrichment's asset.* fields); strict: no first-label match (for tokens of
 * raw text). */
static const struct esc_system *find_value(const struct esc_assets *a, const char *tenant,
                                           const char *v, size_t n, bool strict)
{
    const struct enrich_asset *as =
        enrich_assets_by_value(a->inv, enrich_assets_tenant(a->inv, tenant), v, n, strict);
    return as ? &a->v[as->index] : NULL;
}

/* "asset_id":"..." or "asset.id":"..." in a JSON text, without a parser:
 * the details are ours (cli/incidents.c writes them). */
static const struct esc_system *find_details(const struct esc_assets *a, const char *tenant,
                                             const char *details)
{
    static const char *const keys[] = {"\"asset_id\"", "\"asset.id\""};
    for (size_t k = 0; details && k < 2; k++) {
        const char *p = strstr(details, keys[k]);
        if (!p)
            continue;
        p += strlen(keys[k]);
        while (*p == ' ' || *p == ':')
            p++;
        if (*p != '"')
            continue;
        const char *e = strchr(++p, '"');
        char id[256];
        if (!e || (size_t)(e - p) >= sizeof(id))
            continue;
        memcpy(id, p, (size_t)(e - p));
        id[e - p] = '\0';
        const struct esc_system *s = esc_assets_by_id(a, tenant, id);
        if (s)
            return s;
    }
    return NULL;
}

const struct esc_system *esc_assets_find(const struct esc_assets *a,
                                         const struct store_incident *inc)
{
    if (!a || !inc)
        return NULL;
    const struct esc_system *s = find_details(a, inc->tenant, inc->details);
    if (s)
        return s;
    const char *g = inc->group_key;
    while (g && *g) {
        size_t n = strcspn(g, ",");
        const char *eq = memchr(g, '=', n);
        const char *v = eq ? eq + 1 : g;
        if ((s = find_value(a, inc->tenant, v, n - (size_t)(v - g), false)))
            return s;
        g += n;
        if (*g == ',')
            g++;
    }
    for (uint32_t i = 0; i < inc->ndistinct; i++)
        if (inc->distinct[i] &&
            (s = find_value(a, inc->tenant, inc->distinct[i], strlen(inc->distinct[i]), false)))
            return s;
    return NULL;
}

const struct esc_system *esc_assets_find_ev(const struct esc_assets *a,
                                            const struct store_incident *inc,
                                            const struct store_evidence *ev, size_t nev)
{
    const struct esc_system *s = esc_assets_find(a, inc);
    if (s || !a)
        return s;
    static const char seps[] = " \t\r\n[](){}<>,;:\"'=|";
    for (size_t i = 0; i < nev && i < ESC_EVIDENCE_RAW_MAX; i++) {
        const char *p = ev[i].raw, *end = p ? p + ev[i].raw_len : NULL;
        size_t scanned = 0;
        while (p && p < end && scanned < 8192) {
            size_t n = 0;
            while (p + n < end && !memchr(seps, p[n], sizeof(seps) - 1))
                n++;
            /* ':' splits "host:port" but also IPv6; IPv6 in raw text is
             * not looked at (a known limit). */
            if (n >= 3 && n < 254 && (s = find_value(a, inc->tenant, p, n, true)))
                return s;
            scanned += n + 1;
            p += n + 1;
        }
    }
    return NULL;
}
