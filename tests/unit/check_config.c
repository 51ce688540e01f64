/* check_config.c - the run configuration loader (core/config.c): a full
 * config read back, defaults, every kind of error with its exact
 * file:line:col and message, the time-zone offset parser, and the example
 * configs in etc/ (tests run from the repo root). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "../../core/config.h"
#include "../../core/tz.h"

#define CFG_NAME "etc/tocsin.yml"

static struct ts_config *load_ok(const char *text)
{
    struct ts_config *c = NULL;
    struct ts_err err = {0};
    int rc = ts_config_load_buffer(CFG_NAME, text, strlen(text), &c, &err);
    ck_assert_msg(rc == 0, "load failed: %d %s:%u:%u: %s", rc, err.file, err.line, err.col,
                  err.msg);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Loads text, expects code and the formatted error line exactly. */
static void expect_err(const char *text, int code, const char *formatted)
{
    struct ts_config *c = (struct ts_config *)1;
    struct ts_err err = {0};
    int rc = ts_config_load_buffer(CFG_NAME, text, strlen(text), &c, &err);
    char buf[1024];
    ts_err_format(&err, buf, sizeof(buf));
    ck_assert_msg(rc == code, "rc %d, expected %d (%s)", rc, code, buf);
    ck_assert_int_eq(err.code, code);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(buf, formatted);
}

static void expect_config_err(const char *text, const char *formatted)
{
    expect_err(text, TS_E_CONFIG, formatted);
}

START_TEST(test_config_full_config_reads_back)
{
    struct ts_config *c = load_ok("kafka:\n"
                                  "  brokers: \"k1:9092,k2:9092\"\n"
                                  "  group_id: soc\n"
                                  "  workers: 8\n"
                                  "  batch_size: 500\n"
                                  "  batch_timeout_ms: 250\n"
                                  "  queue_batches: 16\n"
                                  "  properties:\n"
                                  "    security.protocol: SASL_SSL\n"
                                  "    fetch.max.bytes: 52428800\n"
                                  "    enable.partition.eof: false\n"
                                  "    client.id: \"tocsin 1\"\n"
                                  "topics:\n"
                                  "  - name: logs.syslog\n"
                                  "    format: rfc5424\n"
                                  "    tenant: agency-a\n"
                                  "    dead_letter: dlq.syslog\n"
                                  "  - name: logs.agent\n"
                                  "ingest:\n"
                                  "  max_message_bytes: 65536\n"
                                  "  timezone: \"+07:00\"\n"
                                  "  default_tenant: unknown\n"
                                  "paths:\n"
                                  "  data_dir: /var/lib/tocsin\n"
                                  "  rules: [etc/rules, /opt/sigma]\n"
                                  "  dead_letter_file: /tmp/dl.jsonl\n"
                                  "log:\n"
                                  "  level: debug\n");
    ck_assert_str_eq(c->path, CFG_NAME);
    ck_assert_str_eq(c->kafka.brokers, "k1:9092,k2:9092");
    ck_assert_str_eq(c->kafka.group_id, "soc");
    ck_assert_int_eq(c->kafka.workers, 8);
    ck_assert_uint_eq(c->kafka.batch_size, 500);
    ck_assert_int_eq(c->kafka.batch_timeout_ms, 250);
    ck_assert_uint_eq(c->kafka.queue_batches, 16);
    ck_assert_uint_eq(c->kafka.nprops, 4);
    ck_assert_str_eq(c->kafka.props[0], "security.protocol=SASL_SSL");
    ck_assert_str_eq(c->kafka.props[1], "fetch.max.bytes=52428800");
    ck_assert_str_eq(c->kafka.props[2], "enable.partition.eof=false");
    ck_assert_str_eq(c->kafka.props[3], "client.id=tocsin 1");
    ck_assert_uint_eq(c->ntopics, 2);
    ck_assert_str_eq(c->topics[0].name, "logs.syslog");
    ck_assert_str_eq(c->topics[0].format, "rfc5424");
    ck_assert_str_eq(c->topics[0].tenant, "agency-a");
    ck_assert_str_eq(c->topics[0].dead_letter, "dlq.syslog");
    ck_assert_uint_eq(c->topics[0].line, 14);
    ck_assert_uint_eq(c->topics[0].col, 5);
    ck_assert_str_eq(c->topics[1].name, "logs.agent");
    ck_assert_str_eq(c->topics[1].format, "auto");
    ck_assert_ptr_null(c->topics[1].tenant);
    ck_assert_ptr_null(c->topics[1].dead_letter);
    ck_assert_uint_eq(c->topics[1].line, 18);
    ck_assert_uint_eq(c->ingest.max_message_bytes, 65536);
    ck_assert_int_eq(c->ingest.tz_offset_sec, 7 * 3600);
    ck_assert_str_eq(c->ingest.default_tenant, "unknown");
    ck_assert_str_eq(c->paths.data_dir, "/var/lib/tocsin");
    ck_assert_uint_eq(c->paths.nrules, 2);
    ck_assert_str_eq(c->paths.rules[0], "etc/rules");
    ck_assert_str_eq(c->paths.rules[1], "/opt/sigma");
    ck_assert_str_eq(c->paths.dead_letter_file, "/tmp/dl.jsonl");
    ck_assert_str_eq(c->log.level, "debug");
    ts_config_free(c);
}
END_TEST

