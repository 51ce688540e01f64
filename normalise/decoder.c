/* decoder.c - decoder sets: loading YAML decoder files (docs/decoders.md)
 * into an immutable, reference-counted set of compiled PCRE2 patterns, and
 * applying them to events.
 *
 * Ownership: a set owns one arena holding every name, literal and table of
 * its decoders, plus the compiled regexes; events decoded with it point to
 * its names and constants (see norm_decoder_set_ref). A scratch belongs to
 * one thread and holds the PCRE2 match data, match context and JIT stack.
 *
 * Threads: loading is reentrant; a loaded set is read-only and may be used by
 * any number of threads at once, each with its own scratch. apply() does no
 * malloc, takes no lock and logs nothing: fields go into the event's arena.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "../core/arena.h"
#include "../core/yaml.h"
#include "../core/yconf.h"
#include "decoder_int.h"

/* ------------------------------------------------------------------ model */

enum dtype { DT_STR = 0, DT_INT, DT_IP, DT_TIME };

/* An output field: name (owned by the set) and type. */
struct out {
    const char *name;
    uint32_t len;
    uint8_t type;
};

/* A named capture: the groups carrying the name (several with (?J) or
 * alternatives), the first set one gives the value. */
struct cap {
    const char *in; /* capture name */
    struct out out;
    uint32_t *groups;
    uint32_t ngroups;
};

/* name -> name (rename, copy) or name -> type. */
struct pair {
    const char *a;
    uint32_t alen;
    const char *b;
    uint32_t blen;
    uint8_t type;
};

struct konst {
    struct out out;
    struct ts_value v;
};

struct lit {
    const char *s;
    uint32_t len;
};

struct pattern {
    pcre2_code *re; /* NULL: the pattern matches every event the decoder accepts */
    unsigned line, col;
    struct cap *caps;
    uint32_t ncaps;
    bool kv;
    int kv_from_cap;     /* index into caps, or -1 */
    struct lit kv_from;  /* a field name when kv_from_cap < 0; len 0 = the source */
    struct lit *kv_only; /* input keys kept (NULL: all) */
    uint32_t nkv_only;
    struct pair *renames; /* in -> out name, pattern's first, then the decoder's */
    uint32_t nrenames;
    struct pair *types; /* out name -> type */
    uint32_t ntypes;
    struct pair *copies; /* existing field -> out name (type from types) */
    uint32_t ncopies;
    struct konst *set; /* pattern's constants, then the decoder's not overridden */
    uint32_t nset;
};

struct decoder {
    const char *name;
    const char *file;
    unsigned line, col;
    const char **formats;
    uint32_t nformats;
    bool has_programs; /* indexed by program name */
    pcre2_code *program_re;
    struct lit *prefixes;
    uint32_t nprefixes;
    struct lit *contains;
    uint32_t ncontains;
    struct lit *has;
    uint32_t nhas;
    struct lit source; /* "message" by default */
    bool source_is_message;
    struct ts_logsource logsource;
    struct pattern *patterns;
    uint32_t npatterns;
};

struct prog_slot {
    const char *name; /* NULL: empty slot */
    uint32_t len;
    uint32_t *list; /* decoder indexes, ascending: this program's and the any-program ones */
    uint32_t n;
};

struct norm_decoder_set {
    atomic_uint refs;
    struct ts_arena *mem;
    struct decoder *dec;
    uint32_t ndec, capdec;
    struct prog_slot *slots;
    uint32_t nslots; /* power of two */
    uint32_t *any;   /* decoders without a program list */
    uint32_t nany;
    /* while loading: (program, decoder) pairs */
    struct pair *progs;
    uint32_t nprogs, capprogs;
};

struct norm_decoder_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    struct norm_decoder_stats st;
    bool undecoded; /* the last apply(): program and message, no decoder fired */
    bool cut;       /* the last apply(): a search stopped by a PCRE2 limit */
};

#define DEC_ARENA_CAP (64u << 20)
/* PCRE2 limits of every decoder search, as the Sigma regexes' (rules.h
 * RULE_RE_*): a catastrophic pattern on a hostile line stops at them, counts
 * as not matching and is counted (norm_decoder_stats.regex_cut). */
#define DEC_MATCH_LIMIT 1000000u
#define DEC_DEPTH_LIMIT 50000u
#define DEC_HEAP_LIMIT_KIB 8192u

/* ---------------------------------------------------------------- loading */

/* The load context: core/yconf's (file, first error) and the set being built
 * (strings go to its arena through lalloc/scalar). */
struct loader {
    struct ts_yconf y;
    struct norm_decoder_set *ds;
};

