/* check_esc_report.c - escalate/: the report documents (JSON with every
 * field of the national form, STIX 2.1 shape, Vietnamese and English
 * text), the outbox entries of an incident change, and the deadline walk
 * over a real LMDB store. */
#include <jansson.h>

#include "check_esc_util.h"
#include "check_store_util.h"
#include "../../escalate/esc_int.h" /* esc_doc_init: a document for a named report, as the outbox makes it */

static struct esc_regime *law, *circ;
static struct esc_taxonomy *tax;
static struct esc_assets *assets;
static struct esc_orgs *orgs;
static struct esc_env env;

static void setup(void)
{
    law = esc_test_regime("law116-2025");
    circ = esc_test_regime("circular20-2017");
    tax = esc_test_taxonomy();
    assets = esc_test_assets();
    orgs = esc_test_orgs();
    env = (struct esc_env){.regime = law, .taxonomy = tax, .assets = assets, .orgs = orgs};
}

static void teardown(void)
{
    esc_regime_free(law);
    esc_regime_free(circ);
    esc_taxonomy_free(tax);
    esc_assets_free(assets);
    esc_orgs_free(orgs);
}

static const char raw0[] = "{\"EventID\":1,\"Image\":\"C:\\\\Windows\\\\System32\\\\vssadmin.exe\","
                           "\"CommandLine\":\"vssadmin delete shadows /all /quiet\"}";

static struct store_evidence evidence[2] = {
    {.seq = 0, .source = "logs.agent", .partition = 3, .offset = 1200,
     .event_ns = ESC_T0 - 120 * TS_NS_PER_SEC, .raw = raw0, .raw_len = sizeof(raw0) - 1},
    {.seq = 1, .source = "logs.agent", .partition = 3, .offset = 1207,
     .event_ns = ESC_T0 - 60 * TS_NS_PER_SEC},
};

/* deliveries the outbox confirmed: the report's own recipient is left out */
static const struct esc_sent sent[2] = {
    {"national", ESC_T0 + 20 * 60 * TS_NS_PER_SEC},
    {"managing_body", ESC_T0 + 30 * 60 * TS_NS_PER_SEC},
};

static json_t *render_json(const struct store_incident *inc, const char *rcpt,
                           enum esc_stage stage)
{
    struct esc_report_opts o = {.recipient = rcpt, .stage = stage, .format = ESC_FORMAT_JSON,
                                .evidence = evidence, .nevidence = 2, .now_ns = ESC_T0 + ESC_H,
                                .sent = sent, .nsent = 2};
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(esc_report_render(&env, inc, &o, &b), 0);
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, 0, &je);
    ck_assert_msg(j != NULL, "invalid JSON at %d: %s\n%s", je.position, je.text, b.data);
    ts_buf_free(&b);
    return j;
}

static const char *jstr(json_t *j, const char *path)
{
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%s", path);
    json_t *cur = j;
    for (char *save = NULL, *k = strtok_r(tmp, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
        cur = json_object_get(cur, k);
        ck_assert_msg(cur != NULL, "missing %s", path);
    }
    return json_is_string(cur) ? json_string_value(cur) : NULL;
}

START_TEST(test_json_report_has_every_field_of_the_national_form)
{
    struct store_incident inc = esc_test_incident();
    json_t *j = render_json(&inc, "national", ESC_STAGE_INITIAL);
    ck_assert_str_eq(jstr(j, "reporting_organisation.name"),
                     "Sở Thông tin và Truyền thông tỉnh Demo");
    ck_assert_str_eq(jstr(j, "reporting_organisation.contact.name"), "Trần Thị Bình");
    ck_assert_str_eq(jstr(j, "reporting_organisation.contact.email"), "binh.tt@so-tttt-demo.gov.vn");
    ck_assert_str_eq(jstr(j, "affected_system.name"), "Cơ sở dữ liệu dịch vụ công");
    ck_assert_str_eq(jstr(j, "affected_system.operator"),
                     "Trung tâm Công nghệ thông tin và Truyền thông");
    ck_assert_str_eq(jstr(j, "affected_system.managing_body"), "Ủy ban nhân dân tỉnh Demo");
    json_t *sys = json_object_get(j, "affected_system");
    ck_assert_int_eq(json_integer_value(json_object_get(sys, "security_level")), 4);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(sys, "domains"), 0)),
                     "dvc.so-tttt-demo.gov.vn");
    json_t *ips = json_object_get(sys, "public_ips");
    ck_assert_uint_eq(json_array_size(ips), 1); /* 10.10.9.5 is private */
    ck_assert_str_eq(json_string_value(json_array_get(ips, 0)), "203.0.113.20/32");
    ck_assert_ptr_nonnull(strstr(jstr(j, "description.vi"), "Shadow Copies Deletion"));
    ck_assert_ptr_nonnull(strstr(jstr(j, "description.en"), "matched 3 related event(s)"));
    ck_assert_str_eq(jstr(j, "type.id"), "ransomware");
    ck_assert_str_eq(jstr(j, "type.name_vi"), "Tấn công mã hóa dữ liệu, tống tiền");
    ck_assert_ptr_nonnull(strstr(jstr(j, "symptoms.en"), "Shadow copies deleted"));
    ck_assert(json_is_true(json_object_get(json_object_get(j, "impact"), "serious")));
    /* what the incident shows (T1486: data encrypted), not all its type may cause */
    ck_assert_str_eq(jstr(j, "impact.description.vi"), "Mất, hỏng dữ liệu (bị xóa hoặc mã hóa)");
    ck_assert_str_eq(jstr(j, "detected_at"), "2026-11-20T03:00:00.000Z");
    ck_assert_str_eq(jstr(j, "status.incident"), "new");
    ck_assert_str_eq(jstr(j, "status.response"), "ongoing");
    ck_assert_str_eq(jstr(j, "detection.rule_id"), "c947b146-0abc-4c87-9c64-b17e9d7274a2");
    ck_assert_str_eq(jstr(j, "detection.rule_title"),
                     "Shadow Copies Deletion Using Operating Systems Utilities");
    ck_assert_str_eq(jstr(j, "detection.author"),
                     "Florian Roth (Nextron Systems), Michael Haag, Teymur Kheirkhabarov");
    /* actions: the incident's history and the configuration, no fixed text */
    ck_assert_str_eq(jstr(j, "actions_taken.vi"), "Sự cố được hệ thống giám sát phát hiện tự động.");
    ck_assert_ptr_nonnull(jstr(j, "support_requested.en"));
    json_t *refs = json_object_get(json_object_get(j, "evidence"), "references");
    ck_assert_uint_eq(json_array_size(refs), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(refs, 0), "raw_excerpt")),
                     raw0);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(refs, 1), "offset")), 1207);
    ck_assert_str_eq(jstr(j, "report.id"), "initial-notice");
    /* forms 03/04 fields (issue 13) */
    ck_assert(json_is_false(json_object_get(json_object_get(j, "report"), "voluntary")));
    ck_assert_ptr_nonnull(strstr(jstr(j, "report.basis"), "Điều 31.2.d"));
    ck_assert_str_eq(jstr(j, "report.notified_to.vi"),
                     "Ủy ban nhân dân tỉnh Demo (lúc 2026-11-20 10:30:00 +07:00)");
    json_t *nt = json_object_get(json_object_get(j, "report"), "notified");
    ck_assert_uint_eq(json_array_size(nt), 1); /* not the report's own recipient */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(nt, 0), "recipient")),
                     "managing_body");
    ck_assert_str_eq(jstr(j, "reporting_organisation.signer.name"), "Nguyễn Văn An");
    ck_assert(json_is_true(json_object_get(json_object_get(j, "reporting_organisation"),
                                           "confidential")));
    ck_assert_str_eq(jstr(j, "affected_system.os"), "Windows Server 2019 Standard (10.0.17763)");
    ck_assert_str_eq(jstr(j, "status.outcome.vi"), "Chưa kết thúc: sự cố đang được xử lý");
    ck_assert_str_eq(jstr(j, "report.due_at"), "2026-11-21T03:00:00.000Z");
    ck_assert_str_eq(jstr(j, "recipient.name_vi"),
                     "Cục An ninh mạng và phòng, chống tội phạm sử dụng công nghệ cao (A05), "
                     "Bộ Công an");
    ck_assert_str_eq(jstr(j, "report_id"),
                     "5f1d3c0a9b8e7d6c5b4a39281706f5e4:1:national:initial-notice");
    json_decref(j);
}
END_TEST

