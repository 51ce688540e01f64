/* prefilter.c - which literals a rule needs: sets of (literal, field) pairs
 * such that whenever the rule matches an event, at least one literal of
 * every set ("slot") occurs (case-insensitively) in the string form of its
 * field. The analysis walks the condition: OR unites its children's sets,
 * AND keeps its most selective child's set (at the top, the best few
 * conjuncts become separate slots), NOT and everything that a literal cannot
 * witness (regular expressions without a plain run, null, exists, neq,
 * cidr, comparisons, numbers not in canonical form) give "always" (the rule
 * is evaluated on every event of its logsource). Selectivity is estimated
 * from the bytes of a literal that are not common Windows path or
 * command-line tokens. Build time only; single-threaded.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

struct lit {
    const char *p;   /* NULL: no literal; or own when inl */
    uint32_t len;
    uint32_t field;
    uint32_t rare;   /* bytes not part of a common token: the selectivity estimate */
    bool inl;        /* the bytes are in own (literals unescaped from a regex) */
    char own[RULE_PREFILTER_WINDOW];
};

static bool lit_has(const struct lit *l)
{
    return l->p || l->inl;
}

static const char *lit_bytes(const struct lit *l)
{
    return l->inl ? l->own : l->p;
}

struct litset {
    bool always;
    struct lit *v;
    size_t n, cap;
};

static void ls_free(struct litset *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static struct litset ls_always(void)
{
    struct litset s = {.always = true};
    return s;
}

static int ls_push(struct litset *s, struct lit l)
{
    if (s->n >= RULE_PREFILTER_MAX_LITS) {
        ls_free(s);
        s->always = true;
        return 0;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4;
        struct lit *n = realloc(s->v, nc * sizeof(*n));
        if (!n)
            return TS_E_NOMEM;
        s->v = n;
        s->cap = nc;
    }
    s->v[s->n++] = l;
    return 0;
}

/* Union into dst (consumes src). */
static int ls_union(struct litset *dst, struct litset *src)
{
    int rc = 0;
    if (dst->always || src->always) {
        ls_free(dst);
        ls_free(src);
        dst->always = true;
        return 0;
    }
    for (size_t i = 0; i < src->n && !rc && !dst->always; i++)
        rc = ls_push(dst, src->v[i]);
    ls_free(src);
    return rc;
}

/* Higher is more selective: the shortest literal decides, then fewer. */
static long ls_score(const struct litset *s)
{
    if (s->always)
        return -1;
    uint32_t mn = UINT32_MAX;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].rare < mn)
            mn = s->v[i].rare;
    if (mn > 64)
        mn = 64;
    return ((long)mn + 1) * 100000 - (long)(s->n > 99999 ? 99999 : s->n);
}

/* Keep the better of best and cand (consumes cand). */
static void ls_best(struct litset *best, struct litset *cand)
{
    if (ls_score(cand) > ls_score(best)) {
        ls_free(best);
        *best = *cand;
    } else {
        ls_free(cand);
    }
}

/* A literal's substring is required too: keep a window of at most
 * RULE_PREFILTER_WINDOW bytes, the one that overlaps common Windows path and
 * command-line tokens least (those occur in most benign events). Shorter
 * literals keep the automaton small and cache-resident. */
static const char *const common_tokens[] = {
    ".exe", ".dll", "\\windows\\", "\\system32\\", "c:\\", "\\program files", "\\users\\",
    "\\appdata\\", "\\local\\", "\\microsoft\\", "software\\", "currentversion", "\\temp\\",
    " -", " /", "\\", "hklm\\", "hkcu\\", "cmd", "powershell", "svchost", "explorer", "rundll32",
    "conhost", "msedge", "chrome", "services", "wmiprvse", "\\syswow64\\", "\\programdata\\",
    "\\roaming\\", "http", "www.", ".com",
};

