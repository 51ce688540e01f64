/* check_rules_prefilter.c - the prefilter never loses a match.
 *
 * The differential test loads the SigmaHQ corpus and generates a few
 * thousand events from the rules' own values (exact, prefixed, suffixed,
 * embedded, case-flipped, wildcards filled in, sampled from regular
 * expressions, numbers, networks), spread over every logsource the rules
 * name, on top of realistic benign Sysmon-like fields. For each event the
 * rules matched with the prefilter must be exactly those matched when every
 * routed rule is evaluated (rule_scratch_set_exact). Generation is
 * deterministic (fixed seed).
 *
 * The other tests pin the literal extraction the prefilter relies on:
 * regular expressions, short rare literals, caseless Unicode folding.
 */
#include "check_rules_util.h"
#include "../../rules/rules_int.h"

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n ? (uint32_t)(rng_state % n) : 0;
}

/* ------------------------------------------------------------ output */

struct gbuf {
    char b[2048];
    size_t n;
};

static void gput(struct gbuf *g, const char *p, size_t n)
{
    if (n > sizeof(g->b) - g->n)
        n = sizeof(g->b) - g->n;
    memcpy(g->b + g->n, p, n);
    g->n += n;
}

static void gputc(struct gbuf *g, char c)
{
    gput(g, &c, 1);
}

static const char *const noise[] = {
    "",      "C:\\Windows\\System32\\", "x",   " -k ", "\\",
    "C:\\Users\\alice\\AppData\\Local\\Temp\\",    "abc", " /c ", "\"",
    ".exe",  "12345", "HKLM\\SOFTWARE\\Microsoft\\",     "--",  " ",    "%TEMP%",
    "^",     "..\\",  "https://example.org/",
};

static void gnoise(struct gbuf *g)
{
    const char *s = noise[rnd(TS_ARRAY_LEN(noise))];
    gput(g, s, strlen(s));
}

/* Flip the case of some ASCII letters (or none). */
static void flip_case(struct gbuf *g, size_t from)
{
    uint32_t mode = rnd(3);
    for (size_t i = from; i < g->n && mode; i++) {
        char c = g->b[i];
        if (mode == 1 && c >= 'a' && c <= 'z')
            g->b[i] = (char)(c - 32);
        else if (mode == 2 && rnd(2) && c >= 'a' && c <= 'z')
            g->b[i] = (char)(c - 32);
    }
}

/* ------------------------------------------- sampling a regular expression */

static size_t rx_seq(const char *p, size_t i, size_t n, struct gbuf *g, unsigned depth);

/* Index after the class starting at p[i] == '['; emits one member. */
static size_t rx_class(const char *p, size_t i, size_t n, struct gbuf *g)
{
    i++;
    bool neg = i < n && p[i] == '^';
    if (neg)
        i++;
    bool emitted = false;
    if (neg) {
        gputc(g, '~'); /* seldom in the classes the corpus negates */
        emitted = true;
    }
    if (i < n && p[i] == ']') {
        if (!emitted)
            gputc(g, ']');
        emitted = true;
        i++;
    }
    while (i < n && p[i] != ']') {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[i + 1];
            if (!emitted)
                gputc(g, d == 'd' ? '5' : d == 's' ? ' ' : d == 'w' ? 'a' : d == 'n' ? '\n' : d);
            emitted = true;
            i += 2;
        } else if (c == '[' && i + 1 < n && p[i + 1] == ':') {
            const char *e = memmem(p + i + 2, n - i - 2, ":]", 2);
            if (!emitted)
                gputc(g, 'a');
            emitted = true;
            i = e ? (size_t)(e - p) + 2 : n;
        } else {
            if (!emitted)
                gputc(g, c);
            emitted = true;
            i++;
        }
    }
    return i < n ? i + 1 : n;
}

