/* prefilter.c - which literals a rule needs: a set of (literal, field) pairs
 * such that whenever the rule matches an event, at least one literal occurs
 * (case-insensitively) in the string form of its field. The analysis walks
 * the condition: OR unites its children's sets, AND keeps its most selective
 * child's set, NOT and everything that a literal cannot witness (numbers,
 * regular expressions, null, exists, neq, cidr, comparisons, keywords) give
 * "always" (the rule is evaluated on every event of its logsource).
 * Build time only; single-threaded.
 */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

struct lit {
    const char *p;
    uint32_t len;
    uint32_t field;
    uint32_t rare; /* bytes not part of a common token: the selectivity estimate */
};

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
    for (size_t t = 0; t < sizeof(common_tokens) / sizeof(common_tokens[0]); t++) {
        size_t tl = strlen(common_tokens[t]);
        for (uint32_t i = 0; i + tl <= l.len; i++) {
            size_t k = 0;
            while (k < tl && lc_byte((unsigned char)l.p[i + k]) == common_tokens[t][k])
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
    return l;
}

static struct lit value_lit(const struct vmatch *m, uint32_t field)
{
    struct lit l = {.p = NULL, .len = 0, .field = field};
    switch (m->op) {
    case VOP_EQ:
        if (m->has_num)
            return l;
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
    default:
        break;
    }
    if (l.len < RULE_PREFILTER_MIN_LIT)
        l.p = NULL;
    return l.p ? best_window(l) : l;
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
            if (l.p && (!best.p || l.rare > best.rare))
                best = l;
        }
        if (!best.p) {
            out->always = true;
            return 0;
        }
        return ls_push(out, best);
    }
    for (uint32_t i = 0; i < f->nv; i++) {
        struct lit l = value_lit(&f->v[i], f->field);
        if (!l.p) {
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

int prefilter_rule(const struct rule *r, uint32_t idx, struct ac_builder *b)
{
    struct litset s;
    int rc = need_node(&r->det, r->det.cond, &s);
    if (rc) {
        ls_free(&s);
        return rc;
    }
    if (s.always || s.n == 0) {
        ls_free(&s);
        return 1;
    }
    for (size_t i = 0; i < s.n && !rc; i++)
        rc = ac_builder_add(b, s.v[i].p, s.v[i].len,
                            (struct ac_trigger){.rule = idx, .field = s.v[i].field});
    ls_free(&s);
    return rc;
}
