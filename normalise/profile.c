/* profile.c - mapping profiles (see profile.h and docs/profiles.md).
 *
 * Load: each YAML document becomes a struct profile whose every name, value
 * and table lives in the set's arena (one ts_arena owned by the set, freed by
 * norm_profile_set_free). Every field name a profile mentions gets a slot
 * number and goes into an open-addressing hash table, so that apply() can
 * find what a field's rule is, and where a named field is, in O(1).
 *
 * Apply (hot path, reentrant, no malloc): one pass hashes every field name
 * (length + first and last 8 bytes: no per-byte work) into a slot; a second
 * pass renames / drops in place (names of the result point into the set or,
 * for stripped families, into the original name; only families with a new
 * prefix or a case change build names in the event's arena); then copies,
 * conversions, constants and the logsource cases work on slot -> field index
 * maps held on the stack. Conditions shared by several cases are evaluated at
 * most once per event.
 *
 * Threads: a loaded set is immutable; any number of threads may apply it.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/yaml.h"
#include "../core/yconf.h"
#include "profile.h"

#define PROF_MAX_SLOTS 1024        /* distinct field names a profile mentions */
#define PROF_TABLE_SIZE 2048       /* hash table entries (power of two, 2x slots) */
#define PROF_MAX_FAMILIES 64       /* rename/drop families (prefix.*) */
#define PROF_MAX_RULES 1024        /* entries of one rename/copy/convert/set/... map */
#define PROF_MAX_CASES 1024
#define PROF_MAX_ATOMS 1024        /* distinct (field, values) conditions */
#define PROF_MAX_VALUES 256        /* values of one condition */
#define PROF_MAX_SELECT 16         /* alternatives of a selector */
#define PROF_MAX_NAME 256          /* bytes of a field name */
#define PROF_MAX_VALUE 4096        /* bytes of a constant or condition value */
#define PROF_ARENA_CHUNK (64u << 10)
#define PROF_ARENA_CAP ((size_t)256 << 20)
#define PROF_STACK_FIELDS 512      /* per-field scratch on the stack up to this */
#define PROF_NO_SLOT 0xFFFFu

enum { RK_NONE = 0, RK_RENAME, RK_COPY, RK_DROP };
enum { CV_INT = 1, CV_FLOAT, CV_STRING, CV_IP, CV_BOOL };
enum { VM_EXACT = 0, VM_PREFIX, VM_SUFFIX, VM_ANY };
enum { CASE_KEEP = 0, CASE_UPPER_FIRST, CASE_LOWER_FIRST };

struct pslot {
    const char *name; /* NUL-terminated, in the set arena */
    uint32_t len;
    uint32_t hash;
    uint8_t kind;     /* RK_* rule of a field with this name */
    uint16_t target;  /* RK_RENAME/RK_COPY: slot of the new name */
    unsigned line;    /* where the rule was given, for duplicate errors */
};

struct pfamily {
    const char *prefix; /* "Event.EventData." */
    uint32_t plen;
    const char *to;     /* new prefix, "" to strip */
    uint32_t tolen;
    bool drop, leaf;
    uint8_t casing;
};

struct pval {
    const char *s; /* lower-cased, for case-insensitive comparison */
    uint32_t len;
    uint8_t mode;  /* VM_* */
    bool has_int;
    int64_t i;
};

struct patom {
    uint16_t slot;
    uint32_t nvals;
    const struct pval *vals;
};

struct pconst {
    uint16_t slot;
    bool only_if_absent;
    struct ts_value v;
};

struct pconv {
    uint16_t slot;
    uint8_t to; /* CV_* */
};

struct ppair {
    uint16_t from, to;
};

struct plogsource {
    const char *product, *category, *service;
};

struct pcase {
    const uint16_t *atoms;
    uint32_t natoms;
    const uint16_t *has;
    uint32_t nhas;
    struct plogsource ls;
    const struct ppair *renames;
    uint32_t nrenames;
    const struct ppair *copies;
    uint32_t ncopies;
    const struct pconst *sets;
    uint32_t nsets;
    bool stop;
    const char *where; /* "file:line" */
};

/* A selector alternative works on the names as the parser produced them. */
struct pcond {
    const char *name;
    uint32_t len;
    uint32_t nvals;
    const struct pval *vals;
};

struct pname {
    const char *s;
    uint32_t len;
};

struct pselect {
    const char *const *formats;
    uint32_t nformats;
    const struct pname *has;
    uint32_t nhas;
    const struct pcond *when;
    uint32_t nwhen;
    const char *why;
};

struct pindex_ent;

struct profile {
    const char *name;
    const char *file;
    unsigned line;
    long order;
    struct pselect *sel;
    uint32_t nsel; /* 0: only when forced */
    struct pslot *slots;
    uint32_t nslots;
    uint16_t *table; /* PROF_TABLE_SIZE entries: slot + 1, 0 = empty */
    struct pfamily *fams;
    uint32_t nfams;
    struct ppair *copies;
    uint32_t ncopies;
    struct pconv *convs;
    uint32_t nconvs;
    struct pconst *sets;
    uint32_t nsets;
    struct plogsource ls;
    struct patom *atoms;
    uint32_t natoms;
    struct pcase *cases;
    uint32_t ncases;
    bool has_renames; /* any slot has a rule, or any family */
    /* Case index (built by index_build): exact condition values by (slot,
     * lower-cased text) -> the atoms that hold them, so that one lookup per
     * field decides all of that field's atoms; each case is keyed by its most
     * selective indexed atom and only cases whose key matched (or that have
     * no key) are evaluated. */
    struct pindex_ent *vidx;
    uint32_t vidx_mask;
    uint16_t *islots; /* slots that have indexed atoms */
    uint32_t nislots;
    int8_t *atom_init; /* per atom: 0 indexed (false unless looked up), -1 lazy */
    uint64_t *always;  /* cases without a key atom */
    const uint16_t **atom_cases; /* per atom: the cases it keys */
    uint16_t *atom_ncases;
    uint32_t case_words;
    uint32_t max_ival; /* longest indexed value */
};

struct pindex_ent {
    const char *s; /* NULL: empty entry */
    uint32_t len;
    uint32_t hash;
    uint16_t slot;
    uint16_t natoms;
    uint16_t *atoms;
};

struct norm_profile_set {
    struct ts_arena *mem;
    struct profile *profiles;
    size_t n;
    size_t cap;
};

/* ------------------------------------------------------------------ hashing */

static inline uint64_t load8(const char *s)
{
    uint64_t v;
    memcpy(&v, s, 8);
    return v;
}

static inline uint64_t load4(const char *s)
{
    uint32_t v;
    memcpy(&v, s, 4);
    return v;
}

/* Length plus the first and last 8 bytes: names sharing a long prefix
 * ("Event.EventData.") differ at the end. Collisions are resolved by memcmp.
 * Short names are read with overlapping loads (no byte loop, no stack copy:
 * a memcpy of a variable length into a local costs a store-forwarding stall). */
static inline uint32_t name_hash(const char *s, size_t n)
{
    uint64_t a, b;
    if (n >= 8) {
        a = load8(s);
        b = load8(s + n - 8);
    } else if (n >= 4) {
        a = load4(s) | load4(s + n - 4) << 32;
        b = 0;
    } else {
        a = n ? (uint64_t)(uint8_t)s[0] | (uint64_t)(uint8_t)s[n / 2] << 8 |
                    (uint64_t)(uint8_t)s[n - 1] << 16
              : 0;
        b = 0;
    }
    uint64_t h = (a ^ ((uint64_t)n << 56)) * 0x9E3779B97F4A7C15ull;
    h ^= (b + (h >> 29)) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 32;
    return (uint32_t)h;
}

static inline unsigned slot_lookup_h(const struct profile *p, const char *s, size_t n, uint32_t h)
{
    uint32_t mask = PROF_TABLE_SIZE - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        unsigned e = p->table[i];
        if (!e)
            return PROF_NO_SLOT;
        const struct pslot *sl = &p->slots[e - 1];
        if (sl->hash == h && sl->len == n && memcmp(sl->name, s, n) == 0)
            return e - 1;
    }
}

static inline unsigned slot_lookup(const struct profile *p, const char *s, size_t n)
{
    return slot_lookup_h(p, s, n, name_hash(s, n));
}

/* ------------------------------------------------------------------ loading */

/* The load context: core/yconf's (file in the set arena, first error) and
 * what is being built. */
struct lctx {
    struct ts_yconf y;
    struct norm_profile_set *ps;
    struct profile *p; /* being built */
};

