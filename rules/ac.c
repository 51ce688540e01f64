/* ac.c - Aho-Corasick multi-literal matcher for the rule prefilter.
 *
 * Literals are ASCII-lowercased at build time and the scan folds the text the
 * same way, so one pass finds every literal case-insensitively. The automaton
 * is a full DFA over byte classes (bytes that occur in no literal share class
 * 0, which always leads back to the root), with the "has output" bit folded
 * into each transition so the scan loop is one load per byte. Each final
 * state lists its triggers (rule, field); dictionary links chain the states
 * of shorter literals that end at the same position.
 *
 * Built once per rule-set group, then read-only: ac_scan may run on any
 * number of threads at once.
 */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

#define AC_OUT 0x80000000u
#define AC_OUT16 0x8000u
#define AC_MAX_TABLE ((size_t)256 << 20) /* bytes of transition table per automaton */
#define AC_MAX_ENTRIES (1u << 22)
#define AC_SKIP_MIN_LIT 4   /* shortest literal for the skip table to pay */
#define AC_SKIP_MAX_M 16
#define AC_SKIP_MIN_TEXT 64 /* texts shorter than this are scanned byte by byte */

struct ac_builder;
struct ac;
static int ac_build_all(const struct ac_builder *b, struct ac **out);

struct ac_entry {
    char *lit;
    uint32_t len;
    struct ac_trigger t;
};

struct ac_builder {
    struct ac_entry *e;
    size_t n, cap;
    size_t bytes;
};

struct ac {
    uint8_t cls[256];
    uint32_t ncls;
    uint32_t nstates;
    uint32_t *delta;       /* nstates * ncls; target | AC_OUT */
    uint16_t *delta16;     /* the same when nstates < 32768: target | AC_OUT16 */
    uint32_t *out_first;   /* per state: first trigger */
    uint32_t *out_n;       /* per state: triggers ending exactly here */
    uint32_t *dict;        /* per state: next state (proper suffix) with triggers, 0 none */
    struct ac_trigger *trig;
    size_t ntrig;
    /* Skip table (Horspool over byte-class bigrams) for long texts, when
     * every literal has at least AC_SKIP_MIN_LIT bytes: shift[c1*ncls+c2]
     * is how far the end of an m-byte window may move when the window ends
     * with classes c1 c2, m the shortest literal (at most AC_SKIP_MAX_M).
     * NULL: not worth it (short literals, 32-bit table). */
    uint8_t *shift;
    uint32_t skip_m;
};

int ac_builder_create(struct ac_builder **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : TS_E_NOMEM;
}

void ac_builder_free(struct ac_builder *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->e[i].lit);
    free(b->e);
    free(b);
}

size_t ac_builder_count(const struct ac_builder *b)
{
    return b->n;
}

int ac_builder_add(struct ac_builder *b, const char *lit, size_t len, struct ac_trigger t)
{
    if (len == 0 || len > RULE_MAX_VALUE_LEN)
        return TS_E_INVAL;
    if (b->n >= AC_MAX_ENTRIES || b->bytes + len > ((size_t)64 << 20))
        return TS_E_LIMIT;
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        struct ac_entry *ne = realloc(b->e, nc * sizeof(*ne));
        if (!ne)
            return TS_E_NOMEM;
        b->e = ne;
        b->cap = nc;
    }
    char *p = malloc(len);
    if (!p)
        return TS_E_NOMEM;
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(lit[i] >= 'A' && lit[i] <= 'Z' ? lit[i] + 32 : lit[i]);
    b->e[b->n++] = (struct ac_entry){.lit = p, .len = (uint32_t)len, .t = t};
    b->bytes += len;
    return 0;
}

void ac_free(struct ac *a)
{
    if (!a)
        return;
    free(a->delta);
    free(a->delta16);
    free(a->out_first);
    free(a->out_n);
    free(a->dict);
    free(a->trig);
    free(a->shift);
    free(a);
}

size_t ac_memory(const struct ac *a)
{
    if (!a)
        return 0;
    return sizeof(*a) + (size_t)a->nstates * a->ncls * (a->delta16 ? 2 : 4) + (size_t)a->nstates * 12 +
           a->ntrig * sizeof(struct ac_trigger) + (a->shift ? (size_t)a->ncls * a->ncls : 0);
}

