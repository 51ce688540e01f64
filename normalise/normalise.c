/* normalise.c - decoders, then the mapping profile, then enrichment (always:
 * at least the renaming of input fields in enrichment's namespaces); see
 * normalise.h. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "normalise.h"
#include "profile.h"

/* Sums over every scratch of one norm_set (norm_stats). */
struct norm_counters {
    _Atomic uint64_t events, input_reserved_renamed, input_reserved_dropped;
};

struct norm_set {
    atomic_int refs;
    struct norm_decoder_set *decoders;
    struct norm_profile_set *profiles;
    struct enrich_set *enricher;
    char *force_profile;
    struct norm_counters *cnt; /* written through a const norm_set by scratches */
};

struct norm_scratch {
    const struct norm_set *n;
    struct norm_decoder_scratch *dec;
    struct enrich_scratch *enr;
    bool in_batch;
    struct enrich_stats added; /* what this scratch already added to n->cnt */
};

/* Add what the scratch counted since its last flush to the norm's sums:
 * at the end of each batch and when the scratch is freed (not per event). */
static void stats_flush(struct norm_scratch *s)
{
    if (!s->enr)
        return;
    struct enrich_stats st;
    enrich_scratch_stats(s->enr, &st);
    struct norm_counters *c = s->n->cnt;
    if (st.events != s->added.events)
        atomic_fetch_add_explicit(&c->events, st.events - s->added.events,
                                  memory_order_relaxed);
    if (st.input_reserved_renamed != s->added.input_reserved_renamed)
        atomic_fetch_add_explicit(&c->input_reserved_renamed,
                                  st.input_reserved_renamed - s->added.input_reserved_renamed,
                                  memory_order_relaxed);
    if (st.input_reserved_dropped != s->added.input_reserved_dropped)
        atomic_fetch_add_explicit(&c->input_reserved_dropped,
                                  st.input_reserved_dropped - s->added.input_reserved_dropped,
                                  memory_order_relaxed);
    s->added = st;
}