static void assert_defaults(const struct ts_config *c)
{
    ck_assert_ptr_null(c->kafka.brokers);
    ck_assert_str_eq(c->kafka.group_id, "tocsin");
    ck_assert_int_eq(c->kafka.workers, 1);
    ck_assert_uint_eq(c->kafka.batch_size, 1000);
    ck_assert_int_eq(c->kafka.batch_timeout_ms, 100);
    ck_assert_uint_eq(c->kafka.queue_batches, 4);
    ck_assert_uint_eq(c->kafka.commit_batches, 20);
    ck_assert_int_eq(c->kafka.commit_interval_ms, 200);
    ck_assert_uint_eq(c->kafka.nprops, 0);
    ck_assert_uint_eq(c->ntopics, 0);
    ck_assert_uint_eq(c->ingest.max_message_bytes, 1048576);
    ck_assert_int_eq(c->ingest.tz_offset_sec, 0);
    ck_assert_str_eq(c->ingest.default_tenant, "default");
    ck_assert_ptr_null(c->paths.data_dir);
    ck_assert_uint_eq(c->paths.nrules, 0);
    ck_assert_ptr_null(c->paths.dead_letter_file);
    ck_assert_str_eq(c->log.level, "info");
}

START_TEST(test_config_empty_file_takes_every_default)
{
    static const char *const empties[] = {"", "# nothing here\n", "---\n", "~\n"};
    for (size_t i = 0; i < TS_ARRAY_LEN(empties); i++) {
        struct ts_config *c = load_ok(empties[i]);
        assert_defaults(c);
        ts_config_free(c);
    }
}
END_TEST

START_TEST(test_config_empty_sections_take_defaults)
{
    struct ts_config *c = load_ok("kafka:\n"
                                  "  properties:\n"
                                  "topics: []\n"
                                  "ingest: {}\n"
                                  "paths:\n"
                                  "log:\n");
    assert_defaults(c);
    ts_config_free(c);
}
END_TEST


/* rules.skip_invalid (issue 16): run starts without invalid rules only when
 * told to */
START_TEST(test_config_rules_skip_invalid)
{
    struct ts_config *c = load_ok("kafka:\n  brokers: x\n");
    ck_assert(!c->rules.skip_invalid);
    ts_config_free(c);
    c = load_ok("rules:\n  skip_invalid: true\n");
    ck_assert(c->rules.skip_invalid);
    ts_config_free(c);
    expect_config_err("rules:\n  skip_invalid: yes please\n",
                      "etc/tocsin.yml:2:17: error: rules.skip_invalid must be true or false");
}
END_TEST

START_TEST(test_config_unknown_key_names_line_and_suggests)
{
    expect_config_err("# example\n"
                      "kafka:\n"
                      "    brokers: \"127.0.0.1:9092\"\n"
                      "    group_id: tocsin\n"
                      "    workers: 2\n"
                      "    batch_timeout_ms: 50\n"
                      "    bathc_size: 500\n",
                      "etc/tocsin.yml:7:5: error: unknown key \"bathc_size\" in kafka "
                      "(did you mean \"batch_size\"?)");
    expect_config_err("kafak:\n  brokers: x\n",
                      "etc/tocsin.yml:1:1: error: unknown key \"kafak\" in the configuration "
                      "(did you mean \"kafka\"?)");
    expect_config_err("topics:\n  - name: a\n    formt: json\n",
                      "etc/tocsin.yml:3:5: error: unknown key \"formt\" in topics[0] "
                      "(did you mean \"format\"?)");
}
END_TEST

START_TEST(test_config_unknown_key_without_close_match_lists_the_keys)
{
    expect_config_err("log:\n  colour: red\n",
                      "etc/tocsin.yml:2:3: error: unknown key \"colour\" in log "
                      "(expected one of level)");
    expect_config_err("ingest:\n  zone: UTC\n",
                      "etc/tocsin.yml:2:3: error: unknown key \"zone\" in ingest (expected one "
                      "of max_message_bytes, timezone, default_tenant, max_future, hosts, "
                      "silent_after)");
}
END_TEST

