/* esc.c - what the front ends open besides the pipeline: the escalation
 * configuration (regime preset by name, taxonomy, policy, organisations,
 * assets; defaults from etc/escalation beside the binary) and the store
 * opened to read. Loaders print their first error on stderr as
 * "tocsin: file:line:col: error: ..." (same as before the move).
 * Any thread; the objects belong to the caller. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

static int esc_fail(const struct ts_err *err, int rc)
{
    char msg[1024];
    ts_err_format(err, msg, sizeof(msg));
    fprintf(stderr, "tocsin: %s\n", err->code ? msg : ts_strerror(rc));
    return rc;
}

int rt_esc_open(struct rt_esc *e, const char *regime, const char *regimes_dir,
                const char *taxonomy, const char *policy, const char *org, const char *assets)
{
    memset(e, 0, sizeof(*e));
    char dbuf[PATH_MAX], tbuf[PATH_MAX + 32], pbuf[PATH_MAX + 32];
    const char *dir = regimes_dir ? regimes_dir
                                  : rt_default_dir("etc/escalation", dbuf, sizeof(dbuf));
    if (!dir) {
        fprintf(stderr, "tocsin: escalate: no regimes directory (escalate.regimes_dir)\n");
        return TS_E_CONFIG;
    }
    if (!taxonomy) {
        snprintf(tbuf, sizeof(tbuf), "%s/taxonomy.yml", dir);
        taxonomy = tbuf;
    }
    if (!policy) {
        snprintf(pbuf, sizeof(pbuf), "%s/policy.yml", dir);
        policy = pbuf;
    }
    struct ts_err err = {0};
    int rc = esc_regime_load_named(dir, regime ? regime : "law116-2025", &e->regime, &err);
    if (!rc)
        rc = esc_taxonomy_load(taxonomy, &e->taxonomy, &err);
    if (!rc)
        rc = esc_policy_load(policy, &e->policy, &err);
    if (!rc)
        rc = esc_policy_check(e->policy, e->regime, &err);
    if (!rc && org)
        rc = esc_orgs_load(org, &e->orgs, &err);
    if (!rc && assets)
        rc = esc_assets_load(assets, &e->assets, &err);
    if (rc)
        return esc_fail(&err, rc);
    if (esc_regime_lapsed(e->regime))
        fprintf(stderr, "tocsin: escalate: note: regime %s: %s\n", esc_regime_id(e->regime),
                esc_regime_lapsed(e->regime));
    e->env = (struct esc_env){e->regime, e->taxonomy, e->policy, e->orgs, e->assets};
    return 0;
}

void rt_esc_close(struct rt_esc *e)
{
    esc_regime_free(e->regime);
    esc_taxonomy_free(e->taxonomy);
    esc_policy_free(e->policy);
    esc_orgs_free(e->orgs);
    esc_assets_free(e->assets);
    memset(e, 0, sizeof(*e));
}

int rt_store_open_read(const char *path, size_t map_size, struct store **s,
                       struct ts_err *err)
{
    char f[4200];
    snprintf(f, sizeof(f), "%s/data.mdb", path);
    struct store_opts o = {.path = path, .map_size = map_size, .read_only = true};
    /* read-write when allowed: the first transaction folds what the
     * engine's incident journal holds, so the reader sees the latest */
    if (access(f, F_OK) == 0 && access(path, W_OK) == 0 && access(f, W_OK) == 0)
        o.read_only = false;
    return store_open(s, &o, err);
}