static int cmp_state(const void *x, const void *y)
{
    const uint32_t *a = x, *b = y; /* pairs: state, entry */
    return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : (a[1] < b[1] ? -1 : a[1] > b[1]);
}

size_t ac_builder_fields(const struct ac_builder *b, uint32_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = out[k] == b->e[i].t.field;
        if (!seen && n < cap)
            out[n++] = b->e[i].t.field;
    }
    return n;
}

int ac_build(const struct ac_builder *all, uint32_t field, struct ac **out)
{
    *out = NULL;
    /* the entries of this field only */
    struct ac_builder sub = {0};
    for (size_t i = 0; i < all->n; i++)
        if (all->e[i].t.field == field) {
            if (sub.n == sub.cap) {
                size_t nc = sub.cap ? sub.cap * 2 : 64;
                struct ac_entry *ne = realloc(sub.e, nc * sizeof(*ne));
                if (!ne) {
                    free(sub.e);
                    return TS_E_NOMEM;
                }
                sub.e = ne;
                sub.cap = nc;
            }
            sub.e[sub.n++] = all->e[i]; /* borrowed literal */
        }
    const struct ac_builder *b = &sub;
    int brc = ac_build_all(b, out);
    free(sub.e);
    return brc;
}

/* The skip table of a (see struct ac), or none when a literal is shorter
 * than AC_SKIP_MIN_LIT. */
static int skip_build(struct ac *a, const struct ac_builder *b, const uint8_t *lcls)
{
    uint32_t m = AC_SKIP_MAX_M;
    for (size_t i = 0; i < b->n; i++)
        if (b->e[i].len < m)
            m = b->e[i].len;
    if (m < AC_SKIP_MIN_LIT || b->n == 0)
        return 0;
    size_t nc = a->ncls;
    a->shift = malloc(nc * nc);
    if (!a->shift)
        return TS_E_NOMEM;
    memset(a->shift, (int)(m - 1), nc * nc);
    for (size_t i = 0; i < b->n; i++) {
        const char *l = b->e[i].lit;
        for (uint32_t q = 1; q < m; q++) {
            size_t k = (size_t)lcls[(uint8_t)l[q - 1]] * nc + lcls[(uint8_t)l[q]];
            if (a->shift[k] > m - 1 - q)
                a->shift[k] = (uint8_t)(m - 1 - q);
        }
    }
    a->skip_m = m;
    return 0;
}