/* One atom at p[i]; returns the index after it. */
static size_t rx_atom(const char *p, size_t i, size_t n, struct gbuf *g, unsigned depth)
{
    char c = p[i];
    if (c == '\\') {
        if (i + 1 >= n)
            return n;
        char d = p[i + 1];
        i += 2;
        switch (d) {
        case 'd': gputc(g, (char)('0' + rnd(10))); break;
        case 'D': case 'S': case 'W': case 'N': gputc(g, rnd(2) ? 'x' : '-'); break;
        case 's': case 'h': gputc(g, ' '); break;
        case 'w': gputc(g, rnd(2) ? 'a' : '7'); break;
        case 'n': gputc(g, '\n'); break;
        case 't': gputc(g, '\t'); break;
        case 'r': gputc(g, '\r'); break;
        case 'b': case 'B': case 'A': case 'z': case 'Z': case 'G': case 'K': break;
        case 'x': {
            unsigned v = 0, k = 0;
            if (i < n && p[i] == '{') {
                for (i++; i < n && p[i] != '}'; i++)
                    v = v * 16 + (unsigned)(p[i] <= '9' ? p[i] - '0' : (p[i] | 32) - 'a' + 10);
                i++;
            } else {
                for (; k < 2 && i < n &&
                       ((p[i] >= '0' && p[i] <= '9') || ((p[i] | 32) >= 'a' && (p[i] | 32) <= 'f'));
                     k++, i++)
                    v = v * 16 + (unsigned)(p[i] <= '9' ? p[i] - '0' : (p[i] | 32) - 'a' + 10);
            }
            if (v < 0x80)
                gputc(g, (char)v);
            else if (v < 0x800) {
                gputc(g, (char)(0xC0 | (v >> 6)));
                gputc(g, (char)(0x80 | (v & 0x3F)));
            }
            break;
        }
        case 'p': case 'P':
            if (i < n && p[i] == '{') {
                const char *e = memchr(p + i, '}', n - i);
                i = e ? (size_t)(e - p) + 1 : n;
            } else if (i < n) {
                i++;
            }
            gputc(g, 'a');
            break;
        case 'Q': {
            const char *e = memmem(p + i, n - i, "\\E", 2);
            size_t end = e ? (size_t)(e - p) : n;
            gput(g, p + i, end - i);
            i = e ? end + 2 : n;
            break;
        }
        default:
            if (d >= '0' && d <= '9')
                break; /* back-reference: leave it out */
            gputc(g, d);
            break;
        }
        return i;
    }
    if (c == '[')
        return rx_class(p, i, n, g);
    if (c == '(') {
        i++;
        bool emit = true;
        if (i < n && p[i] == '?') {
            i++;
            if (i < n && (p[i] == '=' || p[i] == '!')) {
                emit = p[i] == '=';
                i++;
            } else if (i + 1 < n && p[i] == '<' && (p[i + 1] == '=' || p[i + 1] == '!')) {
                emit = false;
                i += 2;
            } else if (i < n && (p[i] == '<' || p[i] == 'P' || p[i] == '\'')) {
                while (i < n && p[i] != '>' && p[i] != '\'')
                    i++;
                i++;
            } else {
                /* flags: (?i) or (?i:...) */
                while (i < n && p[i] != ')' && p[i] != ':')
                    i++;
                if (i < n && p[i] == ')')
                    return i + 1;
                i++;
            }
        } else if (i < n && p[i] == '*') {
            const char *e = memchr(p + i, ')', n - i);
            return e ? (size_t)(e - p) + 1 : n;
        }
        size_t mark = g->n;
        i = rx_seq(p, i, n, g, depth + 1);
        if (!emit)
            g->n = mark;
        return i < n ? i + 1 : n; /* the ')' */
    }
    if (c == '.') {
        gputc(g, rnd(2) ? 'x' : '\\');
        return i + 1;
    }
    if (c == '^' || c == '$')
        return i + 1;
    /* a literal character (whole UTF-8 sequence) */
    size_t adv = 1;
    while ((unsigned char)c >= 0xC0 && i + adv < n && ((unsigned char)p[i + adv] & 0xC0) == 0x80)
        adv++;
    gput(g, p + i, adv);
    return i + adv;
}

/* Index just after the alternative's end (at '|' or ')' of this level). */
static size_t rx_skip_alt(const char *p, size_t i, size_t n)
{
    unsigned d = 0;
    for (; i < n; i++) {
        if (p[i] == '\\') {
            i++;
        } else if (p[i] == '[') {
            struct gbuf junk;
            junk.n = 0;
            i = rx_class(p, i, n, &junk) - 1;
        } else if (p[i] == '(') {
            d++;
        } else if (p[i] == ')') {
            if (d == 0)
                return i;
            d--;
        } else if (p[i] == '|' && d == 0) {
            return i;
        }
    }
    return n;
}