static int lc_byte(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static struct lit best_window(struct lit l)
{
    uint8_t common[4096];
    if (l.len > sizeof(common)) {
        l.len = RULE_PREFILTER_WINDOW;
        l.rare = l.len;
        return l;
    }
    memset(common, 0, l.len);
    /* the tokens by first byte: a position is compared with those only (a
     * compare at every position with every token was ~8 % of loading the
     * SigmaHQ corpus) */
    enum { NTOK = sizeof(common_tokens) / sizeof(common_tokens[0]) };
    uint64_t first[256 / 64] = {0};
    for (size_t t = 0; t < NTOK; t++) {
        unsigned char c0 = (unsigned char)common_tokens[t][0];
        first[c0 >> 6] |= 1ull << (c0 & 63);
    }
    for (uint32_t i = 0; i < l.len; i++) {
        unsigned c = (unsigned)lc_byte((unsigned char)l.p[i]);
        if (!(first[c >> 6] >> (c & 63) & 1))
            continue;
        for (size_t t = 0; t < NTOK; t++) {
            const char *tok = common_tokens[t];
            if ((unsigned char)tok[0] != c)
                continue;
            size_t tl = strlen(tok), k = 1;
            if (i + tl > l.len)
                continue;
            while (k < tl && lc_byte((unsigned char)l.p[i + k]) == tok[k])
                k++;
            if (k == tl)
                memset(common + i, 1, tl);
        }
    }
    uint32_t w = l.len < RULE_PREFILTER_WINDOW ? l.len : RULE_PREFILTER_WINDOW;
    uint32_t best = 0, bestc = UINT32_MAX, c = 0;
    for (uint32_t i = 0; i < w; i++)
        c += common[i];
    for (uint32_t i = 0;; i++) {
        if (c < bestc) {
            bestc = c;
            best = i;
        }
        if (i + w >= l.len)
            break;
        c += common[i + w];
        c -= common[i];
    }
    l.p += best;
    l.len = w;
    l.rare = w - bestc;
    if (l.len < RULE_PREFILTER_MIN_LIT && l.rare < RULE_PREFILTER_MIN_LIT)
        l.rare = RULE_PREFILTER_MIN_LIT; /* a rare pair is as good as three plain bytes */
    return l;
}

/* Bytes that are rare in the values of typical events: non-ASCII (UTF-8 of
 * lookalike letters, dashes) and punctuation that command lines and paths
 * seldom use. */
static bool rare_byte(unsigned char c)
{
    return c >= 0x80 || (c != 0 && strchr("^%$`|&;~!@#*+<>[]{}", c) != NULL);
}

/* Long enough to be worth a prefilter: RULE_PREFILTER_MIN_LIT bytes, or two
 * bytes one of which is rare (the caret pairs of cmd obfuscation, a
 * two-byte UTF-8 lookalike letter). */
static bool lit_usable(const char *p, uint32_t len)
{
    if (len >= RULE_PREFILTER_MIN_LIT)
        return true;
    return len == 2 && (rare_byte((unsigned char)p[0]) || rare_byte((unsigned char)p[1]));
}

static struct lit regex_lit(const struct vmatch *m, uint32_t field);

static struct lit value_lit(const struct vmatch *m, uint32_t field)
{
    struct lit l = {.p = NULL, .len = 0, .field = field};
    switch (m->op) {
    case VOP_EQ:
        if (m->has_num) {
            /* a plain number equals a numeric field whose decimal form is
             * the number's, or a string equal to the rule's text: when that
             * text is the canonical decimal form, it is a literal of both
             * (even a short one: it is looked for in this field only) */
            char dec[32];
            if (!(fabs(m->num) < 1e15) || m->num != floor(m->num) || m->cased)
                return l;
            int k = snprintf(dec, sizeof(dec), "%lld", (long long)m->num);
            if (k <= 0 || (uint32_t)k != m->len || memcmp(dec, m->lit, m->len) != 0 ||
                m->len > RULE_PREFILTER_WINDOW)
                return l;
            l.p = m->lit;
            l.len = m->len;
            l.rare = m->len; /* a weak literal: kept only when there is nothing better */
            return l;
        }
        /* fall through */
    case VOP_PREFIX:
    case VOP_SUFFIX:
    case VOP_CONTAINS:
        l.p = m->lit;
        l.len = m->len;
        break;
    case VOP_GLOB: {
        uint32_t best = 0, bl = 0;
        for (uint32_t i = 0; i < m->len;) {
            if (m->wmask[i]) {
                i++;
                continue;
            }
            uint32_t j = i;
            while (j < m->len && !m->wmask[j])
                j++;
            if (j - i > bl) {
                bl = j - i;
                best = i;
            }
            i = j;
        }
        l.p = m->lit + best;
        l.len = bl;
        break;
    }
    case VOP_RE:
        return regex_lit(m, field);
    default:
        break;
    }
    if (!l.p || !lit_usable(l.p, l.len))
        l.p = NULL;
    return l.p ? best_window(l) : l;
}

/* ------------------------------------------------ regular expressions */

/* A literal that every match of a regular expression contains: the best run
 * of plain characters in the top-level sequence of the pattern (groups,
 * classes, escapes like \d and anything optional end a run; a quantified
 * character ends it, and leaves it out when it may repeat zero times), or
 * in the sequence of a group that must occur (not optional, no alternation
 * at its top), searched the same way. One rare byte (a backtick, a brace)
 * is a literal here too, the weakest: PowerShell obfuscation patterns have
 * nothing else, and without one the rule is evaluated on every event.
 * Conservative: top-level alternation, extended mode, verbs, \Q...\E and
 * escapes not understood give no literal. Under caseless matching, k, s and
 * non-ASCII bytes end runs (Unicode folds K to the Kelvin sign and s to the
 * long s, which ASCII folding in the automaton would miss). */
struct rxrun {
    char b[256];
    uint32_t n;
};

static void rx_commit(struct rxrun *cur, struct lit *best, uint32_t field)
{
    bool one = cur->n == 1 && rare_byte((unsigned char)cur->b[0]);
    if (cur->n && (one || lit_usable(cur->b, cur->n))) {
        struct lit l = {.p = cur->b, .len = cur->n, .field = field};
        l = best_window(l);
        if (one)
            l.rare = 1; /* any longer literal is better */
        if (!best->inl || l.rare > best->rare) {
            memcpy(best->own, l.p, l.len);
            best->len = l.len;
            best->rare = l.rare;
            best->field = field;
            best->inl = true;
        }
    }
    cur->n = 0;
}

size_t rule_re_skip_class(const char *p, size_t i, size_t n)
{
    i++;
    if (i < n && p[i] == '^')
        i++;
    if (i < n && p[i] == ']')
        i++;
    while (i < n && p[i] != ']') {
        if (p[i] == '\\')
            i += 2;
        else if (p[i] == '[' && i + 1 < n && p[i + 1] == ':') {
            const char *e = memmem(p + i + 2, n - i - 2, ":]", 2);
            if (!e)
                return n;
            i = (size_t)(e - p) + 2;
        } else
            i++;
    }
    return i < n ? i + 1 : n;
}

static int rx_scan(const char *p, size_t n, bool caseless, uint32_t field, struct lit *best,
                   unsigned depth);
static bool rx_required_group(const char *p, size_t n, size_t i, size_t end, size_t *lo,
                              size_t *hi);

static struct lit regex_lit(const struct vmatch *m, uint32_t field)
{
    struct lit none = {.field = field};
    const char *p = m->lit;
    size_t n = m->len;
    uint32_t opts = 0, all = 0;
    if (!p || !m->re || pcre2_pattern_info(m->re->code, PCRE2_INFO_ARGOPTIONS, &opts) != 0 ||
        pcre2_pattern_info(m->re->code, PCRE2_INFO_ALLOPTIONS, &all) != 0)
        return none;
    if ((opts | all) & (PCRE2_EXTENDED | PCRE2_EXTENDED_MORE | PCRE2_LITERAL))
        return none;
    bool caseless = ((opts | all) & PCRE2_CASELESS) != 0;
    /* inline options anywhere: (?i) makes everything caseless (conservative),
     * (?x) gives up; (* verbs give up */
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == '\\' && p[i + 1] == 'Q')
            return none;
        if (p[i] == '\\') {
            i++;
            continue;
        }
        if (p[i] == '(' && p[i + 1] == '*')
            return none;
        if (p[i] == '(' && p[i + 1] == '?') {
            for (size_t j = i + 2; j < n && p[j] != ')' && p[j] != ':'; j++) {
                if (p[j] == 'x')
                    return none;
                if (p[j] == 'i')
                    caseless = true;
            }
        }
    }
    struct lit best = none;
    return rx_scan(p, n, caseless, field, &best, 0) ? none : best;
}