static int lfail(struct lctx *x, const struct ts_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int lfail(struct lctx *x, const struct ts_ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_yconf_vfail(&x->y, TS_E_CONFIG, n, fmt, ap);
    va_end(ap);
    return rc;
}

static int lfail_code(struct lctx *x, int code, const struct ts_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int lfail_code(struct lctx *x, int code, const struct ts_ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_yconf_vfail(&x->y, code, n, fmt, ap);
    va_end(ap);
    return rc;
}

static int lnomem(struct lctx *x)
{
    return ts_yconf_nomem(&x->y);
}

static void *lalloc(struct lctx *x, size_t n)
{
    void *m = ts_arena_alloc(x->ps->mem, n ? n : 1);
    if (m)
        memset(m, 0, n ? n : 1);
    return m;
}

static char *lstrdup(struct lctx *x, const char *s, size_t n)
{
    return ts_arena_strndup(x->ps->mem, s, n);
}

/* Check the keys of map n against keys[]; unknown or duplicate keys fail. */
static int check_keys(struct lctx *x, const struct ts_ynode *n, const char *where,
                      const char *const *keys, size_t nkeys)
{
    return ts_yconf_check_keys(&x->y, n, where, keys, nkeys, NULL);
}

static int want_map(struct lctx *x, const struct ts_ynode *n, const char *what, size_t max)
{
    if (!n || n->kind != TS_Y_MAP)
        return lfail(x, n, "%s must be a mapping, not %s", what, n ? ts_yaml_kind_name(n) : "nothing");
    if (n->npairs > max)
        return lfail_code(x, TS_E_LIMIT, n, "%s has %zu entries (at most %zu)", what, n->npairs, max);
    return 0;
}

static int want_scalar(struct lctx *x, const struct ts_ynode *n, const char *what)
{
    if (!n || n->kind != TS_Y_SCALAR)
        return lfail(x, n, "%s must be a string, not %s", what, n ? ts_yaml_kind_name(n) : "nothing");
    if (n->len > PROF_MAX_VALUE)
        return lfail_code(x, TS_E_LIMIT, n, "%s is longer than %d bytes", what, PROF_MAX_VALUE);
    if (memchr(n->str, '\0', n->len))
        return lfail(x, n, "%s contains a NUL byte", what);
    return 0;
}

/* A field name: non-empty, no NUL, no control bytes, bounded. */
static int want_name(struct lctx *x, const struct ts_ynode *n, const char *what)
{
    int rc = want_scalar(x, n, what);
    if (rc)
        return rc;
    if (n->len == 0)
        return lfail(x, n, "%s must not be empty", what);
    if (n->len > PROF_MAX_NAME)
        return lfail_code(x, TS_E_LIMIT, n, "%s is longer than %d bytes", what, PROF_MAX_NAME);
    for (size_t i = 0; i < n->len; i++)
        if ((unsigned char)n->str[i] < 0x20)
            return lfail(x, n, "%s contains a control character", what);
    return 0;
}

/* A scalar or a list of scalars: calls back on each. */
static int scalar_list_len(struct lctx *x, const struct ts_ynode *n, const char *what, size_t max,
                           size_t *count)
{
    if (n && n->kind == TS_Y_SCALAR) {
        *count = 1;
        return 0;
    }
    if (!n || n->kind != TS_Y_SEQ)
        return lfail(x, n, "%s must be a string or a list of strings, not %s", what,
                     n ? ts_yaml_kind_name(n) : "nothing");
    if (n->nitems == 0)
        return lfail(x, n, "%s must not be an empty list", what);
    if (n->nitems > max)
        return lfail_code(x, TS_E_LIMIT, n, "%s has %zu items (at most %zu)", what, n->nitems, max);
    *count = n->nitems;
    return 0;
}

static const struct ts_ynode *list_item(const struct ts_ynode *n, size_t i)
{
    return n->kind == TS_Y_SCALAR ? n : n->items[i];
}

/* Slot for a field name, created when new. */
static int slot_get(struct lctx *x, const struct ts_ynode *n, const char *s, size_t len,
                    unsigned *out)
{
    struct profile *p = x->p;
    uint32_t h = name_hash(s, len);
    unsigned e = slot_lookup_h(p, s, len, h);
    if (e != PROF_NO_SLOT) {
        *out = e;
        return 0;
    }
    if (p->nslots >= PROF_MAX_SLOTS)
        return lfail_code(x, TS_E_LIMIT, n, "profile mentions more than %d field names",
                          PROF_MAX_SLOTS);
    char *nm = lstrdup(x, s, len);
    if (!nm)
        return lnomem(x);
    struct pslot *sl = &p->slots[p->nslots];
    sl->name = nm;
    sl->len = (uint32_t)len;
    sl->hash = h;
    uint32_t mask = PROF_TABLE_SIZE - 1;
    uint32_t i = h & mask;
    while (p->table[i])
        i = (i + 1) & mask;
    p->table[i] = (uint16_t)(p->nslots + 1);
    *out = p->nslots++;
    return 0;
}

static int slot_of_node(struct lctx *x, const struct ts_ynode *n, const char *what, unsigned *out)
{
    int rc = want_name(x, n, what);
    if (rc)
        return rc;
    return slot_get(x, n, n->str, n->len, out);
}

static bool parse_i64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n)
        return false;
    uint64_t acc = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (acc > (UINT64_MAX - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    if (!neg && acc > (uint64_t)INT64_MAX)
        return false;
    if (neg && acc > (uint64_t)INT64_MAX + 1)
        return false;
    *out = neg ? (acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
    return true;
}

static inline char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* One condition value: "x" exact, "x*" prefix, "*x" suffix, "*" any;
 * compared case-insensitively; integers also compare with integer fields. */
static int build_val(struct lctx *x, const struct ts_ynode *n, struct pval *v)
{
    int rc = want_scalar(x, n, "a condition value");
    if (rc)
        return rc;
    if (ts_yaml_is_null(n) && n->style == TS_YS_PLAIN)
        return lfail(x, n, "a condition value must not be null (use \"*\" for any value, or has:)");
    const char *s = n->str;
    size_t len = n->len;
    v->mode = VM_EXACT;
    if (len == 1 && s[0] == '*') {
        v->mode = VM_ANY;
        len = 0;
    } else if (len >= 2 && s[len - 1] == '*' && s[len - 2] != '\\') {
        v->mode = VM_PREFIX;
        len--;
    } else if (len >= 2 && s[0] == '*') {
        v->mode = VM_SUFFIX;
        s++;
        len--;
    }
    char *low = lalloc(x, len + 1);
    if (!low)
        return lnomem(x);
    for (size_t i = 0; i < len; i++)
        low[i] = lower_ascii(s[i]);
    v->s = low;
    v->len = (uint32_t)len;
    v->has_int = v->mode == VM_EXACT && parse_i64(s, len, &v->i);
    return 0;
}

static int build_vals(struct lctx *x, const struct ts_ynode *n, const struct pval **out,
                      uint32_t *nout)
{
    size_t cnt;
    int rc = scalar_list_len(x, n, "a condition", PROF_MAX_VALUES, &cnt);
    if (rc)
        return rc;
    struct pval *vals = lalloc(x, cnt * sizeof(*vals));
    if (!vals)
        return lnomem(x);
    for (size_t i = 0; i < cnt; i++)
        if ((rc = build_val(x, list_item(n, i), &vals[i])))
            return rc;
    *out = vals;
    *nout = (uint32_t)cnt;
    return 0;
}

static bool vals_equal(const struct pval *a, uint32_t na, const struct pval *b, uint32_t nb)
{
    if (na != nb)
        return false;
    for (uint32_t i = 0; i < na; i++)
        if (a[i].mode != b[i].mode || a[i].len != b[i].len || memcmp(a[i].s, b[i].s, a[i].len))
            return false;
    return true;
}

/* The atom for (field, values), shared between cases. */
static int atom_get(struct lctx *x, const struct ts_ynode *k, const struct ts_ynode *v,
                    uint16_t *out)
{
    struct profile *p = x->p;
    unsigned slot;
    int rc = slot_of_node(x, k, "a condition field name", &slot);
    if (rc)
        return rc;
    const struct pval *vals;
    uint32_t nvals;
    if ((rc = build_vals(x, v, &vals, &nvals)))
        return rc;
    for (uint32_t i = 0; i < p->natoms; i++)
        if (p->atoms[i].slot == slot && vals_equal(p->atoms[i].vals, p->atoms[i].nvals, vals, nvals)) {
            *out = (uint16_t)i;
            return 0;
        }
    if (p->natoms >= PROF_MAX_ATOMS)
        return lfail_code(x, TS_E_LIMIT, k, "profile has more than %d distinct conditions",
                          PROF_MAX_ATOMS);
    p->atoms[p->natoms].slot = (uint16_t)slot;
    p->atoms[p->natoms].vals = vals;
    p->atoms[p->natoms].nvals = nvals;
    *out = (uint16_t)p->natoms++;
    return 0;
}

/* A constant from a YAML scalar: plain integers, floats and booleans keep
 * their type; anything quoted is a string. */
static int build_const(struct lctx *x, const struct ts_ynode *n, struct ts_value *v)
{
    int rc = want_scalar(x, n, "a constant value");
    if (rc)
        return rc;
    if (n->style == TS_YS_PLAIN) {
        if (ts_yaml_is_null(n))
            return lfail(x, n, "a constant value must not be null");
        int64_t i;
        if (parse_i64(n->str, n->len, &i)) {
            *v = ts_v_int(i);
            return 0;
        }
        if (ts_yconf_is(n, "true") || ts_yconf_is(n, "false")) {
            memset(v, 0, sizeof(*v));
            v->type = TS_V_BOOL;
            v->u.b = n->str[0] == 't';
            return 0;
        }
        char *end = NULL;
        double d = strtod(n->str, &end);
        if (n->len > 0 && end == n->str + n->len &&
            strspn(n->str, "0123456789+-.eE") == n->len) {
            memset(v, 0, sizeof(*v));
            v->type = TS_V_FLOAT;
            v->u.f = d;
            return 0;
        }
    }
    char *s = lstrdup(x, n->str, n->len);
    if (!s)
        return lnomem(x);
    *v = ts_v_str(s, n->len);
    return 0;
}

static int build_consts(struct lctx *x, const struct ts_ynode *n, bool only_if_absent,
                        const char *what, struct pconst **arr, uint32_t *count)
{
    int rc = want_map(x, n, what, PROF_MAX_RULES);
    if (rc)
        return rc;
    struct pconst *c = lalloc(x, (*count + n->npairs) * sizeof(*c));
    if (!c)
        return lnomem(x);
    if (*count)
        memcpy(c, *arr, *count * sizeof(*c));
    for (size_t i = 0; i < n->npairs; i++) {
        unsigned slot;
        if ((rc = slot_of_node(x, n->pairs[i].key, "a field name", &slot)))
            return rc;
        for (uint32_t j = 0; j < *count + i; j++)
            if (c[j].slot == slot)
                return lfail(x, n->pairs[i].key, "field \"%s\" is given a constant twice",
                             x->p->slots[slot].name);
        c[*count + i].slot = (uint16_t)slot;
        c[*count + i].only_if_absent = only_if_absent;
        if ((rc = build_const(x, n->pairs[i].val, &c[*count + i].v)))
            return rc;
    }
    *arr = c;
    *count += (uint32_t)n->npairs;
    return 0;
}

static int build_logsource(struct lctx *x, const struct ts_ynode *n, struct plogsource *ls)
{
    static const char *const keys[] = {"product", "category", "service"};
    int rc = want_map(x, n, "logsource", 3);
    if (rc || (rc = check_keys(x, n, "logsource", keys, TS_ARRAY_LEN(keys))))
        return rc;
    for (size_t i = 0; i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        if ((rc = want_name(x, v, "a logsource value")))
            return rc;
        char *s = lalloc(x, v->len + 1);
        if (!s)
            return lnomem(x);
        for (size_t j = 0; j < v->len; j++)
            s[j] = lower_ascii(v->str[j]); /* Sigma logsource names are lower case */
        const struct ts_ynode *k = n->pairs[i].key;
        if (ts_yconf_is(k, "product"))
            ls->product = s;
        else if (ts_yconf_is(k, "category"))
            ls->category = s;
        else
            ls->service = s;
    }
    return 0;
}

/* "from: to" pairs between slots (case renames). */
static int build_pairs(struct lctx *x, const struct ts_ynode *n, const char *what,
                       struct ppair **out, uint32_t *count)
{
    int rc = want_map(x, n, what, PROF_MAX_RULES);
    if (rc)
        return rc;
    struct ppair *pr = lalloc(x, n->npairs * sizeof(*pr));
    if (!pr)
        return lnomem(x);
    for (size_t i = 0; i < n->npairs; i++) {
        unsigned a, b;
        if ((rc = slot_of_node(x, n->pairs[i].key, "a field name", &a)) ||
            (rc = slot_of_node(x, n->pairs[i].val, "a new field name", &b)))
            return rc;
        if (a == b)
            return lfail(x, n->pairs[i].val, "field \"%s\" is renamed to itself",
                         x->p->slots[a].name);
        pr[i].from = (uint16_t)a;
        pr[i].to = (uint16_t)b;
    }
    *out = pr;
    *count = (uint32_t)n->npairs;
    return 0;
}

static bool is_family(const struct ts_ynode *k)
{
    return k->kind == TS_Y_SCALAR && k->len >= 1 && k->str[k->len - 1] == '*';
}

static int family_add(struct lctx *x, const struct ts_ynode *k, struct pfamily *f)
{
    struct profile *p = x->p;
    int rc = want_name(x, k, "a field family");
    if (rc)
        return rc;
    if (k->len < 2)
        return lfail(x, k, "a field family needs a prefix before \"*\" (\"Event.EventData.*\")");
    if (memchr(k->str, '*', k->len - 1))
        return lfail(x, k, "\"*\" may only end a field family (\"prefix.*\")");
    if (p->nfams >= PROF_MAX_FAMILIES)
        return lfail_code(x, TS_E_LIMIT, k, "profile has more than %d field families",
                          PROF_MAX_FAMILIES);
    for (uint32_t i = 0; i < p->nfams; i++)
        if (p->fams[i].plen == k->len - 1 && memcmp(p->fams[i].prefix, k->str, k->len - 1) == 0)
            return lfail(x, k, "field family \"%.*s\" is given twice", (int)k->len, k->str);
    f->prefix = lstrdup(x, k->str, k->len - 1);
    if (!f->prefix)
        return lnomem(x);
    f->plen = (uint32_t)(k->len - 1);
    f->to = "";
    p->fams[p->nfams++] = *f;
    return 0;
}

/* rename: "A: B", "A.*: '*'", "A.*: 'x_*'", "A.*: {to: '*', leaf: true, case: upper_first}" */
static int build_renames(struct lctx *x, const struct ts_ynode *n, bool copy)
{
    struct profile *p = x->p;
    const char *what = copy ? "copy" : "rename";
    int rc = want_map(x, n, what, PROF_MAX_RULES);
    if (rc)
        return rc;
    for (size_t i = 0; i < n->npairs; i++) {
        const struct ts_ynode *k = n->pairs[i].key, *v = n->pairs[i].val;
        if (is_family(k)) {
            if (copy)
                return lfail(x, k, "copy takes exact field names, not a family");
            struct pfamily f = {0};
            const struct ts_ynode *to = v;
            if (v && v->kind == TS_Y_MAP) {
                static const char *const keys[] = {"to", "leaf", "case"};
                if ((rc = check_keys(x, v, "a field family", keys, TS_ARRAY_LEN(keys))))
                    return rc;
                to = ts_yaml_get(v, "to");
                const struct ts_ynode *leaf = ts_yaml_get(v, "leaf");
                const struct ts_ynode *cs = ts_yaml_get(v, "case");
                if (leaf) {
                    if (ts_yconf_is(leaf, "true"))
                        f.leaf = true;
                    else if (!ts_yconf_is(leaf, "false"))
                        return lfail(x, leaf, "leaf must be true or false");
                }
                if (cs) {
                    if (ts_yconf_is(cs, "upper_first"))
                        f.casing = CASE_UPPER_FIRST;
                    else if (ts_yconf_is(cs, "lower_first"))
                        f.casing = CASE_LOWER_FIRST;
                    else if (!ts_yconf_is(cs, "keep"))
                        return lfail(x, cs, "case must be upper_first, lower_first or keep");
                }
                if (!to) {
                    static const struct ts_ynode star = {.kind = TS_Y_SCALAR, .str = (char *)"*", .len = 1};
                    to = &star;
                }
            }
            if ((rc = want_scalar(x, to, "the new name of a field family")))
                return rc;
            if (to->len == 0 || to->str[to->len - 1] != '*' || memchr(to->str, '*', to->len - 1))
                return lfail(x, to, "the new name of a field family must end with \"*\" "
                                    "(\"*\" strips the prefix, \"new.*\" replaces it)");
            if (to->len - 1 > PROF_MAX_NAME)
                return lfail_code(x, TS_E_LIMIT, to, "new prefix is too long");
            if ((rc = family_add(x, k, &f)))
                return rc;
            struct pfamily *fam = &p->fams[p->nfams - 1];
            fam->to = lstrdup(x, to->str, to->len - 1);
            if (!fam->to)
                return lnomem(x);
            fam->tolen = (uint32_t)(to->len - 1);
            continue;
        }
        unsigned a, b;
        if ((rc = slot_of_node(x, k, "a field name", &a)))
            return rc;
        if (v && v->kind == TS_Y_SCALAR && v->len > 0 && memchr(v->str, '*', v->len))
            return lfail(x, v, "\"*\" in a new name needs a field family on the left (\"prefix.*\")");
        if ((rc = slot_of_node(x, v, "a new field name", &b)))
            return rc;
        if (a == b)
            return lfail(x, v, "field \"%s\" is renamed to itself", p->slots[a].name);
        if (p->slots[a].kind)
            return lfail(x, k, "field \"%s\" already has a rule (line %u)", p->slots[a].name,
                         p->slots[a].line);
        p->slots[a].kind = copy ? RK_COPY : RK_RENAME;
        p->slots[a].target = (uint16_t)b;
        p->slots[a].line = k->line;
        if (copy) {
            p->copies[p->ncopies].from = (uint16_t)a;
            p->copies[p->ncopies].to = (uint16_t)b;
            p->ncopies++;
        }
    }
    return 0;
}

static int build_drops(struct lctx *x, const struct ts_ynode *n)
{
    struct profile *p = x->p;
    size_t cnt;
    int rc = scalar_list_len(x, n, "drop", PROF_MAX_RULES, &cnt);
    if (rc)
        return rc;
    for (size_t i = 0; i < cnt; i++) {
        const struct ts_ynode *k = list_item(n, i);
        if (is_family(k)) {
            struct pfamily f = {.drop = true};
            if ((rc = family_add(x, k, &f)))
                return rc;
            continue;
        }
        unsigned a;
        if ((rc = slot_of_node(x, k, "a field name", &a)))
            return rc;
        if (p->slots[a].kind)
            return lfail(x, k, "field \"%s\" already has a rule (line %u)", p->slots[a].name,
                         p->slots[a].line);
        p->slots[a].kind = RK_DROP;
        p->slots[a].line = k->line;
    }
    return 0;
}

static int build_converts(struct lctx *x, const struct ts_ynode *n)
{
    struct profile *p = x->p;
    static const char *const types[] = {"int", "float", "string", "ip", "bool"};
    int rc = want_map(x, n, "convert", PROF_MAX_RULES);
    if (rc)
        return rc;
    p->convs = lalloc(x, n->npairs * sizeof(*p->convs));
    if (!p->convs)
        return lnomem(x);
    for (size_t i = 0; i < n->npairs; i++) {
        unsigned a;
        if ((rc = slot_of_node(x, n->pairs[i].key, "a field name", &a)))
            return rc;
        const struct ts_ynode *v = n->pairs[i].val;
        uint8_t t = 0;
        for (size_t j = 0; j < TS_ARRAY_LEN(types); j++)
            if (v && ts_yconf_is(v, types[j]))
                t = (uint8_t)(j + 1);
        if (!t) {
            char b[64];
            return lfail(x, v, "unknown type \"%s\" (expected int, float, string, ip or bool)",
                         ts_yconf_key_text(v, b, sizeof(b)));
        }
        for (uint32_t j = 0; j < p->nconvs; j++)
            if (p->convs[j].slot == a)
                return lfail(x, n->pairs[i].key, "field \"%s\" is converted twice",
                             p->slots[a].name);
        p->convs[p->nconvs].slot = (uint16_t)a;
        p->convs[p->nconvs].to = t;
        p->nconvs++;
    }
    return 0;
}

static int build_case(struct lctx *x, const struct ts_ynode *n, struct pcase *c)
{
    static const char *const keys[] = {"when", "has", "logsource", "rename", "copy", "set", "stop"};
    int rc = want_map(x, n, "a case", TS_ARRAY_LEN(keys));
    if (rc || (rc = check_keys(x, n, "a case", keys, TS_ARRAY_LEN(keys))))
        return rc;
    const struct ts_ynode *when = ts_yaml_get(n, "when"), *has = ts_yaml_get(n, "has");
    const struct ts_ynode *ls = ts_yaml_get(n, "logsource"), *ren = ts_yaml_get(n, "rename");
    const struct ts_ynode *set = ts_yaml_get(n, "set"), *stop = ts_yaml_get(n, "stop");
    const struct ts_ynode *cp = ts_yaml_get(n, "copy");
    if (!when && !has)
        return lfail(x, n, "a case needs when: or has:");
    if (when) {
        if ((rc = want_map(x, when, "when", 64)))
            return rc;
        if (when->npairs == 0)
            return lfail(x, when, "when must not be empty");
        uint16_t *atoms = lalloc(x, when->npairs * sizeof(*atoms));
        if (!atoms)
            return lnomem(x);
        for (size_t i = 0; i < when->npairs; i++)
            if ((rc = atom_get(x, when->pairs[i].key, when->pairs[i].val, &atoms[i])))
                return rc;
        c->atoms = atoms;
        c->natoms = (uint32_t)when->npairs;
    }
    if (has) {
        size_t cnt;
        if ((rc = scalar_list_len(x, has, "has", 64, &cnt)))
            return rc;
        uint16_t *h = lalloc(x, cnt * sizeof(*h));
        if (!h)
            return lnomem(x);
        for (size_t i = 0; i < cnt; i++) {
            unsigned s;
            if ((rc = slot_of_node(x, list_item(has, i), "a field name", &s)))
                return rc;
            h[i] = (uint16_t)s;
        }
        c->has = h;
        c->nhas = (uint32_t)cnt;
    }
    if (ls && (rc = build_logsource(x, ls, &c->ls)))
        return rc;
    if (ren) {
        struct ppair *pr = NULL;
        if ((rc = build_pairs(x, ren, "rename", &pr, &c->nrenames)))
            return rc;
        c->renames = pr;
    }
    if (cp) {
        struct ppair *pr = NULL;
        if ((rc = build_pairs(x, cp, "copy", &pr, &c->ncopies)))
            return rc;
        c->copies = pr;
    }
    if (set) {
        struct pconst *cs = NULL;
        if ((rc = build_consts(x, set, false, "set", &cs, &c->nsets)))
            return rc;
        c->sets = cs;
    }
    if (stop) {
        if (ts_yconf_is(stop, "true"))
            c->stop = true;
        else if (!ts_yconf_is(stop, "false"))
            return lfail(x, stop, "stop must be true or false");
    }
    char where[300];
    snprintf(where, sizeof(where), "%s:%u", x->y.file, n->line);
    c->where = lstrdup(x, where, strlen(where));
    return c->where ? 0 : lnomem(x);
}

static int build_select_one(struct lctx *x, const struct ts_ynode *n, struct pselect *s)
{
    static const char *const keys[] = {"format", "has", "when"};
    int rc = want_map(x, n, "select", TS_ARRAY_LEN(keys));
    if (rc || (rc = check_keys(x, n, "select", keys, TS_ARRAY_LEN(keys))))
        return rc;
    if (n->npairs == 0)
        return lfail(x, n, "select must not be empty");
    const struct ts_ynode *fmt = ts_yaml_get(n, "format"), *has = ts_yaml_get(n, "has");
    const struct ts_ynode *when = ts_yaml_get(n, "when");
    char why[400];
    size_t o = 0;
    why[0] = '\0';
    if (fmt) {
        size_t cnt;
        if ((rc = scalar_list_len(x, fmt, "format", 16, &cnt)))
            return rc;
        const char **f = lalloc(x, cnt * sizeof(*f));
        if (!f)
            return lnomem(x);
        o += (size_t)snprintf(why + o, sizeof(why) - o, "format ");
        for (size_t i = 0; i < cnt; i++) {
            const struct ts_ynode *it = list_item(fmt, i);
            if ((rc = want_name(x, it, "a format name")))
                return rc;
            if (!(f[i] = lstrdup(x, it->str, it->len)))
                return lnomem(x);
            if (o < sizeof(why))
                o += (size_t)snprintf(why + o, sizeof(why) - o, "%s%s", i ? "|" : "", f[i]);
        }
        s->formats = f;
        s->nformats = (uint32_t)cnt;
    }
    if (has) {
        size_t cnt;
        if ((rc = scalar_list_len(x, has, "has", 64, &cnt)))
            return rc;
        struct pname *h = lalloc(x, cnt * sizeof(*h));
        if (!h)
            return lnomem(x);
        for (size_t i = 0; i < cnt; i++) {
            const struct ts_ynode *it = list_item(has, i);
            if ((rc = want_name(x, it, "a field name")))
                return rc;
            if (!(h[i].s = lstrdup(x, it->str, it->len)))
                return lnomem(x);
            h[i].len = (uint32_t)it->len;
            if (o < sizeof(why))
                o += (size_t)snprintf(why + o, sizeof(why) - o, "%s%s", o ? ", has " : "has ",
                                      h[i].s);
        }
        s->has = h;
        s->nhas = (uint32_t)cnt;
    }
    if (when) {
        if ((rc = want_map(x, when, "when", 64)))
            return rc;
        if (when->npairs == 0)
            return lfail(x, when, "when must not be empty");
        struct pcond *c = lalloc(x, when->npairs * sizeof(*c));
        if (!c)
            return lnomem(x);
        for (size_t i = 0; i < when->npairs; i++) {
            const struct ts_ynode *k = when->pairs[i].key;
            if ((rc = want_name(x, k, "a condition field name")))
                return rc;
            if (!(c[i].name = lstrdup(x, k->str, k->len)))
                return lnomem(x);
            c[i].len = (uint32_t)k->len;
            if ((rc = build_vals(x, when->pairs[i].val, &c[i].vals, &c[i].nvals)))
                return rc;
            if (o < sizeof(why))
                o += (size_t)snprintf(why + o, sizeof(why) - o, "%s%s matches", o ? ", " : "",
                                      c[i].name);
        }
        s->when = c;
        s->nwhen = (uint32_t)when->npairs;
    }
    s->why = lstrdup(x, why, strlen(why));
    return s->why ? 0 : lnomem(x);
}


static inline uint32_t vhash(unsigned slot, const char *s, size_t n)
{
    return name_hash(s, n) ^ ((uint32_t)slot * 0x9E3779B9u);
}

static struct pindex_ent *vidx_find(const struct profile *p, unsigned slot, const char *s,
                                    size_t n, uint32_t h)
{
    for (uint32_t i = h & p->vidx_mask;; i = (i + 1) & p->vidx_mask) {
        struct pindex_ent *e = &p->vidx[i];
        if (!e->s)
            return e;
        if (e->hash == h && e->slot == slot && e->len == n && memcmp(e->s, s, n) == 0)
            return e;
    }
}

/* The text under which an exact value is indexed: its lower-cased text, and
 * for integers also their canonical decimal ("01" -> "1"). */
static size_t ival_texts(const struct pval *v, char canon[24], const char **t2)
{
    *t2 = NULL;
    if (v->has_int) {
        int n = snprintf(canon, 24, "%lld", (long long)v->i);
        if (n > 0 && ((size_t)n != v->len || memcmp(canon, v->s, v->len) != 0)) {
            *t2 = canon;
            return (size_t)n;
        }
    }
    return 0;
}

static int index_build(struct lctx *x)
{
    struct profile *p = x->p;
    if (!p->ncases)
        return 0;
    bool *indexed = lalloc(x, p->natoms ? p->natoms : 1);
    uint32_t *uses = lalloc(x, (p->natoms ? p->natoms : 1) * sizeof(*uses));
    p->atom_init = lalloc(x, p->natoms ? p->natoms : 1);
    p->atom_ncases = lalloc(x, (p->natoms ? p->natoms : 1) * sizeof(*p->atom_ncases));
    p->atom_cases = lalloc(x, (p->natoms ? p->natoms : 1) * sizeof(*p->atom_cases));
    p->case_words = (p->ncases + 63) / 64;
    p->always = lalloc(x, p->case_words * sizeof(*p->always));
    p->islots = lalloc(x, (p->nslots ? p->nslots : 1) * sizeof(*p->islots));
    uint16_t *key = lalloc(x, p->ncases * sizeof(*key));
    if (!indexed || !uses || !p->atom_init || !p->atom_ncases || !p->atom_cases || !p->always ||
        !p->islots || !key)
        return lnomem(x);
    size_t nvals = 0;
    for (uint32_t a = 0; a < p->natoms; a++) {
        const struct patom *at = &p->atoms[a];
        bool ok = true;
        for (uint32_t k = 0; k < at->nvals && ok; k++)
            ok = at->vals[k].mode == VM_EXACT;
        indexed[a] = ok;
        p->atom_init[a] = ok ? 0 : -1;
        if (ok)
            nvals += 2 * at->nvals;
    }
    for (uint32_t c = 0; c < p->ncases; c++)
        for (uint32_t k = 0; k < p->cases[c].natoms; k++)
            uses[p->cases[c].atoms[k]]++;
    /* the key of a case: its indexed atom shared by the fewest cases */
    for (uint32_t c = 0; c < p->ncases; c++) {
        const struct pcase *cs = &p->cases[c];
        unsigned best = PROF_NO_SLOT;
        for (uint32_t k = 0; k < cs->natoms; k++) {
            unsigned a = cs->atoms[k];
            if (indexed[a] && (best == PROF_NO_SLOT || uses[a] < uses[best]))
                best = a;
        }
        key[c] = (uint16_t)best;
        if (best == PROF_NO_SLOT)
            p->always[c / 64] |= 1ull << (c % 64);
        else
            p->atom_ncases[best]++;
    }
    for (uint32_t a = 0; a < p->natoms; a++) {
        if (!p->atom_ncases[a])
            continue;
        uint16_t *l = lalloc(x, p->atom_ncases[a] * sizeof(*l));
        if (!l)
            return lnomem(x);
        p->atom_cases[a] = l;
        p->atom_ncases[a] = 0;
    }
    for (uint32_t c = 0; c < p->ncases; c++)
        if (key[c] != PROF_NO_SLOT)
            ((uint16_t *)p->atom_cases[key[c]])[p->atom_ncases[key[c]]++] = (uint16_t)c;
    /* value table: count atoms per (slot, text), then fill */
    uint32_t size = 16;
    while (size < 2 * nvals + 2)
        size *= 2;
    p->vidx = lalloc(x, size * sizeof(*p->vidx));
    if (!p->vidx)
        return lnomem(x);
    p->vidx_mask = size - 1;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t a = 0; a < p->natoms; a++) {
            if (!indexed[a])
                continue;
            const struct patom *at = &p->atoms[a];
            for (uint32_t k = 0; k < at->nvals; k++) {
                char canon[24];
                const char *t2;
                size_t n2 = ival_texts(&at->vals[k], canon, &t2);
                for (int t = 0; t < 2; t++) {
                    const char *txt = t ? t2 : at->vals[k].s;
                    size_t n = t ? n2 : at->vals[k].len;
                    if (!txt)
                        continue;
                    uint32_t h = vhash(at->slot, txt, n);
                    struct pindex_ent *e = vidx_find(p, at->slot, txt, n, h);
                    if (!e->s) {
                        if (!(e->s = lstrdup(x, txt, n)))
                            return lnomem(x);
                        e->len = (uint32_t)n;
                        e->hash = h;
                        e->slot = at->slot;
                        if (n > p->max_ival)
                            p->max_ival = (uint32_t)n;
                    }
                    if (e->natoms && e->atoms && e->atoms[e->natoms - 1] == a)
                        continue; /* the same atom under two texts */
                    if (pass == 0) {
                        e->natoms++;
                    } else {
                        e->atoms[e->natoms++] = (uint16_t)a;
                    }
                }
            }
        }
        if (pass == 0) {
            for (uint32_t i = 0; i < size; i++) {
                if (!p->vidx[i].s)
                    continue;
                if (!(p->vidx[i].atoms = lalloc(x, p->vidx[i].natoms * sizeof(uint16_t))))
                    return lnomem(x);
                p->vidx[i].natoms = 0;
            }
        }
    }
    for (uint32_t a = 0; a < p->natoms; a++) {
        if (!indexed[a])
            continue;
        bool seen = false;
        for (uint32_t k = 0; k < p->nislots && !seen; k++)
            seen = p->islots[k] == p->atoms[a].slot;
        if (!seen)
            p->islots[p->nislots++] = p->atoms[a].slot;
    }
    return 0;
}

static int fam_cmp(const void *a, const void *b)
{
    const struct pfamily *x = a, *y = b;
    return x->plen < y->plen ? 1 : x->plen > y->plen ? -1 : 0;
}

static int build_profile(struct lctx *x, const struct ts_ynode *root, unsigned docline)
{
    static const char *const keys[] = {"profile", "description", "order", "select",
                                       "rename",  "copy",        "drop",  "convert",
                                       "set",     "default",     "logsource", "cases"};
    struct norm_profile_set *ps = x->ps;
    if (!root)
        return 0; /* an empty document */
    if (root->kind != TS_Y_MAP)
        return lfail(x, root, "a profile must be a mapping, not %s", ts_yaml_kind_name(root));
    int rc = check_keys(x, root, "a profile", keys, TS_ARRAY_LEN(keys));
    if (rc)
        return rc;
    const struct ts_ynode *name = ts_yaml_get(root, "profile");
    if (!name)
        return lfail(x, root, "a profile needs a name (profile: NAME)");
    if ((rc = want_name(x, name, "the profile name")))
        return rc;
    if (name->len > 64 || strspn(name->str, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789_.-") != name->len)
        return lfail(x, name, "a profile name is 1-64 letters, digits, '_', '.' or '-'");
    for (size_t i = 0; i < ps->n; i++)
        if (strlen(ps->profiles[i].name) == name->len &&
            memcmp(ps->profiles[i].name, name->str, name->len) == 0)
            return lfail(x, name, "profile \"%s\" is already defined at %s:%u", ps->profiles[i].name,
                         ps->profiles[i].file, ps->profiles[i].line);
    if (ps->n >= INGEST_PROFILE_MAX_PROFILES)
        return lfail_code(x, TS_E_LIMIT, name, "more than %d profiles",
                          INGEST_PROFILE_MAX_PROFILES);
    if (ps->n == ps->cap) {
        size_t ncap = ps->cap ? ps->cap * 2 : 16;
        struct profile *np = lalloc(x, ncap * sizeof(*np));
        if (!np)
            return lnomem(x);
        if (ps->n)
            memcpy(np, ps->profiles, ps->n * sizeof(*np));
        ps->profiles = np;
        ps->cap = ncap;
    }
    struct profile *p = &ps->profiles[ps->n];
    memset(p, 0, sizeof(*p));
    x->p = p;
    p->file = x->y.file;
    p->line = docline ? docline : root->line;
    p->order = 100;
    if (!(p->name = lstrdup(x, name->str, name->len)))
        return lnomem(x);
    p->slots = lalloc(x, PROF_MAX_SLOTS * sizeof(*p->slots));
    p->table = lalloc(x, PROF_TABLE_SIZE * sizeof(*p->table));
    p->fams = lalloc(x, PROF_MAX_FAMILIES * sizeof(*p->fams));
    p->atoms = lalloc(x, PROF_MAX_ATOMS * sizeof(*p->atoms));
    if (!p->slots || !p->table || !p->fams || !p->atoms)
        return lnomem(x);

    const struct ts_ynode *n;
    if ((n = ts_yaml_get(root, "description")) && (rc = want_scalar(x, n, "description")))
        return rc;
    if ((n = ts_yaml_get(root, "order"))) {
        int64_t v;
        if (n->kind != TS_Y_SCALAR || !parse_i64(n->str, n->len, &v) || v < -1000000 ||
            v > 1000000)
            return lfail(x, n, "order must be an integer between -1000000 and 1000000");
        p->order = (long)v;
    }
    if ((n = ts_yaml_get(root, "select"))) {
        size_t cnt = 1;
        if (n->kind == TS_Y_SEQ) {
            if (n->nitems == 0)
                return lfail(x, n, "select must not be an empty list");
            if (n->nitems > PROF_MAX_SELECT)
                return lfail_code(x, TS_E_LIMIT, n, "select has more than %d alternatives",
                                  PROF_MAX_SELECT);
            cnt = n->nitems;
        }
        p->sel = lalloc(x, cnt * sizeof(*p->sel));
        if (!p->sel)
            return lnomem(x);
        for (size_t i = 0; i < cnt; i++)
            if ((rc = build_select_one(x, n->kind == TS_Y_SEQ ? n->items[i] : n, &p->sel[i])))
                return rc;
        p->nsel = (uint32_t)cnt;
    }
    const struct ts_ynode *copy = ts_yaml_get(root, "copy");
    if (copy) {
        if ((rc = want_map(x, copy, "copy", PROF_MAX_RULES)))
            return rc;
        if (!(p->copies = lalloc(x, copy->npairs * sizeof(*p->copies))))
            return lnomem(x);
    }
    if ((n = ts_yaml_get(root, "rename")) && (rc = build_renames(x, n, false)))
        return rc;
    if (copy && (rc = build_renames(x, copy, true)))
        return rc;
    if ((n = ts_yaml_get(root, "drop")) && (rc = build_drops(x, n)))
        return rc;
    if ((n = ts_yaml_get(root, "convert")) && (rc = build_converts(x, n)))
        return rc;
    if ((n = ts_yaml_get(root, "set")) && (rc = build_consts(x, n, false, "set", &p->sets, &p->nsets)))
        return rc;
    if ((n = ts_yaml_get(root, "default")) &&
        (rc = build_consts(x, n, true, "default", &p->sets, &p->nsets)))
        return rc;
    if ((n = ts_yaml_get(root, "logsource")) && (rc = build_logsource(x, n, &p->ls)))
        return rc;
    if ((n = ts_yaml_get(root, "cases"))) {
        if (n->kind != TS_Y_SEQ)
            return lfail(x, n, "cases must be a list, not %s", ts_yaml_kind_name(n));
        if (n->nitems > PROF_MAX_CASES)
            return lfail_code(x, TS_E_LIMIT, n, "more than %d cases", PROF_MAX_CASES);
        if (!(p->cases = lalloc(x, n->nitems * sizeof(*p->cases))))
            return lnomem(x);
        for (size_t i = 0; i < n->nitems; i++)
            if ((rc = build_case(x, n->items[i], &p->cases[i])))
                return rc;
        p->ncases = (uint32_t)n->nitems;
    }
    if ((rc = index_build(x)))
        return rc;
    qsort(p->fams, p->nfams, sizeof(*p->fams), fam_cmp);
    p->has_renames = p->nfams > 0;
    for (uint32_t i = 0; i < p->nslots && !p->has_renames; i++)
        if (p->slots[i].kind == RK_RENAME || p->slots[i].kind == RK_DROP)
            p->has_renames = true;
    ps->n++;
    x->p = NULL;
    return 0;
}

static int set_create(struct norm_profile_set **out)
{
    struct norm_profile_set *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return TS_E_NOMEM;
    int rc = ts_arena_create(&ps->mem, PROF_ARENA_CHUNK, PROF_ARENA_CAP);
    if (rc) {
        free(ps);
        return rc;
    }
    *out = ps;
    return 0;
}

void norm_profile_set_free(struct norm_profile_set *ps)
{
    if (!ps)
        return;
    ts_arena_destroy(ps->mem);
    free(ps);
}

static int load_stream(struct norm_profile_set *ps, const struct ts_ystream *s,
                       struct ts_err *err)
{
    struct lctx x = {.y = {.err = err, .what = "profiles"}, .ps = ps};
    x.y.file = ts_arena_strndup(ps->mem, s->file ? s->file : "", s->file ? strlen(s->file) : 0);
    if (!x.y.file)
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory loading profiles");
    for (size_t i = 0; i < s->ndocs; i++) {
        int rc = build_profile(&x, s->docs[i].root, s->docs[i].line);
        if (rc)
            return rc;
    }
    return 0;
}

static int prof_cmp(const void *a, const void *b)
{
    const struct profile *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int load_file(struct norm_profile_set *ps, const char *path, struct ts_err *err)
{
    struct ts_ystream *s = NULL;
    int rc = ts_yaml_load_file(path, &s, err);
    if (rc)
        return rc;
    rc = load_stream(ps, s, err);
    ts_yaml_free(s);
    return rc;
}

static bool has_yaml_ext(const char *n)
{
    size_t l = strlen(n);
    return (l > 4 && strcmp(n + l - 4, ".yml") == 0) || (l > 5 && strcmp(n + l - 5, ".yaml") == 0);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(struct norm_profile_set *ps, const char *dir, size_t *nfiles,
                    struct ts_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return ts_err_set(err, TS_E_IO, dir, 0, 0, "cannot open profile folder: %s",
                          strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !has_yaml_ext(de->d_name))
            continue;
        if (*nfiles + n >= INGEST_PROFILE_MAX_FILES) {
            rc = ts_err_set(err, TS_E_LIMIT, dir, 0, 0, "more than %d profile files",
                            INGEST_PROFILE_MAX_FILES);
            goto out;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (!nn) {
                rc = ts_err_set(err, TS_E_NOMEM, dir, 0, 0, "out of memory");
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        size_t l = strlen(dir) + 1 + strlen(de->d_name) + 1;
        if (!(names[n] = malloc(l))) {
            rc = ts_err_set(err, TS_E_NOMEM, dir, 0, 0, "out of memory");
            goto out;
        }
        snprintf(names[n], l, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/",
                 de->d_name);
        n++;
    }
    if (n)
        qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n && !rc; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode))
            continue;
        rc = load_file(ps, names[i], err);
        (*nfiles)++;
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

int norm_profile_set_load(struct norm_profile_set **out, const char *const *paths,
                            size_t npaths, struct ts_err *err)
{
    *out = NULL;
    struct norm_profile_set *ps;
    int rc = set_create(&ps);
    if (rc)
        return ts_err_set(err, rc, NULL, 0, 0, "out of memory loading profiles");
    size_t nfiles = 0;
    for (size_t i = 0; i < npaths && !rc; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            rc = ts_err_set(err, TS_E_IO, paths[i], 0, 0, "cannot open profiles: %s",
                            strerror(errno));
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = load_dir(ps, paths[i], &nfiles, err);
        } else if (++nfiles > INGEST_PROFILE_MAX_FILES) {
            rc = ts_err_set(err, TS_E_LIMIT, paths[i], 0, 0, "more than %d profile files",
                            INGEST_PROFILE_MAX_FILES);
        } else {
            rc = load_file(ps, paths[i], err);
        }
    }
    if (rc) {
        norm_profile_set_free(ps);
        return rc;
    }
    if (ps->n)
        qsort(ps->profiles, ps->n, sizeof(*ps->profiles), prof_cmp);
    *out = ps;
    return 0;
}

int norm_profile_set_load_buffer(struct norm_profile_set **out, const char *name,
                                   const char *buf, size_t len, struct ts_err *err)
{
    *out = NULL;
    struct norm_profile_set *ps;
    int rc = set_create(&ps);
    if (rc)
        return ts_err_set(err, rc, NULL, 0, 0, "out of memory loading profiles");
    struct ts_ystream *s = NULL;
    rc = ts_yaml_load_buffer(name ? name : "<buffer>", buf, len, &s, err);
    if (!rc) {
        rc = load_stream(ps, s, err);
        ts_yaml_free(s);
    }
    if (rc) {
        norm_profile_set_free(ps);
        return rc;
    }
    if (ps->n)
        qsort(ps->profiles, ps->n, sizeof(*ps->profiles), prof_cmp);
    *out = ps;
    return 0;
}

size_t norm_profile_set_count(const struct norm_profile_set *ps)
{
    return ps ? ps->n : 0;
}

const char *norm_profile_set_name(const struct norm_profile_set *ps, size_t i)
{
    return ps && i < ps->n ? ps->profiles[i].name : NULL;
}

long norm_profile_set_find(const struct norm_profile_set *ps, const char *name)
{
    if (!ps || !name)
        return -1;
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->profiles[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* ------------------------------------------------------------------ applying */

/* Case-insensitive (ASCII) equality of s against a lower-cased pattern. */
static inline bool ci_eq(const char *s, const char *low, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower_ascii(s[i]) != low[i])
            return false;
    return true;
}

static bool str_matches(const char *s, size_t n, const struct pval *pv)
{
    switch (pv->mode) {
    case VM_ANY:
        return true;
    case VM_PREFIX:
        return n >= pv->len && ci_eq(s, pv->s, pv->len);
    case VM_SUFFIX:
        return n >= pv->len && ci_eq(s + n - pv->len, pv->s, pv->len);
    default:
        return n == pv->len && ci_eq(s, pv->s, n);
    }
}

static bool value_matches(const struct ts_value *v, const struct pval *pv, int depth)
{
    char buf[64];
    switch (v->type) {
    case TS_V_STR:
        return str_matches(v->u.s, v->len, pv);
    case TS_V_INT:
        if (pv->has_int)
            return v->u.i == pv->i;
        if (pv->mode == VM_EXACT)
            return false;
        snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i);
        return str_matches(buf, strlen(buf), pv);
    case TS_V_FLOAT:
        return pv->has_int && v->u.f == (double)pv->i;
    case TS_V_BOOL:
        return v->u.b ? str_matches("true", 4, pv) : str_matches("false", 5, pv);
    case TS_V_IP:
        ts_ip_format(&v->u.ip, buf, sizeof(buf));
        return str_matches(buf, strlen(buf), pv);
    case TS_V_LIST:
        if (depth > 0)
            return false;
        for (uint32_t i = 0; i < v->len; i++)
            if (value_matches(&v->u.items[i], pv, depth + 1))
                return true;
        return false;
    default:
        return pv->mode == VM_ANY;
    }
}

static bool any_matches(const struct ts_value *v, const struct pval *vals, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (value_matches(v, &vals[i], 0))
            return true;
    return false;
}

/* A field called name, or a family name.* */
static bool event_has(const struct ts_event *ev, const char *name, size_t len)
{
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct ts_field *f = &ev->fields[i];
        if (f->name_len >= len && f->name[0] == name[0] && memcmp(f->name, name, len) == 0 &&
            (f->name_len == len || f->name[len] == '.'))
            return true;
    }
    return false;
}

static bool select_matches(const struct pselect *s, const struct ts_event *ev)
{
    if (s->nformats) {
        if (!ev->format)
            return false;
        bool ok = false;
        for (uint32_t i = 0; i < s->nformats && !ok; i++)
            ok = strcmp(ev->format, s->formats[i]) == 0;
        if (!ok)
            return false;
    }
    for (uint32_t i = 0; i < s->nhas; i++)
        if (!event_has(ev, s->has[i].s, s->has[i].len))
            return false;
    for (uint32_t i = 0; i < s->nwhen; i++) {
        const struct ts_field *f = ts_event_get(ev, s->when[i].name, s->when[i].len);
        if (!f || !any_matches(&f->v, s->when[i].vals, s->when[i].nvals))
            return false;
    }
    return true;
}

/* Build a family's new name in the arena (new prefix and/or case change);
 * names the profile knows are taken from the set instead. */
static const char *family_name(const struct profile *p, const struct pfamily *fam, const char *rest,
                               size_t rlen, struct ts_arena *a, size_t *outlen, unsigned *slot)
{
    char buf[2 * PROF_MAX_NAME + 2];
    const char *name;
    size_t n = fam->tolen + rlen;
    if (n < sizeof(buf)) {
        memcpy(buf, fam->to, fam->tolen);
        memcpy(buf + fam->tolen, rest, rlen);
        if (fam->casing == CASE_UPPER_FIRST && buf[fam->tolen] >= 'a' && buf[fam->tolen] <= 'z')
            buf[fam->tolen] = (char)(buf[fam->tolen] - 32);
        else if (fam->casing == CASE_LOWER_FIRST && buf[fam->tolen] >= 'A' &&
                 buf[fam->tolen] <= 'Z')
            buf[fam->tolen] = (char)(buf[fam->tolen] + 32);
        *slot = slot_lookup(p, buf, n);
        if (*slot != PROF_NO_SLOT) {
            *outlen = n;
            return p->slots[*slot].name;
        }
        name = ts_arena_strndup(a, buf, n);
    } else {
        *slot = PROF_NO_SLOT;
        char *m = ts_arena_alloc(a, n + 1);
        if (!m)
            return NULL;
        memcpy(m, fam->to, fam->tolen);
        memcpy(m + fam->tolen, rest, rlen);
        m[n] = '\0';
        name = m;
    }
    *outlen = n;
    return name;
}

/* In-place conversion; false when the value does not convert. */
static bool convert_value(struct ts_value *v, uint8_t to, struct ts_arena *a)
{
    switch (to) {
    case CV_INT:
        if (v->type == TS_V_INT)
            return true;
        if (v->type == TS_V_FLOAT) {
            if (v->u.f != v->u.f || v->u.f < -9.2e18 || v->u.f > 9.2e18)
                return false;
            *v = ts_v_int((int64_t)v->u.f);
            return true;
        }
        if (v->type == TS_V_STR) {
            const char *s = v->u.s;
            size_t n = v->len;
            while (n && (*s == ' ' || *s == '\t'))
                s++, n--;
            while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
            int64_t i;
            if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                uint64_t acc = 0;
                if (n - 2 > 16)
                    return false;
                for (size_t k = 2; k < n; k++) {
                    char c = lower_ascii(s[k]);
                    unsigned d;
                    if (c >= '0' && c <= '9')
                        d = (unsigned)(c - '0');
                    else if (c >= 'a' && c <= 'f')
                        d = (unsigned)(c - 'a' + 10);
                    else
                        return false;
                    acc = acc << 4 | d;
                }
                if (acc > (uint64_t)INT64_MAX)
                    return false;
                i = (int64_t)acc;
            } else if (!parse_i64(s, n, &i)) {
                return false;
            }
            *v = ts_v_int(i);
            return true;
        }
        return false;
    case CV_FLOAT:
        if (v->type == TS_V_FLOAT)
            return true;
        if (v->type == TS_V_INT) {
            double d = (double)v->u.i;
            memset(v, 0, sizeof(*v));
            v->type = TS_V_FLOAT;
            v->u.f = d;
            return true;
        }
        if (v->type == TS_V_STR && v->len > 0 && v->len < 64) {
            char buf[64], *end;
            memcpy(buf, v->u.s, v->len);
            buf[v->len] = '\0';
            double d = strtod(buf, &end);
            if (end != buf + v->len)
                return false;
            memset(v, 0, sizeof(*v));
            v->type = TS_V_FLOAT;
            v->u.f = d;
            return true;
        }
        return false;
    case CV_STRING: {
        char buf[64];
        int n;
        switch (v->type) {
        case TS_V_STR:
            return true;
        case TS_V_INT:
            n = snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i);
            break;
        case TS_V_FLOAT:
            n = snprintf(buf, sizeof(buf), "%.17g", v->u.f);
            break;
        case TS_V_BOOL:
            n = snprintf(buf, sizeof(buf), "%s", v->u.b ? "true" : "false");
            break;
        case TS_V_IP:
            ts_ip_format(&v->u.ip, buf, sizeof(buf));
            n = (int)strlen(buf);
            break;
        default:
            return false;
        }
        if (n < 0 || (size_t)n >= sizeof(buf))
            return false;
        char *s = ts_arena_strndup(a, buf, (size_t)n);
        if (!s)
            return false;
        *v = ts_v_str(s, (size_t)n);
        return true;
    }
    case CV_IP: {
        if (v->type == TS_V_IP)
            return true;
        if (v->type != TS_V_STR)
            return false;
        struct ts_ip ip;
        if (ts_ip_parse(v->u.s, v->len, &ip))
            return false;
        memset(v, 0, sizeof(*v));
        v->type = TS_V_IP;
        v->u.ip = ip;
        return true;
    }
    case CV_BOOL: {
        bool b;
        if (v->type == TS_V_BOOL)
            return true;
        if (v->type == TS_V_INT && (v->u.i == 0 || v->u.i == 1))
            b = v->u.i == 1;
        else if (v->type == TS_V_STR && ((v->len == 4 && ci_eq(v->u.s, "true", 4)) ||
                                         (v->len == 1 && v->u.s[0] == '1')))
            b = true;
        else if (v->type == TS_V_STR && ((v->len == 5 && ci_eq(v->u.s, "false", 5)) ||
                                         (v->len == 1 && v->u.s[0] == '0')))
            b = false;
        else
            return false;
        memset(v, 0, sizeof(*v));
        v->type = TS_V_BOOL;
        v->u.b = b;
        return true;
    }
    default:
        return false;
    }
}

static void ls_apply(struct ts_logsource *dst, const struct plogsource *src)
{
    if (src->product)
        dst->product = src->product;
    if (src->category)
        dst->category = src->category;
    if (src->service)
        dst->service = src->service;
}

/* Per-apply scratch, on the stack. */
struct scratch {
    int32_t fidx[PROF_MAX_SLOTS];   /* slot -> field index holding that name, -1 */
    uint16_t cnt[PROF_MAX_SLOTS];   /* fields with that name (renames check targets) */
    uint16_t res[PROF_MAX_SLOTS];   /* exact renames still to come to that name */
    int8_t atom[PROF_MAX_ATOMS];    /* -1 unknown, 0 false, 1 true */
    uint64_t cand[PROF_MAX_CASES / 64]; /* cases worth evaluating */
    char low[PROF_MAX_VALUE + 1];
    uint16_t fslot_stack[PROF_STACK_FIELDS];
};

static int set_const(const struct profile *p, struct ts_event *ev, struct scratch *s,
                     const struct pconst *c)
{
    int32_t i = s->fidx[c->slot];
    if (i >= 0) {
        if (!c->only_if_absent)
            ev->fields[i].v = c->v;
        return 0;
    }
    const struct pslot *sl = &p->slots[c->slot];
    int rc = ts_event_add(ev, sl->name, sl->len, &c->v);
    if (rc)
        return rc;
    s->fidx[c->slot] = (int32_t)(ev->nfields - 1);
    s->cnt[c->slot]++;
    return 0;
}

static bool atom_eval(const struct profile *p, const struct ts_event *ev, struct scratch *s,
                      uint16_t a)
{
    if (s->atom[a] < 0) {
        const struct patom *at = &p->atoms[a];
        int32_t i = s->fidx[at->slot];
        s->atom[a] = (int8_t)(i >= 0 && any_matches(&ev->fields[i].v, at->vals, at->nvals));
    }
    return s->atom[a] > 0;
}

/* Pass 1: renames and drops by exact name and by family, in place. */
static int rename_pass(const struct profile *p, struct ts_event *ev, struct scratch *s,
                       const uint16_t *fslot, struct norm_profile_explain *ex)
{
    uint32_t n = ev->nfields, j = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* Modified in place: copying the field through a local and back costs
         * a store-forwarding stall per field (measured: a quarter of apply). */
        struct ts_field *f = &ev->fields[i];
        unsigned sl = fslot[i], ns = sl;
        unsigned kind = sl != PROF_NO_SLOT ? p->slots[sl].kind : RK_NONE;
        if (kind == RK_DROP) {
            s->cnt[sl]--;
            ex->renamed++;
            continue;
        }
        if (kind == RK_RENAME) {
            unsigned t = p->slots[sl].target;
            s->res[t]--;
            if (s->cnt[t] == 0) {
                s->cnt[sl]--;
                s->cnt[t]++;
                f->name = p->slots[t].name;
                f->name_len = p->slots[t].len;
                ns = t;
                ex->renamed++;
            } else {
                ex->conflicts++;
            }
        } else if (kind == RK_NONE && p->nfams) {
            for (uint32_t k = 0; k < p->nfams; k++) {
                const struct pfamily *fam = &p->fams[k];
                if (f->name_len < fam->plen || f->name[0] != fam->prefix[0] ||
                    memcmp(f->name, fam->prefix, fam->plen) != 0)
                    continue;
                if (fam->drop) {
                    if (sl != PROF_NO_SLOT)
                        s->cnt[sl]--;
                    ex->renamed++;
                    goto next; /* dropped */
                }
                const char *rest = f->name + fam->plen;
                size_t rlen = f->name_len - fam->plen;
                if (fam->leaf) {
                    const char *dot = memrchr(rest, '.', rlen);
                    if (dot) {
                        rlen -= (size_t)(dot + 1 - rest);
                        rest = dot + 1;
                    }
                }
                if (rlen == 0)
                    break;
                const char *nn;
                size_t nlen;
                unsigned t;
                if (fam->tolen == 0 && fam->casing == CASE_KEEP) {
                    nn = rest; /* a suffix of a NUL-terminated name */
                    nlen = rlen;
                    t = slot_lookup(p, nn, nlen);
                } else {
                    nn = family_name(p, fam, rest, rlen, ev->arena, &nlen, &t);
                    if (!nn)
                        return TS_E_NOMEM;
                }
                if (t != PROF_NO_SLOT) {
                    if (s->cnt[t] > 0 || s->res[t] > 0) { /* exact renames win */
                        ex->conflicts++;
                        break;
                    }
                    s->cnt[t]++;
                }
                if (sl != PROF_NO_SLOT)
                    s->cnt[sl]--;
                f->name = nn;
                f->name_len = (uint32_t)nlen;
                ns = t;
                ex->renamed++;
                break;
            }
        }
        if (ns != PROF_NO_SLOT && s->fidx[ns] < 0)
            s->fidx[ns] = (int32_t)j;
        if (j != i)
            ev->fields[j] = *f;
        j++;
    next:;
    }
    ev->nfields = j;
    return 0;
}

