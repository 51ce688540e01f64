/* match.c - matching events against a compiled rule set, and explaining a
 * match.
 *
 * Per event: index the event's fields by interned id (one hash per field),
 * route by logsource to the groups whose rules apply, run each group's
 * prefilter automaton over the fields its literals live in, then evaluate
 * exactly only the candidate rules (plus the group's always-evaluated rules)
 * in rule order. Selection results are memoised per event; lowercased field
 * values are cached per event in the scratch. No allocation per event: the
 * scratch is sized when created; values too long for its buffer are compared
 * with slower case-folding loops instead. Regular expressions run with the
 * scratch's PCRE2 match data, match context (the set's match, depth and heap
 * limits) and JIT stack; a search cut short counts as not matching and is
 * counted (rule_match_stats.re_limit_hits).
 *
 * The set is shared read-only; a scratch belongs to one thread.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../core/buf.h"
#include "rules_int.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define LBUF_CAP ((size_t)1 << 20)
#define RE_JIT_STACK_START ((size_t)32 << 10)
#define RE_JIT_STACK_MAX ((size_t)512 << 10)

struct rule_scratch {
    const struct rule_set *rs;
    uint32_t gen;
    uint32_t nf;
    uint32_t *fstamp, *fslot;
    uint32_t *lstamp, *loff;
    char *lbuf;
    size_t lused;
    uint32_t *rstamp;
    uint32_t *pstamp;   /* per rule: pmask is of this event */
    uint8_t *pmask;     /* per rule: prefilter slots hit so far */
    uint32_t *cand;
    size_t ncand;
    uint32_t *mstamp;
    uint8_t *mval;
    uint32_t *groups;
    pcre2_match_data *md;
    pcre2_match_context *mctx; /* the set's regex limits, and jit */
    pcre2_jit_stack *jit;
    const struct ts_event *ev;
    uint32_t cur_field;
    bool exact; /* test hook: no prefilter, every routed rule evaluated, no shortcuts */
    struct ac_memo *memo; /* made on first use; NULL: scan every value */
    bool memo_off;        /* made and failed, or turned off */
    struct shape *shapes; /* SHAPE_SLOTS, made on first use; NULL: look every name up */
    bool shapes_off;      /* made and failed */
    struct route_memo *rmemo; /* made on first use; NULL: route every event */
    bool rmemo_off;           /* made and failed */
    struct rule_match_stats st;
};

/* The groups of the last logsource routed: events of one source share it,
 * and routing compares it case-insensitively with the set's groups (~0.7k
 * instructions a Sysmon event). Reused when category, service and product
 * are byte for byte the cached ones (a route depends on nothing else). */
#define ROUTE_MEMO_STR 64
struct route_memo {
    bool valid;
    bool has[3];
    char v[3][ROUTE_MEMO_STR];
    uint32_t n;
    uint32_t *groups; /* rs->ngroups */
};

/* The field names of a recent event and their ids in the set: events from
 * one source come with the same names in the same order, so index_fields
 * compares the names with a remembered list instead of hashing each one
 * into the set's table. Direct-mapped by a signature of the name lengths;
 * a miss looks the names up and takes the slot. */
#define SHAPE_SLOTS 8
#define SHAPE_MAX_FIELDS 64
#define SHAPE_NAME_BYTES 2048
struct shape {
    uint32_t nfields; /* 0: empty */
    uint32_t sig;
    uint32_t len[SHAPE_MAX_FIELDS];
    uint32_t id[SHAPE_MAX_FIELDS]; /* UINT32_MAX: no rule names the field */
    char names[SHAPE_NAME_BYTES];  /* the names one after another */
};

struct hit {
    const struct vmatch *m;
    const char *fname;
    struct ts_value val; /* the event value that matched (borrowed) */
    bool set;
};

static inline char lc(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* ------------------------------------------------------------- scratch */

/* The parts of s sized by its set (freed, and NULL after). */
static void scratch_unsize(struct rule_scratch *s)
{
    free(s->fstamp);
    free(s->fslot);
    free(s->lstamp);
    free(s->loff);
    free(s->rstamp);
    free(s->pstamp);
    free(s->pmask);
    free(s->cand);
    free(s->mstamp);
    free(s->mval);
    free(s->groups);
    ac_memo_free(s->memo);
    free(s->shapes);
    s->fstamp = s->fslot = s->lstamp = s->loff = s->rstamp = s->pstamp = s->cand = NULL;
    s->mstamp = s->groups = NULL;
    s->pmask = s->mval = NULL;
    s->memo = NULL;
    s->shapes = NULL;
    if (s->rmemo) /* routes into the set's logsource index */
        free(s->rmemo->groups);
    free(s->rmemo);
    s->rmemo = NULL;
    s->rmemo_off = false;
}

static int scratch_size(struct rule_scratch *s, const struct rule_set *rs)
{
    s->rs = rs;
    s->nf = rs->nfnames;
    size_t nf = rs->nfnames ? rs->nfnames : 1, nr = rs->nrules ? rs->nrules : 1;
    size_t nm = rs->memo_total ? rs->memo_total : 1, ng = rs->ngroups ? rs->ngroups : 1;
    s->fstamp = calloc(nf, sizeof(uint32_t));
    s->fslot = calloc(nf, sizeof(uint32_t));
    s->lstamp = calloc(nf, sizeof(uint32_t));
    s->loff = calloc(nf, sizeof(uint32_t));
    s->rstamp = calloc(nr, sizeof(uint32_t));
    s->pstamp = calloc(nr, sizeof(uint32_t));
    s->pmask = calloc(nr, 1);
    s->cand = calloc(nr, sizeof(uint32_t));
    s->mstamp = calloc(nm, sizeof(uint32_t));
    s->mval = calloc(nm, 1);
    s->groups = calloc(ng, sizeof(uint32_t));
    if (!s->fstamp || !s->fslot || !s->lstamp || !s->loff || !s->rstamp || !s->pstamp ||
        !s->pmask || !s->cand || !s->mstamp || !s->mval || !s->groups)
        return TS_E_NOMEM;
    pcre2_set_match_limit(s->mctx, rs->re_match_limit);
    pcre2_set_depth_limit(s->mctx, rs->re_depth_limit);
    pcre2_set_heap_limit(s->mctx, rs->re_heap_limit_kib);
    return 0;
}

void rule_scratch_free(struct rule_scratch *s)
{
    if (!s)
        return;
    scratch_unsize(s);
    free(s->lbuf);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit);
    free(s);
}

