/* compile.c - compile a Sigma `detection:` block: search identifiers (maps,
 * lists of maps, keyword lists), field keys with their modifier chains, and
 * values (wildcards and escapes, transformations, typed matchers) into the
 * struct det of rules_int.h. Problems are reported through the loader context
 * with the position of the offending YAML node; compilation goes on after a
 * problem so that one run lists them all, but a rule with any problem is
 * dropped by the caller. Single-threaded (runs inside rule_set_load).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

/* ------------------------------------------------------------ modifiers */

enum mod {
    M_CONTAINS, M_STARTSWITH, M_ENDSWITH, M_ALL, M_RE, M_RE_I, M_RE_M, M_RE_S,
    M_BASE64, M_BASE64OFFSET, M_UTF16LE, M_UTF16BE, M_UTF16, M_WIDE, M_WINDASH,
    M_CIDR, M_EXISTS, M_EXPAND, M_FIELDREF, M_LT, M_LTE, M_GT, M_GTE, M_CASED,
    M_NEQ, M_MINUTE, M_HOUR, M_DAY, M_WEEK, M_MONTH, M_YEAR, M__COUNT
};

static const struct {
    const char *name;
    enum mod m;
} mods[] = {
    {"contains", M_CONTAINS}, {"startswith", M_STARTSWITH}, {"endswith", M_ENDSWITH},
    {"all", M_ALL}, {"re", M_RE}, {"i", M_RE_I}, {"ignorecase", M_RE_I}, {"m", M_RE_M},
    {"multiline", M_RE_M}, {"s", M_RE_S}, {"dotall", M_RE_S}, {"base64", M_BASE64},
    {"base64offset", M_BASE64OFFSET}, {"utf16le", M_UTF16LE}, {"utf16be", M_UTF16BE},
    {"utf16", M_UTF16}, {"wide", M_WIDE}, {"windash", M_WINDASH}, {"cidr", M_CIDR},
    {"exists", M_EXISTS}, {"expand", M_EXPAND}, {"fieldref", M_FIELDREF}, {"lt", M_LT},
    {"lte", M_LTE}, {"gt", M_GT}, {"gte", M_GTE}, {"cased", M_CASED}, {"neq", M_NEQ},
    {"minute", M_MINUTE}, {"hour", M_HOUR}, {"day", M_DAY}, {"week", M_WEEK},
    {"month", M_MONTH}, {"year", M_YEAR},
};

/* Edit distance (case-insensitive) of a and b, for "did you mean"
 * suggestions: every caller takes 3 at most, so a distance over
 * RULE_DIST_MAX is returned as RULE_DIST_MAX + 1 and only the band of
 * cells within RULE_DIST_MAX of the diagonal is computed (a hostile rule
 * with thousands of unknown keys costs 7 cells per character, not the
 * square of its length). */
size_t rule_str_distance(const char *a, size_t la, const char *b, size_t lb)
{
    enum { K = RULE_DIST_MAX, FAR = RULE_DIST_MAX + 1 };
    size_t prev[32], cur[32];
    if (la >= 31 || lb >= 31 || (la > lb ? la - lb : lb - la) > K)
        return la >= 31 || lb >= 31 ? 99 : FAR;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j < FAR ? j : FAR;
    for (size_t i = 1; i <= la; i++) {
        size_t lo = i > K ? i - K : 1, hi = i + K < lb ? i + K : lb;
        cur[0] = i < FAR ? i : FAR;
        if (lo > 1)
            cur[lo - 1] = FAR;
        size_t best = cur[0];
        for (size_t j = lo; j <= hi; j++) {
            size_t d = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t e = j <= i - 1 + K ? prev[j] + 1 : FAR, f = cur[j - 1] + 1;
            size_t m = d < e ? (d < f ? d : f) : (e < f ? e : f);
            cur[j] = m < FAR ? m : FAR;
            best = cur[j] < best ? cur[j] : best;
        }
        if (hi < lb)
            cur[hi + 1] = FAR;
        if (best >= FAR)
            return FAR; /* every path is already too far */
        memcpy(prev, cur, sizeof(cur[0]) * (lb + 1));
    }
    return prev[lb];
}

const char *mod_suggest(const char *s, size_t len)
{
    const char *best = NULL;
    size_t bd = 99;
    for (size_t i = 0; i < TS_ARRAY_LEN(mods); i++) {
        size_t ln = strlen(mods[i].name);
        if (ln < 3)
            continue;
        size_t d = rule_str_distance(s, len, mods[i].name, ln);
        if (d < bd) {
            bd = d;
            best = mods[i].name;
        }
    }
    return bd <= 2 || (bd <= 3 && len >= 8) ? best : NULL;
}

static int mod_lookup(const char *s, size_t len)
{
    for (size_t i = 0; i < TS_ARRAY_LEN(mods); i++)
        if (strlen(mods[i].name) == len && memcmp(mods[i].name, s, len) == 0)
            return (int)mods[i].m;
    return -1;
}

/* ---------------------------------------------------------- Sigma strings */

/* A value under transformation: bytes plus a wildcard mask ('*', '?' or 0). */
struct sval {
    uint8_t *b;
    uint8_t *w;
    uint32_t n;
};

struct vlist {
    struct sval *v;
    size_t n, cap;
};

static int vl_push(struct lctx *c, struct vlist *l, struct sval v)
{
    if (l->n >= RULE_MAX_VALUES)
        return TS_E_LIMIT;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4;
        struct sval *nv = lctx_alloc(c, nc * sizeof(*nv));
        if (!nv)
            return TS_E_NOMEM;
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof(*nv));
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = v;
    return 0;
}

static int sv_new(struct lctx *c, struct sval *v, size_t cap)
{
    if (cap > RULE_MAX_VALUE_LEN)
        return TS_E_LIMIT;
    v->b = lctx_alloc(c, cap + 1);
    v->w = lctx_alloc(c, cap + 1);
    v->n = 0;
    return v->b && v->w ? 0 : TS_E_NOMEM;
}

static void sv_put(struct sval *v, uint8_t byte, uint8_t wild)
{
    v->b[v->n] = byte;
    v->w[v->n] = wild;
    v->n++;
}

/* Parse a rule string with Sigma's escapes: \* \? \\ are escapes, any other
 * backslash is literal; unescaped * and ? are wildcards. */
static int sv_parse(struct lctx *c, const char *s, size_t len, struct sval *out)
{
    int rc = sv_new(c, out, len);
    if (rc)
        return rc;
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = (uint8_t)s[i];
        if (ch == '\\' && i + 1 < len && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            sv_put(out, (uint8_t)s[++i], 0);
        } else if (ch == '*' || ch == '?') {
            sv_put(out, ch, ch);
        } else {
            sv_put(out, ch, 0);
        }
    }
    return 0;
}