/* Look one value up in the index: mark its atoms true and their cases as
 * candidates. */
static void index_value(const struct profile *p, unsigned slot, const struct ts_value *v,
                        struct scratch *s, int depth)
{
    const char *txt;
    size_t n;
    char num[64];
    switch (v->type) {
    case TS_V_STR:
        if (v->len > p->max_ival)
            return;
        for (uint32_t i = 0; i < v->len; i++)
            s->low[i] = lower_ascii(v->u.s[i]);
        txt = s->low;
        n = v->len;
        break;
    case TS_V_INT:
        n = ts_fmt_i64(num, v->u.i);
        txt = num;
        break;
    case TS_V_FLOAT:
        if (!(v->u.f >= -9.2e18 && v->u.f <= 9.2e18) || v->u.f != (double)(int64_t)v->u.f)
            return;
        n = ts_fmt_i64(num, (int64_t)v->u.f);
        txt = num;
        break;
    case TS_V_BOOL:
        txt = v->u.b ? "true" : "false";
        n = strlen(txt);
        break;
    case TS_V_IP:
        ts_ip_format(&v->u.ip, num, sizeof(num));
        txt = num;
        n = strlen(num);
        break;
    case TS_V_LIST:
        if (depth == 0)
            for (uint32_t i = 0; i < v->len; i++)
                index_value(p, slot, &v->u.items[i], s, 1);
        return;
    default:
        return;
    }
    const struct pindex_ent *e = vidx_find(p, slot, txt, n, vhash(slot, txt, n));
    if (!e->s)
        return;
    for (uint32_t k = 0; k < e->natoms; k++) {
        unsigned a = e->atoms[k];
        s->atom[a] = 1;
        for (uint32_t c = 0; c < p->atom_ncases[a]; c++) {
            unsigned ci = p->atom_cases[a][c];
            s->cand[ci / 64] |= 1ull << (ci % 64);
        }
    }
}

