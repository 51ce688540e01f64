/* yaml.c - YAML streams into ts_ynode trees, see yaml.h.
 *
 * Built from libyaml's event parser (not its document loader) so that we see
 * every position and can bound the work: the tree is assembled with a stack of
 * open collections and one shared stack of pending children.
 *
 * Ownership: every node, string, tag and child array of a stream lives in one
 * arena owned by the stream (one bump allocation per node, no per-node free);
 * ts_yaml_free() destroys the arena. An alias shares the anchored node (no
 * copy), so a node may appear at several places in the tree: consumers must
 * treat the tree as read-only. The shared node keeps the anchor's position.
 *
 * Bounds: nodes are counted per use (an alias counts the whole anchored
 * subtree again), so "billion laughs" stops at TS_YAML_MAX_NODES; nesting,
 * including nesting reached through aliases, stops at TS_YAML_MAX_DEPTH.
 *
 * Error codes: syntax errors and unknown aliases TS_E_PARSE; merge keys and
 * non-scalar mapping keys TS_E_UNSUPPORTED; node count, depth and size caps
 * TS_E_LIMIT; TS_E_IO, TS_E_NOMEM.
 *
 * Threads: reentrant; a stream may be read by many threads once loaded.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "arena.h"
#include "yaml.h"

#define YAML_MAX_FILE_BYTES (64u << 20)  /* ts_yaml_load_file refuses more */
#define YAML_ARENA_CHUNK (16u << 10)
#define YAML_ARENA_CAP ((size_t)512 << 20) /* all nodes and strings of a stream */
#define YAML_MAX_DOCS (1u << 16)

/* The public stream plus what only this file needs. pub must stay first. */
struct ystream_impl {
    struct ts_ystream pub;
    struct ts_arena *arena;
};

struct anchor {
    const char *name; /* in the stream arena; NULL = free slot */
    struct ts_ynode *node;
    size_t size;      /* nodes in the subtree, aliases expanded */
    unsigned height;  /* levels in the subtree, aliases expanded */
};

struct frame {
    struct ts_ynode *node;
    const char *anchor; /* in the arena, or NULL */
    size_t first_child; /* index into builder.kids */
    size_t count_before;
    unsigned maxh; /* highest child */
};

struct builder {
    const char *file;
    struct ts_arena *arena;
    struct ts_err *err;
    struct frame frames[TS_YAML_MAX_DEPTH];
    unsigned nframes;
    struct ts_ynode **kids; /* pending children of all open collections */
    size_t nkids, capkids;
    struct anchor *anchors; /* open addressing, per document */
    size_t nanchors, capanchors;
    size_t count; /* nodes so far in the stream, aliases counted per use */
    struct ts_ynode *root;
    unsigned root_height;
    int have_root;
};

static unsigned pos1(size_t v)
{
    return v >= UINT32_MAX ? UINT32_MAX : (unsigned)v + 1u;
}

