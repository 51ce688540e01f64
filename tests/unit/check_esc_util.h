/* check_esc_util.h - shared fixtures of the check_esc_* suites: the shipped
 * presets of etc/escalation (found beside this file, or under
 * $TOCSIN_SRC_DIR), a small asset inventory and a ransomware incident. */
#ifndef CHECK_ESC_UTIL_H
#define CHECK_ESC_UTIL_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "../../core/tstime.h"
#include "../../escalate/escalate.h"

static inline void esc_test_path(char *buf, size_t len, const char *rel)
{
    const char *f = __FILE__;
    const char *end = strstr(f, "tests/unit/check_esc_util.h");
    int n = end ? (int)(end - f) : 0;
    snprintf(buf, len, "%.*s%s", n, f, rel);
    if (access(buf, R_OK) != 0 && getenv("TOCSIN_SRC_DIR"))
        snprintf(buf, len, "%s/%s", getenv("TOCSIN_SRC_DIR"), rel);
}

static inline struct esc_regime *esc_test_regime(const char *name)
{
    char dir[512];
    esc_test_path(dir, sizeof(dir), "etc/escalation");
    struct esc_regime *r = NULL;
    struct ts_err err = {0};
    int rc = esc_regime_load_named(dir, name, &r, &err);
    ck_assert_msg(rc == 0, "%s: %s:%u:%u: %s", name, err.file, err.line, err.col, err.msg);
    return r;
}

static inline struct esc_taxonomy *esc_test_taxonomy(void)
{
    char p[512];
    esc_test_path(p, sizeof(p), "etc/escalation/taxonomy.yml");
    struct esc_taxonomy *t = NULL;
    struct ts_err err = {0};
    int rc = esc_taxonomy_load(p, &t, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    return t;
}

static inline struct esc_policy *esc_test_policy(void)
{
    char p[512];
    esc_test_path(p, sizeof(p), "etc/escalation/policy.yml");
    struct esc_policy *pol = NULL;
    struct ts_err err = {0};
    int rc = esc_policy_load(p, &pol, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    return pol;
}

static inline struct esc_orgs *esc_test_orgs(void)
{
    char p[512];
    esc_test_path(p, sizeof(p), "etc/escalation/org.example.yml");
    struct esc_orgs *o = NULL;
    struct ts_err err = {0};
    int rc = esc_orgs_load(p, &o, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    return o;
}

static const char esc_test_inventory[] =
    "agency: so-tttt-demo\n"
    "systems:\n"
    "  - id: db-01\n"
    "    name: \"Cơ sở dữ liệu dịch vụ công\"\n"
    "    operator: \"Trung tâm Công nghệ thông tin và Truyền thông\"\n"
    "    managing_body: \"Ủy ban nhân dân tỉnh Demo\"\n"
    "    level: 4\n"
    "    hostnames: [db-01, db-01.so-tttt-demo.local]\n"
    "    ip_ranges: [10.10.9.5/32, 203.0.113.20/32]\n"
    "    domains: [dvc.so-tttt-demo.gov.vn]\n"
    "    contacts:\n"
    "      - {name: \"Nguyễn Văn An\", role: \"Quản trị\", email: an.nv@so-tttt-demo.gov.vn}\n"
    "  - id: ketoan-pc07\n"
    "    name: \"Máy trạm kế toán số 07\"\n"
    "    managing_body: \"Sở Thông tin và Truyền thông tỉnh Demo\"\n"
    "    level: 2\n"
    "    hostnames: [ketoan-pc07]\n"
    "    ip_ranges: [10.20.5.7/32]\n";

static inline struct esc_assets *esc_test_assets(void)
{
    struct esc_assets *a = NULL;
    struct ts_err err = {0};
    int rc = esc_assets_load_buffer("inventory.yml", esc_test_inventory,
                                    sizeof(esc_test_inventory) - 1, &a, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    return a;
}

/* Detection time of the fixtures: 2026-11-20T03:00:00Z (10:00 in Hanoi). */
#define ESC_T0 (INT64_C(1795143600) * TS_NS_PER_SEC)
#define ESC_H (INT64_C(3600) * TS_NS_PER_SEC)

static const char *const esc_test_ransom_tags[] = {"attack.impact", "attack.t1490",
                                                   "attack.t1486"};

/* Shadow copies deleted on db-01 (level 4), severity high, new. */
static inline struct store_incident esc_test_incident(void)
{
    struct store_incident inc = {
        .id = "5f1d3c0a9b8e7d6c5b4a39281706f5e4",
        .rule_id = "c947b146-0abc-4c87-9c64-b17e9d7274a2",
        .rule_title = "Shadow Copies Deletion Using Operating Systems Utilities",
        .level = "high",
        .author = "Florian Roth (Nextron Systems), Michael Haag, Teymur Kheirkhabarov",
        .tags = esc_test_ransom_tags,
        .ntags = 3,
        .tenant = "so-tttt-demo",
        .group_key = "host=db-01",
        .first_seen_ns = ESC_T0 - 120 * TS_NS_PER_SEC,
        .last_seen_ns = ESC_T0 - 60 * TS_NS_PER_SEC,
        .count = 3,
        .severity = 3,
        .status = STORE_STATUS_NEW,
        .revision = 1,
        .created_ns = ESC_T0,
        .updated_ns = ESC_T0,
    };
    return inc;
}

#endif