START_TEST(test_managing_body_name_comes_from_the_inventory)
{
    struct store_incident inc = esc_test_incident();
    json_t *j = render_json(&inc, "managing_body", ESC_STAGE_INITIAL);
    ck_assert_str_eq(jstr(j, "recipient.name_vi"), "Ủy ban nhân dân tỉnh Demo");
    json_decref(j);
}
END_TEST

START_TEST(test_unknown_recipient_is_refused)
{
    struct store_incident inc = esc_test_incident();
    struct esc_report_opts o = {.recipient = "press", .format = ESC_FORMAT_JSON};
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b), TS_E_INVAL);
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_stix_bundle_has_the_required_objects_and_ids)
{
    struct store_incident inc = esc_test_incident();
    struct esc_report_opts o = {.recipient = "national", .format = ESC_FORMAT_STIX,
                                .evidence = evidence, .nevidence = 2, .now_ns = ESC_T0,
                                .sent = sent, .nsent = 2};
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b), 0);
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, 0, &je);
    ck_assert_msg(j != NULL, "%s", je.text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "bundle");
    const char *ext_def = NULL;
    json_t *objs = json_object_get(j, "objects");
    unsigned seen = 0;
    const char *types[] = {"identity", "marking-definition", "indicator", "observed-data",
                           "sighting", "incident", "artifact"};
    for (size_t i = 0; i < json_array_size(objs); i++) {
        json_t *ob = json_array_get(objs, i);
        const char *t = json_string_value(json_object_get(ob, "type"));
        const char *id = json_string_value(json_object_get(ob, "id"));
        ck_assert_str_eq(json_string_value(json_object_get(ob, "spec_version")), "2.1");
        ck_assert_uint_eq(strlen(id), strlen(t) + 2 + 36);
        ck_assert(!strncmp(id, t, strlen(t)) && !strncmp(id + strlen(t), "--", 2));
        for (size_t k = 0; k < TS_ARRAY_LEN(types); k++)
            if (!strcmp(t, types[k]))
                seen |= 1u << k;
        ck_assert_msg(strcmp(t, "note") != 0, "a note, though nothing was left out");
        if (!strcmp(t, "indicator")) {
            ck_assert_str_eq(json_string_value(json_object_get(ob, "pattern_type")), "sigma");
            ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(ob, "pattern")),
                                         "author: \"Florian Roth"));
        }
        if (!strcmp(t, "extension-definition")) {
            ext_def = id;
            ck_assert_str_eq(json_string_value(json_array_get(
                                 json_object_get(ob, "extension_types"), 0)),
                             "property-extension");
        }
        if (!strcmp(t, "incident")) {
            ck_assert_str_eq(json_string_value(json_object_get(ob, "created")),
                             "2026-11-20T03:00:00.000Z");
            /* the national form's fields, in the bundle's property extension */
            ck_assert_ptr_nonnull(ext_def); /* defined before it is used */
            json_t *e = json_object_get(json_object_get(ob, "extensions"), ext_def);
            ck_assert_ptr_nonnull(e);
            json_t *fr = json_object_get(e, "form_report");
            ck_assert_str_eq(json_string_value(json_object_get(fr, "notified_to_vi")),
                             "Ủy ban nhân dân tỉnh Demo (lúc 2026-11-20 10:30:00 +07:00)");
            ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(fr, "basis")),
                                         "31.2.d"));
            json_t *ro = json_object_get(e, "reporting_organisation");
            ck_assert_str_eq(json_string_value(json_object_get(ro, "signer_name")),
                             "Nguyễn Văn An");
            json_t *sy = json_object_get(e, "affected_system");
            ck_assert_str_eq(json_string_value(json_object_get(sy, "operating_system")),
                             "Windows Server 2019 Standard (10.0.17763)");
            ck_assert_int_eq(json_integer_value(json_object_get(sy, "security_level")), 4);
            ck_assert(json_is_true(json_object_get(json_object_get(e, "assessment"), "serious")));
        }
    }
    ck_assert_uint_eq(seen, (1u << TS_ARRAY_LEN(types)) - 1);
    json_decref(j);
    /* Same incident, same bundle: ids are name-based. */
    struct ts_buf b2;
    ts_buf_init(&b2, 0);
    ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b2), 0);
    ck_assert_str_eq(b.data, b2.data);
    ts_buf_free(&b);
    ts_buf_free(&b2);
}
END_TEST

