/* cond.c - the Sigma condition grammar: a tokenizer and a recursive-descent
 * parser into the cnode tree of rules_int.h.
 *
 *   expr    := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | primary
 *   primary := '(' expr ')' | QUANT 'of' ('them' | PATTERN) | IDENT
 *   QUANT   := '1' | 'any' | 'all' | N
 *
 * Keywords are case-insensitive. `them` covers every search identifier not
 * starting with '_'; a pattern matches identifiers with '*' wildcards.
 * Errors carry the column of the offending token. Nodes live in the rule's
 * arena. Single-threaded.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rules_int.h"

enum tok { T_END, T_LP, T_RP, T_AND, T_OR, T_NOT, T_OF, T_THEM, T_WORD, T_PIPE, T_BAD };

struct token {
    enum tok t;
    size_t off, len;
};

struct parser {
    struct lctx *c;
    const struct ts_ynode *at;
    const char *s;
    size_t len;
    struct token *toks;
    size_t ntoks, pos;
    const struct det *d;
    unsigned depth;
    bool failed;
};

static void perr(struct parser *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct parser *p, size_t off, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    unsigned line = p->at->line, col = p->at->col;
    if (p->at->style != TS_YS_BLOCK && !memchr(p->s, '\n', off)) {
        size_t cc = col + (p->at->style == TS_YS_QUOTED ? 1 : 0) + off;
        col = cc > 100000 ? 0 : (unsigned)cc;
    }
    lctx_problem(p->c, RULE_INVALID, p->at, line, col, "bad condition: %s", msg);
}

/* The source column of offset off, or 0 when unknown (block scalars). */
static unsigned abs_col(const struct parser *p, size_t off)
{
    if (p->at->style == TS_YS_BLOCK || memchr(p->s, '\n', off))
        return 0;
    size_t cc = p->at->col + (p->at->style == TS_YS_QUOTED ? 1 : 0) + off;
    return cc > 100000 ? 0 : (unsigned)cc;
}

static bool is_word_ch(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '*' || ch == '-' || ch == '.' ||
           ch == '?' || (unsigned char)ch >= 0x80;
}

static int tokenize(struct parser *p)
{
    size_t cap = 16;
    p->toks = lctx_alloc(p->c, cap * sizeof(*p->toks));
    if (!p->toks)
        return TS_E_NOMEM;
    for (size_t i = 0; i <= p->len;) {
        if (i < p->len && isspace((unsigned char)p->s[i])) {
            i++;
            continue;
        }
        if (p->ntoks + 1 >= cap) {
            if (cap >= RULE_MAX_COND_TOKENS) {
                perr(p, i, "more than %u tokens", RULE_MAX_COND_TOKENS);
                return TS_E_LIMIT;
            }
            struct token *n = lctx_alloc(p->c, cap * 2 * sizeof(*n));
            if (!n)
                return TS_E_NOMEM;
            memcpy(n, p->toks, p->ntoks * sizeof(*n));
            p->toks = n;
            cap *= 2;
        }
        struct token *t = &p->toks[p->ntoks++];
        t->off = i;
        t->len = 1;
        if (i == p->len) {
            t->t = T_END;
            t->len = 0;
            break;
        }
        char ch = p->s[i];
        if (ch == '(') {
            t->t = T_LP;
        } else if (ch == ')') {
            t->t = T_RP;
        } else if (ch == '|') {
            t->t = T_PIPE;
        } else if (is_word_ch(ch)) {
            size_t j = i;
            while (j < p->len && is_word_ch(p->s[j]))
                j++;
            t->len = j - i;
            const char *w = p->s + i;
            t->t = T_WORD;
            if (t->len == 3 && strncasecmp(w, "and", 3) == 0)
                t->t = T_AND;
            else if (t->len == 2 && strncasecmp(w, "or", 2) == 0)
                t->t = T_OR;
            else if (t->len == 3 && strncasecmp(w, "not", 3) == 0)
                t->t = T_NOT;
            else if (t->len == 2 && strncasecmp(w, "of", 2) == 0)
                t->t = T_OF;
            else if (t->len == 4 && strncasecmp(w, "them", 4) == 0)
                t->t = T_THEM;
        } else {
            t->t = T_BAD;
        }
        i += t->len;
    }
    return 0;
}

static const struct token *peek(struct parser *p)
{
    return &p->toks[p->pos];
}

static const struct token *next(struct parser *p)
{
    const struct token *t = &p->toks[p->pos];
    if (t->t != T_END)
        p->pos++;
    return t;
}

static struct cnode *node_new(struct parser *p, enum cnkind k)
{
    struct cnode *n = lctx_alloc(p->c, sizeof(*n));
    if (n) {
        memset(n, 0, sizeof(*n));
        n->kind = (uint8_t)k;
    } else {
        p->failed = true;
        p->c->fatal = TS_E_NOMEM;
    }
    return n;
}