/* A sequence with alternatives, up to the ')' that closes it (returned). */
static size_t rx_seq(const char *p, size_t i, size_t n, struct gbuf *g, unsigned depth)
{
    if (depth > 32)
        return rx_skip_alt(p, i, n);
    /* choose an alternative */
    size_t nalt = 1;
    for (size_t j = rx_skip_alt(p, i, n); j < n && p[j] == '|'; j = rx_skip_alt(p, j + 1, n))
        nalt++;
    size_t pick = rnd((uint32_t)nalt);
    for (size_t k = 0; k < pick; k++)
        i = rx_skip_alt(p, i, n) + 1;
    while (i < n && p[i] != ')' && p[i] != '|') {
        size_t mark = g->n;
        size_t j = rx_atom(p, i, n, g, depth);
        size_t alen = g->n - mark;
        /* quantifier */
        unsigned lo = 1, hi = 1;
        if (j < n && (p[j] == '*' || p[j] == '+' || p[j] == '?')) {
            lo = p[j] == '+' ? 1 : 0;
            hi = p[j] == '?' ? 1 : 3;
            j++;
        } else if (j < n && p[j] == '{' && j + 1 < n && p[j + 1] >= '0' && p[j + 1] <= '9') {
            size_t q = j + 1;
            lo = 0;
            while (q < n && p[q] >= '0' && p[q] <= '9')
                lo = lo * 10 + (unsigned)(p[q++] - '0');
            hi = lo;
            if (q < n && p[q] == ',') {
                q++;
                if (q < n && p[q] >= '0' && p[q] <= '9') {
                    hi = 0;
                    while (q < n && p[q] >= '0' && p[q] <= '9')
                        hi = hi * 10 + (unsigned)(p[q++] - '0');
                } else {
                    hi = lo + 2;
                }
            }
            if (q < n && p[q] == '}')
                j = q + 1;
            if (lo > 40)
                lo = 40;
            if (hi > lo + 3)
                hi = lo + 3;
        }
        if (j < n && (p[j] == '?' || p[j] == '+'))
            j++; /* lazy, possessive */
        unsigned times = lo + rnd(hi - lo + 1);
        if (times == 0) {
            g->n = mark;
        } else {
            for (unsigned t = 1; t < times && alen; t++)
                gput(g, g->b + mark, alen);
        }
        i = j;
    }
    if (i < n && p[i] == '|')
        i = rx_skip_alt(p, i + 1, n);
    while (i < n && p[i] == '|')
        i = rx_skip_alt(p, i + 1, n);
    return i;
}

/* ----------------------------------------------------- event generation */

struct gen {
    const struct rule_set *rs;
    struct ts_arena *arena;
    struct ts_event ev;
};

