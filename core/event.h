/* event.h - the Tocsin event model.
 *
 * An event is a set of named, typed fields plus event time, ingest time,
 * tenant, source position, Sigma logsource and the raw bytes. Everything an
 * event points to (field array, names, values, raw) lives in the batch's arena
 * or in static storage, so building an event does no per-field malloc and
 * freeing a batch is one arena reset.
 *
 * Lifetimes: every pointer stored in an event is borrowed and must stay valid
 * as long as the event's batch (normally: it was allocated from ev->arena, or
 * it is a string literal). Events belong to one thread at a time.
 */
#ifndef TS_EVENT_H
#define TS_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

#define TS_EVENT_MAX_FIELDS 4096 /* hard cap per event */
#define TS_LIST_MAX_ITEMS 65536

enum ts_vtype {
    TS_V_NULL = 0,
    TS_V_STR,
    TS_V_INT,
    TS_V_FLOAT,
    TS_V_BOOL,
    TS_V_IP,
    TS_V_LIST,
};

struct ts_ip {
    uint8_t family; /* 4 or 6 */
    uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
};

struct ts_value {
    uint8_t type;  /* enum ts_vtype */
    uint32_t len;  /* STR: bytes (not counting the NUL); LIST: items */
    union {
        const char *s; /* len bytes; NOT always NUL-terminated at len (values may
                          point into the raw message): always use len */
        int64_t i;
        double f;
        bool b;
        struct ts_ip ip;
        const struct ts_value *items;
    } u;
};

struct ts_field {
    const char *name; /* NUL-terminated */
    uint32_t name_len;
    struct ts_value v;
};

enum ts_src_kind { TS_SRC_NONE = 0, TS_SRC_FILE, TS_SRC_KAFKA };

/* Where an event came from. name is the topic or the file path ("-" for
 * stdin), borrowed from the source, valid while the source is open. */
struct ts_srcpos {
    uint8_t kind; /* enum ts_src_kind */
    const char *name;
    int32_t partition; /* Kafka */
    int64_t offset;    /* Kafka */
    uint64_t line;     /* file, 1-based */
};

/* Sigma logsource; NULL members are unknown. Static or arena strings. */
struct ts_logsource {
    const char *product;
    const char *category;
    const char *service;
};

struct ts_event {
    int64_t time_ns;        /* event time, UTC ns since the epoch */
    int64_t ingest_ns;      /* when Tocsin received it */
    bool time_from_event;   /* false: time_ns is the ingest-time fallback */
    bool time_clamped;      /* the event's own time was too far ahead of ingest time:
                               time_ns is the ingest time (ingest_time_guard) */
    const char *tenant;     /* agency id, "" if unknown */
    struct ts_srcpos src;
    const char *raw;        /* raw bytes as received */
    uint32_t raw_len;
    const char *format;     /* "rfc3164", "rfc5424", "json", ... (static) */
    struct ts_logsource logsource;
    struct ts_field *fields; /* arena array */
    uint32_t nfields;
    uint32_t cap;
    struct ts_arena *arena; /* where fields and copies live */
};

/* Reset ev to an empty event whose fields will live in arena. */
void ts_event_init(struct ts_event *ev, struct ts_arena *arena);
/* Drop all fields (keeps time, tenant, source, raw). */
void ts_event_clear_fields(struct ts_event *ev);

/* Append a field. name and string values are borrowed (see lifetimes above);
 * use ts_arena_strndup first when they are not. A field with the same name as
 * an existing one is appended too; ts_event_get returns the first.
 * Returns 0, TS_E_LIMIT past TS_EVENT_MAX_FIELDS, TS_E_NOMEM when the arena is
 * full. */
int ts_event_add(struct ts_event *ev, const char *name, size_t name_len,
                 const struct ts_value *v);
int ts_event_add_str(struct ts_event *ev, const char *name, const char *s, size_t len);
int ts_event_add_int(struct ts_event *ev, const char *name, int64_t i);
int ts_event_add_float(struct ts_event *ev, const char *name, double f);
int ts_event_add_bool(struct ts_event *ev, const char *name, bool b);
int ts_event_add_ip(struct ts_event *ev, const char *name, const struct ts_ip *ip);
/* Replace the value of the first field called name, or add it. */
int ts_event_set(struct ts_event *ev, const char *name, size_t name_len, const struct ts_value *v);

/* The first field with this exact name, or NULL. Borrowed from ev. */
const struct ts_field *ts_event_get(const struct ts_event *ev, const char *name, size_t name_len);
const struct ts_field *ts_event_getz(const struct ts_event *ev, const char *name);

/* Value constructors. */
static inline struct ts_value ts_v_str(const char *s, size_t len)
{
    struct ts_value v = {.type = TS_V_STR, .len = (uint32_t)len};
    v.u.s = s;
    return v;
}
static inline struct ts_value ts_v_int(int64_t i)
{
    struct ts_value v = {.type = TS_V_INT};
    v.u.i = i;
    return v;
}

/* Tenant (agency) ids: 1..TS_TENANT_MAX bytes of A-Z a-z 0-9 . _ - : @.
 * Checked where a tenant enters (Kafka header, configuration, command line);
 * everything downstream (correlation keys, LMDB records, reports) relies on
 * it. Returns NULL when s[0..len) is a valid tenant, else a static
 * one-line reason. */
#define TS_TENANT_MAX 64
#define TS_TENANT_MAX_STR "64"
const char *ts_tenant_check(const char *s, size_t len);

/* Parse a textual IPv4/IPv6 address (len bytes, not NUL-terminated).
 * Returns 0 or TS_E_PARSE. */
int ts_ip_parse(const char *s, size_t len, struct ts_ip *out);
/* Format into buf (at least 46 bytes). Returns buf. */
const char *ts_ip_format(const struct ts_ip *ip, char *buf, size_t len);

#endif