static bool pat_match(const char *pat, size_t pl, const char *s)
{
    /* '*' wildcards only; s is NUL-terminated */
    size_t sl = strlen(s);
    uint8_t w[256];
    if (pl > sizeof(w))
        return false;
    for (size_t i = 0; i < pl; i++)
        w[i] = pat[i] == '*' ? '*' : 0;
    return glob_match(pat, w, pl, s, sl);
}

static const struct cnode *parse_or(struct parser *p);

static const char *tok_desc(const struct parser *p, const struct token *t, char *buf, size_t n)
{
    if (t->t == T_END)
        return "the end";
    snprintf(buf, n, "\"%.*s\"", (int)(t->len > 40 ? 40 : t->len), p->s + t->off);
    return buf;
}

static const struct cnode *parse_primary(struct parser *p)
{
    char buf[64];
    const struct token *t = next(p);
    if (t->t == T_LP) {
        if (++p->depth > RULE_MAX_COND_DEPTH) {
            perr(p, t->off, "nested deeper than %u", RULE_MAX_COND_DEPTH);
            return NULL;
        }
        const struct cnode *n = parse_or(p);
        p->depth--;
        if (!n)
            return NULL;
        const struct token *r = next(p);
        if (r->t != T_RP) {
            perr(p, r->off, "expected \")\" to close the \"(\" at column %u, found %s",
                 abs_col(p, t->off), tok_desc(p, r, buf, sizeof(buf)));
            return NULL;
        }
        return n;
    }
    if (t->t == T_WORD && peek(p)->t == T_OF) {
        /* quantifier */
        uint32_t need;
        if (t->len == 3 && strncasecmp(p->s + t->off, "all", 3) == 0) {
            need = 0;
        } else if (t->len == 3 && strncasecmp(p->s + t->off, "any", 3) == 0) {
            need = 1;
        } else {
            need = 0;
            for (size_t i = 0; i < t->len; i++) {
                char ch = p->s[t->off + i];
                if (!isdigit((unsigned char)ch) || need > 1000) {
                    perr(p, t->off, "expected \"1\", \"any\" or \"all\" before \"of\", found %s",
                         tok_desc(p, t, buf, sizeof(buf)));
                    return NULL;
                }
                need = need * 10 + (uint32_t)(ch - '0');
            }
            if (need == 0) {
                perr(p, t->off, "\"0 of\" is not a condition");
                return NULL;
            }
        }
        next(p); /* of */
        const struct token *what = next(p);
        if (what->t != T_THEM && what->t != T_WORD) {
            perr(p, what->off, "expected \"them\" or a search identifier pattern after \"of\", found %s",
                 tok_desc(p, what, buf, sizeof(buf)));
            return NULL;
        }
        struct cnode *n = node_new(p, CN_OF);
        uint32_t *ids = n ? lctx_alloc(p->c, (p->d->nsels ? p->d->nsels : 1) * sizeof(*ids)) : NULL;
        if (!ids) {
            p->c->fatal = TS_E_NOMEM;
            p->failed = true;
            return NULL;
        }
        uint32_t k = 0;
        for (uint32_t i = 0; i < p->d->nsels; i++) {
            const char *nm = p->d->sels[i].name;
            bool in = what->t == T_THEM ? nm[0] != '_' : pat_match(p->s + what->off, what->len, nm);
            if (in)
                ids[k++] = i;
        }
        if (k == 0) {
            if (what->t == T_THEM)
                perr(p, what->off, "\"them\" covers no search identifier");
            else
                perr(p, what->off, "no search identifier matches \"%.*s\"", (int)what->len,
                     p->s + what->off);
            return NULL;
        }
        n->need = need;
        n->ids = ids;
        n->nids = k;
        return n;
    }
    if (t->t == T_WORD) {
        for (uint32_t i = 0; i < p->d->nsels; i++) {
            const char *nm = p->d->sels[i].name;
            if (strlen(nm) == t->len && memcmp(nm, p->s + t->off, t->len) == 0) {
                struct cnode *n = node_new(p, CN_SEL);
                if (n)
                    n->sel = i;
                return n;
            }
        }
        if (memchr(p->s + t->off, '*', t->len)) {
            perr(p, t->off, "a pattern like \"%.*s\" needs \"1 of\" or \"all of\" before it",
                 (int)t->len, p->s + t->off);
            return NULL;
        }
        if (t->len == 4 && strncasecmp(p->s + t->off, "near", 4) == 0) {
            p->failed = true;
            lctx_problem(p->c, RULE_UNSUPPORTED, p->at, 0, 0,
                         "\"near\" in the condition (deprecated aggregation; use a temporal "
                         "correlation rule)");
            return NULL;
        }
        const char *best = NULL;
        size_t bd = 99;
        for (uint32_t i = 0; i < p->d->nsels; i++) {
            size_t dd = rule_str_distance(p->s + t->off, t->len, p->d->sels[i].name,
                                          strlen(p->d->sels[i].name));
            if (dd < bd) {
                bd = dd;
                best = p->d->sels[i].name;
            }
        }
        if (best && bd <= 3)
            perr(p, t->off, "unknown search identifier \"%.*s\" (did you mean \"%s\"?)",
                 (int)t->len, p->s + t->off, best);
        else
            perr(p, t->off, "unknown search identifier \"%.*s\"", (int)t->len, p->s + t->off);
        return NULL;
    }
    if (t->t == T_PIPE) {
        p->failed = true;
        lctx_problem(p->c, RULE_UNSUPPORTED, p->at, 0, 0,
                     "aggregation in the condition (deprecated \"| count() ...\"; use a "
                     "correlation rule)");
        return NULL;
    }
    perr(p, t->off, "expected a search identifier, \"not\", \"(\" or \"1 of\"/\"all of\", found %s",
         tok_desc(p, t, buf, sizeof(buf)));
    return NULL;
}