static char *adup(struct gen *gn, const char *p, size_t n)
{
    char *d = ts_arena_strndup(gn->arena, p, n);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* A value that may (or may not) satisfy m. */
static void gen_value(struct gen *gn, const struct vmatch *m, const char *fname, size_t flen)
{
    struct gbuf g;
    g.n = 0;
    uint32_t shape = rnd(10);
    switch (m->op) {
    case VOP_EQ:
    case VOP_PREFIX:
    case VOP_SUFFIX:
    case VOP_CONTAINS:
        if (m->has_num && rnd(2)) {
            ck_assert_int_eq(ts_event_add_int(&gn->ev, adup(gn, fname, flen),
                                              (int64_t)m->num + (shape == 0)), 0);
            return;
        }
        if (m->op == VOP_SUFFIX || m->op == VOP_CONTAINS || shape == 1)
            gnoise(&g);
        {
            size_t from = g.n;
            gput(&g, m->lit, m->len);
            if (!m->cased || shape == 2)
                flip_case(&g, from);
            if (shape == 3 && g.n > from)
                g.n--; /* one byte short */
        }
        if (m->op == VOP_PREFIX || m->op == VOP_CONTAINS || shape == 4)
            gnoise(&g);
        break;
    case VOP_GLOB:
        for (uint32_t i = 0; i < m->len; i++) {
            if (m->wmask[i] == '*') {
                if (rnd(2))
                    gnoise(&g);
            } else if (m->wmask[i] == '?') {
                gputc(&g, (char)('a' + rnd(26)));
            } else {
                gputc(&g, m->lit[i]);
            }
        }
        if (!m->cased)
            flip_case(&g, 0);
        break;
    case VOP_RE:
        if (shape < 8) {
            if (shape & 1)
                gnoise(&g);
            (void)rx_seq(m->text, 0, strlen(m->text), &g, 0);
            if (shape & 2)
                gnoise(&g);
            if (shape == 4)
                flip_case(&g, 0);
        } else {
            gput(&g, m->text, strlen(m->text));
        }
        break;
    case VOP_CMP: {
        int64_t v = (int64_t)m->num + (int64_t)rnd(3) - 1;
        if (rnd(2)) {
            ck_assert_int_eq(ts_event_add_int(&gn->ev, adup(gn, fname, flen), v), 0);
            return;
        }
        char tmp[32];
        int k = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
        gput(&g, tmp, (size_t)k);
        break;
    }
    case VOP_CIDR: {
        struct ts_ip ip = m->net;
        size_t alen = ip.family == 4 ? 4 : 16;
        for (size_t b = m->prefix / 8 + (m->prefix % 8 != 0); b < alen; b++)
            ip.addr[b] = (uint8_t)rnd(256);
        if (m->prefix % 8)
            ip.addr[m->prefix / 8] |= (uint8_t)(rnd(256) & (0xFFu >> (m->prefix % 8)));
        if (shape == 0)
            ip.addr[0] ^= 0x80; /* outside */
        if (rnd(2)) {
            ck_assert_int_eq(ts_event_add_ip(&gn->ev, adup(gn, fname, flen), &ip), 0);
            return;
        }
        char tmp[64];
        ts_ip_format(&ip, tmp, sizeof(tmp));
        gput(&g, tmp, strlen(tmp));
        break;
    }
    case VOP_REF: {
        const char *rn = gn->rs->fnames[m->ref];
        gnoise(&g);
        ck_assert_int_eq(
            ts_event_add_str(&gn->ev, adup(gn, rn, strlen(rn)), adup(gn, g.b, g.n), g.n), 0);
        break;
    }
    default:
        gputc(&g, 'x');
        break;
    }
    if (rnd(20) == 0) {
        /* the same values as a list */
        struct ts_value *items = ts_arena_alloc(gn->arena, 2 * sizeof(*items));
        ck_assert_ptr_nonnull(items);
        items[0] = ts_v_str("benign", 6);
        items[1] = ts_v_str(adup(gn, g.b, g.n), g.n);
        struct ts_value lv = {.type = TS_V_LIST, .len = 2, .u.items = items};
        ck_assert_int_eq(ts_event_add(&gn->ev, adup(gn, fname, flen), flen, &lv), 0);
        return;
    }
    ck_assert_int_eq(ts_event_add_str(&gn->ev, adup(gn, fname, flen), adup(gn, g.b, g.n), g.n), 0);
}

static void gen_fcond(struct gen *gn, const struct fcond *f)
{
    const char *fname;
    if (f->field == FIELD_KEYWORDS)
        fname = rnd(2) ? "Message" : "message";
    else
        fname = gn->rs->fnames[f->field];
    size_t flen = strlen(fname);
    if (f->kind == FC_EXISTS) {
        if (f->want || rnd(2))
            ck_assert_int_eq(ts_event_add_str(&gn->ev, adup(gn, fname, flen), "1", 1), 0);
        return;
    }
    if (f->kind == FC_NULL) {
        if (rnd(2)) {
            struct ts_value nv = {.type = TS_V_NULL};
            ck_assert_int_eq(ts_event_add(&gn->ev, adup(gn, fname, flen), flen, &nv), 0);
        }
        return;
    }
    if (f->nv == 0)
        return;
    if (f->all && rnd(2)) {
        /* all values in one string */
        struct gbuf g;
        g.n = 0;
        for (uint32_t i = 0; i < f->nv; i++) {
            gnoise(&g);
            gput(&g, f->v[i].lit ? f->v[i].lit : "", f->v[i].lit ? f->v[i].len : 0);
        }
        flip_case(&g, 0);
        ck_assert_int_eq(
            ts_event_add_str(&gn->ev, adup(gn, fname, flen), adup(gn, g.b, g.n), g.n), 0);
        return;
    }
    gen_value(gn, &f->v[rnd(f->nv)], fname, flen);
}

/* Fields that make the det (likely) match: per selection, most of the time,
 * the values of one alternative. */
static void gen_det(struct gen *gn, const struct det *d)
{
    /* targeted: leave out the selections named filter* (by convention the
     * negated ones) and keep every field; else a random mix */
    bool targeted = rnd(2);
    for (uint32_t i = 0; i < d->nsels; i++) {
        if (targeted ? strncmp(d->sels[i].name, "filter", 6) == 0 : rnd(10) < 3)
            continue;
        const struct sel *s = &d->sels[i];
        if (!s->nalts)
            continue;
        const struct conj *c = &s->alts[rnd(s->nalts)];
        for (uint32_t k = 0; k < c->n; k++)
            if (targeted || rnd(10) < 9)
                gen_fcond(gn, &c->c[k]);
    }
}

static void tev_add(struct gen *gn, const char *name, const char *val)
{
    ck_assert_int_eq(ts_event_add_str(&gn->ev, name, val, strlen(val)), 0);
}

static const char *const images[] = {
    "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\explorer.exe",
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    "C:\\Windows\\System32\\rundll32.exe",
};
static const char *const cmdlines[] = {
    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule", "C:\\Windows\\Explorer.EXE",
    "cmd.exe /c dir C:\\Users\\alice\\Documents", "powershell.exe -NoProfile -File C:\\s\\inv.ps1",
    "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer",
    "rundll32.exe shell32.dll,Control_RunDLL",
};

static void gen_benign(struct gen *gn)
{
    uint32_t k = rnd(TS_ARRAY_LEN(images));
    tev_add(gn, "Image", images[k]);
    tev_add(gn, "CommandLine", cmdlines[k]);
    tev_add(gn, "ParentImage", images[rnd(TS_ARRAY_LEN(images))]);
    tev_add(gn, "User", rnd(2) ? "AGENCY\\alice" : "NT AUTHORITY\\SYSTEM");
    tev_add(gn, "TargetObject",
            "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\OneDrive");
    tev_add(gn, "TargetFilename", "C:\\Users\\alice\\AppData\\Local\\Temp\\file.tmp");
    tev_add(gn, "Initiated", "true");
    tev_add(gn, "DestinationHostname", "www.google.com");
    ck_assert_int_eq(ts_event_add_int(&gn->ev, "EventID", rnd(2) ? 1 : 4688), 0);
}

static const char *const reg_cats[] = {"registry_set", "registry_add", "registry_delete",
                                       "registry_event"};

/* One event for rule r (its logsource, its values, maybe another rule's
 * values of the same logsource, benign fields after them). */
static void gen_event(struct gen *gn, size_t r)
{
    const struct rule_set *rs = gn->rs;
    const struct rule *ru = rs->rules[r];
    ts_event_init(&gn->ev, gn->arena);
    gn->ev.logsource.product = ru->info.product ? ru->info.product : (rnd(2) ? "windows" : NULL);
    gn->ev.logsource.category = ru->info.category;
    gn->ev.logsource.service = ru->info.service;
    if (ru->info.category && strcmp(ru->info.category, "registry_event") == 0)
        gn->ev.logsource.category = reg_cats[rnd(TS_ARRAY_LEN(reg_cats))];
    if (rnd(4) == 0) {
        gen_benign(gn);
        return;
    }
    gen_det(gn, &ru->det);
    for (uint32_t i = 0; i < ru->nfilters; i++)
        if (rnd(3) == 0)
            gen_det(gn, ru->filters[i]);
    if (rnd(3) == 0) {
        /* values of a neighbour with the same logsource */
        for (size_t k = 0; k < 8; k++) {
            size_t o = rnd((uint32_t)rs->nrules);
            if (rs->rules[o]->group == ru->group) {
                gen_det(gn, &rs->rules[o]->det);
                break;
            }
        }
    }
    if (rnd(2))
        gen_benign(gn);
}

struct mlist {
    uint32_t v[4096];
    size_t n;
};

static int collect(void *ctx, const struct ts_event *ev, size_t idx)
{
    (void)ev;
    struct mlist *m = ctx;
    if (m->n < TS_ARRAY_LEN(m->v))
        m->v[m->n++] = (uint32_t)idx;
    return 0;
}

static void differential(const char *sub, unsigned per_rule, uint64_t seed)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/rules%s", ts_test_sigma_dir(), sub);
    const char *paths[1] = {dir};
    struct rule_load_opts o = {.paths = paths, .npaths = 1};
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&rs, &o, &rep, &err), 0);
    rule_report_free(&rep);
    ck_assert_uint_gt(rule_set_count(rs), 1000);
    struct rule_scratch *pf = NULL, *ex = NULL;
    ck_assert_int_eq(rule_scratch_create(&pf, rs), 0);
    ck_assert_int_eq(rule_scratch_create(&ex, rs), 0);
    rule_scratch_set_exact(ex, true);
    struct gen gn = {.rs = rs};
    ck_assert_int_eq(ts_arena_create(&gn.arena, 1 << 16, (size_t)64 << 20), 0);
    static struct mlist a, b;
    uint64_t events = 0, matches = 0;
    uint8_t *hit = calloc(rs->nrules, 1);
    ck_assert_ptr_nonnull(hit);
    rng_state = seed;
    for (unsigned pass = 0; pass < per_rule; pass++) {
        for (size_t r = 0; r < rs->nrules; r++) {
            ts_arena_reset(gn.arena);
            gen_event(&gn, r);
            a.n = b.n = 0;
            ck_assert_int_eq(rule_match(rs, pf, &gn.ev, collect, &a), 0);
            ck_assert_int_eq(rule_match(rs, ex, &gn.ev, collect, &b), 0);
            events++;
            matches += b.n;
            for (size_t i = 0; i < b.n; i++)
                hit[b.v[i]] = 1;
            bool same = a.n == b.n && memcmp(a.v, b.v, a.n * sizeof(a.v[0])) == 0;
            if (!same) {
                size_t miss = SIZE_MAX;
                for (size_t i = 0; i < b.n && miss == SIZE_MAX; i++) {
                    bool found = false;
                    for (size_t k = 0; k < a.n && !found; k++)
                        found = a.v[k] == b.v[i];
                    if (!found)
                        miss = b.v[i];
                }
                fprintf(stderr, "prefilter differs on an event of rule %s: %zu vs %zu matches\n",
                        rs->rules[r]->info.file, a.n, b.n);
                if (miss != SIZE_MAX)
                    fprintf(stderr, "  lost: %s (%s)\n", rs->rules[miss]->info.file,
                            rs->rules[miss]->info.title);
                for (uint32_t i = 0; i < gn.ev.nfields; i++) {
                    const struct ts_field *f = &gn.ev.fields[i];
                    if (f->v.type == TS_V_STR)
                        fprintf(stderr, "  %s = %.*s\n", f->name, (int)f->v.len, f->v.u.s);
                    else
                        fprintf(stderr, "  %s (type %u)\n", f->name, f->v.type);
                }
            }
            ck_assert_msg(same, "prefilter lost or added a match");
        }
    }
    size_t distinct = 0;
    for (size_t r = 0; r < rs->nrules; r++)
        distinct += hit[r];
    struct rule_match_stats sp, se;
    rule_scratch_stats(pf, &sp);
    rule_scratch_stats(ex, &se);
    fprintf(stderr,
            "prefilter differential (rules%s): %zu rules, %llu events, %llu matches (%zu distinct "
            "rules), identical; candidates/event %.1f with the prefilter, %.1f exact\n",
            sub, rule_set_count(rs), (unsigned long long)events, (unsigned long long)matches,
            distinct, (double)sp.candidates / (double)sp.events,
            (double)se.candidates / (double)se.events);
    /* the generator must exercise the rules, or the equality proves little */
    ck_assert_uint_gt(matches, events / 4);
    ck_assert_uint_gt(distinct, rule_set_count(rs) / 3);
    free(hit);
    ts_arena_destroy(gn.arena);
    rule_scratch_free(pf);
    rule_scratch_free(ex);
    rule_set_unref(rs);
}