int rule_scratch_create(struct rule_scratch **out, const struct rule_set *rs)
{
    *out = NULL;
    struct rule_scratch *s = calloc(1, sizeof(*s));
    if (!s)
        return TS_E_NOMEM;
    s->lbuf = malloc(LBUF_CAP);
    s->md = pcre2_match_data_create(1, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jit = pcre2_jit_stack_create(RE_JIT_STACK_START, RE_JIT_STACK_MAX, NULL);
    if (!s->lbuf || !s->md || !s->mctx || !s->jit || scratch_size(s, rs) != 0) {
        rule_scratch_free(s);
        return TS_E_NOMEM;
    }
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
    *out = s;
    return 0;
}

int rule_scratch_rebind(struct rule_scratch *s, const struct rule_set *rs)
{
    scratch_unsize(s);
    /* the rest as rule_scratch_create leaves it, the buffers kept */
    s->gen = 0;
    s->lused = 0;
    s->ncand = 0;
    s->ev = NULL;
    s->cur_field = 0;
    s->exact = s->memo_off = s->shapes_off = false;
    memset(&s->st, 0, sizeof(s->st));
    return scratch_size(s, rs);
}

void rule_scratch_stats(const struct rule_scratch *s, struct rule_match_stats *out)
{
    *out = s->st;
    ac_memo_stats(s->memo, &out->memo_hits, &out->memo_misses);
}

void rule_scratch_set_memo(struct rule_scratch *s, bool on)
{
    if (!on) {
        ac_memo_free(s->memo);
        s->memo = NULL;
    }
    s->memo_off = !on;
}

void rule_scratch_set_exact(struct rule_scratch *s, bool exact)
{
    s->exact = exact;
}

static void next_gen(struct rule_scratch *s)
{
    if (++s->gen == 0) {
        const struct rule_set *rs = s->rs;
        memset(s->fstamp, 0, (rs->nfnames ? rs->nfnames : 1) * sizeof(uint32_t));
        memset(s->lstamp, 0, (rs->nfnames ? rs->nfnames : 1) * sizeof(uint32_t));
        memset(s->rstamp, 0, (rs->nrules ? rs->nrules : 1) * sizeof(uint32_t));
        memset(s->pstamp, 0, (rs->nrules ? rs->nrules : 1) * sizeof(uint32_t));
        memset(s->mstamp, 0, (rs->memo_total ? rs->memo_total : 1) * sizeof(uint32_t));
        s->gen = 1;
    }
    s->lused = 0;
}

/* a[0..n) == b[0..n): 8 bytes at a time, the tail as the last 8 (or 4)
 * bytes overlapping what was compared, never a byte loop past 3 bytes */
static inline bool bytes_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (; n > 8; n -= 8, a += 8, b += 8) {
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t u, v, u2, v2;
        memcpy(&u, a, 4);
        memcpy(&v, b, 4);
        memcpy(&u2, a + n - 4, 4);
        memcpy(&v2, b + n - 4, 4);
        return u == v && u2 == v2;
    }
    while (n--)
        if (*a++ != *b++)
            return false;
    return true;
}

/* index_fields through the shape cache; false when the event does not fit
 * one (too many fields or too long names) or there is no cache. */
static bool index_shape(struct rule_scratch *s, const struct ts_event *ev)
{
    uint32_t n = ev->nfields;
    if (n == 0 || n > SHAPE_MAX_FIELDS || s->shapes_off)
        return false;
    if (!s->shapes && !(s->shapes = calloc(SHAPE_SLOTS, sizeof(*s->shapes)))) {
        s->shapes_off = true;
        return false;
    }
    const struct ts_field *f = ev->fields;
    uint32_t sig = n;
    for (uint32_t i = 0; i < n; i++)
        sig = sig * 31 + f[i].name_len;
    struct shape *sh = &s->shapes[(sig ^ sig >> 16) % SHAPE_SLOTS];
    bool same = sh->nfields == n && sh->sig == sig;
    for (uint32_t i = 0, off = 0; same && i < n; off += f[i].name_len, i++)
        same = sh->len[i] == f[i].name_len && bytes_eq(sh->names + off, f[i].name, f[i].name_len);
    if (!same) {
        size_t total = 0;
        for (uint32_t i = 0; i < n; i++)
            total += f[i].name_len;
        if (total > SHAPE_NAME_BYTES)
            return false;
        sh->nfields = 0;
        for (uint32_t i = 0, off = 0; i < n; off += f[i].name_len, i++) {
            sh->len[i] = f[i].name_len;
            sh->id[i] = rset_field_lookup(s->rs, f[i].name, f[i].name_len);
            if (f[i].name_len)
                memcpy(sh->names + off, f[i].name, f[i].name_len);
        }
        sh->nfields = n;
        sh->sig = sig;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = sh->id[i];
        if (id != UINT32_MAX && s->fstamp[id] != s->gen) {
            s->fstamp[id] = s->gen;
            s->fslot[id] = i;
        }
    }
    return true;
}

static void index_fields(struct rule_scratch *s, const struct ts_event *ev)
{
    const struct rule_set *rs = s->rs;
    s->ev = ev;
    if (!s->exact && index_shape(s, ev))
        return;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct ts_field *f = &ev->fields[i];
        uint32_t id = rset_field_lookup(rs, f->name, f->name_len);
        if (id != UINT32_MAX && s->fstamp[id] != s->gen) {
            s->fstamp[id] = s->gen;
            s->fslot[id] = i;
        }
    }
}

static const struct ts_value *getv(const struct rule_scratch *s, uint32_t fid)
{
    if (fid >= s->nf || s->fstamp[fid] != s->gen)
        return NULL;
    return &s->ev->fields[s->fslot[fid]].v;
}

/* --------------------------------------------------------------- views */

/* The string form of a scalar value: strings as they are, numbers in
 * decimal, booleans as true/false, addresses in their usual notation.
 * tmp must hold 64 bytes. Returns false for null and lists. */
static bool view(const struct ts_value *v, const char **p, size_t *n, char *tmp)
{
    int k;
    switch (v->type) {
    case TS_V_STR:
        *p = v->u.s ? v->u.s : "";
        *n = v->len;
        return true;
    case TS_V_INT:
        k = (int)ts_fmt_i64(tmp, v->u.i);
        break;
    case TS_V_FLOAT:
        k = snprintf(tmp, 64, "%.15g", v->u.f);
        break;
    case TS_V_BOOL:
        k = snprintf(tmp, 64, "%s", v->u.b ? "true" : "false");
        break;
    case TS_V_IP:
        ts_ip_format(&v->u.ip, tmp, 64);
        k = (int)strlen(tmp);
        break;
    default:
        return false;
    }
    *p = tmp;
    *n = k < 0 ? 0 : (size_t)k;
    return true;
}

/* Lowercased copy of p (cached per field id when fid is known). NULL when
 * the scratch buffer is full: the caller then folds while comparing. */
static const char *fold(struct rule_scratch *s, uint32_t fid, const char *p, size_t n)
{
    if (fid < s->nf && s->lstamp[fid] == s->gen)
        return s->lbuf + s->loff[fid];
    if (n > LBUF_CAP - s->lused)
        return NULL;
    char *d = s->lbuf + s->lused;
    size_t i = 0;
#if defined(__SSE2__)
    /* 16 bytes at a time: 'A'..'Z' moved to the bottom of the signed range
     * and picked out with one compare (a byte loop was ~1k instructions a
     * Sysmon event) */
    const __m128i bias = _mm_set1_epi8((char)(128 - 'A')), top = _mm_set1_epi8((char)(-128 + 26));
    const __m128i up = _mm_set1_epi8(32);
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i m = _mm_cmplt_epi8(_mm_add_epi8(x, bias), top);
        _mm_storeu_si128((__m128i *)(void *)(d + i), _mm_add_epi8(x, _mm_and_si128(m, up)));
    }