static int sv_plain(struct lctx *c, const char *s, size_t len, struct sval *out)
{
    int rc = sv_new(c, out, len);
    if (rc)
        return rc;
    for (size_t i = 0; i < len; i++)
        sv_put(out, (uint8_t)s[i], 0);
    return 0;
}

static bool sv_has_wild(const struct sval *v)
{
    for (uint32_t i = 0; i < v->n; i++)
        if (v->w[i])
            return true;
    return false;
}

static int sv_wrap(struct lctx *c, struct sval *v, bool front, bool back)
{
    bool f = front && !(v->n && v->w[0] == '*');
    bool b = back && !(v->n && v->w[v->n - 1] == '*');
    if (!f && !b)
        return 0;
    struct sval o;
    int rc = sv_new(c, &o, (size_t)v->n + 2);
    if (rc)
        return rc;
    if (f)
        sv_put(&o, '*', '*');
    for (uint32_t i = 0; i < v->n; i++)
        sv_put(&o, v->b[i], v->w[i]);
    if (b)
        sv_put(&o, '*', '*');
    *v = o;
    return 0;
}

static const char b64tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int sv_base64(struct lctx *c, const uint8_t *p, size_t n, struct sval *out)
{
    int rc = sv_new(c, out, (n + 2) / 3 * 4);
    if (rc)
        return rc;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        sv_put(out, (uint8_t)b64tab[x >> 18], 0);
        sv_put(out, (uint8_t)b64tab[(x >> 12) & 63], 0);
        sv_put(out, (uint8_t)b64tab[(x >> 6) & 63], 0);
        sv_put(out, (uint8_t)b64tab[x & 63], 0);
    }
    if (i < n) {
        uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        sv_put(out, (uint8_t)b64tab[x >> 18], 0);
        sv_put(out, (uint8_t)b64tab[(x >> 12) & 63], 0);
        sv_put(out, i + 1 < n ? (uint8_t)b64tab[(x >> 6) & 63] : '=', 0);
        sv_put(out, '=', 0);
    }
    return 0;
}

/* base64offset as pySigma does it: the value shifted by 0, 1, 2 bytes, with
 * the characters that depend on the unknown neighbours cut off. */
static int sv_base64offset(struct lctx *c, const struct sval *v, struct vlist *out)
{
    static const int start[3] = {0, 2, 3};
    static const int endcut[3] = {0, 3, 2};
    for (int i = 0; i < 3; i++) {
        size_t n = (size_t)i + v->n;
        uint8_t *tmp = lctx_alloc(c, n + 1);
        if (!tmp)
            return TS_E_NOMEM;
        memset(tmp, ' ', (size_t)i);
        memcpy(tmp + i, v->b, v->n);
        struct sval e;
        int rc = sv_base64(c, tmp, n, &e);
        if (rc)
            return rc;
        size_t cut = (size_t)endcut[n % 3];
        size_t s0 = (size_t)start[i];
        if (e.n < s0 + cut)
            continue; /* too short to say anything */
        struct sval o = {.b = e.b + s0, .w = e.w + s0, .n = (uint32_t)(e.n - s0 - cut)};
        if ((rc = vl_push(c, out, o)))
            return rc;
    }
    return 0;
}

/* UTF-8 → UTF-16 (le/be); wildcards stay wildcards. Invalid UTF-8 bytes are
 * taken as Latin-1. */
static int sv_utf16(struct lctx *c, struct sval *v, bool be, bool bom)
{
    struct sval o;
    int rc = sv_new(c, &o, (size_t)v->n * 4 + 2);
    if (rc)
        return rc;
    if (bom) {
        sv_put(&o, be ? 0xFE : 0xFF, 0);
        sv_put(&o, be ? 0xFF : 0xFE, 0);
    }
    for (uint32_t i = 0; i < v->n;) {
        if (v->w[i]) {
            sv_put(&o, v->b[i], v->w[i]);
            i++;
            continue;
        }
        uint32_t cp = v->b[i], need = 0;
        if (cp >= 0xF0 && cp < 0xF8)
            need = 3, cp &= 7;
        else if (cp >= 0xE0 && cp < 0xF0)
            need = 2, cp &= 15;
        else if (cp >= 0xC0 && cp < 0xE0)
            need = 1, cp &= 31;
        bool ok = i + need < v->n;
        for (uint32_t k = 1; ok && k <= need; k++)
            ok = (v->b[i + k] & 0xC0) == 0x80 && !v->w[i + k];
        if (need && ok) {
            for (uint32_t k = 1; k <= need; k++)
                cp = cp << 6 | (v->b[i + k] & 0x3F);
            i += need + 1;
        } else {
            cp = v->b[i];
            i++;
        }
        uint16_t u[2];
        int nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            u[0] = (uint16_t)(0xD800 | (cp >> 10));
            u[1] = (uint16_t)(0xDC00 | (cp & 0x3FF));
            nu = 2;
        } else {
            u[0] = (uint16_t)cp;
        }
        for (int k = 0; k < nu; k++) {
            uint8_t lo = (uint8_t)(u[k] & 0xFF), hi = (uint8_t)(u[k] >> 8);
            sv_put(&o, be ? hi : lo, 0);
            sv_put(&o, be ? lo : hi, 0);
        }
    }
    *v = o;
    return 0;
}

static bool is_word(uint8_t ch, uint8_t w)
{
    return !w && (isalnum(ch) || ch == '_');
}

/* windash as pySigma: every '-' or '/' that starts a word after a non-word
 * (regex \B[-/]\b) becomes each of - / – — ―. */