START_TEST(test_config_integer_must_be_a_number_in_range)
{
    expect_config_err("kafka:\n  workers: two\n",
                      "etc/tocsin.yml:2:12: error: kafka.workers must be an integer from 1 to "
                      "64, got \"two\"");
    expect_config_err("kafka:\n  workers: 65\n",
                      "etc/tocsin.yml:2:12: error: kafka.workers must be an integer from 1 to "
                      "64, got \"65\"");
    expect_config_err("kafka:\n  batch_size: 0\n",
                      "etc/tocsin.yml:2:15: error: kafka.batch_size must be an integer from 1 to "
                      "100000, got \"0\"");
    expect_config_err("kafka:\n  batch_timeout_ms: -5\n",
                      "etc/tocsin.yml:2:21: error: kafka.batch_timeout_ms must be an integer "
                      "from 1 to 60000, got \"-5\"");
    expect_config_err("kafka:\n  queue_batches: 99999999999999999999\n",
                      "etc/tocsin.yml:2:18: error: kafka.queue_batches must be an integer from "
                      "1 to 1024, got \"99999999999999999999\"");
    expect_config_err("kafka:\n  commit_batches: 0\n",
                      "etc/tocsin.yml:2:19: error: kafka.commit_batches must be an integer from "
                      "1 to 1000, got \"0\"");
    expect_config_err("kafka:\n  commit_interval_ms: 60001\n",
                      "etc/tocsin.yml:2:23: error: kafka.commit_interval_ms must be an integer "
                      "from 1 to 60000, got \"60001\"");
    expect_config_err("ingest:\n  max_message_bytes: [1]\n",
                      "etc/tocsin.yml:2:22: error: ingest.max_message_bytes must be an integer "
                      "from 1 to 67108864, got a list");
    expect_config_err("kafka:\n  workers:\n",
                      "etc/tocsin.yml:2:11: error: kafka.workers must be an integer from 1 to "
                      "64, got nothing");
    expect_config_err("kafka:\n  workers: 1.5\n",
                      "etc/tocsin.yml:2:12: error: kafka.workers must be an integer from 1 to "
                      "64, got \"1.5\"");
}
END_TEST

START_TEST(test_config_integer_range_ends_are_accepted)
{
    struct ts_config *c = load_ok("kafka:\n  workers: 64\n  batch_size: 100000\n"
                                  "  batch_timeout_ms: 1\n  queue_batches: \"1024\"\n"
                                  "  commit_batches: 1\n  commit_interval_ms: 60000\n"
                                  "ingest:\n  max_message_bytes: 67108864\n");
    ck_assert_int_eq(c->kafka.workers, 64);
    ck_assert_uint_eq(c->kafka.batch_size, 100000);
    ck_assert_int_eq(c->kafka.batch_timeout_ms, 1);
    ck_assert_uint_eq(c->kafka.queue_batches, 1024);
    ck_assert_uint_eq(c->kafka.commit_batches, 1);
    ck_assert_int_eq(c->kafka.commit_interval_ms, 60000);
    ck_assert_uint_eq(c->ingest.max_message_bytes, 67108864);
    ts_config_free(c);
}
END_TEST

START_TEST(test_config_topic_format_must_be_known)
{
    expect_config_err("kafka:\n"
                      "  brokers: b:9092\n"
                      "topics:\n"
                      "  - name: logs.syslog\n"
                      "  - name: logs.xml\n"
                      "    format: xml\n",
                      "etc/tocsin.yml:6:13: error: topics[1].format must be one of auto, "
                      "rfc3164, rfc5424, json, got \"xml\"");
}
END_TEST

START_TEST(test_config_topic_without_name_is_an_error)
{
    expect_config_err("kafka: {brokers: b:9092}\n"
                      "topics:\n"
                      "  - name: a\n"
                      "  - format: json\n"
                      "    tenant: t\n",
                      "etc/tocsin.yml:4:5: error: topics[1] has no name (every topic needs "
                      "\"name\")");
    expect_config_err("kafka: {brokers: b:9092}\n"
                      "topics:\n"
                      "  - name: \"\"\n",
                      "etc/tocsin.yml:3:11: error: topics[0].name must be a non-empty string, "
                      "got \"\"");
    expect_config_err("kafka: {brokers: b:9092}\n"
                      "topics:\n"
                      "  - logs.syslog\n",
                      "etc/tocsin.yml:3:5: error: topics[0] must be a mapping, got "
                      "\"logs.syslog\"");
    expect_config_err("topics: logs.syslog\n",
                      "etc/tocsin.yml:1:9: error: topics must be a list of topics, got "
                      "\"logs.syslog\"");
}
END_TEST

START_TEST(test_config_topic_tenants_bind_header_tenants_and_bad_ids_are_errors)
{
    struct ts_config *c = load_ok("kafka: {brokers: b:9092}\n"
                                  "topics:\n"
                                  "  - name: a\n"
                                  "    tenant: agency-a\n"
                                  "    tenants: [agency-c, so.tttt:01]\n"
                                  "  - name: b\n"
                                  "    tenants: \"*\"\n"
                                  "  - name: c\n");
    ck_assert_uint_eq(c->topics[0].ntenants, 2);
    ck_assert_str_eq(c->topics[0].tenants[1], "so.tttt:01");
    ck_assert(!c->topics[0].any_tenant);
    ck_assert(c->topics[1].any_tenant);
    ck_assert_uint_eq(c->topics[2].ntenants, 0);
    ck_assert(!c->topics[2].any_tenant);
    ts_config_free(c);
    expect_config_err("topics:\n"
                      "  - name: a\n"
                      "    tenant: \"agency a\"\n",
                      "etc/tocsin.yml:3:13: error: topics[0].tenant: tenant has a character "
                      "other than A-Z a-z 0-9 . _ - : @ (got \"agency a\"); use up to 64 of A-Z "
                      "a-z 0-9 . _ - : @");
    expect_config_err("topics:\n"
                      "  - name: a\n"
                      "    tenants: [ok, "
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
                      "etc/tocsin.yml:3:19: error: topics[0].tenants[1]: tenant longer than 64 "
                      "bytes (got \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"); use up to 64 "
                      "of A-Z a-z 0-9 . _ - : @");
    expect_config_err("topics:\n"
                      "  - name: a\n"
                      "    tenants: agency-b\n",
                      "etc/tocsin.yml:3:14: error: topics[0].tenants must be a list of tenant ids "
                      "or \"*\", got \"agency-b\"");
    expect_config_err("ingest: {default_tenant: \"a/b\"}\n",
                      "etc/tocsin.yml:1:26: error: ingest.default_tenant: tenant has a character "
                      "other than A-Z a-z 0-9 . _ - : @ (got \"a/b\"); use up to 64 of A-Z a-z "
                      "0-9 . _ - : @");
}
END_TEST