#endif
    for (; i < n; i++)
        d[i] = lc(p[i]);
    if (fid < s->nf) {
        s->lstamp[fid] = s->gen;
        s->loff[fid] = (uint32_t)s->lused;
    }
    s->lused += n;
    return d;
}

/* ------------------------------------------------------ string matching */

bool glob_match(const char *lit, const uint8_t *w, size_t m, const char *t, size_t n)
{
    size_t i = 0, p = 0, star = SIZE_MAX, mark = 0;
    while (i < n) {
        if (p < m && w[p] != '*' && (w[p] == '?' || lit[p] == t[i])) {
            i++;
            p++;
        } else if (p < m && w[p] == '*') {
            star = p++;
            mark = i;
        } else if (star != SIZE_MAX) {
            p = star + 1;
            i = ++mark;
        } else {
            return false;
        }
    }
    while (p < m && w[p] == '*')
        p++;
    return p == m;
}

static bool glob_match_fold(const char *lit, const uint8_t *w, size_t m, const char *t, size_t n)
{
    size_t i = 0, p = 0, star = SIZE_MAX, mark = 0;
    while (i < n) {
        if (p < m && w[p] != '*' && (w[p] == '?' || lit[p] == lc(t[i]))) {
            i++;
            p++;
        } else if (p < m && w[p] == '*') {
            star = p++;
            mark = i;
        } else if (star != SIZE_MAX) {
            p = star + 1;
            i = ++mark;
        } else {
            return false;
        }
    }
    while (p < m && w[p] == '*')
        p++;
    return p == m;
}

static bool eq_fold(const char *a, const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != lc(t[i]))
            return false;
    return true;
}

static bool find_fold(const char *a, size_t m, const char *t, size_t n)
{
    if (m == 0)
        return true;
    for (size_t i = 0; i + m <= n; i++)
        if (lc(t[i]) == a[0] && eq_fold(a, t + i, m))
            return true;
    return false;
}

/* t is lowercased already unless folding. */
static bool str_op(uint8_t op, const char *lit, uint32_t len, const uint8_t *w, const char *t,
                   size_t n, bool folding)
{
    switch (op) {
    case VOP_EQ:
        return n == len && (folding ? eq_fold(lit, t, n) : memcmp(lit, t, n) == 0);
    case VOP_PREFIX:
        return n >= len && (folding ? eq_fold(lit, t, len) : memcmp(lit, t, len) == 0);
    case VOP_SUFFIX:
        return n >= len &&
               (folding ? eq_fold(lit, t + n - len, len) : memcmp(lit, t + n - len, len) == 0);
    case VOP_CONTAINS:
        if (len == 0)
            return true;
        return folding ? find_fold(lit, len, t, n) : memmem(t, n, lit, len) != NULL;
    case VOP_ANY:
        return true;
    case VOP_GLOB:
        return folding ? glob_match_fold(lit, w, len, t, n) : glob_match(lit, w, len, t, n);
    default:
        return false;
    }
}

/* ------------------------------------------------------------- numbers */

static bool num_of(const struct ts_value *v, double *out)
{
    char tmp[64];
    switch (v->type) {
    case TS_V_INT:
        *out = (double)v->u.i;
        return true;
    case TS_V_FLOAT:
        *out = v->u.f;
        return true;
    case TS_V_STR: {
        if (v->len == 0 || v->len >= sizeof(tmp))
            return false;
        memcpy(tmp, v->u.s, v->len);
        tmp[v->len] = '\0';
        char *end;
        double d;
        if (v->len > 2 && tmp[0] == '0' && (tmp[1] == 'x' || tmp[1] == 'X'))
            d = (double)strtoull(tmp, &end, 16);
        else
            d = strtod(tmp, &end);
        while (*end == ' ')
            end++;
        if (*end || end == tmp || !isfinite(d))
            return false;
        *out = d;
        return true;
    }
    default:
        return false;
    }
}

static bool date_part(const struct ts_value *v, uint8_t part, double *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (v->type == TS_V_INT) {
        time_t t = (time_t)(v->u.i > 100000000000LL ? v->u.i / 1000 : v->u.i);
        if (!gmtime_r(&t, &tm))
            return false;
    } else if (v->type == TS_V_STR) {
        const char *p = v->u.s;
        size_t n = v->len;
        int y, mo, d, h = 0, mi = 0;
        char buf[40];
        if (n < 10 || n >= sizeof(buf))
            n = n >= sizeof(buf) ? sizeof(buf) - 1 : n;
        memcpy(buf, p, n);
        buf[n] = '\0';
        int got = sscanf(buf, "%4d-%2d-%2d%*1[T ]%2d:%2d", &y, &mo, &d, &h, &mi);
        if (got < 3)
            return false;
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        time_t t = timegm(&tm);
        if (t == (time_t)-1 || !gmtime_r(&t, &tm))
            return false;
    } else {
        return false;
    }
    switch (part) {
    case TP_MINUTE: *out = tm.tm_min; break;
    case TP_HOUR: *out = tm.tm_hour; break;
    case TP_DAY: *out = tm.tm_mday; break;
    case TP_MONTH: *out = tm.tm_mon + 1; break;
    case TP_YEAR: *out = tm.tm_year + 1900; break;
    case TP_WEEK: {
        char w[8];
        strftime(w, sizeof(w), "%V", &tm);
        *out = atoi(w);
        break;
    }
    default: return false;
    }
    return true;
}

/* ----------------------------------------------------------- one value */

static bool has_byte(const char *p, size_t n, uint8_t b)
{
    if (memchr(p, b, n))
        return true;
    uint8_t o = b >= 'a' && b <= 'z' ? (uint8_t)(b - 32) : b >= 'A' && b <= 'Z' ? (uint8_t)(b + 32) : b;
    return o != b && memchr(p, o, n) != NULL;
}

/* Search p[0..n) with x. A value longer than x->window is searched only in
 * its first window bytes, and only when a match there is a match of the
 * value (x->prefix_ok); a value without a byte every match needs is no match
 * without a search. A search cut short - by a PCRE2 limit (match, depth,
 * heap, JIT stack) or by the window - counts as not matching, and is
 * counted. */
static bool re_search(struct rule_scratch *s, const struct rule_re *x, const char *p, size_t n)
{
    bool cut = n > x->window;
    if (cut && x->need && !has_byte(p, n, x->need))
        return false;
    int rc = PCRE2_ERROR_NOMATCH;
    if (!cut || x->prefix_ok)
        rc = pcre2_match(x->code, (PCRE2_SPTR)p, cut ? x->window : n, 0, 0, s->md, s->mctx);
    if (rc >= 0)
        return true;
    if (cut || rc != PCRE2_ERROR_NOMATCH) {
        s->st.re_limit_hits++;
        s->st.re_too_long += cut;
    }
    return false;
}

