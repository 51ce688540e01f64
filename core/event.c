/* event.c - building and reading events; all memory comes from the arena. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "ts.h"

#define FIELDS_INITIAL 16

void ts_event_init(struct ts_event *ev, struct ts_arena *arena)
{
    memset(ev, 0, sizeof(*ev));
    ev->arena = arena;
    ev->tenant = "";
    ev->raw = "";
}

void ts_event_clear_fields(struct ts_event *ev)
{
    ev->nfields = 0;
}

static int grow(struct ts_event *ev)
{
    if (ev->cap >= TS_EVENT_MAX_FIELDS)
        return TS_E_LIMIT;
    uint32_t ncap = ev->cap ? ev->cap * 2 : FIELDS_INITIAL;
    if (ncap > TS_EVENT_MAX_FIELDS)
        ncap = TS_EVENT_MAX_FIELDS;
    struct ts_field *nf = ts_arena_alloc(ev->arena, (size_t)ncap * sizeof(*nf));
    if (!nf)
        return TS_E_NOMEM;
    if (ev->nfields)
        memcpy(nf, ev->fields, (size_t)ev->nfields * sizeof(*nf));
    ev->fields = nf;
    ev->cap = ncap;
    return 0;
}

int ts_event_add(struct ts_event *ev, const char *name, size_t name_len, const struct ts_value *v)
{
    if (ev->nfields == ev->cap) {
        int rc = grow(ev);
        if (rc)
            return rc;
    }
    struct ts_field *f = &ev->fields[ev->nfields++];
    f->name = name;
    f->name_len = (uint32_t)name_len;
    f->v = *v;
    return 0;
}

int ts_event_add_str(struct ts_event *ev, const char *name, const char *s, size_t len)
{
    struct ts_value v = ts_v_str(s, len);
    return ts_event_add(ev, name, strlen(name), &v);
}

int ts_event_add_int(struct ts_event *ev, const char *name, int64_t i)
{
    struct ts_value v = ts_v_int(i);
    return ts_event_add(ev, name, strlen(name), &v);
}

int ts_event_add_float(struct ts_event *ev, const char *name, double f)
{
    struct ts_value v = {.type = TS_V_FLOAT};
    v.u.f = f;
    return ts_event_add(ev, name, strlen(name), &v);
}

int ts_event_add_bool(struct ts_event *ev, const char *name, bool b)
{
    struct ts_value v = {.type = TS_V_BOOL};
    v.u.b = b;
    return ts_event_add(ev, name, strlen(name), &v);
}

int ts_event_add_ip(struct ts_event *ev, const char *name, const struct ts_ip *ip)
{
    struct ts_value v = {.type = TS_V_IP};
    v.u.ip = *ip;
    return ts_event_add(ev, name, strlen(name), &v);
}

const struct ts_field *ts_event_get(const struct ts_event *ev, const char *name, size_t name_len)
{
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct ts_field *f = &ev->fields[i];
        if (f->name_len == name_len && memcmp(f->name, name, name_len) == 0)
            return f;
    }
    return NULL;
}

const struct ts_field *ts_event_getz(const struct ts_event *ev, const char *name)
{
    return ts_event_get(ev, name, strlen(name));
}

int ts_event_set(struct ts_event *ev, const char *name, size_t name_len, const struct ts_value *v)
{
    struct ts_field *f = (struct ts_field *)ts_event_get(ev, name, name_len);
    if (f) {
        f->v = *v;
        return 0;
    }
    return ts_event_add(ev, name, name_len, v);
}

int ts_ip_parse(const char *s, size_t len, struct ts_ip *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return TS_E_PARSE;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (memchr(buf, ':', len)) {
        if (inet_pton(AF_INET6, buf, out->addr) != 1)
            return TS_E_PARSE;
        out->family = 6;
    } else {
        if (inet_pton(AF_INET, buf, out->addr) != 1)
            return TS_E_PARSE;
        out->family = 4;
    }
    return 0;
}

const char *ts_ip_format(const struct ts_ip *ip, char *buf, size_t len)
{
    if (ip->family != 6 && len >= 16) { /* dotted quad without sprintf (hot: group keys) */
        char *p = buf;
        for (int i = 0; i < 4; i++) {
            unsigned v = ip->addr[i];
            if (v >= 100)
                *p++ = (char)('0' + v / 100);
            if (v >= 10)
                *p++ = (char)('0' + v / 10 % 10);
            *p++ = (char)('0' + v % 10);
            *p++ = i < 3 ? '.' : '\0';
        }
        return buf;
    }
    if (!inet_ntop(ip->family == 6 ? AF_INET6 : AF_INET, ip->addr, buf, (socklen_t)len))
        snprintf(buf, len, "?");
    return buf;
}