/* The bundle makes addresses of the first 64 distinct values and artifacts
 * of the first five raw evidence records (cut at 4 KiB): what it leaves
 * out is said in a STIX note on the observed data and the incident, with
 * the numbers, never dropped silently. A bundle that leaves nothing out
 * has no note (the test above). */
START_TEST(test_stix_bundle_notes_how_many_observables_were_left_out)
{
    struct store_incident inc = esc_test_incident();
    static char vals[100][32];
    static const char *dv[100];
    for (int i = 0; i < 100; i++) {
        snprintf(vals[i], sizeof(vals[i]), "10.9.%d.%d", i / 250, i % 250 + 1);
        dv[i] = vals[i];
    }
    inc.distinct_field = "src_ip";
    inc.distinct = dv;
    inc.ndistinct = 100;
    inc.distinct_truncated = true; /* the store kept 100 of more */
    static char raw[7][5000];
    struct store_evidence ev[7];
    for (int i = 0; i < 7; i++) {
        memset(raw[i], 'x', sizeof(raw[i]));
        int n = snprintf(raw[i], sizeof(raw[i]), "sshd: failure %d from 10.9.0.%d", i, i + 1);
        ev[i] = (struct store_evidence){.seq = (uint32_t)i, .source = "logs.agent", .partition = 0,
                                        .offset = i, .event_ns = ESC_T0, .raw = raw[i],
                                        .raw_len = i == 0 ? sizeof(raw[i]) : (size_t)n};
    }
    struct esc_report_opts o = {.recipient = "national", .format = ESC_FORMAT_STIX,
                                .evidence = ev, .nevidence = 7, .now_ns = ESC_T0};
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b), 0);
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, 0, &je);
    ck_assert_msg(j != NULL, "%s", je.text);
    json_t *objs = json_object_get(j, "objects"), *note = NULL;
    const char *od = NULL, *incd = NULL;
    int ips = 0, arts = 0;
    for (size_t i = 0; i < json_array_size(objs); i++) {
        json_t *ob = json_array_get(objs, i);
        const char *t = json_string_value(json_object_get(ob, "type"));
        ips += !strcmp(t, "ipv4-addr");
        arts += !strcmp(t, "artifact");
        if (!strcmp(t, "note"))
            note = ob;
        if (!strcmp(t, "observed-data"))
            od = json_string_value(json_object_get(ob, "id"));
        if (!strcmp(t, "incident"))
            incd = json_string_value(json_object_get(ob, "id"));
    }
    ck_assert_int_eq(ips, 64);
    ck_assert_int_eq(arts, 5);
    ck_assert_msg(note != NULL, "no note on what was left out (%zu objects)",
                  json_array_size(objs));
    const char *content = json_string_value(json_object_get(note, "content"));
    ck_assert_ptr_nonnull(content);
    const char *want[] = {"36 distinct value(s) of src_ip beyond the first 64",
                          "more distinct values than the 100 it kept",
                          "2 raw evidence record(s) beyond the first 5",
                          "1 raw excerpt(s) cut at 4096 bytes"};
    for (size_t i = 0; i < TS_ARRAY_LEN(want); i++)
        ck_assert_msg(strstr(content, want[i]) != NULL, "\"%s\" not in \"%s\"", want[i], content);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(note, "abstract")));
    ck_assert_str_eq(json_string_value(json_object_get(note, "spec_version")), "2.1");
    json_t *refs = json_object_get(note, "object_refs");
    ck_assert_uint_eq(json_array_size(refs), 2);
    ck_assert_str_eq(json_string_value(json_array_get(refs, 0)), od);
    ck_assert_str_eq(json_string_value(json_array_get(refs, 1)), incd);
    json_decref(j);
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_vietnamese_text_has_headings_with_diacritics)
{
    struct store_incident inc = esc_test_incident();
    inc.status = STORE_STATUS_RESOLVED;
    inc.status_ns = ESC_T0 + 30 * ESC_H;
    struct esc_report_opts o = {.recipient = "national", .stage = ESC_STAGE_FINAL,
                                .format = ESC_FORMAT_TEXT, .lang = ESC_LANG_VI,
                                .evidence = evidence, .nevidence = 2};
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b), 0);
    const char *want[] = {"BÁO CÁO KẾT THÚC XỬ LÝ SỰ CỐ AN NINH MẠNG",
                          "1. THÔNG TIN TỔ CHỨC BÁO CÁO", "2. THÔNG TIN HỆ THỐNG BỊ SỰ CỐ",
                          "3. THÔNG TIN VỀ SỰ CỐ", "4. PHƯƠNG THỨC PHÁT HIỆN",
                          "5. CÁC BIỆN PHÁP ĐÃ THỰC HIỆN", "6. ĐỀ NGHỊ HỖ TRỢ",
                          "7. TÀI LIỆU, CHỨNG CỨ KÈM THEO",
                          "Cấp độ hệ thống thông tin: 4",
                          "Loại sự cố: Tấn công mã hóa dữ liệu, tống tiền",
                          "Thời điểm phát hiện: 2026-11-20 10:00:00 +07:00",
                          "Tình trạng hiện tại: Đã xử lý xong, kết thúc ứng cứu",
                          "Sự cố nghiêm trọng: Có",
                          "Thời hạn báo cáo: 2026-11-26 16:00:00 +07:00", /* T0 + 30 h + 5 d */
                          "Tác giả luật: Florian Roth"};
    for (size_t i = 0; i < TS_ARRAY_LEN(want); i++)
        ck_assert_msg(strstr(b.data, want[i]) != NULL, "missing \"%s\" in\n%s", want[i], b.data);
    ck_assert_uint_eq(ts_utf8_valid_prefix(b.data, b.len), b.len);
    ts_buf_reset(&b);
    o.lang = ESC_LANG_EN;
    ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "CLOSING REPORT OF A CYBERSECURITY INCIDENT"));
    ck_assert_ptr_nonnull(strstr(b.data, "Security level: 4"));
    ts_buf_free(&b);
}
END_TEST