static int lerr(struct loader *x, const struct ts_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int lerr(struct loader *x, const struct ts_ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_yconf_vfail(&x->y, TS_E_CONFIG, n, fmt, ap);
    va_end(ap);
    return rc;
}

static int lnomem(struct loader *L)
{
    return ts_yconf_nomem(&L->y);
}

static void *lalloc(struct loader *L, size_t n)
{
    void *p = ts_arena_alloc(L->ds->mem, n ? n : 1);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}

/* " (did you mean "x"?)" or "". */
static const char *suggest(const char *got, const char *const *known, char *buf, size_t len)
{
    const char *pick = ts_yconf_suggest(got, strlen(got), known, ts_yconf_count(known));
    if (!pick)
        return "";
    snprintf(buf, len, " (did you mean \"%s\"?)", pick);
    return buf;
}

/* Every key of map n must be in known (NULL-terminated), once. */
static int check_keys(struct loader *L, const struct ts_ynode *n, const char *what,
                      const char *const *known)
{
    return ts_yconf_check_keys(&L->y, n, what, known, ts_yconf_count(known), NULL);
}

/* A non-empty scalar without NULs, copied into the set's arena. */
static int scalar(struct loader *L, const struct ts_ynode *n, const char *what, struct lit *out)
{
    if (!n || n->kind != TS_Y_SCALAR)
        return lerr(L, n, "%s must be a string, not %s", what, ts_yaml_kind_name(n));
    if (n->len == 0 || memchr(n->str, '\0', n->len))
        return lerr(L, n, "%s must be a non-empty string without NUL bytes", what);
    if (n->len > UINT32_MAX / 2)
        return lerr(L, n, "%s is too long", what);
    char *s = ts_arena_strndup(L->ds->mem, n->str, n->len);
    if (!s)
        return lnomem(L);
    out->s = s;
    out->len = (uint32_t)n->len;
    return 0;
}

/* A scalar or a list of scalars. */
static int scalar_list(struct loader *L, const struct ts_ynode *n, const char *what,
                       struct lit **out, uint32_t *nout)
{
    size_t cnt = n && n->kind == TS_Y_SEQ ? n->nitems : 1;
    if (n && n->kind == TS_Y_SEQ && cnt == 0)
        return lerr(L, n, "%s must not be an empty list", what);
    if (cnt > INGEST_DEC_MAX_ENTRIES)
        return ts_err_set(L->y.err, TS_E_LIMIT, L->y.file, n->line, n->col,
                          "%s has more than %d entries", what, INGEST_DEC_MAX_ENTRIES);
    struct lit *v = lalloc(L, cnt * sizeof(*v));
    if (!v)
        return lnomem(L);
    for (size_t i = 0; i < cnt; i++) {
        int rc = scalar(L, n && n->kind == TS_Y_SEQ ? n->items[i] : n, what, &v[i]);
        if (rc)
            return rc;
    }
    *out = v;
    *nout = (uint32_t)cnt;
    return 0;
}

static int map_of(struct loader *L, const struct ts_ynode *n, const char *what)
{
    if (!n || n->kind != TS_Y_MAP)
        return lerr(L, n, "%s must be a mapping, not %s", what, ts_yaml_kind_name(n));
    if (n->npairs > INGEST_DEC_MAX_ENTRIES)
        return ts_err_set(L->y.err, TS_E_LIMIT, L->y.file, n->line, n->col,
                          "%s has more than %d entries", what, INGEST_DEC_MAX_ENTRIES);
    return 0;
}

static const char *const type_names[] = {"string", "int", "ip", "time", NULL};

static int parse_type(struct loader *L, const struct ts_ynode *n, uint8_t *t)
{
    if (!n || n->kind != TS_Y_SCALAR)
        return lerr(L, n, "a type must be a string, not %s", ts_yaml_kind_name(n));
    for (uint8_t i = 0; type_names[i]; i++)
        if (strcmp(n->str, type_names[i]) == 0) {
            *t = i;
            return 0;
        }
    char buf[80];
    return lerr(L, n, "unknown type \"%s\" (expected string, int, ip or time)%s", n->str,
                suggest(n->str, type_names, buf, sizeof(buf)));
}

/* A mapping of names to names (rename, copy) or to types (types). */
static int pairs(struct loader *L, const struct ts_ynode *n, const char *what, bool to_type,
                 struct pair **out, uint32_t *nout)
{
    int rc = map_of(L, n, what);
    if (rc)
        return rc;
    struct pair *v = lalloc(L, n->npairs * sizeof(*v));
    if (!v)
        return lnomem(L);
    for (size_t i = 0; i < n->npairs; i++) {
        struct lit a, b = {0};
        if ((rc = scalar(L, n->pairs[i].key, what, &a)))
            return rc;
        if (to_type)
            rc = parse_type(L, n->pairs[i].val, &v[i].type);
        else
            rc = scalar(L, n->pairs[i].val, what, &b);
        if (rc)
            return rc;
        v[i].a = a.s;
        v[i].alen = a.len;
        v[i].b = b.s;
        v[i].blen = b.len;
    }
    *out = v;
    *nout = (uint32_t)n->npairs;
    return 0;
}

/* Concatenate a (first) and b into one arena array. */
static int concat(struct loader *L, const struct pair *a, uint32_t na, const struct pair *b,
                  uint32_t nb, struct pair **out, uint32_t *nout)
{
    struct pair *v = lalloc(L, (size_t)(na + nb) * sizeof(*v));
    if (!v)
        return lnomem(L);
    if (na)
        memcpy(v, a, na * sizeof(*v));
    if (nb)
        memcpy(v + na, b, nb * sizeof(*v));
    *out = v;
    *nout = na + nb;
    return 0;
}

static const struct pair *pair_find(const struct pair *v, uint32_t n, const char *s, size_t len)
{
    for (uint32_t i = 0; i < n; i++)
        if (v[i].alen == len && memcmp(v[i].a, s, len) == 0)
            return &v[i];
    return NULL;
}

/* The output field for input name s under the pattern's renames and types. */
static void out_for(const struct pattern *p, const char *s, uint32_t len, struct out *o)
{
    const struct pair *r = pair_find(p->renames, p->nrenames, s, len);
    o->name = r ? r->b : s;
    o->len = r ? r->blen : len;
    const struct pair *t = pair_find(p->types, p->ntypes, o->name, o->len);
    o->type = t ? t->type : DT_STR;
}

static bool parse_int(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (len && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i >= len)
        return false;
    uint64_t v = 0;
    if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        if (len - i > 15)
            return false;
        for (; i < len; i++) {
            char c = s[i];
            int h = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (h < 0)
                return false;
            v = v * 16 + (uint64_t)h;
        }
    } else {
        if (len - i > 18)
            return false;
        for (; i < len; i++) {
            if (s[i] < '0' || s[i] > '9')
                return false;
            v = v * 10 + (uint64_t)(s[i] - '0');
        }
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* Constants: pattern's own, then the decoder's that the pattern does not
 * override. Values typed by the pattern's types. */
static int konsts(struct loader *L, const struct pattern *p, const struct ts_ynode *pset,
                  const struct ts_ynode *dset, struct konst **out, uint32_t *nout)
{
    int rc;
    size_t n = (pset ? pset->npairs : 0) + (dset ? dset->npairs : 0);
    struct konst *v = lalloc(L, n * sizeof(*v));
    if (!v)
        return lnomem(L);
    uint32_t k = 0;
    for (int pass = 0; pass < 2; pass++) {
        const struct ts_ynode *m = pass == 0 ? pset : dset;
        if (!m)
            continue;
        for (size_t i = 0; i < m->npairs; i++) {
            struct lit name;
            if ((rc = scalar(L, m->pairs[i].key, "a set name", &name)))
                return rc;
            bool dup = false;
            for (uint32_t j = 0; j < k && !dup; j++)
                dup = v[j].out.len == name.len && memcmp(v[j].out.name, name.s, name.len) == 0;
            if (dup)
                continue; /* the pattern's own value wins */
            const struct ts_ynode *val = m->pairs[i].val;
            if (!val || val->kind != TS_Y_SCALAR)
                return lerr(L, val, "the value of \"%s\" must be a scalar, not %s", name.s,
                            ts_yaml_kind_name(val));
            const struct pair *t = pair_find(p->types, p->ntypes, name.s, name.len);
            uint8_t type = t ? t->type : DT_STR;
            struct konst *c = &v[k];
            c->out.name = name.s;
            c->out.len = name.len;
            c->out.type = type;
            if (type == DT_INT) {
                int64_t i64;
                if (!parse_int(val->str, val->len, &i64))
                    return lerr(L, val, "\"%s\" is not an int (type of \"%s\")", val->str, name.s);
                c->v = ts_v_int(i64);
            } else if (type == DT_IP) {
                c->v.type = TS_V_IP;
                if (ts_ip_parse(val->str, val->len, &c->v.u.ip))
                    return lerr(L, val, "\"%s\" is not an IP address (type of \"%s\")", val->str,
                                name.s);
            } else if (type == DT_TIME) {
                return lerr(L, val, "a constant cannot be of type time (\"%s\")", name.s);
            } else {
                char *s = ts_arena_strndup(L->ds->mem, val->str, val->len);
                if (!s)
                    return lnomem(L);
                c->v = ts_v_str(s, val->len);
            }
            k++;
        }
    }
    *out = v;
    *nout = k;
    return 0;
}

/* Position of byte `off` of a regex scalar n: exact for one-line plain
 * scalars and quoted ones without escapes, else the scalar's start. */
static void regex_pos(const struct ts_ynode *n, size_t off, unsigned *line, unsigned *col)
{
    *line = n->line;
    *col = n->col;
    if (memchr(n->str, '\n', n->len))
        return;
    if (n->style == TS_YS_PLAIN) {
        *col = n->col + (unsigned)off;
    } else if (n->style == TS_YS_QUOTED && !memchr(n->str, '\\', n->len) &&
               !memchr(n->str, '\'', n->len)) {
        *col = n->col + 1 + (unsigned)off;
    }
}

static int compile(struct loader *L, const struct ts_ynode *n, const char *what, pcre2_code **out)
{
    if (!n || n->kind != TS_Y_SCALAR)
        return lerr(L, n, "%s must be a string, not %s", what, ts_yaml_kind_name(n));
    if (n->len == 0)
        return lerr(L, n, "%s must not be empty", what);
    if (n->len > INGEST_DEC_MAX_REGEX)
        return ts_err_set(L->y.err, TS_E_LIMIT, L->y.file, n->line, n->col,
                          "%s is longer than %d bytes", what, INGEST_DEC_MAX_REGEX);
    int ec;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)n->str, n->len, PCRE2_DUPNAMES, &ec, &eoff, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", ec);
        unsigned line, col;
        regex_pos(n, eoff, &line, &col);
        return ts_err_set(L->y.err, TS_E_CONFIG, L->y.file, line, col,
                          "invalid %s: %s (at offset %zu of the pattern)", what, (char *)msg,
                          (size_t)eoff);
    }
    uint32_t groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    if (groups > INGEST_DEC_MAX_GROUPS) {
        pcre2_code_free(re);
        return ts_err_set(L->y.err, TS_E_LIMIT, L->y.file, n->line, n->col,
                          "%s has %u capture groups (the limit is %d)", what, groups,
                          INGEST_DEC_MAX_GROUPS);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT, the interpreter runs */
    *out = re;
    return 0;
}

/* The named groups of p->re into p->caps. */
static int captures(struct loader *L, const struct ts_ynode *n, struct pattern *p)
{
    uint32_t count = 0, esize = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(p->re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(p->re, PCRE2_INFO_NAMEENTRYSIZE, &esize);
    pcre2_pattern_info(p->re, PCRE2_INFO_NAMETABLE, &table);
    if (count == 0)
        return 0;
    p->caps = lalloc(L, count * sizeof(*p->caps));
    uint32_t *groups = lalloc(L, count * sizeof(uint32_t));
    if (!p->caps || !groups)
        return lnomem(L);
    uint32_t nc = 0;
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * esize;
        uint32_t g = ((uint32_t)e[0] << 8) | e[1];
        const char *name = (const char *)(e + 2);
        if (nc && strcmp(p->caps[nc - 1].in, name) == 0) {
            p->caps[nc - 1].ngroups++; /* dupnames are adjacent: groups is contiguous */
            groups[i] = g;
            continue;
        }
        char *copy = ts_arena_strndup(L->ds->mem, name, strlen(name));
        if (!copy)
            return lnomem(L);
        struct cap *c = &p->caps[nc++];
        c->in = copy;
        c->groups = &groups[i];
        c->ngroups = 1;
        groups[i] = g;
        out_for(p, copy, (uint32_t)strlen(copy), &c->out);
    }
    p->ncaps = nc;
    TS_UNUSED(n);
    return 0;
}

static const char *const pattern_keys[] = {"regex", "kv",  "copy", "set", "types",
                                           "rename", "name", "description", NULL};

static int load_kv(struct loader *L, const struct ts_ynode *n, struct pattern *p)
{
    p->kv = true;
    p->kv_from_cap = -1;
    if (n->kind == TS_Y_SCALAR) {
        if (strcmp(n->str, "true") == 0 || strcmp(n->str, "all") == 0)
            return 0;
        return lerr(L, n, "kv must be true or a mapping with \"only\" / \"from\"");
    }
    static const char *const kv_keys[] = {"only", "from", NULL};
    int rc;
    if ((rc = map_of(L, n, "kv")) || (rc = check_keys(L, n, "kv", kv_keys)))
        return rc;
    const struct ts_ynode *only = ts_yaml_get(n, "only"), *from = ts_yaml_get(n, "from");
    if (only && (rc = scalar_list(L, only, "kv.only", &p->kv_only, &p->nkv_only)))
        return rc;
    if (from) {
        if ((rc = scalar(L, from, "kv.from", &p->kv_from)))
            return rc;
        for (uint32_t i = 0; i < p->ncaps; i++)
            if (strcmp(p->caps[i].in, p->kv_from.s) == 0)
                p->kv_from_cap = (int)i;
    }
    return 0;
}

struct dec_level {
    struct pair *renames, *types;
    uint32_t nrenames, ntypes;
    const struct ts_ynode *set;
};

static int load_pattern(struct loader *L, const struct ts_ynode *n, const struct dec_level *dl,
                        struct pattern *p)
{
    int rc;
    if ((rc = map_of(L, n, "a pattern")) || (rc = check_keys(L, n, "a pattern", pattern_keys)))
        return rc;
    p->line = n->line;
    p->col = n->col;
    p->kv_from_cap = -1;
    const struct ts_ynode *re = ts_yaml_get(n, "regex"), *kv = ts_yaml_get(n, "kv"),
                          *copy = ts_yaml_get(n, "copy"), *set = ts_yaml_get(n, "set"),
                          *types = ts_yaml_get(n, "types"), *rename = ts_yaml_get(n, "rename");
    struct pair *pr = NULL, *pt = NULL;
    uint32_t npr = 0, npt = 0;
    if ((rename && (rc = pairs(L, rename, "rename", false, &pr, &npr))) ||
        (types && (rc = pairs(L, types, "types", true, &pt, &npt))) ||
        (rc = concat(L, pr, npr, dl->renames, dl->nrenames, &p->renames, &p->nrenames)) ||
        (rc = concat(L, pt, npt, dl->types, dl->ntypes, &p->types, &p->ntypes)))
        return rc;
    if (re) {
        if ((rc = compile(L, re, "regex", &p->re)))
            return rc;
        p->line = re->line;
        p->col = re->col;
        if ((rc = captures(L, re, p)))
            return rc;
    }
    if (kv && (rc = load_kv(L, kv, p)))
        return rc;
    if (copy && (rc = pairs(L, copy, "copy", false, &p->copies, &p->ncopies)))
        return rc;
    if (set && (rc = map_of(L, set, "set")))
        return rc;
    if (!re && !kv && !copy && !set && !dl->set)
        return lerr(L, n, "a pattern needs at least one of regex, kv, copy or set");
    return konsts(L, p, set, dl->set, &p->set, &p->nset);
}

static const char *const known_formats[] = {"rfc3164", "rfc5424", "json", "cef", "leef",
                                            "kv",      "access",  NULL};

static int load_match(struct loader *L, const struct ts_ynode *m, struct decoder *d,
                      uint32_t idx)
{
    static const char *const match_keys[] = {"program", "program_regex", "format", "prefix",
                                             "contains", "has",          NULL};
    int rc;
    if ((rc = map_of(L, m, "match")) || (rc = check_keys(L, m, "match", match_keys)))
        return rc;
    const struct ts_ynode *prog = ts_yaml_get(m, "program"),
                          *prog_re = ts_yaml_get(m, "program_regex"),
                          *fmt = ts_yaml_get(m, "format"), *prefix = ts_yaml_get(m, "prefix"),
                          *contains = ts_yaml_get(m, "contains"), *has = ts_yaml_get(m, "has");
    if (prog && prog_re)
        return lerr(L, prog_re, "use either program or program_regex, not both");
    if (prog) {
        struct lit *v;
        uint32_t nv;
        if ((rc = scalar_list(L, prog, "match.program", &v, &nv)))
            return rc;
        struct norm_decoder_set *ds = L->ds;
        for (uint32_t i = 0; i < nv; i++) {
            if (ds->nprogs == ds->capprogs) {
                uint32_t cap = ds->capprogs ? ds->capprogs * 2 : 64;
                struct pair *np = realloc(ds->progs, cap * sizeof(*np));
                if (!np)
                    return lnomem(L);
                ds->progs = np;
                ds->capprogs = cap;
            }
            ds->progs[ds->nprogs++] = (struct pair){.a = v[i].s, .alen = v[i].len, .blen = idx};
        }
        d->has_programs = true;
    }
    if (prog_re && (rc = compile(L, prog_re, "program_regex", &d->program_re)))
        return rc;
    if (fmt) {
        struct lit *v;
        uint32_t nv;
        if ((rc = scalar_list(L, fmt, "match.format", &v, &nv)))
            return rc;
        d->formats = lalloc(L, nv * sizeof(*d->formats));
        if (!d->formats)
            return lnomem(L);
        for (uint32_t i = 0; i < nv; i++) {
            const char *k = NULL;
            for (size_t j = 0; known_formats[j] && !k; j++)
                if (strcmp(v[i].s, known_formats[j]) == 0)
                    k = known_formats[j];
            if (!k) {
                char buf[80];
                const struct ts_ynode *at = fmt->kind == TS_Y_SEQ ? fmt->items[i] : fmt;
                return lerr(L, at, "unknown format \"%s\"%s", v[i].s,
                            suggest(v[i].s, known_formats, buf, sizeof(buf)));
            }
            d->formats[i] = k;
        }
        d->nformats = nv;
    }
    if (prefix && (rc = scalar_list(L, prefix, "match.prefix", &d->prefixes, &d->nprefixes)))
        return rc;
    if (contains &&
        (rc = scalar_list(L, contains, "match.contains", &d->contains, &d->ncontains)))
        return rc;
    if (has && (rc = scalar_list(L, has, "match.has", &d->has, &d->nhas)))
        return rc;
    return 0;
}

static int load_logsource(struct loader *L, const struct ts_ynode *n, struct ts_logsource *ls)
{
    static const char *const keys[] = {"product", "category", "service", NULL};
    int rc;
    if ((rc = map_of(L, n, "logsource")) || (rc = check_keys(L, n, "logsource", keys)))
        return rc;
    const char **dst[3] = {&ls->product, &ls->category, &ls->service};
    for (int i = 0; i < 3; i++) {
        const struct ts_ynode *v = ts_yaml_get(n, keys[i]);
        struct lit l;
        if (v) {
            if ((rc = scalar(L, v, keys[i], &l)))
                return rc;
            *dst[i] = l.s;
        }
    }
    return 0;
}

static const char *const decoder_keys[] = {"name",   "description", "match", "source",
                                           "logsource", "types",   "rename", "set",
                                           "patterns", NULL};

static int load_decoder(struct loader *L, const struct ts_ynode *n)
{
    struct norm_decoder_set *ds = L->ds;
    int rc;
    if ((rc = map_of(L, n, "a decoder")) || (rc = check_keys(L, n, "a decoder", decoder_keys)))
        return rc;
    if (ds->ndec >= INGEST_DEC_MAX_DECODERS)
        return ts_err_set(L->y.err, TS_E_LIMIT, L->y.file, n->line, n->col,
                          "more than %d decoders", INGEST_DEC_MAX_DECODERS);
    if (ds->ndec == ds->capdec) {
        uint32_t cap = ds->capdec ? ds->capdec * 2 : 32;
        struct decoder *nd = realloc(ds->dec, cap * sizeof(*nd));
        if (!nd)
            return lnomem(L);
        ds->dec = nd;
        ds->capdec = cap;
    }
    uint32_t idx = ds->ndec;
    struct decoder *d = &ds->dec[idx];
    memset(d, 0, sizeof(*d));
    ds->ndec++; /* counted now so that free() sees its regexes */
    d->file = L->y.file;
    d->line = n->line;
    d->col = n->col;

    const struct ts_ynode *name = ts_yaml_get(n, "name");
    if (!name)
        return lerr(L, n, "a decoder needs a name");
    struct lit nm;
    if ((rc = scalar(L, name, "name", &nm)))
        return rc;
    for (uint32_t i = 0; i < idx; i++)
        if (strcmp(ds->dec[i].name, nm.s) == 0)
            return lerr(L, name, "duplicate decoder name \"%s\" (first defined at %s:%u:%u)",
                        nm.s, ds->dec[i].file, ds->dec[i].line, ds->dec[i].col);
    d->name = nm.s;

    const struct ts_ynode *m = ts_yaml_get(n, "match");
    if (m && (rc = load_match(L, m, d, idx)))
        return rc;
    const struct ts_ynode *src = ts_yaml_get(n, "source");
    d->source = (struct lit){"message", 7};
    if (src && (rc = scalar(L, src, "source", &d->source)))
        return rc;
    d->source_is_message = d->source.len == 7 && memcmp(d->source.s, "message", 7) == 0;
    const struct ts_ynode *ls = ts_yaml_get(n, "logsource");
    if (ls && (rc = load_logsource(L, ls, &d->logsource)))
        return rc;

    struct dec_level dl = {0};
    const struct ts_ynode *types = ts_yaml_get(n, "types"), *rename = ts_yaml_get(n, "rename");
    dl.set = ts_yaml_get(n, "set");
    if ((types && (rc = pairs(L, types, "types", true, &dl.types, &dl.ntypes))) ||
        (rename && (rc = pairs(L, rename, "rename", false, &dl.renames, &dl.nrenames))) ||
        (dl.set && (rc = map_of(L, dl.set, "set"))))
        return rc;

    const struct ts_ynode *pats = ts_yaml_get(n, "patterns");
    if (!pats)
        return lerr(L, n, "decoder \"%s\" needs patterns (a list)", d->name);
    if (pats->kind != TS_Y_SEQ || pats->nitems == 0)
        return lerr(L, pats, "patterns must be a non-empty list, not %s",
                    pats->kind == TS_Y_SEQ ? "an empty list" : ts_yaml_kind_name(pats));
    if (pats->nitems > INGEST_DEC_MAX_PATTERNS)
        return ts_err_set(L->y.err, TS_E_LIMIT, L->y.file, pats->line, pats->col,
                          "more than %d patterns", INGEST_DEC_MAX_PATTERNS);
    d->patterns = lalloc(L, pats->nitems * sizeof(*d->patterns));
    if (!d->patterns)
        return lnomem(L);
    for (size_t i = 0; i < pats->nitems; i++) {
        d->npatterns = (uint32_t)i + 1; /* so that free() sees the regex */
        if ((rc = load_pattern(L, pats->items[i], &dl, &d->patterns[i])))
            return rc;
    }
    return 0;
}

static int load_stream(struct loader *L, const struct ts_ystream *st)
{
    static const char *const top_keys[] = {"decoders", NULL};
    int rc;
    for (size_t i = 0; i < st->ndocs; i++) {
        const struct ts_ynode *root = st->docs[i].root;
        if (!root)
            continue;
        if (root->kind != TS_Y_MAP)
            return lerr(L, root, "a decoder file is a mapping with a \"decoders\" list, not %s",
                        ts_yaml_kind_name(root));
        if ((rc = check_keys(L, root, "a decoder file", top_keys)))
            return rc;
        const struct ts_ynode *list = ts_yaml_get(root, "decoders");
        if (!list)
            return lerr(L, root, "a decoder file needs a \"decoders\" list");
        if (list->kind != TS_Y_SEQ)
            return lerr(L, list, "decoders must be a list, not %s", ts_yaml_kind_name(list));
        for (size_t j = 0; j < list->nitems; j++)
            if ((rc = load_decoder(L, list->items[j])))
                return rc;
    }
    return 0;
}

static int load_file(struct norm_decoder_set *ds, const char *path, struct ts_err *err)
{
    struct ts_ystream *st = NULL;
    int rc = ts_yaml_load_file(path, &st, err);
    if (rc)
        return rc;
    struct loader L = {.y = {.err = err, .what = "decoders"}, .ds = ds};
    L.y.file = ts_arena_strndup(ds->mem, path, strlen(path));
    if (!L.y.file) {
        ts_yaml_free(st);
        return ts_err_set(err, TS_E_NOMEM, path, 0, 0, "out of memory loading decoders");
    }
    rc = load_stream(&L, st);
    ts_yaml_free(st);
    return rc;
}

static int yml_name(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    if (e->d_name[0] == '.')
        return 0;
    return (n > 4 && strcmp(e->d_name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(e->d_name + n - 5, ".yaml") == 0);
}

static int load_path(struct norm_decoder_set *ds, const char *path, struct ts_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ts_err_set(err, TS_E_IO, path, 0, 0, "cannot open decoder path: %s",
                          strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return load_file(ds, path, err);
    struct dirent **names = NULL;
    int n = scandir(path, &names, yml_name, alphasort);
    if (n < 0)
        return ts_err_set(err, TS_E_IO, path, 0, 0, "cannot read decoder directory: %s",
                          strerror(errno));
    int rc = 0;
    if (n > INGEST_DEC_MAX_FILES)
        rc = ts_err_set(err, TS_E_LIMIT, path, 0, 0, "more than %d decoder files",
                        INGEST_DEC_MAX_FILES);
    for (int i = 0; i < n; i++) {
        if (!rc) {
            char full[4096];
            int w = snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
            if (w < 0 || (size_t)w >= sizeof(full))
                rc = ts_err_set(err, TS_E_LIMIT, path, 0, 0, "path too long: %s",
                                names[i]->d_name);
            else
                rc = load_file(ds, full, err);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static uint32_t hash_name(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static struct prog_slot *slot_find(const struct norm_decoder_set *ds, const char *s, size_t n)
{
    if (!ds->nslots)
        return NULL;
    uint32_t mask = ds->nslots - 1;
    for (uint32_t i = hash_name(s, n) & mask;; i = (i + 1) & mask) {
        struct prog_slot *sl = &ds->slots[i];
        if (!sl->name)
            return NULL;
        if (sl->len == n && memcmp(sl->name, s, n) == 0)
            return sl;
    }
}

/* The program index: per program name, its decoders merged with the
 * any-program ones, in decoder order. */
static int build_index(struct norm_decoder_set *ds, struct ts_err *err)
{
    struct loader L = {.y = {.file = "decoders", .err = err, .what = "decoders"}, .ds = ds};
    ds->any = lalloc(&L, ds->ndec * sizeof(uint32_t));
    if (!ds->any)
        return lnomem(&L);
    for (uint32_t i = 0; i < ds->ndec; i++)
        if (!ds->dec[i].has_programs)
            ds->any[ds->nany++] = i;
    uint32_t nslots = 16;
    while (nslots < ds->nprogs * 2 + 2)
        nslots *= 2;
    ds->slots = lalloc(&L, nslots * sizeof(*ds->slots));
    if (!ds->slots)
        return lnomem(&L);
    ds->nslots = nslots;
    for (uint32_t i = 0; i < ds->nprogs; i++) {
        const struct pair *pp = &ds->progs[i];
        struct prog_slot *sl = slot_find(ds, pp->a, pp->alen);
        if (sl)
            continue;
        uint32_t mine = 0;
        for (uint32_t j = 0; j < ds->nprogs; j++)
            mine += ds->progs[j].alen == pp->alen && memcmp(ds->progs[j].a, pp->a, pp->alen) == 0;
        uint32_t *list = lalloc(&L, (mine + ds->nany) * sizeof(uint32_t));
        if (!list)
            return lnomem(&L);
        uint32_t n = 0;
        for (uint32_t d = 0; d < ds->ndec; d++) {
            bool take = !ds->dec[d].has_programs;
            for (uint32_t j = 0; j < ds->nprogs && !take; j++)
                take = ds->progs[j].blen == d && ds->progs[j].alen == pp->alen &&
                       memcmp(ds->progs[j].a, pp->a, pp->alen) == 0;
            if (take && (n == 0 || list[n - 1] != d))
                list[n++] = d;
        }
        uint32_t mask = nslots - 1;
        uint32_t k = hash_name(pp->a, pp->alen) & mask;
        while (ds->slots[k].name)
            k = (k + 1) & mask;
        ds->slots[k] = (struct prog_slot){.name = pp->a, .len = pp->alen, .list = list, .n = n};
    }
    free(ds->progs);
    ds->progs = NULL;
    ds->nprogs = ds->capprogs = 0;
    return 0;
}

static void set_destroy(struct norm_decoder_set *ds)
{
    for (uint32_t i = 0; i < ds->ndec; i++) {
        struct decoder *d = &ds->dec[i];
        pcre2_code_free(d->program_re);
        for (uint32_t j = 0; j < d->npatterns; j++)
            pcre2_code_free(d->patterns[j].re);
    }
    free(ds->dec);
    free(ds->progs);
    ts_arena_destroy(ds->mem);
    free(ds);
}

int norm_decoder_set_load(struct norm_decoder_set **out, const char *const *paths,
                            size_t npaths, struct ts_err *err)
{
    if (!out)
        return TS_E_INVAL;
    *out = NULL;
    struct norm_decoder_set *ds = calloc(1, sizeof(*ds));
    if (!ds || ts_arena_create(&ds->mem, 64 * 1024, DEC_ARENA_CAP)) {
        free(ds);
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory loading decoders");
    }
    atomic_init(&ds->refs, 1u);
    int rc = 0;
    for (size_t i = 0; i < npaths && !rc; i++)
        rc = load_path(ds, paths[i], err);
    if (!rc)
        rc = build_index(ds, err);
    if (rc) {
        set_destroy(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

struct norm_decoder_set *norm_decoder_set_ref(struct norm_decoder_set *ds)
{
    if (ds)
        atomic_fetch_add(&ds->refs, 1u);
    return ds;
}

void norm_decoder_set_free(struct norm_decoder_set *ds)
{
    if (ds && atomic_fetch_sub(&ds->refs, 1u) == 1u)
        set_destroy(ds);
}

size_t norm_decoder_set_count(const struct norm_decoder_set *ds)
{
    return ds ? ds->ndec : 0;
}

/* ---------------------------------------------------------------- scratch */

int norm_decoder_scratch_create(struct norm_decoder_scratch **out,
                                  const struct norm_decoder_set *ds)
{
    TS_UNUSED(ds);
    if (!out)
        return TS_E_INVAL;
    *out = NULL;
    struct norm_decoder_scratch *s = calloc(1, sizeof(*s));
    if (!s)
        return TS_E_NOMEM;
    s->md = pcre2_match_data_create(INGEST_DEC_MAX_GROUPS + 1, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jit = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
    if (!s->md || !s->mctx || !s->jit) {
        norm_decoder_scratch_free(s);
        return TS_E_NOMEM;
    }
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
    pcre2_set_match_limit(s->mctx, DEC_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mctx, DEC_DEPTH_LIMIT);
    pcre2_set_heap_limit(s->mctx, DEC_HEAP_LIMIT_KIB);
    *out = s;
    return 0;
}

void norm_decoder_scratch_free(struct norm_decoder_scratch *s)
{
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit);
    free(s);
}

bool norm_decoder_scratch_undecoded(const struct norm_decoder_scratch *s)
{
    return s && s->undecoded;
}

bool norm_decoder_scratch_cut(const struct norm_decoder_scratch *s)
{
    return s && s->cut;
}

/* A search's result: below 0 and not "no match" is a limit (match, depth,
 * heap) or another PCRE2 error; either counts as not matching. */
static int search(struct norm_decoder_scratch *sc, const pcre2_code *re, const char *s, size_t n)
{
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, sc->md, sc->mctx);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        sc->st.match_errors++;
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
            rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
            sc->st.regex_cut++;
            sc->cut = true;
        }
    }
    return rc;
}

void norm_decoder_scratch_stats(const struct norm_decoder_scratch *s,
                                  struct norm_decoder_stats *st)
{
    if (s && st)
        *st = s->st;
}

/* ------------------------------------------------------------------ apply */

static int add_typed(struct norm_decoder_scratch *sc, struct ts_event *ev, const struct out *o,
                     const char *s, size_t len)
{
    struct ts_value v;
    switch (o->type) {
    case DT_INT: {
        int64_t i;
        if (parse_int(s, len, &i)) {
            v = ts_v_int(i);
            return ts_event_add(ev, o->name, o->len, &v);
        }
        break;
    }
    case DT_IP:
        memset(&v, 0, sizeof(v));
        v.type = TS_V_IP;
        if (ts_ip_parse(s, len, &v.u.ip) == 0)
            return ts_event_add(ev, o->name, o->len, &v);
        break;
    case DT_TIME: {
        int64_t ns;
        if (ingest_time_value(NULL, ev, s, len, &ns) == 0) {
            ev->time_ns = ns;
            ev->time_from_event = true;
            return 0;
        }
        break;
    }
    default:
        break;
    }
    if (o->type != DT_STR)
        sc->st.type_errors++;
    v = ts_v_str(s, len);
    return ts_event_add(ev, o->name, o->len, &v);
}

/* A string field's value, or false. */
static bool field_str(const struct ts_event *ev, const char *name, size_t len, const char **s,
                      size_t *n)
{
    const struct ts_field *f = ts_event_get(ev, name, len);
    if (!f || f->v.type != TS_V_STR)
        return false;
    *s = f->v.u.s;
    *n = f->v.len;
    return true;
}

static bool lit_in(const struct lit *v, uint32_t n, const char *s, size_t len)
{
    for (uint32_t i = 0; i < n; i++)
        if (v[i].len == len && memcmp(v[i].s, s, len) == 0)
            return true;
    return false;
}

static int run_kv(struct norm_decoder_scratch *sc, struct ts_event *ev, const struct pattern *p,
                  const char *s, size_t len)
{
    struct ingest_kv_iter it;
    struct ingest_kv kv;
    ingest_kv_init(&it, s, len);
    int rc;
    while (ingest_kv_next(&it, &kv)) {
        if (p->kv_only && !lit_in(p->kv_only, p->nkv_only, kv.key, kv.klen))
            continue;
        struct out o;
        out_for(p, kv.key, (uint32_t)kv.klen, &o);
        if (o.name == kv.key) { /* not renamed: the name needs its own NUL */
            char *nm = ts_arena_strndup(ev->arena, kv.key, kv.klen);
            if (!nm)
                return TS_E_NOMEM;
            o.name = nm;
        }
        const char *v;
        size_t vlen;
        if ((rc = ingest_kv_value(ev->arena, &kv, &v, &vlen)))
            return rc;
        if (vlen == 0)
            continue;
        if ((rc = add_typed(sc, ev, &o, v, vlen)))
            return rc;
    }
    return 0;
}

/* Emit a matched pattern's fields. */
static int emit(struct norm_decoder_scratch *sc, const struct decoder *d,
                const struct pattern *p, struct ts_event *ev, const char *src, size_t srclen,
                bool matched_re)
{
    int rc;
    const PCRE2_SIZE *ov = matched_re ? pcre2_get_ovector_pointer(sc->md) : NULL;
    if (matched_re)
        for (uint32_t i = 0; i < p->ncaps; i++) {
            const struct cap *c = &p->caps[i];
            for (uint32_t g = 0; g < c->ngroups; g++) {
                uint32_t gi = c->groups[g];
                if (ov[2 * gi] == PCRE2_UNSET)
                    continue;
                size_t b = ov[2 * gi], e = ov[2 * gi + 1];
                if (e > b && (rc = add_typed(sc, ev, &c->out, src + b, e - b)))
                    return rc;
                break;
            }
        }
    if (p->kv) {
        const char *ks = src;
        size_t kl = srclen;
        bool have = src != NULL;
        if (p->kv_from_cap >= 0) {
            have = false;
            const struct cap *c = &p->caps[p->kv_from_cap];
            for (uint32_t g = 0; matched_re && g < c->ngroups && !have; g++) {
                uint32_t gi = c->groups[g];
                if (ov[2 * gi] != PCRE2_UNSET) {
                    ks = src + ov[2 * gi];
                    kl = ov[2 * gi + 1] - ov[2 * gi];
                    have = true;
                }
            }
        } else if (p->kv_from.len) {
            have = field_str(ev, p->kv_from.s, p->kv_from.len, &ks, &kl);
        }
        if (have && (rc = run_kv(sc, ev, p, ks, kl)))
            return rc;
    }
    for (uint32_t i = 0; i < p->ncopies; i++) {
        const struct pair *cp = &p->copies[i];
        const struct ts_field *f = ts_event_get(ev, cp->a, cp->alen);
        if (!f)
            continue;
        struct out o;
        o.name = cp->b;
        o.len = cp->blen;
        const struct pair *t = pair_find(p->types, p->ntypes, cp->b, cp->blen);
        o.type = t ? t->type : DT_STR;
        if (f->v.type == TS_V_STR)
            rc = f->v.len ? add_typed(sc, ev, &o, f->v.u.s, f->v.len) : 0;
        else
            rc = ts_event_add(ev, o.name, o.len, &f->v);
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < p->nset; i++)
        if ((rc = ts_event_add(ev, p->set[i].out.name, p->set[i].out.len, &p->set[i].v)))
            return rc;
    if (!ev->logsource.product)
        ev->logsource.product = d->logsource.product;
    if (!ev->logsource.category)
        ev->logsource.category = d->logsource.category;
    if (!ev->logsource.service)
        ev->logsource.service = d->logsource.service;
    return 0;
}

/* Do d's match conditions hold? *src gets the source text. */
static bool accepts(const struct decoder *d, struct norm_decoder_scratch *sc,
                    const struct ts_event *ev, const char *prog, size_t proglen,
                    const char *msg, size_t msglen, bool have_msg, const char **src,
                    size_t *srclen)
{
    if (d->nformats) {
        bool ok = false;
        for (uint32_t i = 0; i < d->nformats && !ok; i++)
            ok = ev->format && strcmp(ev->format, d->formats[i]) == 0;
        if (!ok)
            return false;
    }
    if (d->program_re &&
        (!prog || search(sc, d->program_re, prog, proglen) < 0))
        return false;
    *src = NULL;
    *srclen = 0;
    if (d->source_is_message) {
        if (have_msg) {
            *src = msg;
            *srclen = msglen;
        }
    } else {
        field_str(ev, d->source.s, d->source.len, src, srclen);
    }
    /* Without its source field a decoder can still fire through patterns
     * that need no text (copy/set), unless it has text conditions. */
    if (!*src && (d->nprefixes || d->ncontains))
        return false;
    if (d->nprefixes) {
        bool ok = false;
        for (uint32_t i = 0; i < d->nprefixes && !ok; i++)
            ok = *srclen >= d->prefixes[i].len &&
                 memcmp(*src, d->prefixes[i].s, d->prefixes[i].len) == 0;
        if (!ok)
            return false;
    }
    if (d->ncontains) {
        bool ok = false;
        for (uint32_t i = 0; i < d->ncontains && !ok; i++)
            ok = memmem(*src, *srclen, d->contains[i].s, d->contains[i].len) != NULL;
        if (!ok)
            return false;
    }
    for (uint32_t i = 0; i < d->nhas; i++)
        if (!ts_event_get(ev, d->has[i].s, d->has[i].len))
            return false;
    return true;
}

int norm_decoder_apply(const struct norm_decoder_set *ds, struct norm_decoder_scratch *sc,
                         struct ts_event *ev, struct norm_decoder_explain *ex)
{
    if (ex) {
        ex->decoder = NULL;
        ex->why = NULL;
    }
    if (sc)
        sc->undecoded = sc->cut = false;
    if (!ds || !sc || !ev)
        return ds ? TS_E_INVAL : 0;
    sc->st.events++;
    const char *prog = NULL, *msg = NULL;
    size_t proglen = 0, msglen = 0;
    bool have_prog = field_str(ev, "program", 7, &prog, &proglen);
    bool have_msg = field_str(ev, "message", 7, &msg, &msglen);
    const uint32_t *list = ds->any;
    uint32_t n = ds->nany;
    if (have_prog) {
        const struct prog_slot *sl = slot_find(ds, prog, proglen);
        if (sl) {
            list = sl->list;
            n = sl->n;
        }
    }
    uint32_t accepted = 0;
    const char *first = NULL;
    for (uint32_t k = 0; k < n; k++) {
        const struct decoder *d = &ds->dec[list[k]];
        const char *src;
        size_t srclen;
        if (!accepts(d, sc, ev, have_prog ? prog : NULL, proglen, msg, msglen, have_msg, &src,
                     &srclen))
            continue;
        accepted++;
        if (!first)
            first = d->name;
        for (uint32_t i = 0; i < d->npatterns; i++) {
            const struct pattern *p = &d->patterns[i];
            if (p->re) {
                if (!src)
                    continue;
                if (search(sc, p->re, src, srclen) < 0)
                    continue;
            }
            int rc = emit(sc, d, p, ev, src, srclen, p->re != NULL);
            sc->st.decoded++;
            if (ex) {
                ex->decoder = d->name;
                ex->why = ingest_diag_fmt(ev->arena, "matched", "pattern %u (%s:%u:%u) matched",
                                          i + 1, d->file, p->line, p->col);
            }
            return rc;
        }
    }
    if (have_prog && have_msg) {
        sc->undecoded = true;
        sc->st.undecoded++;
    }
    if (ex) {
        if (accepted)
            ex->why = ingest_diag_fmt(ev->arena, "no pattern matched",
                                      "%u decoder(s) apply to this event (first: %s), none of "
                                      "their patterns matched",
                                      accepted, first);
        else if (have_prog)
            ex->why = ingest_diag_fmt(ev->arena, "no decoder applies",
                                      "no decoder applies to program \"%.*s\" (format %s)",
                                      (int)(proglen > 64 ? 64 : proglen), prog,
                                      ev->format ? ev->format : "?");
        else
            ex->why = ingest_diag_fmt(ev->arena, "no decoder applies",
                                      "no decoder applies (no program; format %s)",
                                      ev->format ? ev->format : "?");
    }
    return 0;
}
