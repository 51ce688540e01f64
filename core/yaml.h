/* yaml.h - YAML documents as a small tree with source positions (libyaml).
 *
 * Used by the config loader and the Sigma rule loader: every node carries the
 * 1-based line and column where it starts, so that errors can say
 * file:line:col. Aliases are resolved (bounded: hostile input cannot expand
 * without limit); merge keys ("<<") are not supported and are an error.
 * A tree owns all of its memory; ts_yaml_free releases it. Reentrant.
 */
#ifndef TS_YAML_H
#define TS_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "ts.h"

#define TS_YAML_MAX_NODES (1u << 20) /* per stream, aliases counted per use */
#define TS_YAML_MAX_DEPTH 64

enum ts_ynode_kind { TS_Y_SCALAR = 1, TS_Y_SEQ, TS_Y_MAP };

enum ts_yscalar_style { TS_YS_PLAIN = 0, TS_YS_QUOTED, TS_YS_BLOCK };

struct ts_ynode;

struct ts_ypair {
    struct ts_ynode *key; /* always a scalar for maps we accept */
    struct ts_ynode *val;
};

struct ts_ynode {
    enum ts_ynode_kind kind;
    unsigned line, col;  /* 1-based start of the node */
    char *tag;           /* explicit tag or NULL */
    /* scalar */
    char *str;           /* NUL-terminated; may contain NULs before len */
    size_t len;
    enum ts_yscalar_style style;
    /* sequence */
    struct ts_ynode **items;
    size_t nitems;
    /* mapping, in document order */
    struct ts_ypair *pairs;
    size_t npairs;
};

struct ts_ydoc {
    struct ts_ynode *root; /* NULL for an empty document */
    unsigned line;         /* where the document starts */
};

struct ts_ystream {
    char *file;            /* the name used in errors */
    struct ts_ydoc *docs;
    size_t ndocs;
};

/* Parse every document of a file / a buffer. On a syntax error, returns
 * TS_E_PARSE with err = "file:line:col: <libyaml's problem>".
 * name is used for errors when loading from a buffer. */
int ts_yaml_load_file(const char *path, struct ts_ystream **out, struct ts_err *err);
int ts_yaml_load_buffer(const char *name, const char *buf, size_t len, struct ts_ystream **out,
                        struct ts_err *err);
void ts_yaml_free(struct ts_ystream *s);

/* Mapping lookup by key (first match), NULL if absent or n is not a map. */
struct ts_ynode *ts_yaml_get(const struct ts_ynode *map, const char *key);
/* A plain scalar that YAML 1.1/1.2 would read as null ("", "~", "null"). */
bool ts_yaml_is_null(const struct ts_ynode *n);
/* Readable kind for errors: "a mapping", "a list", "a string". */
const char *ts_yaml_kind_name(const struct ts_ynode *n);

#endif