START_TEST(test_prefilter_equals_exact_on_windows_corpus)
{
    TS_NEED_CORPUS(TS_CORPUS_SIGMA, "rules");
    differential("/windows", 4, 88172645463325252ULL);
}
END_TEST

START_TEST(test_prefilter_equals_exact_on_whole_corpus)
{
    TS_NEED_CORPUS(TS_CORPUS_SIGMA, "rules");
    differential("", 2, 0x9E3779B97F4A7C15ULL);
}
END_TEST

/* --------------------------------------------- literal extraction pins */

static bool re_matches(const char *re, const char *val)
{
    char det[1024];
    snprintf(det, sizeof(det), "  sel:\n    CommandLine|re: '%s'\n  condition: sel\n", re);
    return det_matches(det, "CommandLine", val, NULL);
}

START_TEST(test_regex_literal_respects_optional_and_alternation)
{
    ck_assert(re_matches("ipconfig\\s+/all", "IPCONFIG /all")
              == false); /* case-sensitive regex */
    ck_assert(re_matches("ipconfig\\s+/all", "x ipconfig   /all"));
    ck_assert(re_matches("abcd?efg", "abcefg"));
    ck_assert(re_matches("abcd*efg", "abcefg"));
    ck_assert(re_matches("abcd{0,2}efg", "abcefg"));
    ck_assert(re_matches("abcd{1,2}efg", "abcddefg"));
    ck_assert(re_matches("abcdef|uvwxyz", "--uvwxyz--"));
    ck_assert(re_matches("(?:abcdef|uvwxyz)123", "uvwxyz123"));
    ck_assert(re_matches("\\$PSHome\\[\\s*\\d", "$PSHome[ 4"));
    ck_assert(re_matches("a\\Q.*b\\Ecdef", "a.*bcdef"));
    ck_assert(re_matches("net\\x20user", "net user"));
    ck_assert(re_matches("[Nn]et1? user", "Net user"));
}
END_TEST