static bool vm_scalar(struct rule_scratch *s, const struct vmatch *m, const struct ts_value *v,
                      uint32_t fid)
{
    char tmp[64];
    const char *p;
    size_t n;
    switch (m->op) {
    case VOP_RE:
        if (!view(v, &p, &n, tmp))
            return false;
        return re_search(s, m->re, p, n);
    case VOP_CIDR: {
        struct ts_ip ip;
        if (v->type == TS_V_IP)
            ip = v->u.ip;
        else if (v->type != TS_V_STR || ts_ip_parse(v->u.s, v->len, &ip) != 0)
            return false;
        if (ip.family != m->net.family)
            return false;
        unsigned full = m->prefix / 8, rest = m->prefix % 8;
        if (memcmp(ip.addr, m->net.addr, full) != 0)
            return false;
        return !rest || (ip.addr[full] & (uint8_t)(0xFF00u >> rest)) == m->net.addr[full];
    }
    case VOP_CMP: {
        double d;
        if (m->timepart ? !date_part(v, m->timepart, &d) : !num_of(v, &d))
            return false;
        switch (m->cmp) {
        case CMP_LT: return d < m->num;
        case CMP_LTE: return d <= m->num;
        case CMP_GT: return d > m->num;
        case CMP_GTE: return d >= m->num;
        default: return d == m->num;
        }
    }
    case VOP_REF: {
        const struct ts_value *o = getv(s, m->ref);
        char tmp2[64];
        const char *q;
        size_t qn;
        if (!o || !view(v, &p, &n, tmp) || !view(o, &q, &qn, tmp2))
            return false;
        if (m->cased) {
            switch (m->refmode) {
            case VOP_EQ: return n == qn && memcmp(p, q, n) == 0;
            case VOP_PREFIX: return n >= qn && memcmp(p, q, qn) == 0;
            case VOP_SUFFIX: return n >= qn && memcmp(p + n - qn, q, qn) == 0;
            default: return memmem(p, n, q, qn) != NULL;
            }
        }
        const char *lq = fold(s, UINT32_MAX, q, qn);
        if (!lq)
            return false;
        return str_op(m->refmode, lq, (uint32_t)qn, NULL, p, n, true);
    }
    default:
        break;
    }
    if (m->has_num && (v->type == TS_V_INT || v->type == TS_V_FLOAT)) {
        double d = v->type == TS_V_INT ? (double)v->u.i : v->u.f;
        return d == m->num;
    }
    if (m->op == VOP_ANY)
        return v->type != TS_V_NULL && v->type != TS_V_LIST;
    if (!view(v, &p, &n, tmp))
        return false;
    if (m->cased)
        return str_op(m->op, m->lit, m->len, m->wmask, p, n, false);
    /* cheap length checks before folding */
    if ((m->op == VOP_EQ && n != m->len) || (m->op != VOP_GLOB && n < m->len))
        return false;
    const char *lp = v->type == TS_V_STR ? fold(s, fid, p, n) : NULL;
    if (!lp && v->type != TS_V_STR) {
        for (size_t i = 0; i < n; i++)
            tmp[i] = lc(tmp[i]);
        lp = tmp;
    }
    if (lp)
        return str_op(m->op, m->lit, m->len, m->wmask, lp, n, false);
    return str_op(m->op, m->lit, m->len, m->wmask, p, n, true);
}

static bool vm_value(struct rule_scratch *s, const struct vmatch *m, const struct ts_value *v,
                     uint32_t fid, const struct ts_value **which)
{
    if (v->type != TS_V_LIST) {
        *which = v;
        return vm_scalar(s, m, v, fid);
    }
    for (uint32_t i = 0; i < v->len; i++)
        if (v->u.items[i].type != TS_V_LIST && vm_scalar(s, m, &v->u.items[i], UINT32_MAX)) {
            *which = &v->u.items[i];
            return true;
        }
    return false;
}

/* vm_scalar of a string against a string operator, the folded text made
 * once for all the values of a field condition (*lp, *folded) instead of
 * per value: the same steps, without the calls. */
static inline bool str_value(struct rule_scratch *s, const struct vmatch *m, const char *p,
                             size_t n, uint32_t fid, const char **lp, bool *folded)
{
    if (m->cased)
        return str_op(m->op, m->lit, m->len, m->wmask, p, n, false);
    if ((m->op == VOP_EQ && n != m->len) || (m->op != VOP_GLOB && n < m->len))
        return false;
    if (!*folded) {
        *lp = fold(s, fid, p, n);
        *folded = true;
    }
    return *lp ? str_op(m->op, m->lit, m->len, m->wmask, *lp, n, false)
               : str_op(m->op, m->lit, m->len, m->wmask, p, n, true);
}

static inline bool is_str_op(uint8_t op)
{
    return op == VOP_EQ || op == VOP_PREFIX || op == VOP_SUFFIX || op == VOP_CONTAINS ||
           op == VOP_GLOB;
}

/* Values of f against one event value (any or all). */
static bool values_match(struct rule_scratch *s, const struct fcond *f, const struct ts_value *v,
                         uint32_t fid, struct hit *h)
{
    const struct ts_value *which = NULL;
    if (v->type == TS_V_STR && !s->exact) { /* the common case: a string against strings */
        const char *p = v->u.s ? v->u.s : "", *lp = NULL;
        size_t n = v->len;
        bool folded = false;
        for (uint32_t i = 0; i < f->nv; i++) {
            const struct vmatch *m = &f->v[i];
            bool r = is_str_op(m->op) ? str_value(s, m, p, n, fid, &lp, &folded)
                                      : vm_scalar(s, m, v, fid);
            if (r == f->all)
                continue; /* any: not this one; all: this one holds */
            if (r && h) {
                h->m = m;
                h->val = *v;
                h->set = true;
            }
            return r;
        }
        if (f->all && h && f->nv) {
            h->m = &f->v[f->nv - 1];
            h->val = *v;
            h->set = true;
        }
        return f->all;
    }
    if (f->all) {
        for (uint32_t i = 0; i < f->nv; i++)
            if (!vm_value(s, &f->v[i], v, fid, &which))
                return false;
        if (h) {
            h->m = &f->v[f->nv - 1];
            h->val = *which;
            h->set = true;
        }
        return true;
    }
    for (uint32_t i = 0; i < f->nv; i++)
        if (vm_value(s, &f->v[i], v, fid, &which)) {
            if (h) {
                h->m = &f->v[i];
                h->val = *which;
                h->set = true;
            }
            return true;
        }
    return false;
}

/* Run the automaton over the keyword sources: message, Message, raw fields,
 * else the raw bytes of the event (as keywords_match reads them). */
static void scan_keywords(struct rule_scratch *s, const struct ac *ac);