START_TEST(test_config_kafka_properties_take_env_and_file_secrets)
{
    char path[] = "/tmp/check_config_pwXXXXXX", text[512];
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "pw-from-file\n", 13), 13);
    close(fd);
    setenv("TS_TEST_KAFKA_USER", "tocsin", 1);
    snprintf(text, sizeof(text),
             "kafka:\n"
             "  brokers: ${env:TS_TEST_KAFKA_USER}.example:9093\n"
             "  properties:\n"
             "    sasl.username: ${env:TS_TEST_KAFKA_USER}\n"
             "    sasl.password: ${file:%s}\n",
             path);
    struct ts_config *c = load_ok(text);
    ck_assert_str_eq(c->kafka.brokers, "tocsin.example:9093");
    ck_assert_str_eq(c->kafka.props[0], "sasl.username=tocsin");
    ck_assert_str_eq(c->kafka.props[1], "sasl.password=pw-from-file");
    ts_config_free(c);
    unlink(path);
    /* the file gone: an error naming the path at the value, never a value */
    struct ts_err err = {0};
    ck_assert_int_eq(ts_config_load_buffer(CFG_NAME, text, strlen(text), &c, &err), TS_E_CONFIG);
    char buf[1024];
    ts_err_format(&err, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "etc/tocsin.yml:5:20: error: kafka.properties.sasl.password: "
                                      "cannot read ${file:/tmp/check_config_pw"));
    unsetenv("TS_TEST_KAFKA_USER");
    expect_config_err("kafka:\n"
                      "  properties:\n"
                      "    sasl.password: ${env:TS_TEST_UNSET_PW}\n",
                      "etc/tocsin.yml:3:20: error: kafka.properties.sasl.password: environment "
                      "variable TS_TEST_UNSET_PW is not set (referenced as "
                      "${env:TS_TEST_UNSET_PW})");
}
END_TEST

START_TEST(test_config_duplicate_keys_are_errors)
{
    expect_config_err("kafka:\n"
                      "  workers: 2\n"
                      "  brokers: b:9092\n"
                      "  workers: 3\n",
                      "etc/tocsin.yml:4:3: error: duplicate key \"workers\" in kafka (first at "
                      "line 2)");
    expect_config_err("log: {level: info}\n"
                      "log: {level: debug}\n",
                      "etc/tocsin.yml:2:1: error: duplicate key \"log\" in the configuration "
                      "(first at line 1)");
    expect_config_err("kafka:\n"
                      "  properties:\n"
                      "    client.id: a\n"
                      "    client.id: b\n",
                      "etc/tocsin.yml:4:5: error: duplicate key \"client.id\" in "
                      "kafka.properties (first at line 3)");
}
END_TEST

START_TEST(test_config_duplicate_topic_and_dead_letter_loop_are_errors)
{
    expect_config_err("kafka: {brokers: b:9092}\n"
                      "topics:\n"
                      "  - name: a\n"
                      "  - name: a\n",
                      "etc/tocsin.yml:4:11: error: topics[1].name \"a\" is already used by "
                      "topics[0]");
    expect_config_err("kafka: {brokers: b:9092}\n"
                      "topics:\n"
                      "  - name: a\n"
                      "    dead_letter: b\n"
                      "  - name: b\n",
                      "etc/tocsin.yml:4:18: error: topics[0].dead_letter \"b\" is consumed as "
                      "topics[1]; failed events would loop");
}
END_TEST

START_TEST(test_config_topics_need_brokers)
{
    expect_config_err("log: {level: info}\n"
                      "topics:\n"
                      "  - name: a\n",
                      "etc/tocsin.yml:2:1: error: kafka.brokers is required when topics are "
                      "given");
}
END_TEST

START_TEST(test_config_properties_accept_scalars_only)
{
    expect_config_err("kafka:\n"
                      "  properties:\n"
                      "    bootstrap.servers: [a, b]\n",
                      "etc/tocsin.yml:3:24: error: kafka.properties.bootstrap.servers must be a "
                      "string, number or boolean, got a list");
    expect_config_err("kafka:\n"
                      "  properties: [a=b]\n",
                      "etc/tocsin.yml:2:15: error: kafka.properties must be a mapping, got a "
                      "list");
    expect_config_err("kafka:\n"
                      "  properties:\n"
                      "    a=b: c\n",
                      "etc/tocsin.yml:3:5: error: kafka.properties key \"a=b\" is not a "
                      "librdkafka property name");
}
END_TEST