static const struct cnode *parse_unary(struct parser *p)
{
    if (peek(p)->t == T_NOT) {
        const struct token *t = next(p);
        if (++p->depth > RULE_MAX_COND_DEPTH) {
            perr(p, t->off, "nested deeper than %u", RULE_MAX_COND_DEPTH);
            return NULL;
        }
        const struct cnode *k = parse_unary(p);
        p->depth--;
        if (!k)
            return NULL;
        struct cnode *n = node_new(p, CN_NOT);
        const struct cnode **kids = n ? lctx_alloc(p->c, sizeof(*kids)) : NULL;
        if (!kids) {
            p->c->fatal = TS_E_NOMEM;
            return NULL;
        }
        kids[0] = k;
        n->kids = kids;
        n->nkids = 1;
        return n;
    }
    return parse_primary(p);
}

static const struct cnode *parse_bin(struct parser *p, enum tok op)
{
    const struct cnode *first = op == T_OR ? parse_bin(p, T_AND) : parse_unary(p);
    if (!first || peek(p)->t != op)
        return first;
    size_t cap = 8;
    uint32_t n = 0;
    const struct cnode **buf = lctx_alloc(p->c, cap * sizeof(*buf));
    if (!buf) {
        p->c->fatal = TS_E_NOMEM;
        return NULL;
    }
    buf[n++] = first;
    while (peek(p)->t == op) {
        next(p);
        const struct cnode *k = op == T_OR ? parse_bin(p, T_AND) : parse_unary(p);
        if (!k)
            return NULL;
        if (n == cap) {
            const struct cnode **nb = lctx_alloc(p->c, cap * 2 * sizeof(*nb));
            if (!nb) {
                p->c->fatal = TS_E_NOMEM;
                return NULL;
            }
            memcpy(nb, buf, n * sizeof(*nb));
            buf = nb;
            cap *= 2;
        }
        buf[n++] = k;
    }
    struct cnode *node = node_new(p, op == T_OR ? CN_OR : CN_AND);
    if (!node)
        return NULL;
    node->kids = buf;
    node->nkids = n;
    return node;
}

static const struct cnode *parse_or(struct parser *p)
{
    return parse_bin(p, T_OR);
}

const struct cnode *cond_parse(struct lctx *c, const struct ts_ynode *at, const char *s,
                               size_t len, const struct det *d)
{
    struct parser p = {.c = c, .at = at, .s = s, .len = len, .d = d};
    if (len > RULE_MAX_COND_LEN) {
        perr(&p, 0, "longer than %u bytes", RULE_MAX_COND_LEN);
        return NULL;
    }
    if (tokenize(&p) != 0) {
        if (!p.failed)
            c->fatal = TS_E_NOMEM;
        return NULL;
    }
    if (p.ntoks == 1) {
        perr(&p, 0, "empty condition");
        return NULL;
    }
    const struct cnode *n = parse_or(&p);
    if (!n)
        return NULL;
    const struct token *t = peek(&p);
    if (t->t != T_END) {
        char buf[64];
        if (t->t == T_PIPE) {
            lctx_problem(c, RULE_UNSUPPORTED, at, 0, 0,
                         "aggregation in the condition (deprecated \"| count() ...\"; use a "
                         "correlation rule)");
            return NULL;
        }
        perr(&p, t->off, "expected \"and\", \"or\" or the end, found %s",
             tok_desc(&p, t, buf, sizeof(buf)));
        return NULL;
    }
    return n;
}