/* A group at p[i] == '(' that every match goes through, as the span of its
 * sequence [*lo, *hi): not optional (no ?, *, {0 after it), capturing or
 * (?:, no alternation at its top. end: the index of its ')'. */
static bool rx_required_group(const char *p, size_t n, size_t i, size_t end, size_t *lo,
                              size_t *hi)
{
    size_t s = i + 1;
    if (s < n && p[s] == '?') {
        if (s + 1 >= n || p[s + 1] != ':')
            return false; /* lookaround, named group, options: left alone */
        s += 2;
    } else if (s < n && p[s] == '*') {
        return false;
    }
    size_t q = end + 1;
    if (q < n && (p[q] == '?' || p[q] == '*' || (p[q] == '{' && q + 1 < n && p[q + 1] == '0')))
        return false;
    if (q < n && p[q] == '{' && !(q + 1 < n && p[q + 1] >= '1' && p[q + 1] <= '9'))
        return false; /* {,m} or a literal brace: unsure */
    unsigned depth = 0;
    for (size_t k = s; k < end; k++) {
        if (p[k] == '\\') {
            k++;
        } else if (p[k] == '[') {
            k = rule_re_skip_class(p, k, end) - 1;
        } else if (p[k] == '(') {
            depth++;
        } else if (p[k] == ')') {
            depth--;
        } else if (p[k] == '|' && depth == 0) {
            return false;
        }
    }
    *lo = s;
    *hi = end;
    return true;
}