START_TEST(test_config_rules_path_is_a_string_or_a_list)
{
    struct ts_config *c = load_ok("paths:\n  rules: /etc/tocsin/rules\n");
    ck_assert_uint_eq(c->paths.nrules, 1);
    ck_assert_str_eq(c->paths.rules[0], "/etc/tocsin/rules");
    ts_config_free(c);
    expect_config_err("paths:\n  rules: {a: b}\n",
                      "etc/tocsin.yml:2:10: error: paths.rules must be a string or a list of "
                      "strings, got a mapping");
    expect_config_err("paths:\n  rules:\n    - a\n    - [b]\n",
                      "etc/tocsin.yml:4:7: error: paths.rules[1] must be a non-empty string, "
                      "got a list");
}
END_TEST

START_TEST(test_config_timezone_and_level_are_validated)
{
    struct ts_config *c = load_ok("ingest:\n  timezone: -0530\nlog:\n  level: warning\n");
    ck_assert_int_eq(c->ingest.tz_offset_sec, -(5 * 3600 + 30 * 60));
    ck_assert_str_eq(c->log.level, "warning");
    ts_config_free(c);
    expect_config_err("ingest:\n  timezone: Asia/Nowhere\n",
                      "etc/tocsin.yml:2:13: error: ingest.timezone: unknown time zone "
                      "\"Asia/Nowhere\" (/usr/share/zoneinfo/Asia/Nowhere: No such file or "
                      "directory; is tzdata installed?)");
    expect_config_err("ingest:\n  timezone: ../etc/passwd\n",
                      "etc/tocsin.yml:2:13: error: ingest.timezone: not a zone: use UTC, an "
                      "offset like +07:00, or an IANA name like Asia/Ho_Chi_Minh");
    /* IANA names per default, per topic and per host pattern (issue 10) */
    c = load_ok("ingest:\n  timezone: Asia/Ho_Chi_Minh\n  hosts:\n    \"fw-*\": UTC\n"
                "    dc01: Europe/Berlin\nkafka: {brokers: b:9092}\ntopics:\n  - name: a\n"
                "    timezone: \"+09:00\"\n");
    ck_assert_int_eq(c->ingest.tz_offset_sec, 7 * 3600);
    ck_assert_uint_eq(c->ingest.nhosts, 2);
    ck_assert_str_eq(c->ingest.hosts[0].pattern, "fw-*");
    ck_assert_int_eq(ts_tz_offset_at(c->ingest.hosts[0].tz, 0), 0);
    ck_assert_int_eq(ts_tz_offset_at(c->ingest.hosts[1].tz, 1782864000), 7200); /* July 2026 */
    ck_assert_int_eq(ts_tz_offset_at(c->ingest.hosts[1].tz, 1796601600), 3600); /* Dec 2026 */
    ck_assert_int_eq(ts_tz_offset_at(c->topics[0].tz, 0), 9 * 3600);
    ts_config_free(c);
    expect_config_err("log:\n  level: verbose\n",
                      "etc/tocsin.yml:2:10: error: log.level must be one of error, warning, "
                      "info, debug, got \"verbose\"");
}
END_TEST

START_TEST(test_config_sections_and_root_must_be_mappings)
{
    expect_config_err("kafka: [a]\n",
                      "etc/tocsin.yml:1:8: error: kafka must be a mapping, got a list");
    expect_config_err("- kafka\n",
                      "etc/tocsin.yml:1:1: error: the configuration must be a mapping of "
                      "sections (kafka, topics, ingest, paths, log, normalise, enrich, rules, "
                      "correlate, retention, escalate, http), got a list");
    expect_config_err("log: {}\n---\nlog: {}\n",
                      "etc/tocsin.yml:2:1: error: a configuration file holds one YAML document, "
                      "found a second one");
}
END_TEST

START_TEST(test_config_http_section_reads_back_with_defaults)
{
    struct ts_config *c = load_ok("log: {level: info}\n");
    ck_assert(!c->http.enabled);
    ck_assert_ptr_null(c->http.listen);
    ck_assert_int_eq(c->http.rate, -1);
    ck_assert_int_eq(c->http.ready_max_lag, 100000);
    ts_config_free(c);
    c = load_ok("http:\n"
                "  listen: 127.0.0.1:0\n"
                "  tls_cert: /etc/tocsin/cert.pem\n"
                "  tls_key: /etc/tocsin/key.pem\n"
                "  tokens: /etc/tocsin/tokens.yml\n"
                "  rate: 0\n"
                "  body_max: 65536\n"
                "  ready_max_lag: 5000\n");
    ck_assert(c->http.enabled);
    ck_assert_str_eq(c->http.listen, "127.0.0.1:0");
    ck_assert_str_eq(c->http.tls_cert, "/etc/tocsin/cert.pem");
    ck_assert_str_eq(c->http.tls_key, "/etc/tocsin/key.pem");
    ck_assert_str_eq(c->http.tokens, "/etc/tocsin/tokens.yml");
    ck_assert_int_eq(c->http.rate, 0);
    ck_assert_uint_eq(c->http.body_max, 65536);
    ck_assert_int_eq(c->http.ready_max_lag, 5000);
    ts_config_free(c);
    c = load_ok("http: {listen: \"[::1]:8080\"}\n");
    ck_assert_str_eq(c->http.listen, "[::1]:8080");
    ts_config_free(c);
}
END_TEST

