/* normalise.h - the normalisation step of ingest, after parsing: decoders
 * (fields from message text), the mapping profile (Sigma names and
 * logsource), then enrichment (GeoIP/ASN, assets, threat intel). The last
 * step always runs: a field of the input named like one enrichment writes
 * (asset.id ...) is renamed input.<name> even with no enrichment options.
 *
 * An norm_set is built once (start, SIGHUP), immutable and shared by all
 * worker threads; each thread has its own norm_scratch. A step that
 * cannot complete (arena full) leaves the event as it is: normalisation
 * never drops an event.
 */
#ifndef INGEST_NORMALISE_H
#define INGEST_NORMALISE_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/event.h"
#include "../core/ts.h"
#include "../enrich/enrich.h"

struct norm_opts {
    const char *const *profile_paths; /* files/dirs of mapping profiles; none = no profiles */
    size_t nprofile_paths;
    const char *const *decoder_paths; /* files/dirs of decoders; none = no decoders */
    size_t ndecoder_paths;
    const char *force_profile;        /* apply this profile to every event, or NULL */
    /* NULL: no lookups. Either way every event goes through the enricher,
     * which renames input fields in its namespaces (asset.*, threat.*, and
     * with GeoIP F.geo.* / F.as.*) input.<name> (enrich_event). */
    const struct enrich_opts *enrich;
};

struct norm_set;
struct norm_scratch;

/* What normalisation did to one event (`tocsin parse --explain`). */
struct norm_explain {
    const char *decoder, *decoder_why;
    const char *profile, *profile_why;
};

/* Created with one reference. Events normalised with n point into it (field
 * names, constants), so whoever swaps in a new one on SIGHUP keeps a
 * reference per batch until the batch is reset; norm_set_free drops one
 * reference and frees on the last. Thread-safe. */
int norm_set_create(struct norm_set **out, const struct norm_opts *o,
                       struct ts_err *err);
struct norm_set *norm_set_ref(struct norm_set *n);
void norm_set_free(struct norm_set *n);
int norm_scratch_create(struct norm_scratch **out, const struct norm_set *n);
void norm_scratch_free(struct norm_scratch *s);
/* Around each batch (enrichment's read transaction). */
int norm_set_batch_begin(struct norm_scratch *s);
void norm_set_batch_end(struct norm_scratch *s);
/* What normalisation did, summed over every scratch of n since
 * norm_set_create. A scratch adds its counts when a batch ends
 * (norm_set_batch_end) and when it is freed, never per event: the sums
 * are final once the source freed its scratches (ingest_files_run returned,
 * ingest_kafka_destroy), and lag by at most a batch while it runs. A reload
 * builds a new norm_set, whose sums start at zero. Thread-safe; n may be
 * NULL (all zero). */
struct norm_stats {
    uint64_t events; /* events normalised (through the enricher) */
    /* input fields in enrichment's namespaces (enrich_event): renamed
     * input.<name>, or dropped when the event's arena had no room for it */
    uint64_t input_reserved_renamed, input_reserved_dropped;
};
void norm_stats(const struct norm_set *n, struct norm_stats *out);

/* Normalise one parsed event. Returns 0, or a non-fatal code when a step
 * could not complete (the event keeps what it has). ex may be NULL. */
int norm_apply(const struct norm_set *n, struct norm_scratch *s,
                     struct ts_event *ev, struct norm_explain *ex);
/* The event of the last norm_apply on s was left undecoded: decoders
 * are loaded, the event has a program and a message, and no decoder fired
 * (a silent loss the sources count as "no decoder", by topic and tenant).
 * False when no decoders are loaded. */
bool norm_undecoded(const struct norm_scratch *s);
/* The last norm_apply on s had a decoder's regex search stopped by a PCRE2
 * limit (match, depth, heap: a catastrophic pattern on a hostile line); the
 * search counted as not matching (ingest_stats.regex_cut). */
bool norm_regex_cut(const struct norm_scratch *s);

#endif