/* The best literal of p[0..n) into *best (kept when better than it).
 * Non-zero: the pattern is not understood - no literal can be trusted. */
static int rx_scan(const char *p, size_t n, bool caseless, uint32_t field, struct lit *best,
                   unsigned depth)
{
    struct rxrun cur = {.n = 0};
    uint32_t atom = UINT32_MAX; /* start in cur of the last atom, if it is a literal in cur */
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        if (c == '*' || c == '?' || c == '+' || c == '{') {
            size_t q = i + 1;
            bool zero = c != '+';
            if (c == '{') {
                size_t d = q;
                unsigned lo = 0;
                while (d < n && p[d] >= '0' && p[d] <= '9' && lo < 100000)
                    lo = lo * 10 + (unsigned)(p[d++] - '0');
                if (d == q)
                    return -1; /* {,m} or a literal brace: unsure */
                if (d < n && p[d] == ',') {
                    d++;
                    while (d < n && p[d] >= '0' && p[d] <= '9')
                        d++;
                }
                if (d >= n || p[d] != '}')
                    return -1;
                q = d + 1;
                zero = lo == 0;
            }
            if (q < n && (p[q] == '?' || p[q] == '+'))
                q++;
            if (atom != UINT32_MAX && zero)
                cur.n = atom; /* the atom may be absent; else it is there once at least */
            rx_commit(&cur, best, field);
            atom = UINT32_MAX;
            i = q;
            continue;
        }
        if (c == '|')
            return -1;
        if (c == '(') {
            rx_commit(&cur, best, field);
            atom = UINT32_MAX;
            size_t open = i;
            unsigned gd = 0;
            for (; i < n; i++) {
                if (p[i] == '\\') {
                    i++;
                } else if (p[i] == '[') {
                    i = rule_re_skip_class(p, i, n) - 1;
                } else if (p[i] == '(') {
                    gd++;
                } else if (p[i] == ')' && --gd == 0) {
                    break;
                }
            }
            if (i >= n)
                return -1;
            size_t lo, hi;
            if (depth < 4 && rx_required_group(p, n, open, i, &lo, &hi)) {
                /* its own best literal; one it does not understand gives none */
                struct lit sub = {.field = field};
                if (rx_scan(p + lo, hi - lo, caseless, field, &sub, depth + 1) == 0 &&
                    sub.inl && (!best->inl || sub.rare > best->rare))
                    *best = sub;
            }
            i++;
            continue;
        }
        if (c == '[') {
            rx_commit(&cur, best, field);
            atom = UINT32_MAX;
            i = rule_re_skip_class(p, i, n);
            continue;
        }
        if (c == '.' || c == '^' || c == '$' || c == ')') {
            rx_commit(&cur, best, field);
            atom = UINT32_MAX;
            i++;
            continue;
        }
        unsigned char lit;
        size_t adv = 1;
        if (c == '\\') {
            if (i + 1 >= n)
                return -1;
            unsigned char d = (unsigned char)p[i + 1];
            adv = 2;
            if (d < 0x80 && !((d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') ||
                              (d >= 'A' && d <= 'Z'))) {
                lit = d; /* escaped punctuation */
            } else if (d && strchr("dDsSwWhHvVRNX", d)) {
                rx_commit(&cur, best, field);
                atom = UINT32_MAX;
                i += 2;
                continue;
            } else if (d && strchr("bBAzZGK", d)) {
                rx_commit(&cur, best, field);
                atom = UINT32_MAX;
                i += 2;
                continue;
            } else if (d == 't' || d == 'n' || d == 'r') {
                lit = d == 't' ? '\t' : d == 'n' ? '\n' : '\r';
            } else {
                return -1; /* \x, \p, \Q, back-references ...: not worth the risk */
            }
        } else if (c >= 0x80) {
            /* one UTF-8 character is one atom */
            if (caseless) {
                rx_commit(&cur, best, field);
                while (i + adv < n && ((unsigned char)p[i + adv] & 0xC0) == 0x80)
                    adv++;
                atom = UINT32_MAX;
                i += adv;
                continue;
            }
            while (i + adv < n && ((unsigned char)p[i + adv] & 0xC0) == 0x80)
                adv++;
            if (cur.n + adv > sizeof(cur.b))
                rx_commit(&cur, best, field);
            atom = cur.n;
            memcpy(cur.b + cur.n, p + i, adv);
            cur.n += (uint32_t)adv;
            i += adv;
            continue;
        } else {
            lit = c;
        }
        if (caseless && (lit == 'k' || lit == 'K' || lit == 's' || lit == 'S')) {
            rx_commit(&cur, best, field);
            atom = UINT32_MAX;
            i += adv;
            continue;
        }
        if (cur.n + 1 > sizeof(cur.b))
            rx_commit(&cur, best, field);
        atom = cur.n;
        cur.b[cur.n++] = (char)lit;
        i += adv;
    }
    rx_commit(&cur, best, field);
    return 0;
}