START_TEST(test_config_http_errors_name_the_place)
{
    expect_config_err("http:\n  tokens: t.yml\n",
                      "etc/tocsin.yml:2:3: error: http.listen is required (HOST:PORT, e.g. "
                      "127.0.0.1:8080)");
    expect_config_err("http:\n",
                      "etc/tocsin.yml:1:6: error: http needs at least listen (HOST:PORT)");
    expect_config_err("http:\n  listen: localhost\n",
                      "etc/tocsin.yml:2:11: error: http.listen must be HOST:PORT or "
                      "[IPv6]:PORT with a port from 0 to 65535 (0: any free port), got "
                      "\"localhost\"");
    expect_config_err("http:\n  listen: h:70000\n",
                      "etc/tocsin.yml:2:11: error: http.listen must be HOST:PORT or "
                      "[IPv6]:PORT with a port from 0 to 65535 (0: any free port), got "
                      "\"h:70000\"");
    expect_config_err("http:\n  listen: h:80\n  tls_key: k.pem\n",
                      "etc/tocsin.yml:3:3: error: http.tls_cert and http.tls_key go together "
                      "(both PEM files, or neither)");
    expect_config_err("http:\n  listen: h:80\n  rate: -1\n",
                      "etc/tocsin.yml:3:9: error: http.rate must be an integer from 0 to "
                      "1000000, got \"-1\"");
    expect_config_err("http:\n  listen: h:80\n  token: x\n",
                      "etc/tocsin.yml:3:3: error: unknown key \"token\" in http (did you mean "
                      "\"tokens\"?)");
}
END_TEST

START_TEST(test_config_yaml_errors_keep_their_position)
{
    expect_err("kafka:\n  workers: 2\n brokers: x\n", TS_E_PARSE,
               "etc/tocsin.yml:3:2: error: did not find expected key while parsing a block "
               "mapping");
    expect_config_err("base: &b {workers: 2}\nkafka:\n  <<: *b\n",
                      "etc/tocsin.yml:3:3: error: merge keys (<<) are not supported");
}
END_TEST

START_TEST(test_config_missing_file_is_an_io_error)
{
    struct ts_config *c = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(ts_config_load("/nonexistent/tocsin.yml", &c, &err), TS_E_IO);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(err.file, "/nonexistent/tocsin.yml");
}
END_TEST