static int sv_windash(struct lctx *c, const struct sval *v, struct vlist *out)
{
    uint32_t pos[RULE_MAX_WINDASH];
    uint32_t k = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        if (v->w[i] || (v->b[i] != '-' && v->b[i] != '/'))
            continue;
        bool before_word = i > 0 && is_word(v->b[i - 1], v->w[i - 1]);
        bool after_word = i + 1 < v->n && is_word(v->b[i + 1], v->w[i + 1]);
        if (before_word || !after_word)
            continue;
        if (k == RULE_MAX_WINDASH)
            return TS_E_UNSUPPORTED;
        pos[k++] = i;
    }
    static const char *const dash[5] = {"-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95"};
    uint32_t total = 1;
    for (uint32_t i = 0; i < k; i++)
        total *= 5;
    for (uint32_t comb = 0; comb < total; comb++) {
        struct sval o;
        int rc = sv_new(c, &o, (size_t)v->n + 2 * k);
        if (rc)
            return rc;
        uint32_t x = comb, j = 0;
        for (uint32_t i = 0; i < v->n; i++) {
            if (j < k && pos[j] == i) {
                const char *d = dash[x % 5];
                x /= 5;
                j++;
                for (; *d; d++)
                    sv_put(&o, (uint8_t)*d, 0);
            } else {
                sv_put(&o, v->b[i], v->w[i]);
            }
        }
        if ((rc = vl_push(c, out, o)))
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------- numbers */

static bool parse_number(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double d;
    const char *p = buf[0] == '-' || buf[0] == '+' ? buf + 1 : buf;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        long long x = strtoll(buf, &end, 16);
        d = (double)x;
    } else {
        if (!isdigit((unsigned char)*p) && *p != '.')
            return false;
        d = strtod(buf, &end);
    }
    if (*end || errno || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* ------------------------------------------------------------ positions */

static unsigned key_col(const struct ts_ynode *key, size_t off)
{
    size_t col = key->col + (key->style == TS_YS_QUOTED ? 1 : 0) + off;
    return col > 100000 ? 0 : (unsigned)col;
}

/* ------------------------------------------------------------- matchers */

static void lower_bytes(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 'A' && p[i] <= 'Z')
            p[i] = (char)(p[i] + 32);
}

/* Turn a wildcard string into a matcher (EQ/PREFIX/SUFFIX/CONTAINS/ANY/GLOB). */
static int vm_from_sval(struct lctx *c, const struct sval *v, bool cased, struct vmatch *m)
{
    uint32_t nwild = 0, first = UINT32_MAX, lastw = 0;
    bool has_q = false;
    for (uint32_t i = 0; i < v->n; i++)
        if (v->w[i]) {
            nwild++;
            if (first == UINT32_MAX)
                first = i;
            lastw = i;
            if (v->w[i] == '?')
                has_q = true;
        }
    m->cased = cased;
    uint32_t s0 = 0, s1 = v->n;
    if (nwild == 0) {
        m->op = VOP_EQ;
    } else if (!has_q && nwild == v->n) {
        m->op = VOP_ANY;
        s0 = s1 = 0;
    } else if (!has_q && nwild == 1 && lastw == v->n - 1) {
        m->op = VOP_PREFIX;
        s1 = v->n - 1;
    } else if (!has_q && nwild == 1 && first == 0) {
        m->op = VOP_SUFFIX;
        s0 = 1;
    } else if (!has_q && nwild == 2 && first == 0 && lastw == v->n - 1) {
        m->op = VOP_CONTAINS;
        s0 = 1;
        s1 = v->n - 1;
    } else {
        m->op = VOP_GLOB;
    }
    char *lit = lctx_alloc(c, (size_t)(s1 - s0) + 1);
    if (!lit)
        return TS_E_NOMEM;
    memcpy(lit, v->b + s0, s1 - s0);
    lit[s1 - s0] = '\0';
    if (!cased)
        lower_bytes(lit, s1 - s0);
    m->lit = lit;
    m->len = s1 - s0;
    if (m->op == VOP_GLOB) {
        uint8_t *w = lctx_alloc(c, v->n + 1);
        if (!w)
            return TS_E_NOMEM;
        memcpy(w, v->w, v->n);
        m->wmask = w;
    }
    return 0;
}

static int add_regex(struct lctx *c, pcre2_code *re)
{
    struct rule *r = c->r;
    if (r->nres == r->capres) {
        size_t nc = r->capres ? r->capres * 2 : 4;
        pcre2_code **n = lctx_alloc(c, nc * sizeof(*n));
        if (!n)
            return TS_E_NOMEM;
        if (r->nres)
            memcpy(n, r->res, r->nres * sizeof(*n));
        r->res = n;
        r->capres = nc;
    }
    r->res[r->nres++] = re;
    return 0;
}

/* ------------------------------------------------- regular expressions */

/* The length of a counted repeat {n}, {n,} or {n,m} at p (0 when p is not
 * one: PCRE2 reads the brace as a literal); *unbounded for {n,}. */
static size_t re_brace(const char *p, size_t n, bool *unbounded)
{
    size_t i = 1, d;
    *unbounded = false;
    for (d = i; i < n && p[i] >= '0' && p[i] <= '9'; i++)
        ;
    if (i == d)
        return 0;
    if (i < n && p[i] == ',') {
        i++;
        for (d = i; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            ;
        *unbounded = i == d;
    }
    return i < n && p[i] == '}' ? i + 1 : 0;
}

/* What decides the worst case of a search on a long value (struct rule_re),
 * read off the pattern text:
 * - *repeats: unbounded repeats (*, +, {n,}) that give back what they took
 *   when the search backtracks (possessive ones do not);
 * - *prefix_ok: no construct that looks past the end of a match or depends
 *   on where the subject ends ($, \z, \Z, \b, \B, \G, lookahead and
 *   lookbehind, backtracking verbs), so a match found in the first bytes of
 *   a value is a match of the whole value.
 * A syntactic scan that errs on the safe side (a repeat too many, prefix_ok
 * false): extended syntax (?x) gives up on prefix_ok. */
static void re_shape(const char *p, size_t n, uint32_t *repeats, bool *prefix_ok)
{
    uint32_t rep = 0;
    bool ok = true, atom = false; /* atom: what precedes can take a repeat */
    for (size_t i = 0; i < n;) {
        char ch = p[i];
        if (ch == '\\') {
            char e = i + 1 < n ? p[i + 1] : '\0';
            i += 2;
            if (e == 'Q') { /* literal text up to \E */
                while (i < n && !(p[i] == '\\' && i + 1 < n && p[i + 1] == 'E'))
                    i++;
                i += 2;
            } else if (e && strchr("zZbBG", e)) {
                ok = false;
            } else if (e && strchr("xopNPgk", e) && i < n &&
                       (p[i] == '{' || p[i] == '<' || p[i] == '\'')) {
                char close = p[i] == '{' ? '}' : p[i] == '<' ? '>' : '\'';
                while (i < n && p[i] != close)
                    i++;
                i++;
            } else if (e == 'c') {
                i++; /* \cX */
            }
            atom = true;
            continue;
        }
        if (ch == '[') {
            i = rule_re_skip_class(p, i, n);
            atom = true;
            continue;
        }
        if (ch == '(') {
            if (i + 2 < n && p[i + 1] == '?' && p[i + 2] == '#') { /* comment */
                while (i < n && p[i] != ')')
                    i++;
                i++;
                continue;
            }
            if (i + 1 < n && p[i + 1] == '*')
                ok = false; /* verbs, alpha assertions */
            if (i + 2 < n && p[i + 1] == '?') {
                char q = p[i + 2];
                if (q == '=' || q == '!' ||
                    (q == '<' && i + 3 < n && (p[i + 3] == '=' || p[i + 3] == '!')))
                    ok = false;
                for (size_t j = i + 2; j < n && (isalpha((unsigned char)p[j]) || p[j] == '-' ||
                                                 p[j] == '^'); j++)
                    if (p[j] == 'x')
                        ok = false; /* (?x): comments and spaces not read here */
            }
            i++;
            atom = false;
            continue;
        }
        if (ch == ')') {
            i++;
            atom = true;
            continue;
        }
        if (ch == '$')
            ok = false;
        size_t q = 0;
        bool unbounded = false;
        if (atom && (ch == '*' || ch == '+')) {
            q = 1;
            unbounded = true;
        } else if (atom && ch == '?') {
            q = 1;
        } else if (atom && ch == '{') {
            q = re_brace(p + i, n - i, &unbounded);
        }
        if (q) {
            i += q;
            bool possessive = i < n && p[i] == '+';
            if (i < n && (p[i] == '+' || p[i] == '?'))
                i++;
            if (unbounded && !possessive)
                rep++;
            atom = false;
            continue;
        }
        atom = ch != '|';
        i++;
    }
    *repeats = rep;
    *prefix_ok = ok;
}

/* An ASCII byte that every match of re contains, or 0. */
static uint8_t re_need(const pcre2_code *re)
{
    uint32_t type = 0, cu = 0;
    if (pcre2_pattern_info(re, PCRE2_INFO_LASTCODETYPE, &type) == 0 && type == 1 &&
        pcre2_pattern_info(re, PCRE2_INFO_LASTCODEUNIT, &cu) == 0 && cu > 0 && cu < 0x80)
        return (uint8_t)cu;
    if (pcre2_pattern_info(re, PCRE2_INFO_FIRSTCODETYPE, &type) == 0 && type == 1 &&
        pcre2_pattern_info(re, PCRE2_INFO_FIRSTCODEUNIT, &cu) == 0 && cu > 0 && cu < 0x80)
        return (uint8_t)cu;
    return 0;
}

/* Compile-time bounds of a search with re (pattern text s, len bytes). */
static struct rule_re *re_bounds(struct lctx *c, pcre2_code *re, const char *s, size_t len)
{
    struct rule_re *x = lctx_alloc(c, sizeof(*x));
    if (!x)
        return NULL;
    uint32_t reps;
    bool prefix_ok;
    re_shape(s, len, &reps, &prefix_ok);
    size_t w = c->rs->re_max_subject;
    if (reps > RULE_RE_FREE_REPEATS)
        w = reps - RULE_RE_FREE_REPEATS >= 32 ? 0 : w >> (reps - RULE_RE_FREE_REPEATS);
    x->code = re;
    x->window = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
    x->prefix_ok = prefix_ok;
    x->need = re_need(re);
    return x;
}

/* ------------------------------------------------------------ one field */

struct mods_seen {
    uint32_t bits;
    enum mod order[16];
    unsigned col[16];
    size_t n;
};

static bool has(const struct mods_seen *ms, enum mod m)
{
    return ms->bits & (1u << m);
}

static const char *mod_name(enum mod m)
{
    for (size_t i = 0; i < TS_ARRAY_LEN(mods); i++)
        if (mods[i].m == m)
            return mods[i].name;
    return "?";
}

#define PROB(kind, node, ...) lctx_problem(c, kind, node, 0, 0, __VA_ARGS__)

/* Expand %placeholders% (modifier expand) in the raw value text. */
static int expand_raw(struct lctx *c, const struct ts_ynode *vn, const char *s, size_t len,
                      struct vlist *raws)
{
    /* Work list of partially expanded strings: expand one placeholder at a time. */
    struct vlist work = {0};
    struct sval first;
    int rc = sv_plain(c, s, len, &first);
    if (rc || (rc = vl_push(c, &work, first)))
        return rc;
    for (size_t wi = 0; wi < work.n; wi++) {
        struct sval cur = work.v[wi];
        /* find the first unescaped %name% */
        uint32_t a = UINT32_MAX, b = 0;
        for (uint32_t i = 0; i < cur.n; i++) {
            if (cur.b[i] == '\\' && i + 1 < cur.n && cur.b[i + 1] == '%') {
                i++;
                continue;
            }
            if (cur.b[i] == '%') {
                for (uint32_t j = i + 1; j < cur.n; j++)
                    if (cur.b[j] == '%') {
                        a = i;
                        b = j;
                        break;
                    }
                break;
            }
        }
        if (a == UINT32_MAX) {
            /* done: drop the \% escapes */
            struct sval o;
            if ((rc = sv_new(c, &o, cur.n)))
                return rc;
            for (uint32_t i = 0; i < cur.n; i++) {
                if (cur.b[i] == '\\' && i + 1 < cur.n && cur.b[i + 1] == '%')
                    i++;
                sv_put(&o, cur.b[i], 0);
            }
            if ((rc = vl_push(c, raws, o)))
                return rc;
            continue;
        }
        const struct rule_placeholder *ph = NULL;
        for (size_t p = 0; p < c->o->nplaceholders; p++) {
            const char *nm = c->o->placeholders[p].name;
            if (nm && strlen(nm) == b - a - 1 && memcmp(nm, cur.b + a + 1, b - a - 1) == 0)
                ph = &c->o->placeholders[p];
        }
        if (!ph || ph->nvalues == 0) {
            PROB(RULE_UNSUPPORTED, vn, "placeholder %%%.*s%% has no values configured (modifier expand)",
                 (int)(b - a - 1), (const char *)cur.b + a + 1);
            return TS_E_UNSUPPORTED;
        }
        for (size_t k = 0; k < ph->nvalues; k++) {
            const char *pv = ph->values[k] ? ph->values[k] : "";
            size_t pl = strlen(pv);
            struct sval o;
            if ((rc = sv_new(c, &o, (size_t)cur.n + pl)))
                return rc;
            for (uint32_t i = 0; i < a; i++)
                sv_put(&o, cur.b[i], 0);
            for (size_t i = 0; i < pl; i++)
                sv_put(&o, (uint8_t)pv[i], 0);
            for (uint32_t i = b + 1; i < cur.n; i++)
                sv_put(&o, cur.b[i], 0);
            if ((rc = vl_push(c, &work, o)))
                return rc;
        }
    }
    return 0;
}

static int cidr_parse(const char *s, size_t len, struct ts_ip *net, uint8_t *prefix)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    if (ts_ip_parse(s, alen, net) != 0)
        return -1;
    unsigned maxp = net->family == 4 ? 32 : 128, p = maxp;
    if (slash) {
        p = 0;
        size_t i = alen + 1;
        if (i >= len || len - i > 3)
            return -1;
        for (; i < len; i++) {
            if (!isdigit((unsigned char)s[i]))
                return -1;
            p = p * 10 + (unsigned)(s[i] - '0');
        }
        if (p > maxp)
            return -1;
    }
    *prefix = (uint8_t)p;
    for (unsigned bit = p; bit < 128; bit++)
        net->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
    return 0;
}

/* Compile `key: value` of a selection map into f. */
static int field_compile(struct lctx *c, const struct ts_ynode *key, const struct ts_ynode *val,
                         struct fcond *f)
{
    const char *k = key->str;
    size_t klen = key->len;
    const char *bar = memchr(k, '|', klen);
    size_t nlen = bar ? (size_t)(bar - k) : klen;
    struct mods_seen ms = {0};
    int bad = 0;
    memset(f, 0, sizeof(*f));
    f->key = lctx_strdup(c, k, klen);
    if (!f->key)
        return TS_E_NOMEM;
    /* modifiers */
    for (size_t off = nlen; off < klen;) {
        size_t s = off + 1, e = s;
        while (e < klen && k[e] != '|')
            e++;
        unsigned col = key_col(key, s);
        if (e == s) {
            lctx_problem(c, RULE_INVALID, key, key->line, col, "empty modifier in \"%.*s\"",
                         (int)klen, k);
            bad = 1;
        } else {
            int m = mod_lookup(k + s, e - s);
            if (m < 0) {
                const char *sug = mod_suggest(k + s, e - s);
                if (sug)
                    lctx_problem(c, RULE_INVALID, key, key->line, col,
                                 "unknown modifier \"%.*s\" (did you mean \"%s\"?)", (int)(e - s),
                                 k + s, sug);
                else
                    lctx_problem(c, RULE_INVALID, key, key->line, col, "unknown modifier \"%.*s\"",
                                 (int)(e - s), k + s);
                bad = 1;
            } else if (ms.n >= TS_ARRAY_LEN(ms.order)) {
                lctx_problem(c, RULE_INVALID, key, key->line, col, "too many modifiers");
                bad = 1;
            } else {
                if (has(&ms, (enum mod)m)) {
                    lctx_problem(c, RULE_INVALID, key, key->line, col, "modifier \"%s\" repeated",
                                 mod_name((enum mod)m));
                    bad = 1;
                }
                ms.bits |= 1u << m;
                ms.col[ms.n] = col;
                ms.order[ms.n++] = (enum mod)m;
            }
        }
        off = e;
    }
    if (bad)
        return TS_E_INVAL;
    /* keyword searches are substring searches unless told otherwise */
    if (nlen == 0 && !has(&ms, M_CONTAINS) && !has(&ms, M_STARTSWITH) && !has(&ms, M_ENDSWITH) &&
        !has(&ms, M_RE) && ms.n < TS_ARRAY_LEN(ms.order)) {
        ms.bits |= 1u << M_CONTAINS;
        ms.col[ms.n] = key->col;
        ms.order[ms.n++] = M_CONTAINS;
    }

    /* field */
    if (nlen == 0) {
        f->field = FIELD_KEYWORDS;
    } else {
        f->field = rset_field_intern(c, k, nlen);
        if (f->field == UINT32_MAX)
            return c->fatal ? c->fatal : TS_E_LIMIT;
    }

    /* type modifiers must not be mixed */
    static const enum mod types[] = {M_RE, M_CIDR, M_EXISTS, M_FIELDREF, M_LT, M_LTE, M_GT, M_GTE};
    enum mod ty = M__COUNT;
    for (size_t i = 0; i < TS_ARRAY_LEN(types); i++)
        if (has(&ms, types[i])) {
            if (ty != M__COUNT) {
                PROB(RULE_INVALID, key, "modifiers \"%s\" and \"%s\" cannot be combined",
                     mod_name(ty), mod_name(types[i]));
                return TS_E_INVAL;
            }
            ty = types[i];
        }
    uint8_t timepart = TP_NONE;
    static const enum mod tmods[] = {M_MINUTE, M_HOUR, M_DAY, M_WEEK, M_MONTH, M_YEAR};
    for (size_t i = 0; i < TS_ARRAY_LEN(tmods); i++)
        if (has(&ms, tmods[i])) {
            if (timepart) {
                PROB(RULE_INVALID, key, "only one time modifier may be used");
                return TS_E_INVAL;
            }
            timepart = (uint8_t)(TP_MINUTE + i);
        }
    for (size_t i = 0; i < ms.n; i++) {
        enum mod m = ms.order[i];
        if ((m == M_RE_I || m == M_RE_M || m == M_RE_S) && !has(&ms, M_RE)) {
            lctx_problem(c, RULE_INVALID, key, key->line, ms.col[i],
                         "modifier \"%s\" is a sub-modifier of \"re\"", mod_name(m));
            return TS_E_INVAL;
        }
    }
    const uint32_t transforms = 1u << M_BASE64 | 1u << M_BASE64OFFSET | 1u << M_UTF16LE |
                                1u << M_UTF16BE | 1u << M_UTF16 | 1u << M_WIDE | 1u << M_WINDASH |
                                1u << M_EXPAND;
    const uint32_t wrap = 1u << M_CONTAINS | 1u << M_STARTSWITH | 1u << M_ENDSWITH;
    if (ty != M__COUNT && ty != M_FIELDREF && (ms.bits & (transforms | wrap))) {
        PROB(RULE_INVALID, key, "modifier \"%s\" cannot be combined with string transformations",
             mod_name(ty));
        return TS_E_INVAL;
    }
    if (ty == M_FIELDREF && (ms.bits & transforms)) {
        PROB(RULE_INVALID, key, "modifier \"fieldref\" cannot be combined with string transformations");
        return TS_E_INVAL;
    }
    if (timepart && ty != M__COUNT && ty != M_LT && ty != M_LTE && ty != M_GT && ty != M_GTE) {
        PROB(RULE_INVALID, key, "time modifiers combine only with lt/lte/gt/gte");
        return TS_E_INVAL;
    }
    if (timepart && (ms.bits & (transforms | wrap))) {
        PROB(RULE_INVALID, key, "time modifiers cannot be combined with string modifiers");
        return TS_E_INVAL;
    }
    if (f->field == FIELD_KEYWORDS && (ty != M__COUNT || timepart)) {
        PROB(RULE_INVALID, key, "keyword searches take only string modifiers");
        return TS_E_INVAL;
    }
    bool wrap_count = 0;
    int nwrap = has(&ms, M_CONTAINS) + has(&ms, M_STARTSWITH) + has(&ms, M_ENDSWITH);
    wrap_count = nwrap > 1;
    if (wrap_count) {
        PROB(RULE_INVALID, key, "contains, startswith and endswith exclude each other");
        return TS_E_INVAL;
    }

    /* values */
    const struct ts_ynode *one[1] = {val};
    const struct ts_ynode *const *items = one;
    size_t nitems = 1;
    if (val->kind == TS_Y_SEQ) {
        items = (const struct ts_ynode *const *)val->items;
        nitems = val->nitems;
        if (nitems == 0) {
            PROB(RULE_INVALID, val, "empty list of values for \"%.*s\"", (int)klen, k);
            return TS_E_INVAL;
        }
    }
    for (size_t i = 0; i < nitems; i++) {
        if (items[i]->kind != TS_Y_SCALAR) {
            PROB(RULE_INVALID, items[i], "wrong value type for \"%.*s\": %s (expected a string, "
                 "number, boolean or null)", (int)klen, k, ts_yaml_kind_name(items[i]));
            return TS_E_INVAL;
        }
        if (nitems > 1 && ts_yaml_is_null(items[i])) {
            PROB(RULE_INVALID, items[i], "null cannot be part of a list of values; use a "
                 "separate selection");
            return TS_E_INVAL;
        }
    }
    f->all = has(&ms, M_ALL);
    f->neg = has(&ms, M_NEQ);

    if (ty == M_EXISTS) {
        const struct ts_ynode *v = items[0];
        bool t = v->style == TS_YS_PLAIN && (strcmp(v->str, "true") == 0 || strcmp(v->str, "True") == 0);
        bool fl = v->style == TS_YS_PLAIN && (strcmp(v->str, "false") == 0 || strcmp(v->str, "False") == 0);
        if (nitems != 1 || (!t && !fl)) {
            PROB(RULE_INVALID, v, "modifier \"exists\" takes true or false");
            return TS_E_INVAL;
        }
        if (ms.n != 1) {
            PROB(RULE_INVALID, key, "modifier \"exists\" cannot be combined with other modifiers");
            return TS_E_INVAL;
        }
        f->kind = FC_EXISTS;
        f->want = t;
        return 0;
    }
    if (nitems == 1 && ts_yaml_is_null(items[0])) {
        if (ms.bits & ~(1u << M_NEQ)) {
            PROB(RULE_INVALID, items[0], "null takes no modifiers other than neq");
            return TS_E_INVAL;
        }
        f->kind = FC_NULL;
        return 0;
    }
    f->kind = FC_VALUES;

    struct vmatch *vm = NULL;
    size_t nvm = 0, capvm = 0;
    bool cased = has(&ms, M_CASED);
    for (size_t i = 0; i < nitems; i++) {
        const struct ts_ynode *vn = items[i];
        const char *s = vn->str;
        size_t len = vn->len;
        bool plain = vn->style == TS_YS_PLAIN;
        double num = 0;
        bool isnum = plain && parse_number(s, len, &num);
        const char *text = lctx_strdup(c, s, len);
        if (!text)
            return TS_E_NOMEM;
        struct vlist out = {0};
        int rc = 0;
        struct vmatch base = {.text = text, .cased = cased, .timepart = timepart};

        if (ty == M_RE) {
            uint32_t opt = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
            if (has(&ms, M_RE_I))
                opt |= PCRE2_CASELESS;
            if (has(&ms, M_RE_M))
                opt |= PCRE2_MULTILINE;
            if (has(&ms, M_RE_S))
                opt |= PCRE2_DOTALL;
            if (len > RULE_MAX_VALUE_LEN) {
                PROB(RULE_INVALID, vn, "regular expression longer than %u bytes", RULE_MAX_VALUE_LEN);
                return TS_E_INVAL;
            }
            int ecode;
            PCRE2_SIZE eoff;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)s, len, opt, &ecode, &eoff, NULL);
            if (!re) {
                PCRE2_UCHAR msg[160];
                pcre2_get_error_message(ecode, msg, sizeof(msg));
                PROB(RULE_INVALID, vn, "bad regular expression at offset %zu: %s", (size_t)eoff,
                     (const char *)msg);
                return TS_E_INVAL;
            }
            if (add_regex(c, re)) {
                pcre2_code_free(re);
                return TS_E_NOMEM;
            }
            (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
            base.op = VOP_RE;
            if (!(base.re = re_bounds(c, re, s, len)))
                return TS_E_NOMEM;
            base.lit = text;
            base.len = (uint32_t)len;
        } else if (ty == M_CIDR) {
            if (cidr_parse(s, len, &base.net, &base.prefix) != 0) {
                PROB(RULE_INVALID, vn, "\"%.*s\" is not a CIDR network (modifier cidr)", (int)len, s);
                return TS_E_INVAL;
            }
            base.op = VOP_CIDR;
        } else if (ty == M_LT || ty == M_LTE || ty == M_GT || ty == M_GTE || timepart) {
            if (!parse_number(s, len, &num)) {
                PROB(RULE_INVALID, vn, "\"%.*s\" is not a number (modifier %s)", (int)len, s,
                     mod_name(ty != M__COUNT ? ty : ms.order[0]));
                return TS_E_INVAL;
            }
            base.op = VOP_CMP;
            base.num = num;
            base.cmp = ty == M_LT ? CMP_LT : ty == M_LTE ? CMP_LTE : ty == M_GT ? CMP_GT
                     : ty == M_GTE ? CMP_GTE : CMP_EQ;
        } else if (ty == M_FIELDREF) {
            base.op = VOP_REF;
            base.refmode = has(&ms, M_CONTAINS) ? VOP_CONTAINS : has(&ms, M_STARTSWITH) ? VOP_PREFIX
                         : has(&ms, M_ENDSWITH) ? VOP_SUFFIX : VOP_EQ;
            base.ref = rset_field_intern(c, s, len);
            if (base.ref == UINT32_MAX)
                return c->fatal ? c->fatal : TS_E_LIMIT;
        }
        if (base.op) {
            if (nvm == capvm) {
                size_t nc = capvm ? capvm * 2 : 4;
                struct vmatch *n = lctx_alloc(c, nc * sizeof(*n));
                if (!n)
                    return TS_E_NOMEM;
                if (nvm)
                    memcpy(n, vm, nvm * sizeof(*n));
                vm = n;
                capvm = nc;
            }
            vm[nvm++] = base;
            continue;
        }

        /* string values: expand, parse escapes, transform in modifier order */
        struct vlist raws = {0};
        if (has(&ms, M_EXPAND)) {
            if ((rc = expand_raw(c, vn, s, len, &raws)))
                return rc == TS_E_LIMIT ? (PROB(RULE_UNSUPPORTED, vn, "expand gives more than %u values",
                                                RULE_MAX_VALUES), rc) : rc;
        } else {
            struct sval rv = {.b = (uint8_t *)(uintptr_t)s, .w = NULL, .n = (uint32_t)len};
            if ((rc = vl_push(c, &raws, rv)))
                return rc;
        }
        for (size_t r = 0; r < raws.n; r++) {
            struct sval sv;
            if ((rc = sv_parse(c, (const char *)raws.v[r].b, raws.v[r].n, &sv)) ||
                (rc = vl_push(c, &out, sv)))
                return rc;
        }
        for (size_t mi = 0; mi < ms.n; mi++) {
            enum mod m = ms.order[mi];
            struct vlist next = {0};
            for (size_t j = 0; j < out.n; j++) {
                struct sval v = out.v[j];
                switch (m) {
                case M_CONTAINS: rc = sv_wrap(c, &v, true, true); break;
                case M_STARTSWITH: rc = sv_wrap(c, &v, false, true); break;
                case M_ENDSWITH: rc = sv_wrap(c, &v, true, false); break;
                case M_UTF16LE:
                case M_WIDE: rc = sv_utf16(c, &v, false, false); break;
                case M_UTF16BE: rc = sv_utf16(c, &v, true, false); break;
                case M_UTF16: rc = sv_utf16(c, &v, false, true); break;
                case M_BASE64:
                case M_BASE64OFFSET:
                    if (sv_has_wild(&v)) {
                        PROB(RULE_INVALID, vn, "modifier \"%s\" cannot encode a value with "
                             "wildcards (apply contains/startswith/endswith after it)", mod_name(m));
                        return TS_E_INVAL;
                    }
                    if (m == M_BASE64)
                        rc = sv_base64(c, v.b, v.n, &v);
                    else {
                        rc = sv_base64offset(c, &v, &next);
                        if (rc)
                            return rc;
                        continue;
                    }
                    break;
                case M_WINDASH:
                    rc = sv_windash(c, &v, &next);
                    if (rc == TS_E_UNSUPPORTED) {
                        PROB(RULE_UNSUPPORTED, vn, "windash on a value with more than %u flags",
                             RULE_MAX_WINDASH);
                        return rc;
                    }
                    if (rc == TS_E_LIMIT) {
                        PROB(RULE_UNSUPPORTED, vn, "more than %u values after windash", RULE_MAX_VALUES);
                        return rc;
                    }
                    if (rc)
                        return rc;
                    continue;
                default: break;
                }
                if (rc)
                    return rc;
                if ((rc = vl_push(c, &next, v))) {
                    PROB(RULE_UNSUPPORTED, vn, "more than %u values after transformation",
                         RULE_MAX_VALUES);
                    return rc;
                }
            }
            out = next;
        }
        if (nvm + out.n > RULE_MAX_VALUES) {
            PROB(RULE_UNSUPPORTED, vn, "more than %u values in one field condition", RULE_MAX_VALUES);
            return TS_E_LIMIT;
        }
        if (nvm + out.n > capvm) {
            size_t nc = capvm ? capvm : 4;
            while (nc < nvm + out.n)
                nc *= 2;
            struct vmatch *n = lctx_alloc(c, nc * sizeof(*n));
            if (!n)
                return TS_E_NOMEM;
            if (nvm)
                memcpy(n, vm, nvm * sizeof(*n));
            vm = n;
            capvm = nc;
        }
        for (size_t j = 0; j < out.n; j++) {
            struct vmatch m = base;
            if ((rc = vm_from_sval(c, &out.v[j], cased, &m)))
                return rc;
            /* a plain number compares numerically with numeric fields */
            if (isnum && ms.n == 0 && m.op == VOP_EQ) {
                m.has_num = 1;
                m.num = num;
            }
            vm[nvm++] = m;
        }
    }
    f->v = vm;
    f->nv = (uint32_t)nvm;

    /* evaluation cost, cheap first */
    unsigned cost = 2;
    switch (vm[0].op) {
    case VOP_EQ: cost = vm[0].has_num ? 1 : 2; break;
    case VOP_PREFIX: case VOP_SUFFIX: case VOP_ANY: cost = 2; break;
    case VOP_CONTAINS: case VOP_CIDR: case VOP_CMP: case VOP_REF: cost = 3; break;
    case VOP_GLOB: cost = 4; break;
    case VOP_RE: cost = 6; break;
    default: break;
    }
    if (f->field == FIELD_KEYWORDS)
        cost += 2;
    unsigned nvc = f->nv > 15 ? 15 : f->nv;
    f->cost = (uint8_t)(cost * 16 + nvc);
    return 0;
}