static int need_fc(const struct fcond *f, struct litset *out)
{
    *out = ls_always();
    if (f->kind != FC_VALUES || f->neg)
        return 0;
    out->always = false;
    if (f->all) {
        /* every value must match: one literal of any value suffices */
        struct lit best = {0};
        for (uint32_t i = 0; i < f->nv; i++) {
            struct lit l = value_lit(&f->v[i], f->field);
            if (lit_has(&l) && (!lit_has(&best) || l.rare > best.rare))
                best = l;
        }
        if (!lit_has(&best)) {
            out->always = true;
            return 0;
        }
        return ls_push(out, best);
    }
    for (uint32_t i = 0; i < f->nv; i++) {
        struct lit l = value_lit(&f->v[i], f->field);
        if (!lit_has(&l)) {
            ls_free(out);
            out->always = true;
            return 0;
        }
        int rc = ls_push(out, l);
        if (rc || out->always)
            return rc;
    }
    return 0;
}

static int need_sel(const struct sel *s, struct litset *out)
{
    *out = (struct litset){0};
    for (uint32_t a = 0; a < s->nalts; a++) {
        struct litset best = ls_always();
        for (uint32_t i = 0; i < s->alts[a].n; i++) {
            struct litset x;
            int rc = need_fc(&s->alts[a].c[i], &x);
            if (rc) {
                ls_free(&best);
                return rc;
            }
            ls_best(&best, &x);
        }
        int rc = ls_union(out, &best);
        if (rc || out->always)
            return rc;
    }
    return 0;
}

static int need_node(const struct det *d, const struct cnode *n, struct litset *out)
{
    int rc = 0;
    *out = ls_always();
    switch (n->kind) {
    case CN_SEL:
        return need_sel(&d->sels[n->sel], out);
    case CN_NOT:
        return 0;
    case CN_AND: {
        for (uint32_t i = 0; i < n->nkids && !rc; i++) {
            struct litset x;
            rc = need_node(d, n->kids[i], &x);
            ls_best(out, &x);
        }
        return rc;
    }
    case CN_OR: {
        *out = (struct litset){0};
        for (uint32_t i = 0; i < n->nkids && !rc && !out->always; i++) {
            struct litset x;
            rc = need_node(d, n->kids[i], &x);
            if (!rc)
                rc = ls_union(out, &x);
        }
        return rc;
    }
    case CN_OF: {
        if (n->need == 0) {
            for (uint32_t i = 0; i < n->nids && !rc; i++) {
                struct litset x;
                rc = need_sel(&d->sels[n->ids[i]], &x);
                ls_best(out, &x);
            }
            return rc;
        }
        *out = (struct litset){0};
        for (uint32_t i = 0; i < n->nids && !rc && !out->always; i++) {
            struct litset x;
            rc = need_sel(&d->sels[n->ids[i]], &x);
            if (!rc)
                rc = ls_union(out, &x);
        }
        return rc;
    }
    default:
        return 0;
    }
}