/* The PowerShell token obfuscation patterns (SigmaHQ
 * proc_creation_win_powershell_token_obfuscation): no literal of three
 * bytes, so the rule was evaluated on every process creation; a backtick,
 * the brace of a required group and "${" now rule it out - without losing
 * what they match. */
#define TOKEN_OBF_DET                                                                             \
    "  selection:\n"                                                                              \
    "    - CommandLine|re: '\\w+`(?:\\w+|-|.)`[\\w+|\\s]'\n"                                        \
    "    - CommandLine|re: '\"(?:\\{\\d\\})+\"\\s*-f'\n"                                           \
    "    - CommandLine|re: '(?i)\\$\\{`?e`?n`?v`?:`?p`?a`?t`?h`?\\}'\n"                             \
    "  condition: selection\n"

START_TEST(test_regex_required_group_and_rare_byte_literals)
{
    char text[2048];
    snprintf(text, sizeof(text), RULE_HEAD "detection:\n%s", TOKEN_OBF_DET);
    struct rule_set *rs = rule_ok(text);
    ck_assert_uint_ne(rs->pf_need[0], 0); /* required literals, not "always" */
    rule_set_unref(rs);
    ck_assert(det_matches(TOKEN_OBF_DET, "CommandLine", "IN`V`o`Ke-eXp`ResSIOn x", NULL));
    ck_assert(det_matches(TOKEN_OBF_DET, "CommandLine",
                          "&(\"{2}{3}{0}{4}{1}\"-f 'e','Expression','I','nvok','-')", NULL));
    ck_assert(det_matches(TOKEN_OBF_DET, "CommandLine", "${e`Nv:pATh}", NULL));
    ck_assert(!det_matches(TOKEN_OBF_DET, "CommandLine", "powershell -f \"a b\" -nop", NULL));
    /* optional groups and alternation inside a group give no literal */
    ck_assert(re_matches("(?:abcdef)?uv", "uv"));
    ck_assert(re_matches("(?:abcdef|xyz)uv", "xyzuv"));
    ck_assert(re_matches("(abcdef){0,2}uv", "uv"));
    ck_assert(re_matches("(?:a(bcdef)*)+-q", "a-q"));
    ck_assert(re_matches("x(?:abc(?:def)?ghi)+y", "xabcghiy"));
}
END_TEST