/* Reset the atom cache and add the candidate cases of the event as it is. */
static void index_eval(const struct profile *p, const struct ts_event *ev, struct scratch *s)
{
    memcpy(s->atom, p->atom_init, p->natoms);
    for (uint32_t k = 0; k < p->nislots; k++) {
        int32_t i = s->fidx[p->islots[k]];
        if (i >= 0)
            index_value(p, p->islots[k], &ev->fields[i].v, s, 0);
    }
}

static inline uint32_t next_case(const struct profile *p, const struct scratch *s, uint32_t from)
{
    uint32_t w = from / 64;
    if (w >= p->case_words)
        return p->ncases;
    uint64_t bits = s->cand[w] & (~0ull << (from % 64));
    while (!bits) {
        if (++w >= p->case_words)
            return p->ncases;
        bits = s->cand[w];
    }
    return w * 64 + (uint32_t)__builtin_ctzll(bits);
}

static int apply_profile(const struct profile *p, struct ts_event *ev,
                         struct norm_profile_explain *ex)
{
    struct scratch s;
    uint32_t n = ev->nfields;
    uint16_t *fslot = s.fslot_stack;
    if (n > PROF_STACK_FIELDS) {
        fslot = ts_arena_alloc(ev->arena, n * sizeof(*fslot));
        if (!fslot)
            return TS_E_NOMEM;
    }
    for (uint32_t i = 0; i < p->nslots; i++) {
        s.fidx[i] = -1;
        s.cnt[i] = 0;
        s.res[i] = 0;
    }
    /* Pass 0: the slot of every field name. */
    for (uint32_t i = 0; i < n; i++) {
        const struct ts_field *f = &ev->fields[i];
        unsigned sl = slot_lookup(p, f->name, f->name_len);
        fslot[i] = (uint16_t)sl;
        if (sl != PROF_NO_SLOT) {
            s.cnt[sl]++;
            if (s.fidx[sl] < 0)
                s.fidx[sl] = (int32_t)i;
            if (p->slots[sl].kind == RK_RENAME)
                s.res[p->slots[sl].target]++;
        }
    }
    int rc;
    if (p->has_renames) {
        for (uint32_t i = 0; i < p->nslots; i++)
            s.fidx[i] = -1;
        if ((rc = rename_pass(p, ev, &s, fslot, ex)))
            return rc;
    }
    for (uint32_t i = 0; i < p->ncopies; i++) {
        const struct ppair *c = &p->copies[i];
        int32_t from = s.fidx[c->from];
        if (from < 0)
            continue;
        if (s.cnt[c->to]) {
            ex->conflicts++;
            continue;
        }
        struct ts_value v = ev->fields[from].v;
        if ((rc = ts_event_add(ev, p->slots[c->to].name, p->slots[c->to].len, &v)))
            return rc;
        s.fidx[c->to] = (int32_t)(ev->nfields - 1);
        s.cnt[c->to]++;
        ex->renamed++;
    }
    for (uint32_t i = 0; i < p->nconvs; i++) {
        int32_t k = s.fidx[p->convs[i].slot];
        if (k >= 0 && !convert_value(&ev->fields[k].v, p->convs[i].to, ev->arena))
            ex->convert_failed++;
    }
    for (uint32_t i = 0; i < p->nsets; i++)
        if ((rc = set_const(p, ev, &s, &p->sets[i])))
            return rc;
    ls_apply(&ev->logsource, &p->ls);
    if (p->ncases) {
        memcpy(s.cand, p->always, p->case_words * sizeof(*s.cand));
        index_eval(p, ev, &s);
        for (uint32_t ci = next_case(p, &s, 0); ci < p->ncases; ci = next_case(p, &s, ci + 1)) {
            const struct pcase *c = &p->cases[ci];
            bool ok = true;
            for (uint32_t k = 0; k < c->nhas && ok; k++)
                ok = s.fidx[c->has[k]] >= 0;
            for (uint32_t k = 0; k < c->natoms && ok; k++)
                ok = atom_eval(p, ev, &s, c->atoms[k]);
            if (!ok)
                continue;
            ex->cases++;
            if (c->ls.product || c->ls.category || c->ls.service) {
                ls_apply(&ev->logsource, &c->ls);
                ex->logsource_case = c->where;
            }
            bool changed = false;
            for (uint32_t k = 0; k < c->nrenames; k++) {
                const struct ppair *r = &c->renames[k];
                int32_t from = s.fidx[r->from];
                if (from < 0)
                    continue;
                if (s.fidx[r->to] >= 0) {
                    ex->conflicts++;
                    continue;
                }
                ev->fields[from].name = p->slots[r->to].name;
                ev->fields[from].name_len = p->slots[r->to].len;
                s.fidx[r->to] = from;
                s.fidx[r->from] = -1;
                s.cnt[r->to]++;
                s.cnt[r->from]--;
                ex->renamed++;
                changed = true;
            }
            for (uint32_t k = 0; k < c->ncopies; k++) {
                const struct ppair *r = &c->copies[k];
                int32_t from = s.fidx[r->from];
                if (from < 0)
                    continue;
                if (s.fidx[r->to] >= 0) {
                    ex->conflicts++;
                    continue;
                }
                struct ts_value v = ev->fields[from].v;
                if ((rc = ts_event_add(ev, p->slots[r->to].name, p->slots[r->to].len, &v)))
                    return rc;
                s.fidx[r->to] = (int32_t)(ev->nfields - 1);
                s.cnt[r->to]++;
                ex->renamed++;
                changed = true;
            }
            for (uint32_t k = 0; k < c->nsets; k++) {
                if ((rc = set_const(p, ev, &s, &c->sets[k])))
                    return rc;
                changed = true;
            }
            if (changed)
                index_eval(p, ev, &s);
            if (c->stop)
                break;
        }
    }
    return 0;
}

