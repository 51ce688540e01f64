/* cmd_intel.c - `tocsin intel load --db DIR [--source NAME] FILE...`: import
 * threat-intel indicators (CSV, MISP event JSON, STIX 2.1 bundle; detected
 * from content, docs/intel.md) into the LMDB directory that the enricher
 * reads (config: enrich.intel_db). Each file is one transaction: imported
 * whole or not at all. Prints the counts per type for each file. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../enrich/enrich.h"
#include "cli.h"
#include "cli_int.h"

static const char intel_usage[] =
    "usage: tocsin intel load --db DIR [--source NAME] FILE...\n"
    "Import threat-intel indicators (IP, CIDR, domain, URL, md5/sha1/sha256) from CSV,\n"
    "MISP event JSON or STIX 2.1 bundles (detected from content) into the LMDB\n"
    "directory DIR (created when missing). See docs/intel.md.\n"
    "options:\n"
    "  -d, --db DIR         the intel database directory\n"
    "  -s, --source NAME    source recorded for every indicator (default: named in the\n"
    "                       file - CSV source column, MISP Orgc, STIX identity - or the\n"
    "                       file's name)\n"
    "      --hunt DURATION  then retro-hunt the indicators of --source over the last\n"
    "                       DURATION (30d, 12h) of the topics of -c FILE: the sightings\n"
    "                       as JSON lines on stdout (tocsin hunt --intel; docs/hunting.md)\n"
    "  -c, --config FILE    (with --hunt) the config of `run`: kafka, topics\n"
    "      --hunt-db DIR    (with --hunt) keep the retro-hunt in DIR/hunts/ID instead\n";

static int intel_load(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"source", required_argument, NULL, 's'},
        {"hunt", required_argument, NULL, 'H'},
        {"config", required_argument, NULL, 'c'},
        {"hunt-db", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *source = NULL, *hunt = NULL, *config = NULL, *hunt_db = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "d:s:c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 's': source = optarg; break;
        case 'H': hunt = optarg; break;
        case 'c': config = optarg; break;
        case 'B': hunt_db = optarg; break;
        case 'h': fputs(intel_usage, stdout); return 0;
        default: fputs(intel_usage, stderr); return 2;
        }
    }
    if (!db || optind >= argc) {
        fprintf(stderr, "tocsin intel load: %s\n%s", !db ? "--db DIR is required" : "no FILE given",
                intel_usage);
        return 2;
    }
    if (hunt && (!config || !source)) {
        fprintf(stderr, "tocsin intel load: --hunt needs %s\n", !source ?
                "--source NAME (the retro-hunt reports the sightings of that source's "
                "indicators)" : "-c FILE (the config whose topics are hunted)");
        return 2;
    }
    if (!hunt && (config || hunt_db)) {
        fprintf(stderr, "tocsin intel load: -c and --hunt-db are for --hunt DURATION\n");
        return 2;
    }
    int status = 0;
    struct enrich_intel_load_stats total = {0};
    for (int i = optind; i < argc; i++) {
        struct enrich_intel_load_stats st;
        struct ts_err err = {0};
        int rc = enrich_intel_load(db, argv[i], source, &st, &err);
        if (rc) {
            char msg[1024];
            ts_err_format(&err, msg, sizeof(msg));
            fprintf(stderr, "tocsin intel load: %s\n", msg);
            status = 1;
            continue;
        }
        printf("%s: %llu indicators (ip %llu, cidr %llu, domain %llu, url %llu, hash %llu), "
               "%llu already expired, %llu skipped\n",
               argv[i], (unsigned long long)st.indicators, (unsigned long long)st.ips,
               (unsigned long long)st.cidrs, (unsigned long long)st.domains,
               (unsigned long long)st.urls, (unsigned long long)st.hashes,
               (unsigned long long)st.expired, (unsigned long long)st.skipped);
        if (st.skipped)
            printf("  first skipped: %s\n", st.first_skip);
        if (st.stix_cmp_dropped)
            printf("  %llu STIX comparison(s) past %d per pattern left out, in %llu "
                   "indicator(s)\n",
                   (unsigned long long)st.stix_cmp_dropped, INGEST_INTEL_STIX_MAX_CMP,
                   (unsigned long long)st.warnings);
        if (st.warnings)
            printf("  first warning: %s\n", st.first_warning);
        total.indicators += st.indicators;
        total.skipped += st.skipped;
        total.stix_cmp_dropped += st.stix_cmp_dropped;
    }
    if (argc - optind > 1 && total.stix_cmp_dropped)
        printf("total: %llu indicators, %llu skipped, %llu STIX comparisons left out\n",
               (unsigned long long)total.indicators, (unsigned long long)total.skipped,
               (unsigned long long)total.stix_cmp_dropped);
    else if (argc - optind > 1)
        printf("total: %llu indicators, %llu skipped\n", (unsigned long long)total.indicators,
               (unsigned long long)total.skipped);
    if (hunt && status) {
        fprintf(stderr, "tocsin intel load: not all files were loaded: no retro-hunt\n");
        return status;
    }
    if (hunt)
        return cli_intel_hunt(config, db, source, hunt, hunt_db);
    return status;
}

int cmd_intel(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(intel_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "load"))
        return intel_load(argc - 1, argv + 1);
    fprintf(stderr, "tocsin intel: unknown subcommand \"%s\"\n%s", argv[1], intel_usage);
    return 2;
}