static bool keywords_match(struct rule_scratch *s, const struct fcond *f, struct hit *h)
{
    const struct rule_set *rs = s->rs;
    bool any_field = false;
    /* all: every value somewhere in the sources; any: one value in one source */
    for (uint32_t i = 0; i < f->nv; i++) {
        bool found = false;
        for (int k = 0; k < 3 && !found; k++) {
            const struct ts_value *v = getv(s, rs->kw_fields[k]);
            const struct ts_value *which;
            if (!v)
                continue;
            any_field = true;
            if (vm_value(s, &f->v[i], v, rs->kw_fields[k], &which)) {
                found = true;
                if (h) {
                    h->m = &f->v[i];
                    h->val = *which;
                    h->fname = s->rs->fnames[rs->kw_fields[k]];
                    h->set = true;
                }
            }
        }
        if (!any_field && s->ev->raw) {
            struct ts_value raw = ts_v_str(s->ev->raw, s->ev->raw_len);
            const struct ts_value *which;
            if (vm_value(s, &f->v[i], &raw, UINT32_MAX, &which)) {
                found = true;
                if (h) {
                    h->m = &f->v[i];
                    h->val = raw;
                    h->fname = "@raw";
                    h->set = true;
                }
            }
        }
        if (found && !f->all)
            return true;
        if (!found && f->all)
            return false;
    }
    return f->all;
}

static bool fc_eval(struct rule_scratch *s, const struct fcond *f, struct hit *h)
{
    if (f->field == FIELD_KEYWORDS) {
        bool r = keywords_match(s, f, h);
        return f->neg ? !r : r;
    }
    const struct ts_value *v = getv(s, f->field);
    if (h)
        h->fname = s->rs->fnames[f->field];
    switch (f->kind) {
    case FC_EXISTS:
        return (v != NULL) == (f->want != 0);
    case FC_NULL: {
        bool isnull = !v || v->type == TS_V_NULL;
        if (h && v) {
            h->val = *v;
            h->set = true;
        }
        return f->neg ? !isnull : isnull;
    }
    default:
        break;
    }
    if (!v)
        return f->neg;
    bool r = values_match(s, f, v, f->field, h);
    if (h && f->neg && !r) {
        h->val = *v;
        h->m = NULL;
        h->set = true;
    }
    return f->neg ? !r : r;
}

static bool conj_eval(struct rule_scratch *s, const struct conj *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (!fc_eval(s, &c->c[i], NULL))
            return false;
    return true;
}

static bool sel_eval(struct rule_scratch *s, const struct det *d, uint32_t i)
{
    uint32_t k = d->memo_base + i;
    if (s->mstamp[k] == s->gen)
        return s->mval[k];
    bool r = false;
    const struct sel *sel = &d->sels[i];
    for (uint32_t a = 0; a < sel->nalts && !r; a++)
        r = conj_eval(s, &sel->alts[a]);
    s->mstamp[k] = s->gen;
    s->mval[k] = r;
    return r;
}

static bool node_eval(struct rule_scratch *s, const struct det *d, const struct cnode *n)
{
    switch (n->kind) {
    case CN_SEL:
        return sel_eval(s, d, n->sel);
    case CN_NOT:
        return !node_eval(s, d, n->kids[0]);
    case CN_AND:
        for (uint32_t i = 0; i < n->nkids; i++)
            if (!node_eval(s, d, n->kids[i]))
                return false;
        return true;
    case CN_OR:
        for (uint32_t i = 0; i < n->nkids; i++)
            if (node_eval(s, d, n->kids[i]))
                return true;
        return false;
    case CN_OF: {
        uint32_t need = n->need ? n->need : n->nids, got = 0;
        for (uint32_t i = 0; i < n->nids; i++) {
            if (sel_eval(s, d, n->ids[i])) {
                if (++got >= need)
                    return true;
            } else if (n->need == 0) {
                return false;
            }
        }
        return got >= need;
    }
    default:
        return false;
    }
}

static bool rule_eval(struct rule_scratch *s, const struct rule *r)
{
    if (!node_eval(s, &r->det, r->det.cond))
        return false;
    for (uint32_t i = 0; i < r->nfilters; i++)
        if (node_eval(s, r->filters[i], r->filters[i]->cond))
            return false;
    return true;
}

/* ------------------------------------------------------------- routing */

static bool ls_eq(const char *g, const char *e)
{
    return !g || (e && strcasecmp(g, e) == 0);
}

/* Sigma's umbrella categories: a rule for registry_event applies to the
 * events of each specific registry category (Sysmon EIDs 12, 13, 14), as in
 * pySigma's Sysmon pipeline. */
static const char *cat_parent(const char *c)
{
    static const char *const reg[] = {"registry_add", "registry_delete", "registry_set",
                                      "registry_rename"};
    if (!c)
        return NULL;
    for (size_t i = 0; i < TS_ARRAY_LEN(reg); i++)
        if (strcasecmp(c, reg[i]) == 0)
            return "registry_event";
    return NULL;
}

static bool group_fits(const struct lgroup *g, const struct ts_logsource *ls, const char *parent)
{
    return ls_eq(g->product, ls->product) &&
           (ls_eq(g->category, ls->category) || (parent && ls_eq(g->category, parent))) &&
           ls_eq(g->service, ls->service);
}

static int route_cmp(const char *key, char kind, const char *val)
{
    if (key[0] != kind)
        return (unsigned char)key[0] < (unsigned char)kind ? -1 : 1;
    const char *k = key + 2;
    for (;; k++, val++) {
        unsigned char a = (unsigned char)*k, b = (unsigned char)lc(*val);
        if (a != b)
            return a < b ? -1 : 1;
        if (!a)
            return 0;
    }
}

static uint32_t route(const struct rule_set *rs, const struct ts_event *ev, uint32_t *out);

/* route() through the memo (s->groups filled either way). */
static uint32_t route_memo(struct rule_scratch *s, const struct ts_event *ev)
{
    const struct rule_set *rs = s->rs;
    const struct ts_logsource *ls = &ev->logsource;
    const char *v[3] = {ls->category, ls->service, ls->product};
    struct route_memo *m = s->rmemo;
    if (!m && !s->rmemo_off) {
        m = calloc(1, sizeof(*m));
        if (m && !(m->groups = calloc(rs->ngroups ? rs->ngroups : 1, sizeof(uint32_t)))) {
            free(m);
            m = NULL;
        }
        s->rmemo = m;
        s->rmemo_off = !m;
    }
    if (!m || s->exact)
        return route(rs, ev, s->groups);
    bool same = m->valid;
    for (int k = 0; k < 3 && same; k++)
        same = v[k] ? m->has[k] && strcmp(m->v[k], v[k]) == 0 : !m->has[k];
    if (same) {
        if (m->n)
            memcpy(s->groups, m->groups, m->n * sizeof(uint32_t));
        return m->n;
    }
    uint32_t n = route(rs, ev, s->groups);
    m->valid = true;
    for (int k = 0; k < 3 && m->valid; k++) {
        size_t len = v[k] ? strlen(v[k]) : 0;
        m->has[k] = v[k] != NULL;
        if (len >= ROUTE_MEMO_STR)
            m->valid = false; /* not cached: routed every time */
        else if (v[k])
            memcpy(m->v[k], v[k], len + 1);
    }
    m->n = n;
    if (n)
        memcpy(m->groups, s->groups, n * sizeof(uint32_t));
    return n;
}