/* Attacker-controlled text (group key, distinct values, rule title, the
 * analyst name of a status change, an evidence source) printed raw into a
 * text report injected terminal escapes and forged report lines. Every
 * control character is shown as a visible escape instead: \x1b, \r, \n,
 * \t, DEL \x7f, C1 (U+0080..U+009F) and the line/paragraph separators and
 * bidi controls as \u2028 etc.; bytes that are not UTF-8 as \xNN. */
START_TEST(test_text_report_escapes_control_characters_of_event_values)
{
    struct store_incident inc = esc_test_incident();
    static const char *const distinct[] = {"alice\r\nFORGED: line", "bob\x1b[2J",
                                           "c\xc2\x9b" "31m", "d\xe2\x80\xa8" "e\xe2\x80\xae" "f",
                                           "bad\xff\x80utf8", "tab\there\x7f"};
    inc.group_key = "host=db-01\x1b[31m,user=x\r\nSự cố nghiêm trọng: Không";
    inc.distinct_field = "user";
    inc.distinct = distinct;
    inc.ndistinct = TS_ARRAY_LEN(distinct);
    inc.rule_title = "Shadow\x1b]0;pwned\x07 Copies";
    struct store_status_change h[] = {
        {.status = STORE_STATUS_ACKNOWLEDGED, .by = "mallory\nFORGED: by", .at_ns = ESC_T0}};
    inc.history = h;
    inc.nhistory = 1;
    struct store_evidence ev[] = {{.seq = 0, .source = "logs\x1b[0m\nFORGED", .partition = -1,
                                   .offset = 7, .event_ns = ESC_T0}};
    struct ts_buf b;
    ts_buf_init(&b, 0);
    for (int l = 0; l < 2; l++) {
        struct esc_report_opts o = {.recipient = "national", .stage = ESC_STAGE_INITIAL,
                                    .format = ESC_FORMAT_TEXT,
                                    .lang = l ? ESC_LANG_EN : ESC_LANG_VI,
                                    .evidence = ev, .nevidence = 1, .now_ns = ESC_T0};
        ts_buf_reset(&b);
        ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b), 0);
        for (size_t i = 0; i < b.len; i++) {
            unsigned char c = (unsigned char)b.data[i];
            ck_assert_msg(c >= 0x20 || c == '\n', "control byte 0x%02x at %zu in\n%s", c, i,
                          b.data);
            ck_assert_msg(c != 0x7f, "DEL at %zu", i);
            ck_assert_msg(!(c == 0xc2 && (unsigned char)b.data[i + 1] >= 0x80 &&
                            (unsigned char)b.data[i + 1] <= 0x9f),
                          "C1 control at %zu in\n%s", i, b.data);
            ck_assert_msg(!(c == 0xe2 && (unsigned char)b.data[i + 1] == 0x80 &&
                            ((unsigned char)b.data[i + 2] == 0xa8 ||
                             (unsigned char)b.data[i + 2] == 0xae)),
                          "U+2028/U+202E at %zu", i);
        }
        ck_assert_uint_eq(ts_utf8_valid_prefix(b.data, b.len), b.len);
        /* no line starts with what the attacker wrote */
        ck_assert_msg(strstr(b.data, "\nFORGED") == NULL, "forged line in\n%s", b.data);
        ck_assert_msg(strstr(b.data, "\nSự cố nghiêm trọng: Không") == NULL, "%s", b.data);
        /* the values stay readable */
        const char *want[] = {"alice\\r\\nFORGED: line", "bob\\x1b[2J", "c\\u009b31m",
                              "d\\u2028e\\u202ef", "bad\\xff\\x80utf8", "tab\\there\\x7f",
                              "host=db-01\\x1b[31m", "Shadow\\x1b]0;pwned\\x07 Copies",
                              "mallory\\nFORGED: by", "logs\\x1b[0m\\nFORGED"};
        for (size_t i = 0; i < TS_ARRAY_LEN(want); i++)
            ck_assert_msg(strstr(b.data, want[i]) != NULL, "missing \"%s\" in\n%s", want[i],
                          b.data);
    }
    /* JSON carries the values as they are (its own escaping is exact) */
    struct esc_report_opts o = {.recipient = "national", .format = ESC_FORMAT_JSON,
                                .now_ns = ESC_T0};
    ts_buf_reset(&b);
    ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "alice\\r\\nFORGED: line"));
    ck_assert_ptr_nonnull(strstr(b.data, "bob\\u001b[2J"));
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_render_respects_the_buffer_cap)
{
    struct store_incident inc = esc_test_incident();
    struct esc_report_opts o = {.format = ESC_FORMAT_STIX};
    struct ts_buf b;
    ts_buf_init(&b, 512);
    ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b), TS_E_LIMIT);
    ts_buf_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- outbox */

