/* profile.h - mapping profiles: rename source fields of parsed events into
 * Sigma's taxonomy and set the event's Sigma logsource.
 *
 * A profile is a YAML document (format documented in docs/profiles.md) shipped
 * in etc/profiles/ and extendable by analysts without recompiling. A profile
 * set is loaded once (start, SIGHUP), immutable afterwards and shared
 * read-only by all worker threads without locks. Applying a profile works only
 * in the event's arena: no malloc, no lock, no log line per event.
 *
 * Lifetimes: apply() makes field names, constant values and logsource strings
 * of the event point into the profile set (no copy per event). A set must
 * therefore outlive every event it was applied to: on reload, free the old set
 * only after the batches normalised with it are done (as with compiled rule
 * sets).
 */
#ifndef INGEST_PROFILE_H
#define INGEST_PROFILE_H

#include "../core/event.h"
#include "../core/ts.h"

#define INGEST_PROFILE_MAX_PROFILES 256 /* per set */
#define INGEST_PROFILE_MAX_FILES 1024   /* *.yml files per set */

struct norm_profile_set;

/* Load every profile of the given files and directories (a directory: its
 * *.yml and *.yaml files in name order, not recursive). A file may hold
 * several profiles as YAML documents separated by "---". Profile names are
 * unique in a set. Errors name file:line:col (first error wins).
 * Returns 0, or TS_E_CONFIG (invalid profile), TS_E_PARSE (YAML syntax),
 * TS_E_IO (unreadable), TS_E_LIMIT (a cap above or in docs/profiles.md),
 * TS_E_NOMEM, with err set; *out is NULL then. */
int norm_profile_set_load(struct norm_profile_set **out, const char *const *paths,
                            size_t npaths, struct ts_err *err);
/* Same from one buffer of len bytes (need not be NUL-terminated); name is used
 * as the file name in errors and explanations (copied). For tests and fuzzing. */
int norm_profile_set_load_buffer(struct norm_profile_set **out, const char *name,
                                   const char *buf, size_t len, struct ts_err *err);
/* NULL is accepted. */
void norm_profile_set_free(struct norm_profile_set *ps);
/* Profile names in the set, in the order they are tried, for --profile and
 * errors. Borrowed from ps. */
size_t norm_profile_set_count(const struct norm_profile_set *ps);
const char *norm_profile_set_name(const struct norm_profile_set *ps, size_t i);
/* Index of the profile called name, or -1. */
long norm_profile_set_find(const struct norm_profile_set *ps, const char *name);

/* What apply() did, for `tocsin parse --explain`. Strings are borrowed from
 * the profile set (valid while it lives) or static. */
struct norm_profile_explain {
    const char *profile; /* the profile chosen, or NULL */
    const char *why;     /* "forced by --profile", "format json, has Event.System", ... */
    const char *logsource_case; /* "etc/profiles/x.yml:120" of the last case that set
                                   the logsource, or NULL (defaults only / none) */
    unsigned cases;      /* cases whose condition matched */
    unsigned renamed;    /* fields renamed, copied, dropped */
    unsigned conflicts;  /* renames skipped because the target name was taken */
    unsigned convert_failed; /* type conversions whose value did not convert */
};

/* Choose a profile for ev (forced when force_name is non-NULL, else the
 * first whose selector matches the event's format/shape/values) and apply
 * it: rename/copy/drop fields, type conversions, constants, and set
 * ev->logsource. Returns 0 (also when no profile applies: ex->profile NULL),
 * TS_E_NOTFOUND when force_name is unknown, TS_E_NOMEM/TS_E_LIMIT when the
 * arena is full (the event is left consistent: some rules may have been
 * applied). ex may be NULL. Thread-safe for distinct events. */
int norm_profile_apply(const struct norm_profile_set *ps, const char *force_name,
                         struct ts_event *ev, struct norm_profile_explain *ex);

/* Apply profile number idx (as from norm_profile_set_find) without its
 * selector: the fast path of a forced profile. Same contract otherwise. */
int norm_profile_apply_index(const struct norm_profile_set *ps, size_t idx,
                               struct ts_event *ev, struct norm_profile_explain *ex);

#endif