static uint32_t route(const struct rule_set *rs, const struct ts_event *ev, uint32_t *out)
{
    uint32_t n = 0;
    const struct ts_logsource *ls = &ev->logsource;
    const char *parent = cat_parent(ls->category);
    for (uint32_t i = 0; i < rs->nany; i++)
        out[n++] = rs->any_groups[i];
    const char kinds[4] = {'c', 'c', 's', 'p'};
    const char *vals[4] = {ls->category, parent, ls->service, ls->product};
    for (int k = 0; k < 4; k++) {
        if (!vals[k] || !rs->nroutes)
            continue;
        size_t lo = 0, hi = rs->nroutes;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = route_cmp(rs->routes[mid].key, kinds[k], vals[k]);
            if (c == 0) {
                const struct route_ent *re = &rs->routes[mid];
                for (uint32_t g = 0; g < re->ngroups; g++)
                    if (group_fits(&rs->groups[re->groups[g]], ls, parent))
                        out[n++] = re->groups[g];
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return n;
}

/* ------------------------------------------------------------ matching */

static void on_hit(void *ctx, const struct ac_trigger *t, uint32_t n)
{
    struct rule_scratch *s = ctx;
    const uint8_t *need = s->rs->pf_need;
    for (uint32_t i = 0; i < n; i++) {
        /* every trigger of a field's automaton is for that field; the rule
         * is a candidate once a literal of each of its slots occurred */
        uint32_t r = t[i].rule;
        if (s->rstamp[r] == s->gen)
            continue;
        if (s->pstamp[r] != s->gen) {
            s->pstamp[r] = s->gen;
            s->pmask[r] = 0;
        }
        s->pmask[r] |= (uint8_t)(1u << t[i].slot);
        if (s->pmask[r] != need[r])
            continue;
        s->rstamp[r] = s->gen;
        s->cand[s->ncand++] = r;
    }
}

static void scan_value(struct rule_scratch *s, const struct ac *ac, const struct ts_value *v)
{
    char tmp[64];
    const char *p;
    size_t n;
    if (v->type == TS_V_LIST) {
        for (uint32_t i = 0; i < v->len; i++)
            if (v->u.items[i].type != TS_V_LIST && view(&v->u.items[i], &p, &n, tmp))
                ac_scan_memo(s->memo, ac, p, n, on_hit, s);
        return;
    }
    if (view(v, &p, &n, tmp))
        ac_scan_memo(s->memo, ac, p, n, on_hit, s);
}

static void scan_keywords(struct rule_scratch *s, const struct ac *ac)
{
    bool any = false;
    s->cur_field = FIELD_KEYWORDS;
    for (int k = 0; k < 3; k++) {
        const struct ts_value *v = getv(s, s->rs->kw_fields[k]);
        if (v) {
            any = true;
            scan_value(s, ac, v);
        }
    }
    if (!any && s->ev->raw)
        ac_scan(ac, s->ev->raw, s->ev->raw_len, on_hit, s);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void add_cand(struct rule_scratch *s, uint32_t r)
{
    if (s->rstamp[r] != s->gen) {
        s->rstamp[r] = s->gen;
        s->cand[s->ncand++] = r;
    }
}

int rule_match(const struct rule_set *rs, struct rule_scratch *s, const struct ts_event *ev,
               rule_match_fn fn, void *ctx)
{
    if (!rs || !s || s->rs != rs || !ev)
        return TS_E_INVAL;
    next_gen(s);
    s->st.events++;
    s->ncand = 0;
    uint32_t ng = route_memo(s, ev);
    if (ng == 0)
        return 0;
    index_fields(s, ev);
    if (!s->memo && !s->memo_off && ac_memo_create(&s->memo, RULE_MEMO_SLOTS, RULE_MEMO_POOL) != 0)
        s->memo_off = true;
    if (s->exact) {
        for (uint32_t gi = 0; gi < ng; gi++)
            for (uint32_t r = 0; r < rs->nrules; r++)
                if (rs->rules[r]->group == s->groups[gi])
                    add_cand(s, r);
        ng = 0;
    }
    for (uint32_t gi = 0; gi < ng; gi++) {
        const struct lgroup *g = &rs->groups[s->groups[gi]];
        for (uint32_t i = 0; i < g->nalways; i++)
            add_cand(s, g->always[i]);
        /* scalar values in batches of up to 16, scanned interleaved */
        const struct ac *A[16];
        const char *T[16];
        size_t N[16], k = 0;
        char tmp[16][64];
        for (uint32_t i = 0; i < g->nscan; i++) {
            const struct ts_value *v = getv(s, g->scan_fields[i]);
            if (!v)
                continue;
            if (v->type == TS_V_LIST) {
                scan_value(s, g->acs[i], v);
                continue;
            }
            if (!view(v, &T[k], &N[k], tmp[k]))
                continue;
            A[k++] = g->acs[i];
            if (k == 16) {
                ac_scan_many_memo(s->memo, A, T, N, k, on_hit, s);
                k = 0;
            }
        }
        if (k)
            ac_scan_many_memo(s->memo, A, T, N, k, on_hit, s);
        if (g->kw_ac)
            scan_keywords(s, g->kw_ac);
    }
    if (s->ncand > 1) {
        if (s->ncand < 16) {
            for (size_t i = 1; i < s->ncand; i++) {
                uint32_t x = s->cand[i];
                size_t j = i;
                for (; j > 0 && s->cand[j - 1] > x; j--)
                    s->cand[j] = s->cand[j - 1];
                s->cand[j] = x;
            }
        } else {
            qsort(s->cand, s->ncand, sizeof(uint32_t), cmp_u32);
        }
    }
    s->st.candidates += s->ncand;
    for (size_t i = 0; i < s->ncand; i++) {
        uint32_t r = s->cand[i];
        if (!rule_eval(s, rs->rules[r]))
            continue;
        s->st.matches++;
        int rc = fn(ctx, ev, r);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------- explain */

static int explain_det(struct rule_scratch *s, const struct det *d, struct ts_buf *out)
{
    int rc = ts_buf_putc(out, '[');
    for (uint32_t i = 0; i < d->nsels && !rc; i++) {
        bool m = sel_eval(s, d, i);
        rc = ts_buf_printf(out, "%s{\"name\":", i ? "," : "");
        if (!rc)
            rc = ts_buf_json_str(out, d->sels[i].name, strlen(d->sels[i].name));
        if (!rc)
            rc = ts_buf_printf(out, ",\"matched\":%s", m ? "true" : "false");
        if (!rc && m) {
            rc = ts_buf_puts(out, ",\"fields\":[");
            const struct sel *sel = &d->sels[i];
            for (uint32_t a = 0; a < sel->nalts && !rc; a++) {
                if (!conj_eval(s, &sel->alts[a]))
                    continue;
                for (uint32_t k = 0; k < sel->alts[a].n && !rc; k++) {
                    const struct fcond *f = &sel->alts[a].c[k];
                    struct hit h = {0};
                    (void)fc_eval(s, f, &h);
                    rc = ts_buf_printf(out, "%s{\"key\":", k ? "," : "");
                    if (!rc)
                        rc = ts_buf_json_str(out, f->key, strlen(f->key));
                    if (!rc && h.fname) {
                        rc = ts_buf_puts(out, ",\"field\":");
                        if (!rc)
                            rc = ts_buf_json_str(out, h.fname, strlen(h.fname));
                    }
                    if (!rc && h.set) {
                        rc = ts_buf_puts(out, ",\"value\":");
                        if (!rc)
                            rc = ts_buf_json_value(out, &h.val);
                    }
                    if (!rc && h.m && h.m->text) {
                        rc = ts_buf_puts(out, ",\"pattern\":");
                        if (!rc)
                            rc = ts_buf_json_str(out, h.m->text, strlen(h.m->text));
                    }
                    if (!rc)
                        rc = ts_buf_putc(out, '}');
                }
                break; /* the first alternative that matched */
            }
            if (!rc)
                rc = ts_buf_putc(out, ']');
        }
        if (!rc)
            rc = ts_buf_putc(out, '}');
    }
    if (!rc)
        rc = ts_buf_putc(out, ']');
    return rc;
}

int rule_explain(const struct rule_set *rs, struct rule_scratch *s, size_t idx,
                 const struct ts_event *ev, struct ts_buf *out)
{
    if (!rs || !s || s->rs != rs || idx >= rs->nrules)
        return TS_E_INVAL;
    const struct rule *r = rs->rules[idx];
    next_gen(s);
    index_fields(s, ev);
    bool m = rule_eval(s, r);
    int rc = ts_buf_puts(out, "{\"rule\":{\"id\":");
    const char *id = r->info.id ? r->info.id : "";
    const char *title = r->info.title ? r->info.title : "";
    if (!rc)
        rc = ts_buf_json_str(out, id, strlen(id));
    if (!rc)
        rc = ts_buf_puts(out, ",\"title\":");
    if (!rc)
        rc = ts_buf_json_str(out, title, strlen(title));
    if (!rc && r->info.level) {
        rc = ts_buf_puts(out, ",\"level\":");
        if (!rc)
            rc = ts_buf_json_str(out, r->info.level, strlen(r->info.level));
    }
    if (!rc)
        rc = ts_buf_printf(out, "},\"matched\":%s,\"selections\":", m ? "true" : "false");
    if (!rc)
        rc = explain_det(s, &r->det, out);
    if (!rc && r->nfilters) {
        rc = ts_buf_puts(out, ",\"filters\":[");
        for (uint32_t i = 0; i < r->nfilters && !rc; i++) {
            bool fm = node_eval(s, r->filters[i], r->filters[i]->cond);
            rc = ts_buf_printf(out, "%s{\"excluded\":%s,\"selections\":", i ? "," : "",
                               fm ? "true" : "false");
            if (!rc)
                rc = explain_det(s, r->filters[i], out);
            if (!rc)
                rc = ts_buf_putc(out, '}');
        }
        if (!rc)
            rc = ts_buf_putc(out, ']');
    }
    if (!rc)
        rc = ts_buf_putc(out, '}');
    return rc;
}

/* ---------------------------------------------- why a rule did not match
 * Only `rules test --explain`, `tocsin logtest` and the API call this: it
 * evaluates one rule again, apart from rule_match (which it does not slow
 * down), and finds the first reason the rule fails on this event. */

/* A selection or filter that decides the outcome: sel (index) and whether
 * it matched (true: a NOT or a filter made it count against). */
struct blame {
    const struct det *d;
    uint32_t sel;
    bool matched;
    bool found;
};

/* Find why node n evaluates to `want` being false. */
static void blame_node(struct rule_scratch *s, const struct det *d, const struct cnode *n,
                       bool want, struct blame *b)
{
    if (b->found)
        return;
    switch (n->kind) {
    case CN_SEL:
        b->d = d;
        b->sel = n->sel;
        b->matched = sel_eval(s, d, n->sel);
        b->found = true;
        return;
    case CN_NOT:
        blame_node(s, d, n->kids[0], !want, b);
        return;
    case CN_AND:
    case CN_OR:
        /* the first kid whose value is not the one wanted: an AND that
         * fails fails there, an OR that fails fails on every kid (the first
         * is named), and the converse under a NOT */
        for (uint32_t i = 0; i < n->nkids; i++)
            if (node_eval(s, d, n->kids[i]) != want) {
                blame_node(s, d, n->kids[i], want, b);
                return;
            }
        return;
    case CN_OF:
        for (uint32_t i = 0; i < n->nids; i++)
            if (sel_eval(s, d, n->ids[i]) != want) {
                b->d = d;
                b->sel = n->ids[i];
                b->matched = !want;
                b->found = true;
                return;
            }
        return;
    default:
        return;
    }
}

static int put_kv(struct ts_buf *out, const char *k, const char *v)
{
    int rc = ts_buf_printf(out, "\"%s\":", k);
    return rc ? rc : ts_buf_json_str(out, v ? v : "", v ? strlen(v) : 0);
}

static int put_logsource(struct ts_buf *out, const char *p, const char *c, const char *sv)
{
    int rc = ts_buf_putc(out, '{');
    bool first = true;
    const char *k[3] = {"product", "category", "service"}, *v[3] = {p, c, sv};
    for (int i = 0; i < 3 && !rc; i++) {
        if (!v[i])
            continue;
        if (!first)
            rc = ts_buf_putc(out, ',');
        first = false;
        rc = rc ? rc : put_kv(out, k[i], v[i]);
    }
    return rc ? rc : ts_buf_putc(out, '}');
}

/* The text of a value for a sentence (cut at 80 bytes). */
static int put_value_text(struct ts_buf *out, const struct ts_value *v)
{
    char tmp[64];
    const char *p;
    size_t n;
    if (!view(v, &p, &n, tmp))
        return ts_buf_puts(out, v->type == TS_V_LIST ? "a list" : "null");
    bool q = v->type == TS_V_STR; /* numbers, booleans, addresses bare */
    int rc = q ? ts_buf_putc(out, '"') : 0;
    rc = rc ? rc : ts_buf_append(out, p, n > 80 ? 80 : n);
    rc = rc ? rc : ts_buf_puts(out, n > 80 ? "..." : "");
    return rc ? rc : q ? ts_buf_putc(out, '"') : 0;
}

/* The failing field condition of selection sel: of its alternatives, the
 * one that got furthest; "failed" JSON member and a sentence in why. */
static int explain_failed_sel(struct rule_scratch *s, const struct det *d, uint32_t sel_i,
                              struct ts_buf *out, struct ts_buf *why)
{
    const struct sel *sel = &d->sels[sel_i];
    const struct fcond *bad = NULL;
    uint32_t best = 0;
    for (uint32_t a = 0; a < sel->nalts; a++) {
        const struct conj *c = &sel->alts[a];
        uint32_t k = 0;
        while (k < c->n && fc_eval(s, &c->c[k], NULL))
            k++;
        if (k < c->n && (!bad || k > best)) {
            bad = &c->c[k];
            best = k;
        }
    }
    int rc = ts_buf_printf(why, "selection \"%s\" failed: ", sel->name);
    if (!bad)
        return rc ? rc : ts_buf_puts(why, "no condition");
    rc = rc ? rc : ts_buf_puts(out, ",\"failed\":{");
    rc = rc ? rc : put_kv(out, "key", bad->key);
    const struct ts_value *v = bad->field == FIELD_KEYWORDS ? NULL : getv(s, bad->field);
    const char *fname = bad->field == FIELD_KEYWORDS ? NULL : s->rs->fnames[bad->field];
    if (!rc && fname) {
        rc = ts_buf_putc(out, ',');
        rc = rc ? rc : put_kv(out, "field", fname);
    }
    if (!rc && v) {
        rc = ts_buf_puts(out, ",\"value\":");
        rc = rc ? rc : ts_buf_json_value(out, v);
    } else if (!rc && fname) {
        rc = ts_buf_puts(out, ",\"absent\":true");
    }
    if (!rc && bad->nv) {
        rc = ts_buf_puts(out, ",\"expected\":[");
        for (uint32_t i = 0; i < bad->nv && i < 8 && !rc; i++) {
            const char *t = bad->v[i].text ? bad->v[i].text : bad->v[i].lit;
            if (i)
                rc = ts_buf_putc(out, ',');
            rc = rc ? rc : ts_buf_json_str(out, t ? t : "", t ? strlen(t) : 0);
        }
        rc = rc ? rc : ts_buf_putc(out, ']');
    }
    rc = rc ? rc : ts_buf_putc(out, '}');
    /* the sentence */
    if (rc)
        return rc;
    if (bad->field == FIELD_KEYWORDS) {
        rc = ts_buf_puts(why, bad->neg ? "a keyword it excludes occurs" : "no keyword of it occurs");
        return rc ? rc : ts_buf_puts(why, " in message or the raw line");
    }
    if (bad->kind == FC_EXISTS)
        return ts_buf_printf(why, "%s is %s", fname, v ? "present" : "absent");
    if (!v)
        return ts_buf_printf(why, "the event has no field %s (key %s)", fname, bad->key);
    rc = ts_buf_printf(why, "%s is ", fname);
    rc = rc ? rc : put_value_text(why, v);
    rc = rc ? rc : ts_buf_printf(why, ", %s %s", bad->neg ? "which" : "which does not match",
                                 bad->neg ? "the key excludes:" : bad->key);
    for (uint32_t i = 0; i < bad->nv && i < 3 && !rc; i++) {
        const char *t = bad->v[i].text ? bad->v[i].text : bad->v[i].lit;
        rc = ts_buf_printf(why, "%s\"%s\"", i ? " | " : " ", t ? t : "");
    }
    if (!rc && bad->nv > 3)
        rc = ts_buf_printf(why, " | ... (%u values)", bad->nv);
    return rc;
}

int rule_explain_miss(const struct rule_set *rs, struct rule_scratch *s, size_t idx,
                      const struct ts_event *ev, struct ts_buf *out)
{
    if (!rs || !s || s->rs != rs || idx >= rs->nrules || !ev)
        return TS_E_INVAL;
    const struct rule *r = rs->rules[idx];
    next_gen(s);
    index_fields(s, ev);
    const struct ts_logsource *ls = &ev->logsource;
    bool applies = group_fits(&rs->groups[r->group], ls, cat_parent(ls->category));
    bool m = applies && rule_eval(s, r);
    struct ts_buf why, det;
    ts_buf_init(&why, 4096);
    ts_buf_init(&det, 64 << 10);
    int rc = ts_buf_puts(out, "{\"rule\":{");
    rc = rc ? rc : put_kv(out, "id", r->info.id);
    rc = rc ? rc : ts_buf_putc(out, ',');
    rc = rc ? rc : put_kv(out, "title", r->info.title);
    rc = rc ? rc : ts_buf_printf(out, "},\"matched\":%s,\"logsource\":{\"applies\":%s,\"rule\":",
                                 m ? "true" : "false", applies ? "true" : "false");
    rc = rc ? rc : put_logsource(out, r->info.product, r->info.category, r->info.service);
    rc = rc ? rc : ts_buf_puts(out, ",\"event\":");
    rc = rc ? rc : put_logsource(out, ls->product, ls->category, ls->service);
    rc = rc ? rc : ts_buf_putc(out, '}');
    if (rc)
        goto done;
    if (m) {
        rc = ts_buf_puts(&why, "matched");
    } else if (!applies) {
        rc = ts_buf_puts(&why, "logsource does not apply: the rule is for ");
        const char *k[3] = {"product", "category", "service"};
        const char *rv[3] = {r->info.product, r->info.category, r->info.service};
        const char *ev3[3] = {ls->product, ls->category, ls->service};
        bool first = true;
        for (int i = 0; i < 3 && !rc; i++)
            if (rv[i]) {
                rc = ts_buf_printf(&why, "%s%s=%s", first ? "" : " ", k[i], rv[i]);
                first = false;
            }
        rc = rc ? rc : ts_buf_puts(&why, "; the event has");
        first = true;
        for (int i = 0; i < 3 && !rc; i++)
            if (ev3[i]) {
                rc = ts_buf_printf(&why, " %s=%s", k[i], ev3[i]);
                first = false;
            }
        if (!rc && first)
            rc = ts_buf_puts(&why, " no logsource (no decoder or profile set one)");
    } else if (!node_eval(s, &r->det, r->det.cond)) {
        struct blame b = {0};
        blame_node(s, &r->det, r->det.cond, true, &b);
        if (b.found && !b.matched) {
            rc = ts_buf_puts(&det, ",\"selection\":");
            rc = rc ? rc : ts_buf_json_str(&det, r->det.sels[b.sel].name,
                                           strlen(r->det.sels[b.sel].name));
            rc = rc ? rc : explain_failed_sel(s, &r->det, b.sel, &det, &why);
        } else if (b.found) {
            rc = ts_buf_puts(&det, ",\"selection\":");
            rc = rc ? rc : ts_buf_json_str(&det, r->det.sels[b.sel].name,
                                           strlen(r->det.sels[b.sel].name));
            rc = rc ? rc : ts_buf_printf(&why, "selection \"%s\" matched, which the condition "
                                               "excludes",
                                         r->det.sels[b.sel].name);
        } else {
            rc = ts_buf_puts(&why, "the condition is false");
        }
    } else {
        for (uint32_t i = 0; i < r->nfilters; i++)
            if (node_eval(s, r->filters[i], r->filters[i]->cond)) {
                rc = ts_buf_printf(&why, "excluded by a filter rule (filter %u of %u)", i + 1,
                                   r->nfilters);
                break;
            }
    }
    if (!rc)
        rc = ts_buf_append(out, det.data ? det.data : "", det.len);
    if (!rc) {
        rc = ts_buf_puts(out, ",\"why\":");
        rc = rc ? rc : ts_buf_json_str(out, why.data ? why.data : "", why.len);
    }
    rc = rc ? rc : ts_buf_putc(out, '}');
done:
    ts_buf_free(&why);
    ts_buf_free(&det);
    return rc;
}