START_TEST(test_caseless_regex_folds_kelvin_and_long_s)
{
    /* U+212A KELVIN SIGN and U+017F LATIN SMALL LETTER LONG S fold to k, s */
    ck_assert(re_matches("(?i)taskkill", "TA\xC5\xBF" "\xE2\x84\xAA" "KILL /F"));
    ck_assert(re_matches("(?i)mimikatz", "MIMI\xE2\x84\xAA" "ATZ"));
    char det[512];
    snprintf(det, sizeof(det),
             "  sel:\n    CommandLine|re|i: 'mimikatz'\n  condition: sel\n");
    ck_assert(det_matches(det, "CommandLine", "mimi\xE2\x84\xAA" "atz", NULL));
}
END_TEST

START_TEST(test_short_rare_literals_prefilter_without_loss)
{
    ck_assert(det_matches("  sel:\n    CommandLine|contains: '^^'\n  condition: sel\n",
                          "CommandLine", "c^^md", NULL));
    ck_assert(det_matches("  sel:\n    CommandLine|contains: \"\\u0410\"\n  condition: sel\n",
                          "CommandLine", "p\xD0\x90ssword", NULL));
    ck_assert(!det_matches("  sel:\n    CommandLine|contains: \"\\u0410\"\n  condition: sel\n",
                           "CommandLine", "password", NULL));
}
END_TEST


