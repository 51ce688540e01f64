/* fuzz_escalate.c - libFuzzer target for the escalation YAML loaders
 * (escalate/load.c): the input is loaded as a regime, a taxonomy, a policy,
 * an organisations file and an asset inventory; whatever loads is used to
 * plan and render a fixed incident (JSON, STIX, text) so that loaded
 * configurations are exercised too. Errors are formatted, all is freed.
 * The input is parsed once for the regime, taxonomy, policy and
 * organisations loaders (esc_*_load_tree, esc_int.h), which would each
 * parse the same text the same way (libyaml took three quarters of an
 * input's time); when it does not parse, the regime loader gets the text
 * (esc_*_load_buffer: the parse error as each of them reports it). The
 * inventory loader (enrich's) parses the text itself.
 * Seeds: tests/fuzz/corpus/escalate/. */
#include <stddef.h>
#include <stdint.h>

#include "../../core/yaml.h"
#include "../../escalate/esc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    char msg[1024];
    struct ts_err err = {0};
    struct esc_regime *r = NULL;
    struct esc_taxonomy *t = NULL;
    struct esc_policy *p = NULL;
    struct esc_orgs *o = NULL;
    struct esc_assets *a = NULL;
    struct ts_ystream *tree = NULL;
    if (size > ESC_FILE_MAX || ts_yaml_load_buffer("fuzz.yml", buf, size, &tree, &err) != 0) {
        ts_err_clear(&err);
        if (esc_regime_load_buffer("fuzz.yml", buf, size, &r, &err) != 0)
            ts_err_format(&err, msg, sizeof(msg));
    } else {
        if (esc_regime_load_tree("fuzz.yml", tree, &r, &err) != 0)
            ts_err_format(&err, msg, sizeof(msg));
        ts_err_clear(&err);
        if (esc_taxonomy_load_tree("fuzz.yml", tree, &t, &err) != 0)
            ts_err_format(&err, msg, sizeof(msg));
        ts_err_clear(&err);
        if (esc_policy_load_tree("fuzz.yml", tree, &p, &err) != 0)
            ts_err_format(&err, msg, sizeof(msg));
        ts_err_clear(&err);
        if (esc_orgs_load_tree("fuzz.yml", tree, &o, &err) != 0)
            ts_err_format(&err, msg, sizeof(msg));
        ts_yaml_free(tree);
    }
    ts_err_clear(&err);
    if (esc_assets_load_buffer("fuzz.yml", buf, size, &a, &err) != 0)
        ts_err_format(&err, msg, sizeof(msg));
    if (r) {
        static const char *const tags[] = {"attack.t1486", "attack.T1110.003", "attack.impact"};
        struct store_incident inc = {
            .id = "fuzz", .rule_id = "r", .rule_title = "t", .author = "a", .tags = tags,
            .ntags = 3, .tenant = "so-tttt-demo", .group_key = "host=db-01,ip=10.0.0.1",
            .first_seen_ns = 1, .last_seen_ns = 2, .count = 1, .severity = 4, .revision = 1,
            .created_ns = 1000, .updated_ns = 2000,
        };
        if (esc_policy_check(p, r, &err) != 0)
            ts_err_format(&err, msg, sizeof(msg));
        struct esc_env env = {r, t, p, o, a};
        struct esc_plan plan;
        esc_plan_incident(&env, &inc, &plan);
        struct ts_buf b;
        ts_buf_init(&b, 1u << 20);
        for (int f = 0; f < 3; f++) {
            struct esc_report_opts ro = {.stage = (enum esc_stage)(f % 3),
                                         .format = (enum esc_format)f, .now_ns = 1};
            ts_buf_reset(&b);
            esc_report_render(&env, &inc, &ro, &b);
        }
        struct esc_outbox_batch ob;
        if (esc_outbox_build(&env, NULL, NULL, &inc, 1, &ob) == 0)
            esc_outbox_batch_free(&ob);
        ts_buf_free(&b);
    }
    esc_regime_free(r);
    esc_taxonomy_free(t);
    esc_policy_free(p);
    esc_orgs_free(o);
    esc_assets_free(a);
    return 0;
}