/* ------------------------------------------------------------ selections */

static int cmp_cost(const void *a, const void *b)
{
    const struct fcond *x = a, *y = b;
    return (int)x->cost - (int)y->cost;
}

static int map_compile(struct lctx *c, const struct ts_ynode *map, struct conj *out)
{
    if (map->npairs == 0) {
        PROB(RULE_INVALID, map, "empty selection");
        return TS_E_INVAL;
    }
    if (map->npairs > RULE_MAX_CONDS) {
        PROB(RULE_UNSUPPORTED, map, "more than %u fields in one selection", RULE_MAX_CONDS);
        return TS_E_LIMIT;
    }
    struct fcond *fc = lctx_alloc(c, map->npairs * sizeof(*fc));
    if (!fc)
        return TS_E_NOMEM;
    int rc = 0;
    for (size_t i = 0; i < map->npairs; i++) {
        int r = field_compile(c, map->pairs[i].key, map->pairs[i].val, &fc[i]);
        if (r == TS_E_NOMEM)
            return r;
        if (r && !rc)
            rc = r;
    }
    if (rc)
        return rc;
    /* stable enough: equal costs keep YAML order in practice for explanations */
    qsort(fc, map->npairs, sizeof(*fc), cmp_cost);
    out->c = fc;
    out->n = (uint32_t)map->npairs;
    return 0;
}