struct seen {
    char ids[32][STORE_ID_MAX + 1];
    size_t n;
};

static int collect(void *ctx, const struct store_outbox *e)
{
    struct seen *s = ctx;
    if (s->n < 32)
        snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", e->id);
    return 0;
}

START_TEST(test_outbox_new_serious_incident_sends_initial_notice_to_managing_body_and_a05)
{
    st_mkdir();
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, ESC_T0);
    struct store_incident in = esc_test_incident();
    uint64_t rev;
    ck_assert_int_eq(store_incident_put(t, &in, &rev), 0);
    ck_assert_int_eq(store_evidence_add(t, in.id, &evidence[0], NULL), 0);
    struct ts_arena *ar = st_arena();
    struct store_incident cur;
    ck_assert_int_eq(store_incident_get(t, in.id, ar, &cur), 0);
    struct esc_outbox_batch ob;
    ck_assert_int_eq(esc_outbox_build(&env, t, NULL, &cur, ESC_T0, &ob), 0);
    ck_assert_uint_eq(ob.n, 2); /* the MoD's force is not on this organisation's route */
    ck_assert_str_eq(ob.entries[0].id, "5f1d3c0a9b8e7d6c5b4a39281706f5e4:1:national:initial-notice");
    ck_assert_str_eq(ob.entries[1].recipient, "managing_body");
    ck_assert_uint_eq(ob.entries[0].revision, 1);
    ck_assert(memmem(ob.entries[0].payload, ob.entries[0].payload_len, "vssadmin delete shadows",
                     23) != NULL);
    ck_assert_int_eq(esc_outbox_put_all(t, &ob), 0);
    esc_outbox_batch_free(&ob);
    /* The same change again (a retried batch): same ids, replaced. */
    ck_assert_int_eq(esc_outbox_build(&env, t, NULL, &cur, ESC_T0, &ob), 0);
    ck_assert_int_eq(esc_outbox_put_all(t, &ob), 0);
    esc_outbox_batch_free(&ob);
    /* An update of the count only: nothing new to send. */
    struct store_incident prev = cur;
    in.count = 9;
    ck_assert_int_eq(store_incident_put(t, &in, &rev), 0);
    struct store_incident cur2;
    ck_assert_int_eq(store_incident_get(t, in.id, ar, &cur2), 0);
    ck_assert_int_eq(esc_outbox_build(&env, t, &prev, &cur2, ESC_T0, &ob), 0);
    ck_assert_uint_eq(ob.n, 0);
    /* Severity rises: the update report (send: on_change). */
    prev = cur2;
    in.severity = 4;
    ck_assert_int_eq(store_incident_put(t, &in, &rev), 0);
    ck_assert_int_eq(store_incident_get(t, in.id, ar, &cur2), 0);
    ck_assert_int_eq(esc_outbox_build(&env, t, &prev, &cur2, ESC_T0, &ob), 0);
    ck_assert_uint_eq(ob.n, 2);
    ck_assert_ptr_nonnull(strstr(ob.entries[0].id, ":3:national:update"));
    esc_outbox_batch_free(&ob);
    /* Resolved: the closing report. */
    prev = cur2;
    ck_assert_int_eq(store_incident_set_status(t, in.id, STORE_STATUS_RESOLVED, "binh", &rev), 0);
    ck_assert_int_eq(store_incident_get(t, in.id, ar, &cur2), 0);
    ck_assert_int_eq(esc_outbox_build(&env, t, &prev, &cur2, ESC_T0, &ob), 0);
    ck_assert_uint_eq(ob.n, 2);
    ck_assert_ptr_nonnull(strstr(ob.entries[1].id, ":4:managing_body:closing-report"));
    esc_outbox_batch_free(&ob);
    st_commit(t);
    t = st_rbegin(s);
    struct seen seen = {.n = 0};
    ck_assert_int_eq(store_outbox_list(t, 1u << STORE_OUTBOX_PENDING, ar, collect, &seen), 0);
    ck_assert_uint_eq(seen.n, 2);
    store_txn_abort(t);
    ts_arena_destroy(ar);
    store_close(s);
    st_rmdir();
}
END_TEST

START_TEST(test_outbox_non_serious_incident_sends_nothing)
{
    struct store_incident in = esc_test_incident();
    in.group_key = "host=ketoan-pc07";
    struct esc_outbox_batch ob;
    ck_assert_int_eq(esc_outbox_build(&env, NULL, NULL, &in, ESC_T0, &ob), 0);
    ck_assert_uint_eq(ob.n, 0);
    esc_outbox_batch_free(&ob);
}
END_TEST

/* ------------------------------------------------------------- deadlines */

struct dl_seen {
    size_t n, overdue;
    char last[128];
};

static int dl_collect(void *ctx, const struct esc_deadline *d)
{
    struct dl_seen *s = ctx;
    s->n++;
    s->overdue += d->overdue;
    snprintf(s->last, sizeof(s->last), "%s/%s/%s/%s", d->incident->id, d->due->recipient,
             d->due->report, esc_delivery_name(d->delivery));
    return 0;
}