static int ac_build_all(const struct ac_builder *b, struct ac **out)
{
    *out = NULL;
    struct ac *a = calloc(1, sizeof(*a));
    if (!a)
        return TS_E_NOMEM;
    /* byte classes */
    bool used[256] = {0};
    size_t total = 1;
    for (size_t i = 0; i < b->n; i++) {
        total += b->e[i].len;
        for (uint32_t j = 0; j < b->e[i].len; j++)
            used[(uint8_t)b->e[i].lit[j]] = true;
    }
    uint8_t lcls[256] = {0};
    a->ncls = 1;
    for (int c = 0; c < 256; c++)
        if (used[c])
            lcls[c] = (uint8_t)a->ncls++;
    for (int c = 0; c < 256; c++)
        a->cls[c] = lcls[c >= 'A' && c <= 'Z' ? c + 32 : c];
    if (total > RULE_AC_MAX_STATES)
        total = RULE_AC_MAX_STATES;
    if (total * a->ncls * 4 > AC_MAX_TABLE) {
        free(a);
        return TS_E_LIMIT;
    }
    /* trie: delta[s*ncls+c] = child or 0 */
    uint32_t *delta = calloc(total * a->ncls, sizeof(uint32_t));
    uint32_t *pairs = malloc(b->n * 2 * sizeof(uint32_t) + 1);
    int rc = TS_E_NOMEM;
    if (!delta || !pairs)
        goto fail;
    uint32_t ns = 1;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t s = 0;
        for (uint32_t j = 0; j < b->e[i].len; j++) {
            uint32_t c = lcls[(uint8_t)b->e[i].lit[j]];
            uint32_t *slot = &delta[(size_t)s * a->ncls + c];
            if (!*slot) {
                if (ns >= total) {
                    rc = TS_E_LIMIT;
                    goto fail;
                }
                *slot = ns++;
            }
            s = *slot;
        }
        pairs[2 * i] = s;
        pairs[2 * i + 1] = (uint32_t)i;
    }
    a->nstates = ns;
    qsort(pairs, b->n, 2 * sizeof(uint32_t), cmp_state);
    a->out_first = calloc(ns, sizeof(uint32_t));
    a->out_n = calloc(ns, sizeof(uint32_t));
    a->dict = calloc(ns, sizeof(uint32_t));
    a->trig = malloc((b->n ? b->n : 1) * sizeof(*a->trig));
    uint32_t *fail = calloc(ns, sizeof(uint32_t));
    uint32_t *queue = malloc(ns * sizeof(uint32_t));
    if (!a->out_first || !a->out_n || !a->dict || !a->trig || !fail || !queue) {
        free(fail);
        free(queue);
        goto fail;
    }
    /* triggers grouped by state, duplicates (same literal, rule, field) dropped */
    for (size_t i = 0; i < b->n; i++) {
        uint32_t s = pairs[2 * i];
        struct ac_trigger t = b->e[pairs[2 * i + 1]].t;
        if (a->out_n[s] == 0)
            a->out_first[s] = (uint32_t)a->ntrig;
        bool dup = false;
        for (uint32_t k = a->out_first[s]; k < a->out_first[s] + a->out_n[s]; k++)
            if (a->trig[k].rule == t.rule && a->trig[k].field == t.field &&
                a->trig[k].slot == t.slot) {
                dup = true;
                break;
            }
        if (dup)
            continue;
        a->trig[a->ntrig++] = t;
        a->out_n[s]++;
    }
    /* BFS: failure links, full DFA, dictionary links */
    size_t qh = 0, qt = 0;
    for (uint32_t c = 0; c < a->ncls; c++) {
        uint32_t u = delta[c];
        if (u) {
            fail[u] = 0;
            queue[qt++] = u;
        }
    }
    while (qh < qt) {
        uint32_t s = queue[qh++];
        for (uint32_t c = 0; c < a->ncls; c++) {
            uint32_t *slot = &delta[(size_t)s * a->ncls + c];
            uint32_t fs = delta[(size_t)fail[s] * a->ncls + c] & ~AC_OUT;
            if (*slot) {
                uint32_t u = *slot;
                fail[u] = fs;
                a->dict[u] = a->out_n[fs] ? fs : a->dict[fs];
                queue[qt++] = u;
            } else {
                *slot = fs;
            }
        }
    }
    free(fail);
    free(queue);
    /* fold the output bit into the transitions */
    for (size_t i = 0; i < (size_t)ns * a->ncls; i++) {
        uint32_t t = delta[i];
        if (a->out_n[t] || a->dict[t])
            delta[i] = t | AC_OUT;
    }
    if (ns < AC_OUT16) {
        /* half the table, twice the states per cache line */
        a->delta16 = malloc((size_t)ns * a->ncls * sizeof(uint16_t));
        if (!a->delta16)
            goto fail;
        for (size_t i = 0; i < (size_t)ns * a->ncls; i++) {
            uint32_t t = delta[i];
            a->delta16[i] = (uint16_t)((t & ~AC_OUT) | (t & AC_OUT ? AC_OUT16 : 0));
        }
        free(delta);
        delta = NULL;
        if (skip_build(a, b, lcls) != 0)
            goto fail;
    }
    a->delta = delta;
    free(pairs);
    *out = a;
    return 0;
fail:
    free(delta);
    free(pairs);
    a->delta = NULL;
    ac_free(a);
    return rc;
}

/* A long text through the skip table: the window end j moves by the shift
 * of the class bigram it ends with; where the shift is 0 a literal may
 * start m-1 bytes back, and the DFA runs from there (or from where the last
 * run stopped) until it is back at the root past j. A run that ends at the
 * root has reported every occurrence that starts inside it, and every
 * occurrence's first m bytes end at a window end the shifts cannot jump
 * over, so the calls are those of the byte-by-byte scan. */