static int b_fail(struct builder *b, int code, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int b_fail(struct builder *b, int code, const yaml_mark_t *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_err_vset(b->err, code, b->file, m ? pos1(m->line) : 0, m ? pos1(m->column) : 0,
                         fmt, ap);
    va_end(ap);
    return rc;
}

static int b_nomem(struct builder *b)
{
    return ts_err_set(b->err, TS_E_NOMEM, b->file, 0, 0, "out of memory while loading YAML");
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static struct anchor *anchor_find(const struct builder *b, const char *name)
{
    if (!b->capanchors)
        return NULL;
    size_t mask = b->capanchors - 1;
    for (size_t i = hash_str(name) & mask;; i = (i + 1) & mask) {
        struct anchor *a = &b->anchors[i];
        if (!a->name)
            return NULL;
        if (strcmp(a->name, name) == 0)
            return a;
    }
}

static void anchor_place(struct anchor *tab, size_t cap, const struct anchor *e)
{
    size_t mask = cap - 1;
    size_t i = hash_str(e->name) & mask;
    while (tab[i].name && strcmp(tab[i].name, e->name) != 0)
        i = (i + 1) & mask;
    tab[i] = *e;
}

static int anchor_put(struct builder *b, const char *name, struct ts_ynode *node, size_t size,
                      unsigned height, const yaml_mark_t *m)
{
    struct anchor e = {name, node, size, height};
    struct anchor *old = anchor_find(b, name);
    if (old) { /* redefinition: the newest wins */
        *old = e;
        return 0;
    }
    if ((b->nanchors + 1) * 2 > b->capanchors) {
        size_t ncap = b->capanchors ? b->capanchors * 2 : 16;
        if (ncap > (size_t)TS_YAML_MAX_NODES * 4)
            return b_fail(b, TS_E_LIMIT, m, "too many anchors");
        struct anchor *nt = calloc(ncap, sizeof(*nt));
        if (!nt)
            return b_nomem(b);
        for (size_t i = 0; i < b->capanchors; i++)
            if (b->anchors[i].name)
                anchor_place(nt, ncap, &b->anchors[i]);
        free(b->anchors);
        b->anchors = nt;
        b->capanchors = ncap;
    }
    anchor_place(b->anchors, b->capanchors, &e);
    b->nanchors++;
    return 0;
}

/* Anchors do not cross documents. */
static void anchors_reset(struct builder *b)
{
    free(b->anchors);
    b->anchors = NULL;
    b->nanchors = b->capanchors = 0;
}

static int count_add(struct builder *b, size_t n, const yaml_mark_t *m)
{
    if (n > TS_YAML_MAX_NODES || b->count + n > TS_YAML_MAX_NODES)
        return ts_err_set(b->err, TS_E_LIMIT, b->file, pos1(m->line), pos1(m->column),
                          "document expands to more than %u nodes (aliases are counted per use)",
                          TS_YAML_MAX_NODES);
    b->count += n;
    return 0;
}

static bool is_merge_key(const struct ts_ynode *k)
{
    if (k->kind != TS_Y_SCALAR)
        return false;
    if (k->tag && strcmp(k->tag, "tag:yaml.org,2002:merge") == 0)
        return true;
    return !k->tag && k->style == TS_YS_PLAIN && k->len == 2 && memcmp(k->str, "<<", 2) == 0;
}

/* Hand a finished node to the open collection (or make it the root). */
static int attach(struct builder *b, struct ts_ynode *n, unsigned height, const yaml_mark_t *m)
{
    if (b->nframes == 0) {
        b->root = n;
        b->root_height = height;
        b->have_root = 1;
        return 0;
    }
    struct frame *f = &b->frames[b->nframes - 1];
    if (f->node->kind == TS_Y_MAP && ((b->nkids - f->first_child) % 2) == 0) {
        if (n->kind != TS_Y_SCALAR)
            return b_fail(b, TS_E_UNSUPPORTED, m, "mapping keys must be scalars, got %s",
                          ts_yaml_kind_name(n));
        if (is_merge_key(n))
            return b_fail(b, TS_E_UNSUPPORTED, m, "merge keys (<<) are not supported");
    }
    if (b->nkids == b->capkids) {
        size_t ncap = b->capkids ? b->capkids * 2 : 64;
        if (ncap > (size_t)TS_YAML_MAX_NODES * 2)
            return b_fail(b, TS_E_LIMIT, m, "too many nodes");
        struct ts_ynode **nk = realloc(b->kids, ncap * sizeof(*nk));
        if (!nk)
            return b_nomem(b);
        b->kids = nk;
        b->capkids = ncap;
    }
    b->kids[b->nkids++] = n;
    if (height > f->maxh)
        f->maxh = height;
    return 0;
}

static struct ts_ynode *node_new(struct builder *b, enum ts_ynode_kind kind, const yaml_mark_t *m,
                                 const yaml_char_t *tag)
{
    struct ts_ynode *n = ts_arena_alloc(b->arena, sizeof(*n));
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->line = pos1(m->line);
    n->col = pos1(m->column);
    if (tag) {
        n->tag = ts_arena_strndup(b->arena, (const char *)tag, strlen((const char *)tag));
        if (!n->tag)
            return NULL;
    }
    return n;
}

static int check_depth(struct builder *b, unsigned height, const yaml_mark_t *m)
{
    if (b->nframes + height > TS_YAML_MAX_DEPTH)
        return ts_err_set(b->err, TS_E_LIMIT, b->file, pos1(m->line), pos1(m->column),
                          "nesting deeper than %u levels", TS_YAML_MAX_DEPTH);
    return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    int rc = check_depth(b, 1, m);
    if (!rc)
        rc = count_add(b, 1, m);
    if (rc)
        return rc;
    struct ts_ynode *n = node_new(b, TS_Y_SCALAR, m, ev->data.scalar.tag);
    if (!n)
        return b_nomem(b);
    n->str = ts_arena_strndup(b->arena, (const char *)ev->data.scalar.value,
                              ev->data.scalar.length);
    if (!n->str)
        return b_nomem(b);
    n->len = ev->data.scalar.length;
    switch (ev->data.scalar.style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: n->style = TS_YS_QUOTED; break;
    case YAML_LITERAL_SCALAR_STYLE:
    case YAML_FOLDED_SCALAR_STYLE: n->style = TS_YS_BLOCK; break;
    default: n->style = TS_YS_PLAIN; break;
    }
    if (ev->data.scalar.anchor) {
        const char *name = (const char *)ev->data.scalar.anchor;
        const char *an = ts_arena_strndup(b->arena, name, strlen(name));
        if (!an)
            return b_nomem(b);
        rc = anchor_put(b, an, n, 1, 1, m);
        if (rc)
            return rc;
    }
    return attach(b, n, 1, m);
}

static int on_start(struct builder *b, const yaml_event_t *ev, enum ts_ynode_kind kind)
{
    const yaml_mark_t *m = &ev->start_mark;
    const yaml_char_t *tag, *anchor;
    if (kind == TS_Y_SEQ) {
        tag = ev->data.sequence_start.tag;
        anchor = ev->data.sequence_start.anchor;
    } else {
        tag = ev->data.mapping_start.tag;
        anchor = ev->data.mapping_start.anchor;
    }
    int rc = check_depth(b, 1, m);
    if (rc)
        return rc;
    size_t before = b->count;
    rc = count_add(b, 1, m);
    if (rc)
        return rc;
    struct ts_ynode *n = node_new(b, kind, m, tag);
    if (!n)
        return b_nomem(b);
    struct frame *f = &b->frames[b->nframes++];
    f->node = n;
    f->anchor = NULL;
    f->first_child = b->nkids;
    f->count_before = before;
    f->maxh = 0;
    if (anchor) {
        f->anchor = ts_arena_strndup(b->arena, (const char *)anchor, strlen((const char *)anchor));
        if (!f->anchor)
            return b_nomem(b);
    }
    return 0;
}

static int on_end(struct builder *b, const yaml_event_t *ev)
{
    if (b->nframes == 0) /* libyaml never does this */
        return b_fail(b, TS_E_PARSE, &ev->start_mark, "unbalanced collection end");
    struct frame f = b->frames[--b->nframes];
    struct ts_ynode *n = f.node;
    size_t nk = b->nkids - f.first_child;
    /* b->kids is NULL until a first child was pending: no arithmetic on it
     * for an empty collection (NULL + 0 is undefined in C) */
    struct ts_ynode **kids = nk ? b->kids + f.first_child : NULL;
    if (n->kind == TS_Y_SEQ) {
        if (nk) {
            n->items = ts_arena_alloc(b->arena, nk * sizeof(*n->items));
            if (!n->items)
                return b_nomem(b);
            memcpy(n->items, kids, nk * sizeof(*n->items));
        }
        n->nitems = nk;
    } else {
        if (nk % 2) /* libyaml always pairs keys and values */
            return b_fail(b, TS_E_PARSE, &ev->start_mark, "mapping key without value");
        if (nk) {
            n->pairs = ts_arena_alloc(b->arena, nk / 2 * sizeof(*n->pairs));
            if (!n->pairs)
                return b_nomem(b);
            for (size_t i = 0; i < nk / 2; i++) {
                n->pairs[i].key = kids[2 * i];
                n->pairs[i].val = kids[2 * i + 1];
            }
        }
        n->npairs = nk / 2;
    }
    b->nkids = f.first_child;
    unsigned height = f.maxh + 1;
    yaml_mark_t m = {0, n->line - 1, n->col - 1};
    if (f.anchor) {
        int rc = anchor_put(b, f.anchor, n, b->count - f.count_before, height, &m);
        if (rc)
            return rc;
    }
    return attach(b, n, height, &m);
}

static int on_alias(struct builder *b, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    const char *name = (const char *)ev->data.alias.anchor;
    struct anchor *a = anchor_find(b, name);
    if (!a)
        return b_fail(b, TS_E_PARSE, m, "alias *%s refers to no anchor defined before it", name);
    int rc = check_depth(b, a->height, m);
    if (!rc)
        rc = count_add(b, a->size, m);
    if (rc)
        return rc;
    return attach(b, a->node, a->height, m);
}

static int syntax_error(struct builder *b, const yaml_parser_t *p, const char *buf, size_t len)
{
    switch (p->error) {
    case YAML_MEMORY_ERROR: return b_nomem(b);
    case YAML_READER_ERROR: {
        /* the reader reports a byte offset, not a mark */
        size_t off = p->problem_offset < len ? p->problem_offset : len;
        unsigned line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (buf[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        if (p->problem_value >= 0)
            return ts_err_set(b->err, TS_E_PARSE, b->file, line, col, "%s (#x%X)",
                              p->problem ? p->problem : "invalid input",
                              (unsigned)p->problem_value);
        return ts_err_set(b->err, TS_E_PARSE, b->file, line, col, "%s",
                          p->problem ? p->problem : "invalid input");
    }
    default:
        return ts_err_set(b->err, TS_E_PARSE, b->file, pos1(p->problem_mark.line),
                          pos1(p->problem_mark.column), "%s%s%s",
                          p->problem ? p->problem : "syntax error", p->context ? " " : "",
                          p->context ? p->context : "");
    }
}

static int docs_push(struct builder *b, struct ts_ystream *s, size_t *cap, unsigned line)
{
    if (s->ndocs == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        if (ncap > YAML_MAX_DOCS)
            return ts_err_set(b->err, TS_E_LIMIT, b->file, line, 1,
                              "more than %u documents in one stream", YAML_MAX_DOCS);
        struct ts_ydoc *nd = realloc(s->docs, ncap * sizeof(*nd));
        if (!nd)
            return b_nomem(b);
        s->docs = nd;
        *cap = ncap;
    }
    s->docs[s->ndocs].root = NULL;
    s->docs[s->ndocs].line = line;
    s->ndocs++;
    return 0;
}

void ts_yaml_free(struct ts_ystream *s)
{
    if (!s)
        return;
    struct ystream_impl *im = (struct ystream_impl *)s;
    free(s->docs);
    ts_arena_destroy(im->arena);
    free(im);
}

int ts_yaml_load_buffer(const char *name, const char *buf, size_t len, struct ts_ystream **out,
                        struct ts_err *err)
{
    *out = NULL;
    if (!name)
        name = "<buffer>";
    if (!buf && len)
        return ts_err_set(err, TS_E_INVAL, name, 0, 0, "no input");
    struct ystream_impl *im = calloc(1, sizeof(*im));
    if (!im)
        return ts_err_set(err, TS_E_NOMEM, name, 0, 0, "out of memory while loading YAML");
    struct ts_ystream *s = &im->pub;
    if (ts_arena_create(&im->arena, YAML_ARENA_CHUNK, YAML_ARENA_CAP) != 0) {
        free(im);
        return ts_err_set(err, TS_E_NOMEM, name, 0, 0, "out of memory while loading YAML");
    }
    struct builder b;
    memset(&b, 0, sizeof(b));
    b.file = name;
    b.arena = im->arena;
    b.err = err;
    s->file = ts_arena_strndup(im->arena, name, strlen(name));
    if (!s->file) {
        ts_yaml_free(s);
        return b_nomem(&b);
    }

    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        ts_yaml_free(s);
        return b_nomem(&b);
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)(buf ? buf : ""), len);

    int rc = 0;
    size_t capdocs = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(&b, &p, buf, len);
            break;
        }
        yaml_event_type_t type = ev.type;
        switch (type) {
        case YAML_DOCUMENT_START_EVENT:
            anchors_reset(&b);
            b.root = NULL;
            b.have_root = 0;
            rc = docs_push(&b, s, &capdocs, pos1(ev.start_mark.line));
            break;
        case YAML_DOCUMENT_END_EVENT:
            if (s->ndocs)
                s->docs[s->ndocs - 1].root = b.have_root ? b.root : NULL;
            anchors_reset(&b);
            break;
        case YAML_SCALAR_EVENT: rc = on_scalar(&b, &ev); break;
        case YAML_SEQUENCE_START_EVENT: rc = on_start(&b, &ev, TS_Y_SEQ); break;
        case YAML_MAPPING_START_EVENT: rc = on_start(&b, &ev, TS_Y_MAP); break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: rc = on_end(&b, &ev); break;
        case YAML_ALIAS_EVENT: rc = on_alias(&b, &ev); break;
        default: break;
        }
        yaml_event_delete(&ev);
        if (rc || type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    anchors_reset(&b);
    free(b.kids);
    if (rc) {
        ts_yaml_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int ts_yaml_load_file(const char *path, struct ts_ystream **out, struct ts_err *err)
{
    *out = NULL;
    char ebuf[128];
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return ts_err_set(err, TS_E_IO, path, 0, 0, "cannot open: %s",
                          strerror_r(e, ebuf, sizeof(ebuf)));
    }
    size_t cap = 0, len = 0;
    char *buf = NULL;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= YAML_MAX_FILE_BYTES) {
                rc = ts_err_set(err, TS_E_LIMIT, path, 0, 0, "file is larger than %u MiB",
                                YAML_MAX_FILE_BYTES >> 20);
                break;
            }
            size_t ncap = cap ? cap * 2 : 8192;
            if (ncap > YAML_MAX_FILE_BYTES)
                ncap = YAML_MAX_FILE_BYTES;
            /* one spare byte so that a file of exactly the cap is detected */
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = ts_err_set(err, TS_E_NOMEM, path, 0, 0, "out of memory reading file");
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                int e = errno;
                rc = ts_err_set(err, TS_E_IO, path, 0, 0, "cannot read: %s",
                                strerror_r(e, ebuf, sizeof(ebuf)));
            }
            break;
        }
    }
    if (!rc && len == YAML_MAX_FILE_BYTES) {
        /* full to the cap: make sure there is nothing more */
        if (fread(buf + len, 1, 1, f) == 1)
            rc = ts_err_set(err, TS_E_LIMIT, path, 0, 0, "file is larger than %u MiB",
                            YAML_MAX_FILE_BYTES >> 20);
    }
    fclose(f);
    if (!rc)
        rc = ts_yaml_load_buffer(path, buf, len, out, err);
    free(buf);
    return rc;
}

struct ts_ynode *ts_yaml_get(const struct ts_ynode *map, const char *key)
{
    if (!map || map->kind != TS_Y_MAP || !key)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < map->npairs; i++) {
        const struct ts_ynode *k = map->pairs[i].key;
        if (k && k->kind == TS_Y_SCALAR && k->len == kl && memcmp(k->str, key, kl) == 0)
            return map->pairs[i].val;
    }
    return NULL;
}

bool ts_yaml_is_null(const struct ts_ynode *n)
{
    if (!n)
        return true;
    if (n->kind != TS_Y_SCALAR)
        return false;
    if (n->tag)
        return strcmp(n->tag, "tag:yaml.org,2002:null") == 0;
    if (n->style != TS_YS_PLAIN)
        return false;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < TS_ARRAY_LEN(nulls); i++)
        if (n->len == strlen(nulls[i]) && memcmp(n->str, nulls[i], n->len) == 0)
            return true;
    return false;
}

const char *ts_yaml_kind_name(const struct ts_ynode *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case TS_Y_SEQ: return "a list";
    case TS_Y_MAP: return "a mapping";
    case TS_Y_SCALAR: return ts_yaml_is_null(n) ? "null" : "a string";
    }
    return "an unknown node";
}