static int sel_compile(struct lctx *c, const struct ts_ynode *name, const struct ts_ynode *v,
                       struct sel *s)
{
    s->name = lctx_strdup(c, name->str, name->len);
    if (!s->name)
        return TS_E_NOMEM;
    if (v->kind == TS_Y_MAP) {
        struct conj *cj = lctx_alloc(c, sizeof(*cj));
        if (!cj)
            return TS_E_NOMEM;
        int rc = map_compile(c, v, cj);
        s->alts = cj;
        s->nalts = 1;
        return rc;
    }
    if (v->kind == TS_Y_SCALAR) {
        if (ts_yaml_is_null(v)) {
            PROB(RULE_INVALID, v, "search identifier \"%s\" is empty", s->name);
            return TS_E_INVAL;
        }
        /* a single keyword */
    } else if (v->nitems == 0) {
        PROB(RULE_INVALID, v, "search identifier \"%s\" is an empty list", s->name);
        return TS_E_INVAL;
    }
    bool maps = v->kind == TS_Y_SEQ && v->items[0]->kind == TS_Y_MAP;
    if (maps) {
        if (v->nitems > RULE_MAX_ALTS) {
            PROB(RULE_UNSUPPORTED, v, "more than %u maps in one selection", RULE_MAX_ALTS);
            return TS_E_LIMIT;
        }
        struct conj *cj = lctx_alloc(c, v->nitems * sizeof(*cj));
        if (!cj)
            return TS_E_NOMEM;
        int rc = 0;
        for (size_t i = 0; i < v->nitems; i++) {
            if (v->items[i]->kind != TS_Y_MAP) {
                PROB(RULE_INVALID, v->items[i], "list of maps mixes in %s",
                     ts_yaml_kind_name(v->items[i]));
                return TS_E_INVAL;
            }
            int r = map_compile(c, v->items[i], &cj[i]);
            if (r == TS_E_NOMEM)
                return r;
            if (r && !rc)
                rc = r;
        }
        s->alts = cj;
        s->nalts = (uint32_t)v->nitems;
        return rc;
    }
    /* keyword list: one condition on FIELD_KEYWORDS, values OR-ed, each a
     * substring search. */
    struct ts_ynode key = {.kind = TS_Y_SCALAR, .line = v->line, .col = v->col, .str = (char *)"",
                           .len = 0};
    struct ts_ynode kw = *v;
    if (v->kind == TS_Y_SEQ)
        for (size_t i = 0; i < v->nitems; i++)
            if (v->items[i]->kind != TS_Y_SCALAR) {
                PROB(RULE_INVALID, v->items[i], "keyword list mixes in %s",
                     ts_yaml_kind_name(v->items[i]));
                return TS_E_INVAL;
            }
    struct fcond *fc = lctx_alloc(c, sizeof(*fc));
    struct conj *cj = lctx_alloc(c, sizeof(*cj));
    if (!fc || !cj)
        return TS_E_NOMEM;
    int rc = field_compile(c, &key, &kw, fc);
    if (rc)
        return rc;
    fc->key = "keywords";
    cj->c = fc;
    cj->n = 1;
    s->alts = cj;
    s->nalts = 1;
    return 0;
}