static void scan_skip(const struct ac *a, const char *text, size_t len, ac_hit_fn hit, void *ctx)
{
    const uint16_t *d16 = a->delta16;
    const uint8_t *cls = a->cls, *sh = a->shift;
    const size_t ncls = a->ncls, m = a->skip_m;
    size_t j = m - 1, covered = 0;
    while (j < len) {
        uint8_t k = sh[(size_t)cls[(uint8_t)text[j - 1]] * ncls + cls[(uint8_t)text[j]]];
        if (k) {
            j += k;
            continue;
        }
        size_t i = j + 1 - m;
        if (i < covered)
            i = covered;
        uint32_t s = 0;
        for (; i < len; i++) {
            uint32_t e = d16[(size_t)s * ncls + cls[(uint8_t)text[i]]];
            s = e & ~AC_OUT16;
            if (e & AC_OUT16) {
                for (uint32_t t = a->out_n[s] ? s : a->dict[s]; t; t = a->dict[t])
                    hit(ctx, a->trig + a->out_first[t], a->out_n[t]);
            }
            if (!s && i >= j)
                break;
        }
        covered = i + 1;
        j = i + m;
    }
}

void ac_scan_dfa(const struct ac *a, const char *text, size_t len, ac_hit_fn hit, void *ctx)
{
    if (a->delta16) {
        const uint16_t *d16 = a->delta16;
        const uint8_t *cls = a->cls;
        const size_t ncls = a->ncls;
        uint32_t s = 0;
        for (size_t i = 0; i < len; i++) {
            uint32_t e = d16[(size_t)s * ncls + cls[(uint8_t)text[i]]];
            s = e & ~AC_OUT16;
            if (e & AC_OUT16) {
                for (uint32_t t = a->out_n[s] ? s : a->dict[s]; t; t = a->dict[t])
                    hit(ctx, a->trig + a->out_first[t], a->out_n[t]);
            }
        }
        return;
    }
    const uint32_t *delta = a->delta;
    const uint8_t *cls = a->cls;
    const size_t ncls = a->ncls;
    uint32_t s = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t e = delta[(size_t)s * ncls + cls[(uint8_t)text[i]]];
        s = e & ~AC_OUT;
        if (e & AC_OUT) {
            for (uint32_t t = a->out_n[s] ? s : a->dict[s]; t; t = a->dict[t])
                hit(ctx, a->trig + a->out_first[t], a->out_n[t]);
        }
    }
}

void ac_scan(const struct ac *a, const char *text, size_t len, ac_hit_fn hit, void *ctx)
{
    if (a->shift && len >= AC_SKIP_MIN_TEXT)
        scan_skip(a, text, len, hit, ctx);
    else
        ac_scan_dfa(a, text, len, hit, ctx);
}

/* Up to four delta16 automata over four texts in lockstep: the table loads
 * of one text do not wait for those of another, so the scan runs at the
 * memory system's throughput instead of its latency. */
static void scan_lockstep(const struct ac *const *A, const char *const *T, const size_t *N,
                          size_t m, ac_hit_fn hit, void *const *ctx)
{
    uint32_t st[4] = {0, 0, 0, 0};
    size_t minlen = SIZE_MAX;
    for (size_t j = 0; j < m; j++)
        if (N[j] < minlen)
            minlen = N[j];
    for (size_t i = 0; i < minlen; i++) {
        for (size_t j = 0; j < m; j++) {
            const struct ac *a = A[j];
            uint32_t e = a->delta16[(size_t)st[j] * a->ncls + a->cls[(uint8_t)T[j][i]]];
            st[j] = e & ~AC_OUT16;
            if (e & AC_OUT16) {
                for (uint32_t t = a->out_n[st[j]] ? st[j] : a->dict[st[j]]; t; t = a->dict[t])
                    hit(ctx[j], a->trig + a->out_first[t], a->out_n[t]);
            }
        }
    }
    for (size_t j = 0; j < m; j++) {
        const struct ac *a = A[j];
        uint32_t s = st[j];
        for (size_t i = minlen; i < N[j]; i++) {
            uint32_t e = a->delta16[(size_t)s * a->ncls + a->cls[(uint8_t)T[j][i]]];
            s = e & ~AC_OUT16;
            if (e & AC_OUT16) {
                for (uint32_t t = a->out_n[s] ? s : a->dict[s]; t; t = a->dict[t])
                    hit(ctx[j], a->trig + a->out_first[t], a->out_n[t]);
            }
        }
    }
}