int norm_profile_apply_index(const struct norm_profile_set *ps, size_t idx,
                               struct ts_event *ev, struct norm_profile_explain *ex)
{
    struct norm_profile_explain dummy;
    if (!ex)
        ex = &dummy;
    memset(ex, 0, sizeof(*ex));
    if (!ps || idx >= ps->n)
        return TS_E_NOTFOUND;
    ex->profile = ps->profiles[idx].name;
    ex->why = "forced by --profile";
    return apply_profile(&ps->profiles[idx], ev, ex);
}

int norm_profile_apply(const struct norm_profile_set *ps, const char *force_name,
                         struct ts_event *ev, struct norm_profile_explain *ex)
{
    struct norm_profile_explain dummy;
    if (!ex)
        ex = &dummy;
    memset(ex, 0, sizeof(*ex));
    if (force_name) {
        long i = norm_profile_set_find(ps, force_name);
        if (i < 0)
            return TS_E_NOTFOUND;
        return norm_profile_apply_index(ps, (size_t)i, ev, ex);
    }
    if (!ps)
        return 0;
    for (size_t i = 0; i < ps->n; i++) {
        const struct profile *p = &ps->profiles[i];
        for (uint32_t k = 0; k < p->nsel; k++) {
            if (!select_matches(&p->sel[k], ev))
                continue;
            ex->profile = p->name;
            ex->why = p->sel[k].why;
            return apply_profile(p, ev, ex);
        }
    }
    return 0;
}
