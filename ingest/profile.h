/* profile.h - mapping profiles: rename source fields of parsed events into
 * Sigma's taxonomy and set the event's Sigma logsource.
 *
 * A profile is a YAML file (format documented in docs/profiles.md) shipped in
 * etc/profiles/ and extendable by analysts without recompiling. A profile
 * set is loaded once (start, SIGHUP), immutable afterwards and shared
 * read-only by all worker threads. Applying a profile works only in the
 * event's arena: no malloc per event.
 */
#ifndef INGEST_PROFILE_H
#define INGEST_PROFILE_H

#include "../core/event.h"
#include "../core/ts.h"

struct ingest_profile_set;

/* Load every *.yml profile of the given files/directories. Errors name
 * file:line:col. Returns 0, TS_E_CONFIG/TS_E_PARSE/TS_E_IO with err set. */
int ingest_profile_set_load(struct ingest_profile_set **out, const char *const *paths,
                            size_t npaths, struct ts_err *err);
void ingest_profile_set_free(struct ingest_profile_set *ps);
/* Profile names in the set, for --profile and errors. */
size_t ingest_profile_set_count(const struct ingest_profile_set *ps);
const char *ingest_profile_set_name(const struct ingest_profile_set *ps, size_t i);

/* What apply() did, for `tocsin parse --explain`. Static or arena strings. */
struct ingest_profile_explain {
    const char *profile; /* the profile chosen, or NULL */
    const char *why;     /* "forced by --profile", "field Event.System present", ... */
};

/* Choose a profile for ev (forced when force_name is non-NULL, else the
 * first whose selector matches the event's shape/format/program) and apply
 * it: rename/copy fields to Sigma names, type conversions, and set
 * ev->logsource. Returns 0 (also when no profile applies: ex->profile NULL),
 * TS_E_NOTFOUND when force_name is unknown, TS_E_NOMEM/TS_E_LIMIT when the
 * arena is full. ex may be NULL. */
int ingest_profile_apply(const struct ingest_profile_set *ps, const char *force_name,
                         struct ts_event *ev, struct ingest_profile_explain *ex);

#endif
