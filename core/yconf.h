/* yconf.h - the one YAML loading context of every Tocsin loader.
 *
 * Configuration, decoders, profiles, the asset inventory, escalation regimes,
 * channels, HTTP tokens and correlation settings are all YAML trees
 * (core/yaml.h) walked by a loader. They share this context instead of a copy
 * of the same helpers each: the file name used in errors, the first-error-wins
 * struct ts_err, and an optional arena for the strings and arrays the getters
 * return.
 *
 * Errors: every getter fails at the node with TS_E_CONFIG and
 * "file:line:col: <where> must be ..., got <what it holds>"; unknown keys get
 * a "did you mean" suggestion (edit distance) or the list of known keys;
 * duplicate keys name the line of the first one. Out of memory is TS_E_NOMEM
 * ("out of memory loading <what>"). The first error recorded in err wins.
 *
 * Ownership: with an arena (y->arena != NULL) every string and array a getter
 * returns lives in that arena; without one they are malloc'ed and the caller
 * frees them (ts_yconf_str frees the previous *out, so a key given twice
 * never leaks). The tree is borrowed and never kept.
 *
 * Threads: a context belongs to one loader call; the functions are reentrant.
 */
#ifndef TS_YCONF_H
#define TS_YCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ts.h"
#include "yaml.h"

struct ts_arena;

#define TS_YCONF_MAX_STRING 4096 /* default cap of ts_yconf_str */
#define TS_YCONF_MAX_KEYS 64     /* a key table is at most this long */
#define TS_YCONF_SUGGEST_MAX 64  /* keys longer than this get no suggestion */

struct ts_yconf {
    const char *file;       /* borrowed: the name in errors */
    struct ts_err *err;     /* borrowed: first error wins; may be NULL */
    struct ts_arena *arena; /* borrowed, optional: where getters allocate */
    const char *what;       /* "the configuration": for "out of memory loading ..." */
};

/* Fail at node n (NULL: no position) with TS_E_CONFIG / with code. */
int ts_yconf_fail(struct ts_yconf *y, const struct ts_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ts_yconf_fail_code(struct ts_yconf *y, int code, const struct ts_ynode *n, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
int ts_yconf_vfail(struct ts_yconf *y, int code, const struct ts_ynode *n, const char *fmt,
                   va_list ap) __attribute__((format(printf, 4, 0)));
/* TS_E_NOMEM with "out of memory loading <y->what>". */
int ts_yconf_nomem(struct ts_yconf *y);

/* What a node holds, for "got ...": the quoted text of a scalar (escaped,
 * shortened to 40 bytes), "nothing" for an empty value, else "a list" /
 * "a mapping". buf should hold 64 bytes. */
const char *ts_yconf_describe(const struct ts_ynode *n, char *buf, size_t len);
/* A key's text for messages: control characters and quotes as '?'. */
const char *ts_yconf_key_text(const struct ts_ynode *k, char *buf, size_t len);
/* n is a scalar whose text is exactly s. */
bool ts_yconf_is(const struct ts_ynode *n, const char *s);

/* Optimal string alignment distance (Levenshtein plus transpositions);
 * SIZE_MAX when a string is longer than TS_YCONF_SUGGEST_MAX. */
size_t ts_yconf_edit_distance(const char *a, size_t la, const char *b, size_t lb);
/* The closest of names[0..n) to s: at most 1 edit for names of up to 4
 * characters, 2 for longer ones; NULL if none is that close. */
const char *ts_yconf_suggest(const char *s, size_t len, const char *const *names, size_t n);
/* Length of a NULL-terminated name table. */
size_t ts_yconf_count(const char *const *names);

/* Index of key k in keys[0..nkeys), or a negative error: unknown key (with a
 * suggestion, else the list of keys) or a duplicate (seen[i] holds the key
 * node of each key met so far in this mapping; the caller zeroes it). */
int ts_yconf_key_index(struct ts_yconf *y, const struct ts_ynode *k, const char *where,
                       const char *const *keys, size_t nkeys, const struct ts_ynode **seen);
/* map must be a mapping whose keys are all in keys[0..nkeys) (nkeys <=
 * TS_YCONF_MAX_KEYS), each at most once. With vals != NULL, vals[i] is the
 * value of keys[i], NULL when absent. */
int ts_yconf_check_keys(struct ts_yconf *y, const struct ts_ynode *map, const char *where,
                        const char *const *keys, size_t nkeys, const struct ts_ynode **vals);

/* "<where> must be a mapping / a list, got ..." unless it is one. */
int ts_yconf_want_map(struct ts_yconf *y, const struct ts_ynode *n, const char *where);
int ts_yconf_want_seq(struct ts_yconf *y, const struct ts_ynode *n, const char *where);

/* Secrets: every string getter (and ts_yconf_int/bool/duration/enum) first
 * replaces "${env:NAME}" with the environment variable NAME and
 * "${file:/path}" with the content of that file (at most max bytes, one
 * trailing newline dropped), anywhere in the scalar; "$${" is a literal "${".
 * A variable that is not set or a file that cannot be read is a TS_E_CONFIG
 * error at the node naming the variable or path, never a value; errors about
 * a resolved value show the reference as written, not what it resolved to.
 *
 * ts_yconf_resolve: *out is NULL when n holds no "${" (use n->str as is), else
 * a malloc'ed NUL-terminated resolved text of *out_len bytes, to be released
 * with ts_yconf_resolved_free (which overwrites it). */
int ts_yconf_resolve(struct ts_yconf *y, const struct ts_ynode *n, const char *where, size_t max,
                     char **out, size_t *out_len);
void ts_yconf_resolved_free(char *s, size_t len);

/* A non-empty scalar without NUL of at most max bytes (0: TS_YCONF_MAX_STRING);
 * numbers and booleans are taken as written. */
int ts_yconf_str(struct ts_yconf *y, const struct ts_ynode *n, const char *where, size_t max,
                 char **out);
/* ts_yconf_str with flags: */
#define TS_YCONF_EMPTY_OK 1u /* "" (and a plain null) are taken as "" */
#define TS_YCONF_UTF8 2u     /* must be valid UTF-8 */
#define TS_YCONF_ONE_LINE 4u /* no CR or LF */
int ts_yconf_text(struct ts_yconf *y, const struct ts_ynode *n, const char *where, size_t max,
                  unsigned flags, char **out);
/* A decimal integer in [lo, hi] (an optional sign, digits only). */
int ts_yconf_int(struct ts_yconf *y, const struct ts_ynode *n, const char *where, long long lo,
                 long long hi, long long *out);
/* true or false (plain scalars). */
int ts_yconf_bool(struct ts_yconf *y, const struct ts_ynode *n, const char *where, bool *out);
/* A duration such as 500ms, 90s, 5m, 1h, 7d (core/tstime.h), or 0; with
 * TS_YCONF_POSITIVE, 0 and "0s" are refused. */
#define TS_YCONF_POSITIVE 8u
int ts_yconf_duration(struct ts_yconf *y, const struct ts_ynode *n, const char *where,
                      unsigned flags, int64_t *out);
/* One of names[0..n): *out is its index. A near miss gets a suggestion. */
int ts_yconf_enum(struct ts_yconf *y, const struct ts_ynode *n, const char *where,
                  const char *const *names, size_t count, size_t *out);
/* A string or a list of at most max strings (each as ts_yconf_str). *out is
 * an array of *count strings (NULL when the list is empty). */
int ts_yconf_str_list(struct ts_yconf *y, const struct ts_ynode *n, const char *where,
                      size_t max, char ***out, size_t *count);

#endif
