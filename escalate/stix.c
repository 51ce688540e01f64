/* stix.c - the report as a STIX 2.1 bundle: the reporting organisation
 * (identity), the Sigma rule's author (identity), the TLP marking
 * definition, the detection rule (indicator, pattern_type "sigma"), the
 * observed data with its cyber observables (addresses, raw evidence as
 * artifacts), the sighting and the incident, with related-to
 * relationships. Ids are name-based UUIDs (v5): the same incident gives the
 * same ids in every revision, and `modified` follows the revision, which is
 * how STIX versions an object; SCO ids follow the spec's deterministic
 * rule (namespace 00abedb4-...). Also time and UUID helpers used by the
 * other files. Reentrant. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "../core/tstime.h"
#include "esc_int.h"

/* ---------------------------------------------------------------- SHA-1 */

struct sha1 {
    uint32_t h[5];
    uint64_t len;
    uint8_t buf[64];
    size_t n;
};

static uint32_t rol(uint32_t x, unsigned k)
{
    return (x << k) | (x >> (32 - k));
}

static void sha1_block(struct sha1 *s, const uint8_t *p)
{
    uint32_t w[80];
    for (unsigned i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (unsigned i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    for (unsigned i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
}

static void sha1_init(struct sha1 *s)
{
    static const uint32_t h0[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    memcpy(s->h, h0, sizeof(h0));
    s->len = 0;
    s->n = 0;
}

static void sha1_update(struct sha1 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->len += len;
    while (len) {
        size_t k = 64 - s->n < len ? 64 - s->n : len;
        memcpy(s->buf + s->n, p, k);
        s->n += k;
        p += k;
        len -= k;
        if (s->n == 64) {
            sha1_block(s, s->buf);
            s->n = 0;
        }
    }
}

static void sha1_final(struct sha1 *s, uint8_t out[20])
{
    uint64_t bits = s->len * 8;
    uint8_t pad = 0x80, zero = 0, lenb[8];
    sha1_update(s, &pad, 1);
    while (s->n != 56)
        sha1_update(s, &zero, 1);
    for (unsigned i = 0; i < 8; i++)
        lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_update(s, lenb, 8);
    for (unsigned i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void esc_uuid5(const uint8_t ns[16], const char *name, size_t len, char out[37])
{
    struct sha1 s;
    uint8_t h[20];
    sha1_init(&s);
    sha1_update(&s, ns, 16);
    sha1_update(&s, name, len);
    sha1_final(&s, h);
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x50);
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (unsigned i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 15];
    }
    out[o] = '\0';
}

/* ----------------------------------------------------------------- time */

void esc_time_ms(int64_t ns, char buf[32])
{
    int64_t sec = ns / TS_NS_PER_SEC, rem = ns % TS_NS_PER_SEC;
    if (rem < 0) {
        rem += TS_NS_PER_SEC;
        sec--;
    }
    int64_t days = sec / 86400, sod = sec % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    ts_civil_from_days(days, &y, &m, &d);
    snprintf(buf, 32, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)y, m, d,
             (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60),
             (unsigned)(rem / 1000000));
}

void esc_time_local(int64_t ns, int off_sec, char buf[48])
{
    if (!ns) {
        snprintf(buf, 48, "-");
        return;
    }
    int64_t sec = ns / TS_NS_PER_SEC + off_sec;
    if (ns < 0 && ns % TS_NS_PER_SEC)
        sec--;
    int64_t days = sec / 86400, sod = sec % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    ts_civil_from_days(days, &y, &m, &d);
    int a = off_sec < 0 ? -off_sec : off_sec;
    snprintf(buf, 48, "%04lld-%02u-%02u %02u:%02u:%02u %c%02d:%02d", (long long)y, m, d,
             (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60),
             off_sec < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

/* ----------------------------------------------------------------- STIX */

#define STIX_DISTINCT_MAX 64 /* distinct values looked at for address SCOs */

/* Namespace of Tocsin's SDO ids (a fixed random UUID) and STIX's SCO one. */
static const uint8_t ns_tocsin[16] = {0x6f, 0x2a, 0x1c, 0x3e, 0x5b, 0x7d, 0x4e, 0x8f,
                                      0x9a, 0x0b, 0x1c, 0x2d, 0x3e, 0x4f, 0x5a, 0x6b};
static const uint8_t ns_sco[16] = {0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c,
                                   0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7};

struct tlp {
    const char *name, *id;
};
static const struct tlp tlps[] = {
    {"white", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"},
    {"green", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"},
    {"amber", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"},
    {"red", "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"},
};

struct sw {
    struct ts_buf *b;
    int rc;
    char created[32], modified[32];
    const char *tlp_id;
    char org_id[80];
    bool first;
};

static void sid(const char *type, const char *what, const char *key, char out[80])
{
    char name[512], u[37];
    int n = snprintf(name, sizeof(name), "%s/%s/%s", type, what, key);
    esc_uuid5(ns_tocsin, name, n > 0 && (size_t)n < sizeof(name) ? (size_t)n : sizeof(name) - 1,
              u);
    snprintf(out, 80, "%s--%s", type, u);
}

static void put(struct sw *w, const char *s)
{
    if (!w->rc)
        w->rc = ts_buf_puts(w->b, s);
}

static void putf(struct sw *w, const char *key, const char *v)
{
    if (w->rc || !v)
        return;
    w->rc = ts_buf_printf(w->b, ",\"%s\":", key);
    if (!w->rc)
        w->rc = ts_buf_json_str(w->b, v, strlen(v));
}

static void putn(struct sw *w, const char *key, const char *v, size_t n)
{
    if (w->rc)
        return;
    w->rc = ts_buf_printf(w->b, ",\"%s\":", key);
    if (!w->rc)
        w->rc = ts_buf_json_str(w->b, v, n);
}

/* Opens an object with the common properties; SDOs get created/modified,
 * the marking and (unless it is the organisation itself) created_by_ref. */
static void obj_open(struct sw *w, const char *type, const char *id, bool sdo, bool by_org)
{
    put(w, w->first ? "\n{" : ",\n{");
    w->first = false;
    if (w->rc)
        return;
    w->rc = ts_buf_printf(w->b, "\"type\":\"%s\",\"spec_version\":\"2.1\",\"id\":\"%s\"", type,
                          id);
    if (sdo && !w->rc)
        w->rc = ts_buf_printf(w->b,
                              ",\"created\":\"%s\",\"modified\":\"%s\","
                              "\"object_marking_refs\":[\"%s\"]",
                              w->created, w->modified, w->tlp_id);
    if (sdo && by_org && !w->rc)
        w->rc = ts_buf_printf(w->b, ",\"created_by_ref\":\"%s\"", w->org_id);
}

static void kill_chain(struct sw *w, const struct store_incident *inc)
{
    bool any = false;
    for (uint32_t i = 0; !w->rc && i < inc->ntags; i++) {
        const char *t = inc->tags[i];
        if (!t || strncmp(t, "attack.", 7) != 0 || !t[7] ||
            ((t[7] == 't' || t[7] == 'T' || t[7] == 'g' || t[7] == 's') && t[8] >= '0' &&
             t[8] <= '9'))
            continue;
        char phase[64];
        size_t n = strlen(t + 7);
        if (n >= sizeof(phase))
            continue;
        bool ok = true;
        for (size_t j = 0; j <= n; j++) {
            char c = t[7 + j];
            phase[j] = c == '_' ? '-' : (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            if (c && !(c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
                ok = false;
        }
        if (!ok)
            continue;
        w->rc = ts_buf_printf(w->b, "%s{\"kill_chain_name\":\"mitre-attack\",\"phase_name\":\"%s\"}",
                              any ? "," : ",\"kill_chain_phases\":[", phase);
        any = true;
    }
    if (any)
        put(w, "]");
}

/* An IPv4/IPv6 address value (no range) as an SCO; appends its id to refs. */
static void sco_ip(struct sw *w, const char *v, size_t n, struct ts_buf *refs)
{
    char tmp[64];
    unsigned char a[16];
    if (n == 0 || n >= sizeof(tmp))
        return;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    const char *type = inet_pton(AF_INET, tmp, a) == 1    ? "ipv4-addr"
                       : inet_pton(AF_INET6, tmp, a) == 1 ? "ipv6-addr"
                                                          : NULL;
    if (!type)
        return;
    char canon[128], u[37], id[80];
    int cl = snprintf(canon, sizeof(canon), "{\"value\":\"%s\"}", tmp);
    esc_uuid5(ns_sco, canon, (size_t)cl, u);
    snprintf(id, sizeof(id), "%s--%s", type, u);
    if (refs->data && strstr(refs->data, id))
        return; /* already there */
    obj_open(w, type, id, false, false);
    putf(w, "value", tmp);
    put(w, "}");
    if (!w->rc)
        w->rc = ts_buf_printf(refs, "%s\"%s\"", refs->len ? "," : "", id);
}

static void sco_artifact(struct sw *w, const char *raw, size_t len, struct ts_buf *refs)
{
    struct ts_buf b64;
    ts_buf_init(&b64, 64u << 10);
    size_t n = len > ESC_RAW_EXCERPT_MAX * 4 ? ESC_RAW_EXCERPT_MAX * 4 : len;
    int rc = ts_buf_base64(&b64, raw, n);
    struct ts_buf canon;
    ts_buf_init(&canon, 128u << 10);
    rc = rc ? rc : ts_buf_printf(&canon, "{\"payload_bin\":\"%s\"}", b64.data);
    if (rc) {
        if (!w->rc)
            w->rc = rc;
    } else {
        char u[37], id[80];
        esc_uuid5(ns_sco, canon.data, canon.len, u);
        snprintf(id, sizeof(id), "artifact--%s", u);
        if (!(refs->data && strstr(refs->data, id))) {
            obj_open(w, "artifact", id, false, false);
            putf(w, "mime_type", "text/plain");
            putf(w, "payload_bin", b64.data);
            put(w, "}");
            if (!w->rc)
                w->rc = ts_buf_printf(refs, "%s\"%s\"", refs->len ? "," : "", id);
        }
    }
    ts_buf_free(&b64);
    ts_buf_free(&canon);
}

/* What the bundle's observables leave out of the incident. */
struct omitted {
    uint32_t distinct;       /* distinct values beyond STIX_DISTINCT_MAX */
    bool distinct_store;     /* the incident kept only part of its values */
    size_t raw;              /* raw evidence beyond ESC_EVIDENCE_RAW_MAX */
    size_t raw_cut;          /* artifacts cut at ESC_RAW_EXCERPT_MAX * 4 bytes */
    size_t raw_store_cut;    /* raw texts the store had cut already */
};

/* A STIX note on the observed data and the incident saying, with numbers,
 * what the bundle leaves out; none when it leaves out nothing. */
static void note_omitted(struct sw *w, const struct omitted *om, const struct store_incident *inc,
                         const char *key, const char *od, const char *incd)
{
    if (w->rc || (!om->distinct && !om->distinct_store && !om->raw && !om->raw_cut &&
                  !om->raw_store_cut))
        return;
    const char *field = inc->distinct_field && *inc->distinct_field ? inc->distinct_field
                                                                    : "the counted field";
    struct ts_buf t;
    ts_buf_init(&t, 16384);
    int rc = 0;
    for (int vi = 0; vi < 2 && !rc; vi++) {
        const char *sep = vi ? "\n\n" : "";
        if (om->distinct) {
            rc = ts_buf_printf(&t, vi ? "%s%u giá trị phân biệt của %s ngoài %d giá trị đầu không "
                                        "được xét làm đối tượng quan sát"
                                      : "%s%u distinct value(s) of %s beyond the first %d were "
                                        "not examined for observables",
                               sep, om->distinct, field, STIX_DISTINCT_MAX);
            sep = "; ";
        }
        if (!rc && om->distinct_store) {
            rc = ts_buf_printf(&t, vi ? "%ssự cố có nhiều giá trị phân biệt hơn %u giá trị được lưu"
                                      : "%sthe incident has more distinct values than the %u it "
                                        "kept",
                               sep, inc->ndistinct);
            sep = "; ";
        }
        if (!rc && om->raw) {
            rc = ts_buf_printf(&t, vi ? "%s%zu bản ghi chứng cứ thô ngoài %d bản ghi đầu không được "
                                        "đính kèm"
                                      : "%s%zu raw evidence record(s) beyond the first %d were "
                                        "not attached as artifacts",
                               sep, om->raw, ESC_EVIDENCE_RAW_MAX);
            sep = "; ";
        }
        if (!rc && om->raw_cut) {
            rc = ts_buf_printf(&t, vi ? "%s%zu đoạn trích thô bị cắt ở %d byte"
                                      : "%s%zu raw excerpt(s) cut at %d bytes",
                               sep, om->raw_cut, ESC_RAW_EXCERPT_MAX * 4);
            sep = "; ";
        }
        if (!rc && om->raw_store_cut)
            rc = ts_buf_printf(&t, vi ? "%s%zu văn bản thô đã bị cắt khi lưu"
                                      : "%s%zu raw text(s) were already cut when stored",
                               sep, om->raw_store_cut);
        rc = rc ? rc : ts_buf_putc(&t, '.');
    }
    if (rc) {
        w->rc = rc;
        ts_buf_free(&t);
        return;
    }
    char id[80];
    sid("note", "omitted", key, id);
    obj_open(w, "note", id, true, true);
    putf(w, "abstract", "Observables left out of this bundle / Đối tượng quan sát không đưa "
                        "vào gói này");
    putf(w, "content", t.data);
    if (!w->rc)
        w->rc = ts_buf_printf(w->b, ",\"object_refs\":[\"%s\",\"%s\"]}", od, incd);
    ts_buf_free(&t);
}

static void sigma_reference(const struct store_incident *inc, struct ts_buf *b, int *rc)
{
    /* The rule's metadata as a Sigma YAML document (JSON strings are YAML). */
    const char *k[] = {"title", "id", "author", "level"};
    const char *v[] = {inc->rule_title, inc->rule_id, inc->author, inc->level};
    for (size_t i = 0; !*rc && i < 4; i++) {
        if (!v[i] || !*v[i])
            continue;
        *rc = ts_buf_printf(b, "%s: ", k[i]);
        *rc = *rc ? *rc : ts_buf_json_str(b, v[i], strlen(v[i]));
        *rc = *rc ? *rc : ts_buf_putc(b, '\n');
    }
    if (!*rc && inc->ntags)
        *rc = ts_buf_puts(b, "tags:\n");
    for (uint32_t i = 0; !*rc && i < inc->ntags; i++) {
        *rc = ts_buf_puts(b, "  - ");
        *rc = *rc ? *rc : ts_buf_json_str(b, inc->tags[i], strlen(inc->tags[i]));
        *rc = *rc ? *rc : ts_buf_putc(b, '\n');
    }
    if (!*rc)
        *rc = ts_buf_puts(b, "# detection: not attached (the rule file was not available)\n");
}

int esc_render_stix(const struct esc_doc *d, struct ts_buf *out)
{
    const struct store_incident *inc = d->inc;
    const struct esc_facts *f = &d->plan.facts;
    const char *tlp = d->org && d->org->tlp ? d->org->tlp : "amber";
    if (!strcmp(tlp, "clear"))
        tlp = "white";
    const struct tlp *tl = &tlps[2];
    for (size_t i = 0; i < TS_ARRAY_LEN(tlps); i++)
        if (!strcmp(tlps[i].name, tlp))
            tl = &tlps[i];
    int64_t created = f->detected_ns ? f->detected_ns : d->now_ns;
    int64_t modified = inc->updated_ns > created ? inc->updated_ns : created;
    int64_t fs = inc->first_seen_ns ? inc->first_seen_ns : created;
    int64_t ls = inc->last_seen_ns > fs ? inc->last_seen_ns : fs;
    struct sw w = {.b = out, .tlp_id = tl->id, .first = true};
    esc_time_ms(created, w.created);
    esc_time_ms(modified, w.modified);
    char fs_s[32], ls_s[32];
    esc_time_ms(fs, fs_s);
    esc_time_ms(ls, ls_s);
    const char *key = inc->id;
    char org_key[300];
    snprintf(org_key, sizeof(org_key), "%s", inc->tenant ? inc->tenant : "");
    sid("identity", "organisation", org_key, w.org_id);
    char bundle[80], author_id[80], ind[80], od[80], sight[80], incd[80], rel1[80], rel2[80];
    struct ts_buf rid;
    ts_buf_init(&rid, 1024);
    w.rc = esc_report_id(d, &rid);
    sid("bundle", "report", rid.data ? rid.data : key, bundle);
    sid("indicator", "rule", inc->rule_id ? inc->rule_id : key, ind);
    sid("observed-data", "incident", key, od);
    sid("sighting", "incident", key, sight);
    sid("incident", "incident", key, incd);
    sid("relationship", "incident-indicator", key, rel1);
    sid("relationship", "incident-observed", key, rel2);
    bool has_author = inc->author && *inc->author;
    if (has_author)
        sid("identity", "author", inc->author, author_id);

    if (!w.rc)
        w.rc = ts_buf_printf(out, "{\"type\":\"bundle\",\"id\":\"%s\",\"objects\":[", bundle);

    /* TLP marking definition, exactly as STIX 2.1 predefines it. */
    if (!w.rc) {
        char up[8];
        size_t n = strlen(tl->name);
        for (size_t i = 0; i <= n; i++)
            up[i] = (char)(tl->name[i] >= 'a' ? tl->name[i] - 32 : tl->name[i]);
        w.rc = ts_buf_printf(out,
                             "\n{\"type\":\"marking-definition\",\"spec_version\":\"2.1\","
                             "\"id\":\"%s\",\"created\":\"2017-01-20T00:00:00.000Z\","
                             "\"definition_type\":\"tlp\",\"name\":\"TLP:%s\","
                             "\"definition\":{\"tlp\":\"%s\"}}",
                             tl->id, up, tl->name);
        w.first = false;
    }

    /* The definition of the property extension that carries the national
     * form's fields (STIX 2.1 section 7.3), by Tocsin: the same ids in
     * every bundle. */
    char ext_id[80], tocsin_id[80];
    sid("extension-definition", "form", "tocsin-national-form/1", ext_id);
    sid("identity", "software", "tocsin", tocsin_id);
    /* constant objects: one version (created, modified) and TLP:CLEAR in
     * every bundle, whatever the incident's */
    struct sw keep = w;
    snprintf(w.created, sizeof(w.created), "%s", "2026-12-01T00:00:00.000Z");
    snprintf(w.modified, sizeof(w.modified), "%s", "2026-12-01T00:00:00.000Z");
    w.tlp_id = tlps[0].id;
    obj_open(&w, "identity", tocsin_id, true, false);
    put(&w, ",\"name\":\"Tocsin\",\"identity_class\":\"system\"}");
    obj_open(&w, "extension-definition", ext_id, true, false);
    if (!w.rc)
        w.rc = ts_buf_printf(out,
                             ",\"created_by_ref\":\"%s\",\"name\":\"Tocsin national incident "
                             "report form\",\"description\":\"The fields of the Vietnamese "
                             "incident report forms (Circular 20/2017 forms 03 and 04, Law "
                             "116/2025) that STIX has no property for, on the incident\","
                             "\"schema\":\"https://tocsin.example/schemas/stix-national-form/1"
                             "\",\"version\":\"1.0.0\",\"extension_types\":"
                             "[\"property-extension\"]}",
                             tocsin_id);
    memcpy(w.created, keep.created, sizeof(w.created));
    memcpy(w.modified, keep.modified, sizeof(w.modified));
    w.tlp_id = keep.tlp_id;

    /* The reporting organisation. */
    obj_open(&w, "identity", w.org_id, true, false);
    putf(&w, "name", d->org && d->org->name ? d->org->name
                                            : (inc->tenant && *inc->tenant ? inc->tenant
                                                                           : "unknown"));
    put(&w, ",\"identity_class\":\"organization\"");
    if (d->org) {
        struct ts_buf ci;
        ts_buf_init(&ci, 8192);
        const struct esc_contact *c = &d->org->contact;
        int rc = ts_buf_printf(&ci, "%s%s%s%s%s%s%s%s", c->name ? c->name : "",
                               c->phone ? "; phone " : "", c->phone ? c->phone : "",
                               c->email ? "; email " : "", c->email ? c->email : "",
                               d->org->address ? "; address " : "",
                               d->org->address ? d->org->address : "", "");
        if (!rc && ci.len)
            putf(&w, "contact_information", ci.data);
        else if (rc && !w.rc)
            w.rc = rc;
        ts_buf_free(&ci);
    }
    put(&w, "}");

    /* The rule's author: the Sigma author travels with the indicator. */
    if (has_author) {
        obj_open(&w, "identity", author_id, true, true);
        putf(&w, "name", inc->author);
        put(&w, ",\"identity_class\":\"individual\",\"description\":\"Author of the Sigma "
                "detection rule\"}");
    }

    /* The detection rule. */
    obj_open(&w, "indicator", ind, true, false);
    if (!w.rc)
        w.rc = ts_buf_printf(out, ",\"created_by_ref\":\"%s\"", has_author ? author_id : w.org_id);
    putf(&w, "name", inc->rule_title && *inc->rule_title ? inc->rule_title : inc->rule_id);
    {
        struct ts_buf desc;
        ts_buf_init(&desc, 8192);
        int rc = ts_buf_printf(&desc, "Sigma rule %s%s%s%s%s", inc->rule_id ? inc->rule_id : "",
                               inc->level ? ", level " : "", inc->level ? inc->level : "",
                               has_author ? ", by " : "", has_author ? inc->author : "");
        if (!rc)
            putf(&w, "description", desc.data);
        else if (!w.rc)
            w.rc = rc;
        ts_buf_free(&desc);
    }
    put(&w, ",\"indicator_types\":[\"malicious-activity\"],\"pattern_type\":\"sigma\"");
    if (d->o->rule_text && *d->o->rule_text) {
        putf(&w, "pattern", d->o->rule_text);
    } else {
        struct ts_buf pat;
        ts_buf_init(&pat, 64u << 10);
        int rc = 0;
        sigma_reference(inc, &pat, &rc);
        if (!rc)
            putn(&w, "pattern", pat.data, pat.len);
        else if (!w.rc)
            w.rc = rc;
        ts_buf_free(&pat);
    }
    putf(&w, "valid_from", w.created);
    kill_chain(&w, inc);
    if (inc->rule_id && *inc->rule_id) {
        put(&w, ",\"external_references\":[{\"source_name\":\"sigma\"");
        putf(&w, "external_id", inc->rule_id);
        if (has_author)
            putf(&w, "description", inc->author);
        put(&w, "}]");
    }
    put(&w, "}");

    /* Observables: addresses among the group values and distinct values,
     * the raw text of the first evidence as artifacts. */
    struct ts_buf refs;
    ts_buf_init(&refs, 1u << 20);
    const char *g = inc->group_key;
    while (g && *g && !w.rc) {
        size_t n = strcspn(g, ",");
        const char *eq = memchr(g, '=', n);
        const char *v = eq ? eq + 1 : g;
        sco_ip(&w, v, n - (size_t)(v - g), &refs);
        g += n;
        if (*g == ',')
            g++;
    }
    for (uint32_t i = 0; !w.rc && i < inc->ndistinct && i < STIX_DISTINCT_MAX; i++)
        if (inc->distinct[i])
            sco_ip(&w, inc->distinct[i], strlen(inc->distinct[i]), &refs);
    /* what is left out is counted and said in a note (below) */
    struct omitted om = {.distinct = inc->ndistinct > STIX_DISTINCT_MAX
                                         ? inc->ndistinct - STIX_DISTINCT_MAX
                                         : 0,
                         .distinct_store = inc->distinct_truncated};
    size_t nart = 0;
    for (size_t i = 0; !w.rc && i < d->o->nevidence; i++) {
        const struct store_evidence *e = &d->o->evidence[i];
        if (!e->raw || !e->raw_len)
            continue;
        if (nart == ESC_EVIDENCE_RAW_MAX) {
            om.raw++;
            continue;
        }
        sco_artifact(&w, e->raw, e->raw_len, &refs);
        nart++;
        om.raw_cut += e->raw_len > ESC_RAW_EXCERPT_MAX * 4;
        om.raw_store_cut += e->raw_truncated;
    }
    if (!w.rc && refs.len == 0) {
        /* Nothing observable: the group key itself, so that object_refs is
         * never empty. */
        const char *k = inc->group_key && *inc->group_key ? inc->group_key : inc->id;
        sco_artifact(&w, k, strlen(k), &refs);
    }
    obj_open(&w, "observed-data", od, true, true);
    if (!w.rc)
        w.rc = ts_buf_printf(out,
                             ",\"first_observed\":\"%s\",\"last_observed\":\"%s\","
                             "\"number_observed\":%llu,\"object_refs\":[%s]}",
                             fs_s, ls_s,
                             (unsigned long long)(inc->count == 0 ? 1
                                                  : inc->count > 999999999 ? 999999999
                                                                           : inc->count),
                             refs.data ? refs.data : "");
    ts_buf_free(&refs);

    obj_open(&w, "sighting", sight, true, true);
    if (!w.rc)
        w.rc = ts_buf_printf(out,
                             ",\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"count\":%llu,"
                             "\"sighting_of_ref\":\"%s\",\"observed_data_refs\":[\"%s\"],"
                             "\"where_sighted_refs\":[\"%s\"]}",
                             fs_s, ls_s,
                             (unsigned long long)(inc->count > 999999999 ? 999999999
                                                                         : inc->count),
                             ind, od, w.org_id);

    /* The incident. */
    obj_open(&w, "incident", incd, true, true);
    {
        struct ts_buf name, desc;
        ts_buf_init(&name, 8192);
        ts_buf_init(&desc, 64u << 10);
        int rc = ts_buf_printf(&name, "%s: %s",
                               esc_type_label(d->env->taxonomy, f->cls.type, ESC_LANG_EN),
                               inc->rule_title && *inc->rule_title ? inc->rule_title
                                                                   : (inc->rule_id ? inc->rule_id
                                                                                   : ""));
        rc = rc ? rc : esc_describe(d, ESC_LANG_EN, &desc);
        rc = rc ? rc : ts_buf_puts(&desc, "\n\n");
        rc = rc ? rc : esc_describe(d, ESC_LANG_VI, &desc);
        if (!rc) {
            putf(&w, "name", name.data);
            putf(&w, "description", desc.data);
        } else if (!w.rc) {
            w.rc = rc;
        }
        ts_buf_free(&name);
        ts_buf_free(&desc);
    }
    kill_chain(&w, inc);
    if (!w.rc)
        w.rc = ts_buf_printf(out, ",\"labels\":[\"%s\",\"severity-%s\",\"%s\",\"%s\"]",
                             esc_type_name(f->cls.type), store_severity_name(inc->severity),
                             f->serious ? "serious" : "not-serious",
                             f->open ? "response-ongoing" : "response-ended");
    put(&w, ",\"external_references\":[{\"source_name\":\"tocsin\"");
    putf(&w, "external_id", inc->id);
    putf(&w, "description", rid.data);
    put(&w, "}]");
    /* the national form's fields STIX has no property for */
    if (!w.rc)
        w.rc = ts_buf_printf(out, ",\"extensions\":{\"%s\":", ext_id);
    if (!w.rc)
        w.rc = esc_form_ext_json(d, out);
    put(&w, "}}");

    note_omitted(&w, &om, inc, key, od, incd);

    obj_open(&w, "relationship", rel1, true, true);
    if (!w.rc)
        w.rc = ts_buf_printf(out,
                             ",\"relationship_type\":\"related-to\",\"source_ref\":\"%s\","
                             "\"target_ref\":\"%s\"}",
                             incd, ind);
    obj_open(&w, "relationship", rel2, true, true);
    if (!w.rc)
        w.rc = ts_buf_printf(out,
                             ",\"relationship_type\":\"related-to\",\"source_ref\":\"%s\","
                             "\"target_ref\":\"%s\"}",
                             incd, od);
    put(&w, "\n]}");
    ts_buf_free(&rid);
    return w.rc;
}