int norm_set_create(struct norm_set **out, const struct norm_opts *o,
                       struct ts_err *err)
{
    *out = NULL;
    struct norm_set *n = calloc(1, sizeof(*n));
    if (!n)
        return TS_E_NOMEM;
    atomic_init(&n->refs, 1);
    if (!(n->cnt = calloc(1, sizeof(*n->cnt)))) {
        free(n);
        return TS_E_NOMEM;
    }
    int rc = 0;
    if (o->ndecoder_paths)
        rc = norm_decoder_set_load(&n->decoders, o->decoder_paths, o->ndecoder_paths, err);
    if (!rc && o->nprofile_paths)
        rc = norm_profile_set_load(&n->profiles, o->profile_paths, o->nprofile_paths, err);
    if (!rc && o->force_profile) {
        bool known = false;
        for (size_t i = 0; n->profiles && i < norm_profile_set_count(n->profiles); i++)
            known = known || strcmp(norm_profile_set_name(n->profiles, i), o->force_profile) == 0;
        if (!known)
            rc = ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "unknown profile \"%s\"",
                            o->force_profile);
        else if (!(n->force_profile = strdup(o->force_profile)))
            rc = TS_E_NOMEM;
    }
    /* Enrichment owns asset.*, threat.* (and, with GeoIP, F.geo.*): its
     * enricher always exists, so that an input field in those namespaces is
     * renamed input.<name> even when nothing is configured to look up - an
     * event must not name its own system for escalation (issue 17). With no
     * options the enricher only does that: one first-byte test per field. */
    static const struct enrich_opts no_lookups;
    if (!rc)
        rc = enrich_set_create(&n->enricher, o->enrich ? o->enrich : &no_lookups, err);
    if (rc) {
        norm_set_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

struct norm_set *norm_set_ref(struct norm_set *n)
{
    if (n)
        atomic_fetch_add(&n->refs, 1);
    return n;
}

void norm_set_free(struct norm_set *n)
{
    if (!n || atomic_fetch_sub(&n->refs, 1) != 1)
        return;
    norm_decoder_set_free(n->decoders);
    norm_profile_set_free(n->profiles);
    enrich_set_free(n->enricher);
    free(n->force_profile);
    free(n->cnt);
    free(n);
}

int norm_scratch_create(struct norm_scratch **out, const struct norm_set *n)
{
    *out = NULL;
    struct norm_scratch *s = calloc(1, sizeof(*s));
    if (!s)
        return TS_E_NOMEM;
    s->n = n;
    int rc = 0;
    if (n->decoders)
        rc = norm_decoder_scratch_create(&s->dec, n->decoders);
    if (!rc && n->enricher)
        rc = enrich_scratch_create(&s->enr, n->enricher);
    if (rc) {
        norm_scratch_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void norm_scratch_free(struct norm_scratch *s)
{
    if (!s)
        return;
    if (s->in_batch)
        norm_set_batch_end(s);
    stats_flush(s);
    norm_decoder_scratch_free(s->dec);
    enrich_scratch_free(s->enr);
    free(s);
}

int norm_set_batch_begin(struct norm_scratch *s)
{
    if (!s->enr || s->in_batch)
        return 0;
    int rc = enrich_batch_begin(s->enr);
    s->in_batch = rc == 0;
    return rc;
}

void norm_set_batch_end(struct norm_scratch *s)
{
    if (s->enr && s->in_batch)
        enrich_batch_end(s->enr);
    s->in_batch = false;
    stats_flush(s);
}

void norm_stats(const struct norm_set *n, struct norm_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!n)
        return;
    out->events = atomic_load_explicit(&n->cnt->events, memory_order_relaxed);
    out->input_reserved_renamed =
        atomic_load_explicit(&n->cnt->input_reserved_renamed, memory_order_relaxed);
    out->input_reserved_dropped =
        atomic_load_explicit(&n->cnt->input_reserved_dropped, memory_order_relaxed);
}

int norm_apply(const struct norm_set *n, struct norm_scratch *s,
                     struct ts_event *ev, struct norm_explain *ex)
{
    int first = 0, rc;
    if (ex)
        memset(ex, 0, sizeof(*ex));
    struct ts_logsource before = ev->logsource, dec_ls = {0};
    if (n->decoders) {
        struct norm_decoder_explain dx = {0};
        rc = norm_decoder_apply(n->decoders, s->dec, ev, ex ? &dx : NULL);
        /* the parts the decoder filled in (it never overwrites) */
        if (!before.product)
            dec_ls.product = ev->logsource.product;
        if (!before.category)
            dec_ls.category = ev->logsource.category;
        if (!before.service)
            dec_ls.service = ev->logsource.service;
        first = first ? first : rc;
        if (ex) {
            ex->decoder = dx.decoder;
            ex->decoder_why = dx.why;
        }
    }
    /* what the decoder set of the logsource survives the profile: the
     * decoder recognised this message, the profile only its format
     * (docs/decoders.md, "Logsource precedence") */
    if (n->profiles) {
        struct norm_profile_explain px = {0};
        rc = norm_profile_apply(n->profiles, n->force_profile, ev, ex ? &px : NULL);
        first = first ? first : rc;
        if (dec_ls.product)
            ev->logsource.product = dec_ls.product;
        if (dec_ls.category)
            ev->logsource.category = dec_ls.category;
        if (dec_ls.service)
            ev->logsource.service = dec_ls.service;
        if (ex) {
            ex->profile = px.profile;
            ex->profile_why = px.why;
        }
    }
    if (n->enricher) {
        if (!s->in_batch)
            norm_set_batch_begin(s);
        rc = enrich_event(n->enricher, s->enr, ev);
        first = first ? first : rc;
    }
    return first;
}

bool norm_undecoded(const struct norm_scratch *s)
{
    return s && s->n && s->n->decoders && norm_decoder_scratch_undecoded(s->dec);
}

bool norm_regex_cut(const struct norm_scratch *s)
{
    return s && s->n && s->n->decoders && norm_decoder_scratch_cut(s->dec);
}
