/* norm.c - the normaliser as `run` and `replay` build it from options or
 * config (decoders, mapping profiles, enrichment), with default paths
 * beside the binary, and the summary of what it counted. Build and summary
 * are called on one thread (start-up, reload); the normaliser built is
 * immutable and shared by the sources' threads. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../normalise/normalise.h"
#include "runtime.h"

const char *rt_default_dir(const char *sub, char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    struct stat st;
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, len, "%s/../%s", exe, sub);
            if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
                return buf;
        }
    }
    snprintf(buf, len, "%s", sub);
    return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? buf : NULL;
}

int rt_norm_build(const struct rt_norm_args *a, struct norm_set **out)
{
    struct ts_err err = {0};
    int rc = rt_norm_build_err(a, out, &err);
    if (rc) {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin: %s\n", err.code ? msg : ts_strerror(rc));
    }
    return rc;
}

int rt_norm_build_err(const struct rt_norm_args *a, struct norm_set **out, struct ts_err *err)
{
    *out = NULL;
    if (a->none)
        return 0;
    char pbuf[PATH_MAX], dbuf[PATH_MAX];
    const char *profiles = a->profiles ? a->profiles : rt_default_dir("etc/profiles", pbuf,
                                                                      sizeof(pbuf));
    const char *decoders = a->decoders ? a->decoders : rt_default_dir("etc/decoders", dbuf,
                                                                      sizeof(dbuf));
    struct enrich_opts eo = {
        .geoip_city_db = a->geoip_city,
        .geoip_asn_db = a->geoip_asn,
        .ip_fields = a->ip_fields,
        .nip_fields = a->nip_fields,
        .assets_file = a->assets,
        .intel_db = a->intel_db,
    };
    bool enrich = a->geoip_city || a->geoip_asn || a->assets || a->intel_db;
    struct norm_opts no = {
        .profile_paths = a->nprofile_list ? a->profile_list : profiles ? &profiles : NULL,
        .nprofile_paths = a->nprofile_list ? a->nprofile_list : profiles ? 1 : 0,
        .decoder_paths = a->ndecoder_list ? a->decoder_list : decoders ? &decoders : NULL,
        .ndecoder_paths = a->ndecoder_list ? a->ndecoder_list : decoders ? 1 : 0,
        .force_profile = a->force_profile,
        .enrich = enrich ? &eo : NULL,
    };
    return norm_set_create(out, &no, err);
}

bool rt_norm_summary(const struct norm_set *n, char *buf, size_t len)
{
    struct norm_stats st;
    norm_stats(n, &st);
    if (len)
        buf[0] = '\0';
    if (!len || (!st.input_reserved_renamed && !st.input_reserved_dropped))
        return false;
    snprintf(buf, len,
             "input fields named like enrichment's (asset.*, threat.*, geo): %llu renamed "
             "input.<name>, %llu dropped (no room)",
             (unsigned long long)st.input_reserved_renamed,
             (unsigned long long)st.input_reserved_dropped);
    return true;
}