/* One scratch over events whose names repeat, change order, change under
 * the same length signature, or are too many to remember (rules/match.c
 * remembers the names of recent events and their ids): each event is
 * matched by its own names, as by a fresh scratch. */
START_TEST(test_each_event_is_matched_by_its_own_field_names)
{
    struct rule_set *rs = rule_ok(RULE_HEAD "detection:\n  selection:\n    A: 'x'\n    B|contains: 'yy'\n"
                                            "  condition: selection\n");
    struct rule_scratch *sc = NULL;
    ck_assert_int_eq(rule_scratch_create(&sc, rs), 0);
    static const struct {
        const char *names[3], *vals[3];
        int nf, pad; /* pad: that many extra fields first (past what is remembered) */
    } evs[] = {
        {{"A", "B"}, {"x", "ayyb"}, 2, 0},     /* match */
        {{"A", "B"}, {"x", "ayyb"}, 2, 0},     /* the same names again: match */
        {{"B", "A"}, {"x", "ayyb"}, 2, 0},     /* swapped: B is x, A is ayyb: no */
        {{"C", "B"}, {"x", "ayyb"}, 2, 0},     /* same lengths, C for A: no */
        {{"A", "C"}, {"x", "ayyb"}, 2, 0},     /* same lengths, C for B: no */
        {{"B", "A"}, {"ayyb", "x"}, 2, 0},     /* swapped with its values: match */
        {{"A", "B", "A"}, {"x", "yy", "q"}, 3, 0}, /* the first A counts: match */
        {{"A", "B", "A"}, {"q", "yy", "x"}, 3, 0}, /* the first A is q: no */
        {{"A", "B"}, {"x", "ayyb"}, 2, 70},    /* 72 fields: match */
        {{"A", "B"}, {"z", "ayyb"}, 2, 70},    /* 72 fields, A is z: no */
        {{"AA", "B"}, {"x", "ayyb"}, 2, 0},    /* other lengths: no */
    };
    static const int want[] = {1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0};
    for (int round = 0; round < 2; round++) { /* the second round: everything remembered */
        for (size_t e = 0; e < sizeof(evs) / sizeof(evs[0]); e++) {
            struct tev t;
            tev_init(&t);
            for (int k = 0; k < evs[e].pad; k++) {
                char name[16];
                snprintf(name, sizeof(name), "pad%d", k);
                char *n = ts_arena_strndup(t.arena, name, strlen(name));
                tev_str(&t, n, "v");
            }
            for (int k = 0; k < evs[e].nf; k++)
                tev_str(&t, evs[e].names[k], evs[e].vals[k]);
            int n = 0;
            ck_assert_int_eq(rule_match(rs, sc, &t.ev, count_cb, &n), 0);
            ck_assert_msg(n == want[e], "round %d event %zu: %d matches, want %d", round, e, n,
                          want[e]);
            ck_assert_int_eq(match_count(rs, &t.ev), want[e]);
            tev_free(&t);
        }
    }
    rule_scratch_free(sc);
    rule_set_unref(rs);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("rules_prefilter");
    TCase *tc = tcase_create("prefilter");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_regex_literal_respects_optional_and_alternation);
    tcase_add_test(tc, test_caseless_regex_folds_kelvin_and_long_s);
    tcase_add_test(tc, test_regex_required_group_and_rare_byte_literals);
    tcase_add_test(tc, test_short_rare_literals_prefilter_without_loss);
    tcase_add_test(tc, test_each_event_is_matched_by_its_own_field_names);
    tcase_add_test(tc, test_prefilter_equals_exact_on_windows_corpus);
    tcase_add_test(tc, test_prefilter_equals_exact_on_whole_corpus);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