int det_compile(struct lctx *c, const struct ts_ynode *node, const char *const *skip,
                struct det *d)
{
    memset(d, 0, sizeof(*d));
    if (node->kind != TS_Y_MAP) {
        PROB(RULE_INVALID, node, "detection must be a mapping, not %s", ts_yaml_kind_name(node));
        return TS_E_INVAL;
    }
    const struct ts_ynode *cond = NULL;
    struct sel *sels = lctx_alloc(c, (node->npairs ? node->npairs : 1) * sizeof(*sels));
    if (!sels)
        return TS_E_NOMEM;
    uint32_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < node->npairs; i++) {
        const struct ts_ynode *k = node->pairs[i].key, *v = node->pairs[i].val;
        if (strcmp(k->str, "condition") == 0) {
            cond = v;
            continue;
        }
        if (strcmp(k->str, "timeframe") == 0)
            continue; /* only meaningful with the deprecated aggregations, refused in the condition */
        bool skipped = false;
        for (const char *const *sk = skip; sk && *sk; sk++)
            if (strcmp(k->str, *sk) == 0)
                skipped = true;
        if (skipped)
            continue;
        if (n >= RULE_MAX_SELS) {
            PROB(RULE_UNSUPPORTED, k, "more than %u search identifiers", RULE_MAX_SELS);
            return TS_E_LIMIT;
        }
        for (uint32_t j = 0; j < n; j++)
            if (strcmp(sels[j].name, k->str) == 0) {
                PROB(RULE_INVALID, k, "search identifier \"%s\" defined twice", k->str);
                rc = TS_E_INVAL;
            }
        if (k->len && memchr(k->str, '|', k->len)) {
            PROB(RULE_INVALID, k, "search identifier \"%s\" carries a modifier (modifiers belong "
                 "to field names inside the selection)", k->str);
            rc = TS_E_INVAL;
        } else if (k->len == 0 || strpbrk(k->str, " ()*")) {
            PROB(RULE_INVALID, k, "bad search identifier name \"%s\"", k->str);
            rc = TS_E_INVAL;
        }
        int r = sel_compile(c, k, v, &sels[n]);
        if (r == TS_E_NOMEM)
            return r;
        if (r && !rc)
            rc = r;
        n++;
    }
    d->sels = sels;
    d->nsels = n;
    if (!cond) {
        PROB(RULE_INVALID, node, "detection has no condition");
        return TS_E_INVAL;
    }
    if (rc)
        return rc;
    if (cond->kind == TS_Y_SCALAR) {
        d->cond = cond_parse(c, cond, cond->str, cond->len, d);
        return d->cond ? 0 : TS_E_INVAL;
    }
    if (cond->kind != TS_Y_SEQ || cond->nitems == 0) {
        PROB(RULE_INVALID, cond, "condition must be a string or a list of strings");
        return TS_E_INVAL;
    }
    /* a list of conditions: OR */
    if (cond->nitems > RULE_MAX_SELS) {
        PROB(RULE_UNSUPPORTED, cond, "more than %u conditions", RULE_MAX_SELS);
        return TS_E_LIMIT;
    }
    struct cnode *root = lctx_alloc(c, sizeof(*root));
    const struct cnode **kids = lctx_alloc(c, cond->nitems * sizeof(*kids));
    if (!root || !kids)
        return TS_E_NOMEM;
    for (size_t i = 0; i < cond->nitems; i++) {
        const struct ts_ynode *ci = cond->items[i];
        if (ci->kind != TS_Y_SCALAR) {
            PROB(RULE_INVALID, ci, "condition must be a string, not %s", ts_yaml_kind_name(ci));
            return TS_E_INVAL;
        }
        kids[i] = cond_parse(c, ci, ci->str, ci->len, d);
        if (!kids[i])
            return TS_E_INVAL;
    }
    root->kind = CN_OR;
    root->kids = kids;
    root->nkids = (uint32_t)cond->nitems;
    d->cond = root;
    return 0;
}
