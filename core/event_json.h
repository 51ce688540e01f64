/* event_json.h - an event as one JSON object (the output of `tocsin parse`,
 * of `run --events-out`, and the evidence format later):
 *   {"@timestamp":"<RFC 3339 UTC>","@time_source":"event"|"ingest",
 *    "tenant":"..","source":{"file":..,"line":..}|{"topic":..,"partition":..,"offset":..},
 *    "format":"rfc3164",["logsource":{...},] "raw":"..", <fields by name>}
 * A field whose name is one of the envelope keys is written as "field.<name>".
 * Reentrant. */
#ifndef TS_EVENT_JSON_H
#define TS_EVENT_JSON_H

#include "buf.h"
#include "event.h"

/* Append a source position as a JSON object: {"topic","partition","offset"}
 * for Kafka, else {"file","line"}. */
int ts_srcpos_to_json(const struct ts_srcpos *src, struct ts_buf *b);
/* Append ev as JSON (no newline) to b. 0 or TS_E_LIMIT / TS_E_NOMEM. */
int ts_event_to_json(const struct ts_event *ev, struct ts_buf *b);

#endif