START_TEST(test_deadlines_list_overdue_initial_notices_until_delivered)
{
    st_mkdir();
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, ESC_T0);
    struct store_incident in = esc_test_incident();
    ck_assert_int_eq(store_incident_put(t, &in, NULL), 0);
    struct ts_arena *ar = st_arena();
    struct store_incident cur;
    ck_assert_int_eq(store_incident_get(t, in.id, ar, &cur), 0);
    struct esc_outbox_batch ob;
    ck_assert_int_eq(esc_outbox_build(&env, t, NULL, &cur, ESC_T0, &ob), 0);
    ck_assert_int_eq(esc_outbox_put_all(t, &ob), 0);
    esc_outbox_batch_free(&ob);
    st_commit(t);

    /* 23 h after detection: nothing overdue, 2 notices due within 2 h (A05 and the managing body). */
    struct dl_seen ds = {0};
    t = st_rbegin(s);
    ck_assert_int_eq(esc_deadlines_list(&env, t, ESC_T0 + 23 * ESC_H, 2 * ESC_H, ESC_DL_OVERDUE,
                                        dl_collect, &ds), 0);
    ck_assert_uint_eq(ds.n, 0);
    ck_assert_int_eq(esc_deadlines_list(&env, t, ESC_T0 + 23 * ESC_H, 2 * ESC_H, ESC_DL_NEAR,
                                        dl_collect, &ds), 0);
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_ptr_nonnull(strstr(ds.last, "/managing_body/initial-notice/pending"));
    store_txn_abort(t);

    /* 25 h: both notices are overdue (queued, not delivered). */
    memset(&ds, 0, sizeof(ds));
    t = st_rbegin(s);
    ck_assert_int_eq(esc_deadlines_list(&env, t, ESC_T0 + 25 * ESC_H, 0, ESC_DL_OVERDUE,
                                        dl_collect, &ds), 0);
    ck_assert_uint_eq(ds.overdue, 2);
    store_txn_abort(t);

    /* One delivered: one left. At 73 h the 72 h reports (Decree 331 Art. 31.2.d) join it. */
    t = st_begin(s);
    ck_assert_int_eq(store_outbox_mark_delivered(
                         t, "5f1d3c0a9b8e7d6c5b4a39281706f5e4:1:national:initial-notice"), 0);
    st_commit(t);
    memset(&ds, 0, sizeof(ds));
    t = st_rbegin(s);
    ck_assert_int_eq(esc_deadlines_list(&env, t, ESC_T0 + 25 * ESC_H, 0, ESC_DL_OVERDUE,
                                        dl_collect, &ds), 0);
    ck_assert_uint_eq(ds.overdue, 1);
    memset(&ds, 0, sizeof(ds));
    ck_assert_int_eq(esc_deadlines_list(&env, t, ESC_T0 + 73 * ESC_H, 0, ESC_DL_OVERDUE,
                                        dl_collect, &ds), 0);
    ck_assert_uint_eq(ds.overdue, 3);
    store_txn_abort(t);
    ts_arena_destroy(ar);
    store_close(s);
    st_rmdir();
}
END_TEST

/* ------------------------------------------------------------ golden forms */

/* Compare a rendered text with tests/unit/golden/NAME; with
 * TOCSIN_GOLDEN_UPDATE=1 in the environment the file is written instead
 * (review the diff before committing it). */
static void golden(const char *name, const struct ts_buf *b)
{
    char path[512], rel[128];
    snprintf(rel, sizeof(rel), "tests/unit/golden/%s", name);
    esc_test_path(path, sizeof(path), rel);
    if (getenv("TOCSIN_GOLDEN_UPDATE")) {
        FILE *w = fopen(path, "wb");
        ck_assert_ptr_nonnull(w);
        fwrite(b->data, 1, b->len, w);
        fclose(w);
    }
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no golden file %s", path);
    static char want[1 << 16];
    size_t n = fread(want, 1, sizeof(want) - 1, f);
    fclose(f);
    want[n] = '\0';
    if (n != b->len || memcmp(want, b->data, n) != 0) {
        size_t i = 0;
        while (i < n && i < b->len && want[i] == b->data[i])
            i++;
        size_t from = i > 80 ? i - 80 : 0;
        ck_abort_msg("%s differs at byte %zu:\nwant: ...%.160s\ngot:  ...%.160s", name, i,
                     want + from, b->data + from);
    }
}

/* The mandatory lines of forms 03/04 are present whatever is configured:
 * a missing value reads "chưa khai báo", never a dropped line. */
static void expect_form_fields(const char *text, bool final)
{
    static const char *const common[] = {
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "\nSố: ",
        ", ngày ", "Căn cứ: ", "Kính gửi: ", "Thời gian thực hiện báo cáo: ", "Giữ bí mật: ",
        "Tên tổ chức: ", "Địa chỉ: ", "Điện thoại: ", "Thư điện tử: ", "Người liên hệ: ",
        "Nhà cung cấp dịch vụ an ninh mạng: ", "Nhà cung cấp dịch vụ kết nối mạng: ",
        "Tên hệ thống: ", "Đơn vị vận hành: ", "Cơ quan chủ quản: ",
        "Cấp độ hệ thống thông tin: ", "Mục đích, chức năng của hệ thống: ",
        "Hệ điều hành, phiên bản: ", "Các dịch vụ đang chạy: ",
        "Các biện pháp bảo đảm an ninh mạng đã triển khai: ", "Tên miền: ",
        "Địa chỉ IP công khai: ", "Mã sự cố: ", "Mô tả sự cố: ", "Loại sự cố: ",
        "Dấu hiệu phát hiện: ", "Ảnh hưởng, thiệt hại đã ghi nhận: ", "Thời điểm phát hiện: ",
        "Tình trạng hiện tại: ", "Sự cố nghiêm trọng: ", "Vượt quá khả năng xử lý: ",
        "Đã gửi thông báo sự cố cho: ", "Luật phát hiện: ", "Mức độ của luật: ",
        "Nhãn kỹ thuật: ", "5. CÁC BIỆN PHÁP ĐÃ THỰC HIỆN", "6. ĐỀ NGHỊ HỖ TRỢ",
        "7. TÀI LIỆU, CHỨNG CỨ KÈM THEO", "ĐẠI DIỆN TỔ CHỨC BÁO CÁO"};
    for (size_t i = 0; i < TS_ARRAY_LEN(common); i++)
        ck_assert_msg(strstr(text, common[i]) != NULL, "missing \"%s\" in\n%s", common[i], text);
    if (final) {
        ck_assert_ptr_nonnull(strstr(text, "Tham chiếu báo cáo ban đầu (số, ngày): "));
        ck_assert_ptr_nonnull(strstr(text, "Kết quả xử lý sự cố: "));
    }
    /* no English left: the rule level, ATT&CK tags and labels are translated */
    static const char *const english[] = {": high", ": critical", "attack.", "Detection",
                                          "Impact", "(none)", "Yes", "No\n"};
    for (size_t i = 0; i < TS_ARRAY_LEN(english); i++)
        ck_assert_msg(strstr(text, english[i]) == NULL, "English \"%s\" in\n%s", english[i], text);
    ck_assert_uint_eq(ts_utf8_valid_prefix(text, strlen(text)), strlen(text));
}