START_TEST(test_config_example_file_loads)
{
    struct ts_config *c = NULL;
    struct ts_err err = {0};
    int rc = ts_config_load("etc/tocsin.yml", &c, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    ck_assert_str_eq(c->kafka.brokers, "127.0.0.1:9092");
    ck_assert_uint_eq(c->ntopics, 2);
    ck_assert_str_eq(c->topics[0].name, "logs.syslog");
    ck_assert_str_eq(c->topics[0].format, "auto");
    ck_assert_ptr_nonnull(c->topics[0].tenant);
    ck_assert_str_eq(c->topics[1].name, "logs.agent");
    ck_assert_str_eq(c->topics[1].format, "json");
    ck_assert_ptr_nonnull(c->topics[1].tenant);
    ts_config_free(c);
}
END_TEST

START_TEST(test_config_docker_file_loads_and_uses_the_compose_broker)
{
    struct ts_config *c = NULL;
    struct ts_err err = {0};
    int rc = ts_config_load("etc/tocsin.docker.yml", &c, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    ck_assert_str_eq(c->kafka.brokers, "kafka:9092");
    ck_assert_uint_eq(c->ntopics, 2);
    ts_config_free(c);
}
END_TEST

START_TEST(test_tz_offset_parse_accepts_utc_and_offsets)
{
    static const struct {
        const char *in;
        int out;
    } ok[] = {{"UTC", 0},         {"utc", 0},         {"Z", 0},           {"+07:00", 25200},
              {"+0700", 25200},   {"+07", 25200},     {"-05:30", -19800}, {"-0530", -19800},
              {"-00:00", 0},      {"+14:00", 50400},  {"-12", -43200}};
    for (size_t i = 0; i < TS_ARRAY_LEN(ok); i++) {
        int v = 12345;
        ck_assert_msg(ts_tz_offset_parse(ok[i].in, &v) == 0, "%s", ok[i].in);
        ck_assert_int_eq(v, ok[i].out);
    }
}
END_TEST

START_TEST(test_tz_offset_parse_rejects_other_forms)
{
    static const char *const bad[] = {"",       "+7",     "+07:",   "+07:0",   "+0700x",
                                      "07:00",  "+15:00", "+07:60", "GMT",     "+7:00",
                                      "+07:00 ", "UTC+7", "+070",   "--07:00", "+ 7"};
    for (size_t i = 0; i < TS_ARRAY_LEN(bad); i++) {
        int v = 0;
        ck_assert_msg(ts_tz_offset_parse(bad[i], &v) == TS_E_INVAL, "accepted \"%s\"", bad[i]);
    }
    int v;
    ck_assert_int_eq(ts_tz_offset_parse(NULL, &v), TS_E_INVAL);
}
END_TEST

START_TEST(test_config_free_accepts_null)
{
    ts_config_free(NULL);
}
END_TEST

START_TEST(test_config_normalise_enrich_and_rules_sections_read_back)
{
    struct ts_config *c = load_ok("normalise:\n"
                                  "  profiles: etc/profiles\n"
                                  "  decoders: [etc/decoders, /srv/decoders]\n"
                                  "enrich:\n"
                                  "  geoip_city: /g/city.mmdb\n"
                                  "  ip_fields: [src_ip, IpAddress]\n"
                                  "  assets: etc/assets.yml\n"
                                  "  intel_db: /var/lib/tocsin/intel\n"
                                  "rules:\n"
                                  "  field_aliases:\n"
                                  "    SourceIp: src_ip\n"
                                  "  placeholders:\n"
                                  "    Admins: [administrator, root]\n"
                                  "    Tmp: /tmp\n");
    ck_assert_uint_eq(c->normalise.nprofiles, 1);
    ck_assert_str_eq(c->normalise.profiles[0], "etc/profiles");
    ck_assert_uint_eq(c->normalise.ndecoders, 2);
    ck_assert_str_eq(c->normalise.decoders[1], "/srv/decoders");
    ck_assert_str_eq(c->enrich.geoip_city, "/g/city.mmdb");
    ck_assert_ptr_null(c->enrich.geoip_asn);
    ck_assert_uint_eq(c->enrich.nip_fields, 2);
    ck_assert_str_eq(c->enrich.ip_fields[1], "IpAddress");
    ck_assert_str_eq(c->enrich.assets, "etc/assets.yml");
    ck_assert_str_eq(c->enrich.intel_db, "/var/lib/tocsin/intel");
    ck_assert_uint_eq(c->rules.naliases, 1);
    ck_assert_str_eq(c->rules.alias_from[0], "SourceIp");
    ck_assert_str_eq(c->rules.alias_to[0], "src_ip");
    ck_assert_uint_eq(c->rules.nplaceholders, 2);
    ck_assert_str_eq(c->rules.placeholders[0].name, "Admins");
    ck_assert_uint_eq(c->rules.placeholders[0].nvalues, 2);
    ck_assert_str_eq(c->rules.placeholders[0].values[1], "root");
    ck_assert_uint_eq(c->rules.placeholders[1].nvalues, 1);
    ck_assert_str_eq(c->rules.placeholders[1].values[0], "/tmp");
    ts_config_free(c);
}
END_TEST

START_TEST(test_config_new_sections_reject_unknown_keys_and_bad_types)
{
    expect_config_err("enrich:\n  geoip_cty: x\n",
                      "etc/tocsin.yml:2:3: error: unknown key \"geoip_cty\" in enrich (did you "
                      "mean \"geoip_city\"?)");
    expect_config_err("rules:\n  field_aliases: [a, b]\n",
                      "etc/tocsin.yml:2:18: error: rules.field_aliases must be a mapping, got a "
                      "list");
    expect_config_err("normalise:\n  profiles: {a: 1}\n",
                      "etc/tocsin.yml:2:13: error: normalise.profiles must be a string or a list "
                      "of strings, got a mapping");
}
END_TEST

START_TEST(test_config_correlate_and_retention_read_back)
{
    struct ts_config *c = load_ok("correlate:\n"
                                  "  lateness: 10m\n"
                                  "  group:\n"
                                  "    - rule: ssh_root_login\n"
                                  "      by: [src_ip, host]\n"
                                  "      window: 1h\n"
                                  "retention:\n"
                                  "  interval: 30m\n"
                                  "  evidence: 90d\n"
                                  "  resolved: 0\n"
                                  "  tenants:\n"
                                  "    agency-a: {evidence: 7d, resolved: 2w}\n");
    ck_assert_int_eq(c->correlate.lateness_ns, 600LL * 1000000000LL);
    ck_assert_uint_eq(c->correlate.ngroups, 1);
    ck_assert_str_eq(c->correlate.groups[0].rule, "ssh_root_login");
    ck_assert_uint_eq(c->correlate.groups[0].nby, 2);
    ck_assert_str_eq(c->correlate.groups[0].by[1], "host");
    ck_assert_int_eq(c->correlate.groups[0].window_ns, 3600LL * 1000000000LL);
    ck_assert_int_eq(c->retention.interval_ns, 1800LL * 1000000000LL);
    ck_assert_int_eq(c->retention.evidence_ns, 90LL * 86400 * 1000000000LL);
    ck_assert_int_eq(c->retention.resolved_ns, 0);
    ck_assert_uint_eq(c->retention.ntenants, 1);
    ck_assert_str_eq(c->retention.tenants[0].tenant, "agency-a");
    ck_assert_int_eq(c->retention.tenants[0].evidence_ns, 7LL * 86400 * 1000000000LL);
    ck_assert_int_eq(c->retention.tenants[0].resolved_ns, 14LL * 86400 * 1000000000LL);
    ts_config_free(c);
}
END_TEST

START_TEST(test_config_bad_durations_and_groups_name_the_place)
{
    expect_config_err("correlate:\n  lateness: soon\n",
                      "etc/tocsin.yml:2:13: error: correlate.lateness must be a duration such as "
                      "90s, 5m, 1h, 7d (or 0), got \"soon\"");
    expect_config_err("correlate:\n  group:\n    - by: [x]\n      window: 1h\n",
                      "etc/tocsin.yml:3:7: error: correlate.group[0] needs a rule (a detection "
                      "rule id or name)");
    expect_config_err("retention:\n  tenants:\n    a: {evidnce: 1d}\n",
                      "etc/tocsin.yml:3:9: error: unknown key \"evidnce\" in "
                      "retention.tenants.a (did you mean \"evidence\"?)");
}
END_TEST

START_TEST(test_config_distributed_keys_read_back_and_are_checked)
{
    struct ts_config *c = load_ok("correlate:\n  lateness: 1m\n");
    ck_assert(!c->correlate.distributed); /* the single-process mode by default */
    ck_assert_ptr_null(c->correlate.topic);
    ck_assert_int_eq(c->correlate.partitions, 0);
    ck_assert_ptr_null(c->correlate.node);
    ts_config_free(c);
    c = load_ok("correlate:\n"
                "  distributed: true\n"
                "  topic: soc.correlate\n"
                "  partitions: 24\n"
                "  node: node-1.dc2\n");
    ck_assert(c->correlate.distributed);
    ck_assert_uint_eq(c->correlate.dist_line, 2);
    ck_assert_uint_eq(c->correlate.dist_col, 16);
    ck_assert_str_eq(c->correlate.topic, "soc.correlate");
    ck_assert_int_eq(c->correlate.partitions, 24);
    ck_assert_str_eq(c->correlate.node, "node-1.dc2");
    ts_config_free(c);
    expect_config_err("correlate:\n  distributed: yes please\n",
                      "etc/tocsin.yml:2:16: error: correlate.distributed must be true or false, "
                      "got \"yes please\"");
    expect_config_err("correlate:\n  partitions: 0\n",
                      "etc/tocsin.yml:2:15: error: correlate.partitions must be an integer from "
                      "1 to 10000, got \"0\"");
    expect_config_err("correlate:\n  node: \"a b\"\n",
                      "etc/tocsin.yml:2:9: error: correlate.node must be 1..128 characters of "
                      "A-Z a-z 0-9 . _ - (it names this process's Kafka transactions)");
    expect_config_err("correlate:\n  distributd: true\n",
                      "etc/tocsin.yml:2:3: error: unknown key \"distributd\" in correlate (did "
                      "you mean \"distributed\"?)");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_config_full_config_reads_back);
    tcase_add_test(tc, test_config_kafka_properties_take_env_and_file_secrets);
    tcase_add_test(tc, test_config_topic_tenants_bind_header_tenants_and_bad_ids_are_errors);
    tcase_add_test(tc, test_config_empty_file_takes_every_default);
    tcase_add_test(tc, test_config_empty_sections_take_defaults);
    tcase_add_test(tc, test_config_unknown_key_names_line_and_suggests);
    tcase_add_test(tc, test_config_rules_skip_invalid);
    tcase_add_test(tc, test_config_unknown_key_without_close_match_lists_the_keys);
    tcase_add_test(tc, test_config_integer_must_be_a_number_in_range);
    tcase_add_test(tc, test_config_integer_range_ends_are_accepted);
    tcase_add_test(tc, test_config_topic_format_must_be_known);
    tcase_add_test(tc, test_config_topic_without_name_is_an_error);
    tcase_add_test(tc, test_config_duplicate_keys_are_errors);
    tcase_add_test(tc, test_config_duplicate_topic_and_dead_letter_loop_are_errors);
    tcase_add_test(tc, test_config_topics_need_brokers);
    tcase_add_test(tc, test_config_properties_accept_scalars_only);
    tcase_add_test(tc, test_config_rules_path_is_a_string_or_a_list);
    tcase_add_test(tc, test_config_timezone_and_level_are_validated);
    tcase_add_test(tc, test_config_sections_and_root_must_be_mappings);
    tcase_add_test(tc, test_config_yaml_errors_keep_their_position);
    tcase_add_test(tc, test_config_missing_file_is_an_io_error);
    tcase_add_test(tc, test_config_example_file_loads);
    tcase_add_test(tc, test_config_docker_file_loads_and_uses_the_compose_broker);
    tcase_add_test(tc, test_tz_offset_parse_accepts_utc_and_offsets);
    tcase_add_test(tc, test_tz_offset_parse_rejects_other_forms);
    tcase_add_test(tc, test_config_free_accepts_null);
    tcase_add_test(tc, test_config_correlate_and_retention_read_back);
    tcase_add_test(tc, test_config_distributed_keys_read_back_and_are_checked);
    tcase_add_test(tc, test_config_bad_durations_and_groups_name_the_place);
    tcase_add_test(tc, test_config_normalise_enrich_and_rules_sections_read_back);
    tcase_add_test(tc, test_config_new_sections_reject_unknown_keys_and_bad_types);
    tcase_add_test(tc, test_config_http_section_reads_back_with_defaults);
    tcase_add_test(tc, test_config_http_errors_name_the_place);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
