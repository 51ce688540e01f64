/* runtime.h - the pipeline as a running thing (runtime/), and the views of
 * stored records that every front end shares.
 *
 * ---------------------------------------------------------------- views
 * The JSON of an incident and of its evidence, one implementation for the
 * CLI (`tocsin incidents list|show --json`) and the HTTP API
 * (/api/v1/incidents...): what one prints, the other serves, byte for byte.
 * The functions append to a ts_buf (core/buf.h) and only read the records;
 * they keep no state and may be called from any thread. They return 0 or
 * the first error of an append (TS_E_LIMIT at the buffer's cap, TS_E_NOMEM;
 * the buffer then holds a partial document), or a store error.
 */
#ifndef TS_RUNTIME_H
#define TS_RUNTIME_H

#include "../core/arena.h"
#include "../core/buf.h"
#include "../storage/storage.h"

/* The incident record as `tocsin incidents list --json` prints it, without
 * its closing brace, so that a caller may add members (show adds
 * "evidence_records"): {"id":...,"rule_id":...,...,"evidence":N,
 * "evidence_dropped":N[,"details":...]. Times are RFC 3339 UTC; details is
 * embedded as JSON when it is valid JSON, else as a string. */
int rt_view_incident_open(struct ts_buf *b, const struct store_incident *in);
/* The same, closed: one JSON object. */
int rt_view_incident(struct ts_buf *b, const struct store_incident *in);
/* One evidence record as `show --json` lists it: {"seq","source",
 * "partition","offset","event_time","stored"[,"rule_id"][,"raw"]
 * [,"raw_truncated":true][,"raw_omitted":true]}. */
int rt_view_evidence(struct ts_buf *b, const struct store_evidence *ev);
/* The incident with all of its evidence as `tocsin incidents show --json`
 * prints it (without the trailing newline): rt_view_incident_open, then
 * "evidence_records":[...] read in t (a read or write txn) and "}".
 * arena receives each evidence record and is reset between them: it must
 * not be the arena that holds in. */
int rt_view_incident_evidence(struct ts_buf *b, struct store_txn *t,
                              const struct store_incident *in, struct ts_arena *arena);

#endif