/* Circular 20 form 03 (initial report, beyond capacity: critical on level 4). */
START_TEST(test_golden_form03_vietnamese_lists_every_mandatory_field)
{
    env.regime = circ;
    struct store_incident inc = esc_test_incident();
    inc.severity = 4;
    struct esc_report_opts o = {.recipient = "national", .stage = ESC_STAGE_INITIAL,
                                .format = ESC_FORMAT_TEXT, .lang = ESC_LANG_VI,
                                .evidence = evidence, .nevidence = 2, .now_ns = ESC_T0 + ESC_H};
    struct esc_doc d;
    ck_assert_int_eq(esc_doc_init(&d, &env, &inc, &o), 0);
    d.report = esc_regime_report(circ, "initial-report"); /* as the outbox does */
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(esc_render_text(&d, &b), 0);
    expect_form_fields(b.data, false);
    ck_assert_ptr_nonnull(strstr(b.data, "BÁO CÁO BAN ĐẦU SỰ CỐ MẠNG\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "Mẫu báo cáo: 03"));
    ck_assert_ptr_nonnull(strstr(b.data, "nhật ký: {\"EventID\":1"));
    /* nothing confirmed yet: not the recipients the plan names */
    ck_assert_ptr_nonnull(strstr(b.data, "Đã gửi thông báo sự cố cho: chưa gửi\n"));
    golden("form03_vi.txt", &b);
    ts_buf_free(&b);
}
END_TEST

/* Circular 20 form 04 (final report) of a resolved incident. */
START_TEST(test_golden_form04_vietnamese_refers_to_the_initial_report_and_the_outcome)
{
    env.regime = circ;
    struct store_incident inc = esc_test_incident();
    inc.status = STORE_STATUS_RESOLVED;
    inc.status_ns = ESC_T0 + 30 * ESC_H;
    inc.status_by = "binh.tt";
    struct store_status_change h[2] = {
        {.status = STORE_STATUS_ACKNOWLEDGED, .at_ns = ESC_T0 + ESC_H, .by = "binh.tt"},
        {.status = STORE_STATUS_RESOLVED, .at_ns = ESC_T0 + 30 * ESC_H, .by = "binh.tt"}};
    inc.history = h;
    inc.nhistory = 2;
    struct esc_report_opts o = {.recipient = "national", .stage = ESC_STAGE_FINAL,
                                .format = ESC_FORMAT_TEXT, .lang = ESC_LANG_VI,
                                .evidence = evidence, .nevidence = 2,
                                .now_ns = ESC_T0 + 50 * ESC_H, .initial_ref = "12/BC-STTTT",
                                .initial_at_ns = ESC_T0 + 2 * ESC_H, .sent = sent, .nsent = 2};
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b), 0);
    expect_form_fields(b.data, true);
    ck_assert_ptr_nonnull(strstr(b.data, "BÁO CÁO KẾT THÚC ỨNG PHÓ SỰ CỐ MẠNG\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "Mẫu báo cáo: 04"));
    ck_assert_ptr_nonnull(strstr(b.data, "12/BC-STTTT, 2026-11-20 12:00:00 +07:00"));
    ck_assert_ptr_null(strstr(b.data, "LƯU Ý"));
    ck_assert_ptr_nonnull(strstr(b.data, "Đã gửi thông báo sự cố cho: Ủy ban nhân dân tỉnh Demo "
                                         "(lúc 2026-11-20 10:30:00 +07:00)\n"));
    golden("form04_vi.txt", &b);
    ts_buf_free(&b);
}
END_TEST

/* esc_sent_read lists the incident's DELIVERED outbox entries only (not
 * pending or failed ones, not another incident's), one per recipient with
 * its first delivery, by time. */
START_TEST(test_sent_lists_only_the_deliveries_the_outbox_confirmed)
{
    st_mkdir();
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    static const struct {
        const char *id, *rcpt;
        int64_t at;
        int state; /* 0 pending, 1 delivered, 2 failed */
    } es[] = {{"inc-1:1:managing_body:notice", "managing_body", 2, 1},
              {"inc-1:2:managing_body:progress", "managing_body", 5, 1},
              {"inc-1:1:national:notice", "national", 1, 1},
              {"inc-1:1:response_unit:notice", "response_unit", 0, 0},
              {"inc-1:1:network_members:notice", "network_members", 3, 2},
              {"inc-10:1:response_unit:notice", "response_unit", 1, 1}};
    for (size_t i = 0; i < TS_ARRAY_LEN(es); i++) {
        store_txn_set_now(t, ESC_T0 + es[i].at * ESC_H);
        struct store_outbox e = {.id = es[i].id, .incident_id = "inc-1", .revision = 1,
                                 .recipient = es[i].rcpt, .channel = "default",
                                 .payload = "{}", .payload_len = 2};
        ck_assert_int_eq(store_outbox_put(t, &e), 0);
        if (es[i].state == 1)
            ck_assert_int_eq(store_outbox_mark_delivered(t, es[i].id), 0);
        if (es[i].state == 2)
            ck_assert_int_eq(store_outbox_mark_failed(t, es[i].id, "HTTP 500"), 0);
    }
    st_commit(t);
    t = st_begin(s);
    struct ts_arena *a = NULL;
    ck_assert_int_eq(ts_arena_create(&a, 4096, 1u << 20), 0);
    struct esc_sent out[ESC_SENT_MAX];
    size_t n = 9;
    ck_assert_int_eq(esc_sent_read(t, "inc-1", a, out, ESC_SENT_MAX, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(out[0].recipient, "national");
    ck_assert_int_eq(out[0].at_ns, ESC_T0 + 1 * ESC_H);
    ck_assert_str_eq(out[1].recipient, "managing_body");
    ck_assert_int_eq(out[1].at_ns, ESC_T0 + 2 * ESC_H); /* the first delivery */
    ck_assert_int_eq(esc_sent_read(t, "inc-2", a, out, ESC_SENT_MAX, &n), 0);
    ck_assert_uint_eq(n, 0);
    store_txn_abort(t);
    ts_arena_destroy(a);
    store_close(s);
    st_rmdir();
}
END_TEST

/* A final report of an open incident says so at its head. */
START_TEST(test_final_report_of_an_open_incident_is_clearly_marked)
{
    env.regime = circ;
    struct store_incident inc = esc_test_incident();
    struct esc_report_opts o = {.recipient = "national", .stage = ESC_STAGE_FINAL,
                                .format = ESC_FORMAT_TEXT, .lang = ESC_LANG_VI};
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b), 0);
    const char *mark = strstr(b.data, "LƯU Ý: sự cố chưa kết thúc ứng phó");
    ck_assert_ptr_nonnull(mark);
    ck_assert(mark < strstr(b.data, "Căn cứ")); /* before the body */
    ck_assert_ptr_nonnull(strstr(b.data, "Kết quả xử lý sự cố: Chưa kết thúc"));
    ck_assert_ptr_nonnull(strstr(b.data, "Tham chiếu báo cáo ban đầu (số, ngày): chưa khai báo"));
    ts_buf_free(&b);
}
END_TEST

/* Seen: with no asset inventory the header said "Thông báo ban đầu sự cố
 * nghiêm trọng" and the body "Sự cố nghiêm trọng: Không". Both now come
 * from one decision, with and without the inventory. */
START_TEST(test_header_and_body_agree_with_and_without_an_asset_inventory)
{
    for (int with = 0; with < 2; with++) {
        env.assets = with ? assets : NULL;
        env.orgs = with ? orgs : NULL;
        struct store_incident inc = esc_test_incident();
        struct esc_report_opts o = {.recipient = "managing_body", .stage = ESC_STAGE_INITIAL,
                                    .format = ESC_FORMAT_TEXT, .lang = ESC_LANG_VI,
                                    .now_ns = ESC_T0};
        struct ts_buf b;
        ts_buf_init(&b, 0);
        ck_assert_int_eq(esc_report_render(&env, &inc, &o, &b), 0);
        bool says_serious = strstr(b.data, "Sự cố nghiêm trọng: Có") != NULL;
        bool head_serious = strstr(b.data, "SỰ CỐ AN NINH MẠNG NGHIÊM TRỌNG\n") != NULL;
        ck_assert_msg(says_serious == (bool)with, "with=%d\n%s", with, b.data);
        ck_assert_msg(head_serious == says_serious, "header and body disagree:\n%s", b.data);
        if (!with) {
            ck_assert_ptr_nonnull(strstr(b.data, "Báo cáo tự nguyện"));
            ck_assert_ptr_nonnull(strstr(b.data, "Tên hệ thống: chưa khai báo"));
            ck_assert_ptr_nonnull(strstr(b.data, "Người liên hệ: chưa khai báo"));
            expect_form_fields(b.data, false);
        }
        /* the same for the outbox's document, which names its report */
        struct esc_doc d;
        ck_assert_int_eq(esc_doc_init(&d, &env, &inc, &o), 0);
        d.report = esc_regime_report(law, "initial-notice");
        ts_buf_reset(&b);
        ck_assert_int_eq(esc_render_text(&d, &b), 0);
        ck_assert_int_eq(strstr(b.data, "SỰ CỐ AN NINH MẠNG NGHIÊM TRỌNG\n") != NULL,
                         strstr(b.data, "Sự cố nghiêm trọng: Có") != NULL);
        ts_buf_free(&b);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("esc_report");
    TCase *tc = tcase_create("report");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_json_report_has_every_field_of_the_national_form);
    tcase_add_test(tc, test_golden_form03_vietnamese_lists_every_mandatory_field);
    tcase_add_test(tc, test_golden_form04_vietnamese_refers_to_the_initial_report_and_the_outcome);
    tcase_add_test(tc, test_sent_lists_only_the_deliveries_the_outbox_confirmed);
    tcase_add_test(tc, test_final_report_of_an_open_incident_is_clearly_marked);
    tcase_add_test(tc, test_header_and_body_agree_with_and_without_an_asset_inventory);
    tcase_add_test(tc, test_managing_body_name_comes_from_the_inventory);
    tcase_add_test(tc, test_unknown_recipient_is_refused);
    tcase_add_test(tc, test_stix_bundle_has_the_required_objects_and_ids);
    tcase_add_test(tc, test_stix_bundle_notes_how_many_observables_were_left_out);
    tcase_add_test(tc, test_vietnamese_text_has_headings_with_diacritics);
    tcase_add_test(tc, test_text_report_escapes_control_characters_of_event_values);
    tcase_add_test(tc, test_render_respects_the_buffer_cap);
    tcase_add_test(tc, test_outbox_new_serious_incident_sends_initial_notice_to_managing_body_and_a05);
    tcase_add_test(tc, test_outbox_non_serious_incident_sends_nothing);
    tcase_add_test(tc, test_deadlines_list_overdue_initial_notices_until_delivered);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