/* The conjuncts of the condition, each a litset: ANDs, all-of and the field
 * conditions of a one-alternative selection are flattened; anything else is
 * one conjunct. Every conjunct is necessary, so the rule can require a
 * literal of each of the best few at once. */
struct conjuncts {
    struct litset v[64];
    size_t n;
};

static int add_conjunct(struct conjuncts *c, struct litset *x)
{
    if (x->always || x->n == 0) {
        ls_free(x);
        return 0;
    }
    if (c->n == TS_ARRAY_LEN(c->v)) {
        /* full: replace the weakest */
        size_t w = 0;
        for (size_t i = 1; i < c->n; i++)
            if (ls_score(&c->v[i]) < ls_score(&c->v[w]))
                w = i;
        ls_best(&c->v[w], x);
        return 0;
    }
    c->v[c->n++] = *x;
    return 0;
}

static int conj_sel(const struct sel *s, struct conjuncts *c)
{
    struct litset x;
    int rc;
    if (s->nalts == 1) {
        for (uint32_t i = 0; i < s->alts[0].n; i++) {
            if ((rc = need_fc(&s->alts[0].c[i], &x))) {
                ls_free(&x);
                return rc;
            }
            add_conjunct(c, &x);
        }
        return 0;
    }
    if ((rc = need_sel(s, &x))) {
        ls_free(&x);
        return rc;
    }
    return add_conjunct(c, &x);
}

static int conj_node(const struct det *d, const struct cnode *n, struct conjuncts *c)
{
    int rc = 0;
    if (n->kind == CN_AND) {
        for (uint32_t i = 0; i < n->nkids && !rc; i++)
            rc = conj_node(d, n->kids[i], c);
        return rc;
    }
    if (n->kind == CN_OF && (n->need == 0 || n->need >= n->nids)) {
        for (uint32_t i = 0; i < n->nids && !rc; i++)
            rc = conj_sel(&d->sels[n->ids[i]], c);
        return rc;
    }
    if (n->kind == CN_SEL)
        return conj_sel(&d->sels[n->sel], c);
    struct litset x;
    if ((rc = need_node(d, n, &x))) {
        ls_free(&x);
        return rc;
    }
    return add_conjunct(c, &x);
}

int prefilter_rule(const struct rule *r, uint32_t idx, struct ac_builder *b, uint8_t *need)
{
    static_assert(RULE_PREFILTER_SLOTS <= 8, "slots are bits of a uint8_t");
    struct conjuncts *c = calloc(1, sizeof(*c));
    if (!c)
        return TS_E_NOMEM;
    int rc = conj_node(&r->det, r->det.cond, c);
    *need = 0;
    if (!rc && c->n == 0)
        rc = 1;
    /* the best few conjuncts by selectivity, as slots */
    for (uint32_t slot = 0; !rc && slot < RULE_PREFILTER_SLOTS && c->n; slot++) {
        size_t bi = 0;
        for (size_t i = 1; i < c->n; i++)
            if (ls_score(&c->v[i]) > ls_score(&c->v[bi]))
                bi = i;
        struct litset *s = &c->v[bi];
        for (size_t i = 0; i < s->n && !rc; i++)
            rc = ac_builder_add(
                b, lit_bytes(&s->v[i]), s->v[i].len,
                (struct ac_trigger){.rule = idx, .field = s->v[i].field, .slot = slot});
        *need |= (uint8_t)(1u << slot);
        ls_free(s);
        c->v[bi] = c->v[--c->n];
    }
    for (size_t i = 0; i < c->n; i++)
        ls_free(&c->v[i]);
    free(c);
    return rc;
}
