/* check.c - warnings at load for what a report would miss (issue 13):
 * the optional and mandatory fields of forms 03/04 an organisation leaves
 * out, no organisations or asset inventory, a regime whose basis lapsed.
 * Reads the loaded, immutable configuration only; reentrant; no allocation. */
#include <stddef.h>
#include <stdio.h>

#include "esc_int.h"

typedef void (*esc_warn_fn)(void *ctx, const char *file, unsigned line, unsigned col,
                            const char *msg);

/* A field of the form and where it comes from in an organisation. */
struct org_field {
    const char *key;   /* the YAML key to add */
    const char *label; /* the line of the form */
    size_t off;        /* offsetof the string in struct esc_org, or (size_t)-1 */
};

#define OF(k, l, m) {k, l, offsetof(struct esc_org, m)}
static const struct org_field org_fields[] = {
    OF("address", "Địa chỉ", address),
    OF("phone", "Điện thoại", phone),
    OF("email", "Thư điện tử", email),
    OF("place", "nơi ban hành (\"..., ngày ... tháng ... năm ...\")", place),
    OF("security_provider", "Nhà cung cấp dịch vụ an ninh mạng", security_provider),
    OF("network_provider", "Nhà cung cấp dịch vụ kết nối mạng", network_provider),
    OF("system_purpose", "Mục đích, chức năng của hệ thống", system_purpose),
    OF("os", "Hệ điều hành, phiên bản", os),
    OF("services", "Các dịch vụ đang chạy", services),
    OF("security_measures", "Các biện pháp bảo đảm an ninh mạng đã triển khai",
       security_measures),
};

static size_t org_warnings(const struct esc_orgs *o, const struct esc_org *g, esc_warn_fn warn,
                           void *ctx)
{
    size_t n = 0;
    char msg[512];
    const char *who = g->tenant ? g->tenant : "default";
    for (size_t i = 0; i < TS_ARRAY_LEN(org_fields); i++) {
        const char *v = *(const char *const *)((const char *)g + org_fields[i].off);
        if (v && *v)
            continue;
        snprintf(msg, sizeof(msg),
                 "organisation \"%s\" has no %s: reports will read \"%s: chưa khai báo\"", who,
                 org_fields[i].key, org_fields[i].label);
        warn(ctx, o->file, g->line, g->col, msg);
        n++;
    }
    if (!g->contact.name && !g->contact.email && !g->contact.phone) {
        snprintf(msg, sizeof(msg), "organisation \"%s\" has no contact: reports will read "
                                   "\"Người liên hệ: chưa khai báo\"", who);
        warn(ctx, o->file, g->line, g->col, msg);
        n++;
    }
    if (!g->signer.name) {
        snprintf(msg, sizeof(msg), "organisation \"%s\" has no signer (name, role): the "
                                   "signature block will read \"chưa khai báo\"", who);
        warn(ctx, o->file, g->line, g->col, msg);
        n++;
    }
    if (g->confidential < 0) {
        snprintf(msg, sizeof(msg), "organisation \"%s\" does not say confidential: true|false: "
                                   "reports will read \"Giữ bí mật: chưa khai báo\"", who);
        warn(ctx, o->file, g->line, g->col, msg);
        n++;
    }
    return n;
}

size_t esc_config_warnings(const struct esc_env *env, esc_warn_fn warn, void *ctx)
{
    size_t n = 0;
    if (!env || !warn)
        return 0;
    char msg[1024];
    if (env->regime && env->regime->lapsed) {
        snprintf(msg, sizeof(msg), "regime %s: %s", env->regime->id, env->regime->lapsed);
        warn(ctx, NULL, 0, 0, msg);
        n++;
    }
    if (!env->orgs) {
        warn(ctx, NULL, 0, 0,
             "no organisations file (escalate.org / --org): every report reads \"chưa khai "
             "báo\" for the reporting organisation, its contact and signer");
        n++;
    }
    if (!env->assets) {
        warn(ctx, NULL, 0, 0,
             "no asset inventory (escalate.assets / --assets): the affected system and its "
             "security level are unknown, so no incident is judged serious");
        n++;
    }
    for (size_t i = 0; env->orgs && i < env->orgs->n; i++)
        n += org_warnings(env->orgs, &env->orgs->v[i], warn, ctx);
    for (size_t i = 0; env->assets && i < env->assets->n; i++) {
        const struct esc_system *s = &env->assets->v[i];
        if (s->operator_ && s->managing_body)
            continue;
        snprintf(msg, sizeof(msg), "system \"%s\" has no %s: reports on it will read \"chưa "
                                   "khai báo\"", s->id ? s->id : "?",
                 !s->operator_ ? "operator" : "managing_body");
        warn(ctx, NULL, 0, 0, msg);
        n++;
    }
    return n;
}