void ac_scan_many(const struct ac *const *a, const char *const *t, const size_t *n, size_t k,
                  ac_hit_fn hit, void *ctx)
{
    void *const ctxs[4] = {ctx, ctx, ctx, ctx};
    const struct ac *A[4];
    const char *T[4];
    size_t N[4], m = 0;
    for (size_t i = 0; i < k; i++) {
        if (!a[i]->delta16) {
            ac_scan(a[i], t[i], n[i], hit, ctx);
            continue;
        }
        A[m] = a[i];
        T[m] = t[i];
        N[m] = n[i];
        if (++m == 4) {
            scan_lockstep(A, T, N, m, hit, ctxs);
            m = 0;
        }
    }
    if (m)
        scan_lockstep(A, T, N, m, hit, ctxs);
}

/* ---------------------------------------------------------------- memo
 *
 * Field values repeat (the same Image, ParentImage, Company, service command
 * line in event after event), and scanning a value is a table load per byte
 * that misses the cache when the automaton is large. A memo remembers, per
 * (automaton, value), the hit calls the scan made, and replays them for the
 * same value: the candidates that follow are the same by construction (the
 * calls are the scan's own, verified against the whole value, never a hash
 * alone). Direct-mapped; the value bytes live in a pool that starts over
 * (every entry invalid) when full. Values with more calls than an entry
 * holds, and very short or long ones, are scanned every time. */

#define MEMO_MIN_LEN 6
#define MEMO_MAX_LEN 2048
#define MEMO_MAX_CALLS 6

struct memo_call {
    const struct ac_trigger *t;
    uint32_t n;
};

struct memo_ent {
    const struct ac *a;
    uint64_t h;
    uint32_t off, len;
    uint32_t gen;
    uint32_t ncalls;
    struct memo_call c[MEMO_MAX_CALLS];
};

struct ac_memo {
    uint32_t mask;   /* slots - 1 */
    uint32_t gen;    /* entries of another generation are empty */
    size_t pool_cap, pool_used;
    uint64_t hits, misses;
    struct memo_ent *e;
    char *pool;
};

/* what one scan called, passed on to the real hit function as it happens */
struct memo_rec {
    ac_hit_fn hit;
    void *ctx;
    uint32_t n;
    bool over;
    struct memo_call c[MEMO_MAX_CALLS];
};

int ac_memo_create(struct ac_memo **out, uint32_t slots, size_t pool_bytes)
{
    *out = NULL;
    if (slots == 0 || (slots & (slots - 1)) || slots > (1u << 20) || pool_bytes < MEMO_MAX_LEN)
        return TS_E_INVAL;
    struct ac_memo *m = calloc(1, sizeof(*m));
    if (!m)
        return TS_E_NOMEM;
    m->mask = slots - 1;
    m->gen = 1;
    m->pool_cap = pool_bytes;
    m->e = calloc(slots, sizeof(*m->e));
    m->pool = malloc(pool_bytes);
    if (!m->e || !m->pool) {
        ac_memo_free(m);
        return TS_E_NOMEM;
    }
    *out = m;
    return 0;
}

void ac_memo_free(struct ac_memo *m)
{
    if (!m)
        return;
    free(m->e);
    free(m->pool);
    free(m);
}

void ac_memo_stats(const struct ac_memo *m, uint64_t *hits, uint64_t *misses)
{
    *hits = m ? m->hits : 0;
    *misses = m ? m->misses : 0;
}

static uint64_t memo_hash(const struct ac *a, const char *p, size_t n)
{
    const uint64_t k = 0x9e3779b97f4a7c15ull;
    uint64_t h = ((uint64_t)(uintptr_t)a * k) ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, n - i);
    h = (h ^ w) * k;
    h ^= h >> 32;
    return h;
}

static void memo_rec_hit(void *ctx, const struct ac_trigger *t, uint32_t n)
{
    struct memo_rec *r = ctx;
    r->hit(r->ctx, t, n);
    if (r->n < MEMO_MAX_CALLS)
        r->c[r->n++] = (struct memo_call){t, n};
    else
        r->over = true;
}

/* The entry of (a, text), replayed through hit: true; or false when the
 * memo does not hold it. */
static bool memo_replay(struct ac_memo *m, const struct ac *a, const char *p, size_t n,
                        uint64_t h, ac_hit_fn hit, void *ctx)
{
    const struct memo_ent *e = &m->e[h & m->mask];
    if (e->gen != m->gen || e->a != a || e->h != h || e->len != n ||
        memcmp(m->pool + e->off, p, n) != 0)
        return false;
    m->hits++;
    for (uint32_t i = 0; i < e->ncalls; i++)
        hit(ctx, e->c[i].t, e->c[i].n);
    return true;
}

static void memo_store(struct ac_memo *m, const struct ac *a, const char *p, size_t n, uint64_t h,
                       const struct memo_rec *r)
{
    m->misses++;
    if (r->over)
        return;
    if (m->pool_used + n > m->pool_cap) { /* start over: every entry becomes empty */
        m->gen++;
        m->pool_used = 0;
        if (m->gen == 0) { /* wrapped: clear the stamps themselves */
            memset(m->e, 0, ((size_t)m->mask + 1) * sizeof(*m->e));
            m->gen = 1;
        }
    }
    struct memo_ent *e = &m->e[h & m->mask];
    e->a = a;
    e->h = h;
    e->off = (uint32_t)m->pool_used;
    e->len = (uint32_t)n;
    e->gen = m->gen;
    e->ncalls = r->n;
    memcpy(e->c, r->c, r->n * sizeof(r->c[0]));
    memcpy(m->pool + m->pool_used, p, n);
    m->pool_used += n;
}

static bool memo_fits(size_t n)
{
    return n >= MEMO_MIN_LEN && n <= MEMO_MAX_LEN;
}

void ac_scan_memo(struct ac_memo *m, const struct ac *a, const char *text, size_t len,
                  ac_hit_fn hit, void *ctx)
{
    if (!m || !memo_fits(len)) {
        ac_scan(a, text, len, hit, ctx);
        return;
    }
    uint64_t h = memo_hash(a, text, len);
    if (memo_replay(m, a, text, len, h, hit, ctx))
        return;
    struct memo_rec r = {.hit = hit, .ctx = ctx};
    ac_scan(a, text, len, memo_rec_hit, &r);
    memo_store(m, a, text, len, h, &r);
}

/* scan q texts in lockstep through their recorders, then keep what fits */
static void memo_flush(struct ac_memo *m, const struct ac *const *A, const char *const *T,
                       const size_t *N, const uint64_t *H, const struct memo_rec *rec,
                       void *const *ctxs, size_t q)
{
    scan_lockstep(A, T, N, q, memo_rec_hit, ctxs);
    for (size_t j = 0; j < q; j++)
        if (memo_fits(N[j]))
            memo_store(m, A[j], T[j], N[j], H[j], &rec[j]);
}

void ac_scan_many_memo(struct ac_memo *m, const struct ac *const *a, const char *const *t,
                       const size_t *n, size_t k, ac_hit_fn hit, void *ctx)
{
    if (!m) {
        ac_scan_many(a, t, n, k, hit, ctx);
        return;
    }
    /* replay what the memo holds; scan the rest four at a time in lockstep,
     * each with its own recorder */
    struct memo_rec rec[4];
    void *ctxs[4];
    uint64_t H[4];
    const struct ac *A[4];
    const char *T[4];
    size_t N[4], q = 0;
    for (size_t i = 0; i < k; i++) {
        if (!memo_fits(n[i])) {
            if (a[i]->delta16) {
                rec[q] = (struct memo_rec){.hit = hit, .ctx = ctx, .over = true};
                ctxs[q] = &rec[q];
                H[q] = 0;
                A[q] = a[i];
                T[q] = t[i];
                N[q] = n[i];
                q++;
            } else {
                ac_scan(a[i], t[i], n[i], hit, ctx);
            }
        } else {
            uint64_t h = memo_hash(a[i], t[i], n[i]);
            if (memo_replay(m, a[i], t[i], n[i], h, hit, ctx))
                continue;
            if (!a[i]->delta16) {
                struct memo_rec r = {.hit = hit, .ctx = ctx};
                ac_scan(a[i], t[i], n[i], memo_rec_hit, &r);
                memo_store(m, a[i], t[i], n[i], h, &r);
                continue;
            }
            rec[q] = (struct memo_rec){.hit = hit, .ctx = ctx};
            ctxs[q] = &rec[q];
            H[q] = h;
            A[q] = a[i];
            T[q] = t[i];
            N[q] = n[i];
            q++;
        }
        if (q == 4) {
            memo_flush(m, A, T, N, H, rec, ctxs, q);
            q = 0;
        }
    }
    if (q)
        memo_flush(m, A, T, N, H, rec, ctxs, q);
}
