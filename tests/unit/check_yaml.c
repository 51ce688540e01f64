/* check_yaml.c - the YAML tree loader (core/yaml.c): positions, documents,
 * scalar styles and nulls, aliases and their bounds, rejected constructs and
 * syntax error positions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "../../core/yaml.h"

static struct ts_ystream *load_ok(const char *text)
{
    struct ts_ystream *s = NULL;
    struct ts_err err = {0};
    int rc = ts_yaml_load_buffer("t.yml", text, strlen(text), &s, &err);
    ck_assert_msg(rc == 0, "load failed: %d %s", rc, err.msg);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Loads text expecting failure; returns the code and leaves err filled. */
static int load_fail(const char *text, struct ts_err *err)
{
    struct ts_ystream *s = (struct ts_ystream *)1;
    ts_err_clear(err);
    int rc = ts_yaml_load_buffer("bad.yml", text, strlen(text), &s, err);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(err->code, rc);
    ck_assert_str_eq(err->file, "bad.yml");
    return rc;
}

static struct ts_ynode *root_of(struct ts_ystream *s)
{
    ck_assert_uint_ge(s->ndocs, 1);
    ck_assert_ptr_nonnull(s->docs[0].root);
    return s->docs[0].root;
}

START_TEST(test_yaml_nodes_carry_one_based_line_and_col)
{
    struct ts_ystream *s = load_ok("a: 1\n"
                                   "b:\n"
                                   "  - x\n"
                                   "  - {k: v}\n"
                                   "c: [p, q]\n");
    struct ts_ynode *r = root_of(s);
    ck_assert_int_eq(r->kind, TS_Y_MAP);
    ck_assert_uint_eq(r->line, 1);
    ck_assert_uint_eq(r->col, 1);
    ck_assert_uint_eq(r->npairs, 3);
    /* key "a" at 1:1, value 1 at 1:4 */
    ck_assert_uint_eq(r->pairs[0].key->line, 1);
    ck_assert_uint_eq(r->pairs[0].key->col, 1);
    ck_assert_uint_eq(r->pairs[0].val->line, 1);
    ck_assert_uint_eq(r->pairs[0].val->col, 4);
    /* the block sequence starts at its first dash */
    struct ts_ynode *b = ts_yaml_get(r, "b");
    ck_assert_int_eq(b->kind, TS_Y_SEQ);
    ck_assert_uint_eq(b->line, 3);
    ck_assert_uint_eq(b->col, 3);
    ck_assert_uint_eq(b->nitems, 2);
    ck_assert_uint_eq(b->items[0]->line, 3);
    ck_assert_uint_eq(b->items[0]->col, 5);
    struct ts_ynode *m = b->items[1];
    ck_assert_int_eq(m->kind, TS_Y_MAP);
    ck_assert_uint_eq(m->line, 4);
    ck_assert_uint_eq(m->col, 5);
    ck_assert_uint_eq(m->pairs[0].val->col, 9);
    struct ts_ynode *c = ts_yaml_get(r, "c");
    ck_assert_uint_eq(c->line, 5);
    ck_assert_uint_eq(c->col, 4);
    ck_assert_uint_eq(c->items[1]->line, 5);
    ck_assert_uint_eq(c->items[1]->col, 8);
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_yaml_loads_every_document_with_its_start_line)
{
    struct ts_ystream *s = load_ok("title: one\n"
                                   "---\n"
                                   "title: two\n"
                                   "---\n"
                                   "---\n"
                                   "- three\n");
    ck_assert_uint_eq(s->ndocs, 4);
    ck_assert_uint_eq(s->docs[0].line, 1);
    ck_assert_uint_eq(s->docs[1].line, 2);
    ck_assert_uint_eq(s->docs[2].line, 4);
    ck_assert_uint_eq(s->docs[3].line, 5);
    ck_assert_str_eq(ts_yaml_get(s->docs[0].root, "title")->str, "one");
    ck_assert_str_eq(ts_yaml_get(s->docs[1].root, "title")->str, "two");
    /* an empty document is an empty plain scalar: null */
    ck_assert(ts_yaml_is_null(s->docs[2].root));
    ck_assert_int_eq(s->docs[3].root->kind, TS_Y_SEQ);
    ck_assert_uint_eq(s->docs[3].root->line, 6);
    ck_assert_str_eq(s->file, "t.yml");
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_yaml_empty_input_has_no_documents)
{
    struct ts_ystream *s = load_ok("");
    ck_assert_uint_eq(s->ndocs, 0);
    ts_yaml_free(s);
    s = load_ok("# only a comment\n\n");
    ck_assert_uint_eq(s->ndocs, 0);
    ts_yaml_free(s);
}
END_TEST

/* An empty collection as the first one of a stream: no child was ever
 * pending, so the builder's kids array is still NULL (issue 17: NULL + 0
 * was computed, undefined behaviour that UBSan reports). */
START_TEST(test_yaml_empty_collections_before_any_child_load_as_empty)
{
    static const char *const texts[] = {"[]", "{}", "[]\n---\n{}\n", "- []\n- {}\n",
                                        "a: []\nb: {}\n", "[[[]]]", "&x [] \n"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct ts_ystream *s = load_ok(texts[i]);
        ck_assert_uint_ge(s->ndocs, 1);
        struct ts_ynode *r = root_of(s);
        ck_assert(r->kind == TS_Y_SEQ || r->kind == TS_Y_MAP);
        if (i == 0) {
            ck_assert_int_eq(r->kind, TS_Y_SEQ);
            ck_assert_uint_eq(r->nitems, 0);
            ck_assert_ptr_null(r->items);
        } else if (i == 1) {
            ck_assert_int_eq(r->kind, TS_Y_MAP);
            ck_assert_uint_eq(r->npairs, 0);
            ck_assert_ptr_null(r->pairs);
        }
        ts_yaml_free(s);
    }
}
END_TEST

START_TEST(test_yaml_quoted_null_is_a_string_plain_null_is_null)
{
    struct ts_ystream *s = load_ok("a: null\n"
                                   "b: \"null\"\n"
                                   "c: ~\n"
                                   "d:\n"
                                   "e: ''\n"
                                   "f: NULL\n"
                                   "g: !!str null\n"
                                   "h: nul\n"
                                   "i: !!null ''\n");
    struct ts_ynode *r = root_of(s);
    ck_assert(ts_yaml_is_null(ts_yaml_get(r, "a")));
    ck_assert(!ts_yaml_is_null(ts_yaml_get(r, "b")));
    ck_assert_int_eq(ts_yaml_get(r, "b")->style, TS_YS_QUOTED);
    ck_assert(ts_yaml_is_null(ts_yaml_get(r, "c")));
    ck_assert(ts_yaml_is_null(ts_yaml_get(r, "d")));
    ck_assert(!ts_yaml_is_null(ts_yaml_get(r, "e")));
    ck_assert(ts_yaml_is_null(ts_yaml_get(r, "f")));
    ck_assert(!ts_yaml_is_null(ts_yaml_get(r, "g")));
    ck_assert(!ts_yaml_is_null(ts_yaml_get(r, "h")));
    ck_assert(ts_yaml_is_null(ts_yaml_get(r, "i")));
    ck_assert(ts_yaml_is_null(NULL));
    ck_assert(!ts_yaml_is_null(r));
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_yaml_scalar_styles_and_tags_are_kept)
{
    struct ts_ystream *s = load_ok("plain: abc\n"
                                   "single: 'it''s'\n"
                                   "double: \"a\\tb\"\n"
                                   "literal: |\n"
                                   "  line1\n"
                                   "  line2\n"
                                   "folded: >-\n"
                                   "  x\n"
                                   "  y\n"
                                   "tagged: !!int 42\n"
                                   "local: !custom v\n"
                                   "seq: !!seq [1]\n");
    struct ts_ynode *r = root_of(s);
    struct ts_ynode *n = ts_yaml_get(r, "plain");
    ck_assert_int_eq(n->style, TS_YS_PLAIN);
    ck_assert_ptr_null(n->tag);
    n = ts_yaml_get(r, "single");
    ck_assert_int_eq(n->style, TS_YS_QUOTED);
    ck_assert_str_eq(n->str, "it's");
    n = ts_yaml_get(r, "double");
    ck_assert_int_eq(n->style, TS_YS_QUOTED);
    ck_assert_str_eq(n->str, "a\tb");
    n = ts_yaml_get(r, "literal");
    ck_assert_int_eq(n->style, TS_YS_BLOCK);
    ck_assert_str_eq(n->str, "line1\nline2\n");
    ck_assert_uint_eq(n->line, 4);
    n = ts_yaml_get(r, "folded");
    ck_assert_int_eq(n->style, TS_YS_BLOCK);
    ck_assert_str_eq(n->str, "x y");
    n = ts_yaml_get(r, "tagged");
    ck_assert_str_eq(n->tag, "tag:yaml.org,2002:int");
    ck_assert_str_eq(n->str, "42");
    ck_assert_str_eq(ts_yaml_get(r, "local")->tag, "!custom");
    ck_assert_str_eq(ts_yaml_get(r, "seq")->tag, "tag:yaml.org,2002:seq");
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_yaml_scalar_with_nul_keeps_its_length)
{
    struct ts_ystream *s = load_ok("k: \"a\\0b\"\n");
    struct ts_ynode *n = ts_yaml_get(root_of(s), "k");
    ck_assert_uint_eq(n->len, 3);
    ck_assert_int_eq(memcmp(n->str, "a\0b", 4), 0);
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_yaml_alias_resolves_to_the_anchored_node)
{
    struct ts_ystream *s = load_ok("base: &b\n"
                                   "  x: 1\n"
                                   "  y: [a, b]\n"
                                   "copy: *b\n"
                                   "name: &n hello\n"
                                   "again: *n\n"
                                   "list: [*n, *b]\n");
    struct ts_ynode *r = root_of(s);
    struct ts_ynode *base = ts_yaml_get(r, "base"), *copy = ts_yaml_get(r, "copy");
    ck_assert_int_eq(copy->kind, TS_Y_MAP);
    ck_assert_str_eq(ts_yaml_get(copy, "x")->str, "1");
    ck_assert_uint_eq(ts_yaml_get(copy, "y")->nitems, 2);
    /* shared, not copied: the node keeps the anchor's position (the "&b") */
    ck_assert_ptr_eq(copy, base);
    ck_assert_uint_eq(copy->line, 1);
    ck_assert_uint_eq(copy->col, 7);
    ck_assert_str_eq(ts_yaml_get(r, "again")->str, "hello");
    struct ts_ynode *list = ts_yaml_get(r, "list");
    ck_assert_str_eq(list->items[0]->str, "hello");
    ck_assert_ptr_eq(list->items[1], base);
    /* freeing a tree with shared nodes must not double-free (ASan checks) */
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_yaml_anchor_redefinition_uses_the_latest)
{
    struct ts_ystream *s = load_ok("- &a one\n- *a\n- &a two\n- *a\n");
    struct ts_ynode *r = root_of(s);
    ck_assert_str_eq(r->items[1]->str, "one");
    ck_assert_str_eq(r->items[3]->str, "two");
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_yaml_alias_bomb_is_rejected)
{
    const char *bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                       "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                       "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    struct ts_err err;
    int rc = load_fail(bomb, &err);
    ck_assert_int_eq(rc, TS_E_LIMIT);
    ck_assert_msg(strstr(err.msg, "nodes") != NULL, "%s", err.msg);
    /* f holds about 600k nodes; the second *f on line 7 passes 2^20 */
    ck_assert_uint_eq(err.line, 7);
}
END_TEST

START_TEST(test_yaml_alias_cannot_nest_past_the_depth_cap)
{
    char text[1024];
    size_t o = 0;
    o += (size_t)snprintf(text + o, sizeof(text) - o, "a: &deep ");
    for (int i = 0; i < 40; i++)
        text[o++] = '[';
    for (int i = 0; i < 40; i++)
        text[o++] = ']';
    o += (size_t)snprintf(text + o, sizeof(text) - o, "\nb: ");
    for (int i = 0; i < 30; i++)
        text[o++] = '[';
    o += (size_t)snprintf(text + o, sizeof(text) - o, "*deep");
    for (int i = 0; i < 30; i++)
        text[o++] = ']';
    text[o++] = '\n';
    text[o] = '\0';
    struct ts_err err;
    ck_assert_int_eq(load_fail(text, &err), TS_E_LIMIT);
    ck_assert_uint_eq(err.line, 2);
    ck_assert_uint_eq(err.col, 34);
    ck_assert_msg(strstr(err.msg, "deeper than 64") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_yaml_nesting_is_capped_at_max_depth)
{
    char text[256];
    /* 64 levels (63 lists and a scalar) load */
    size_t o = 0;
    for (int i = 0; i < 63; i++)
        text[o++] = '[';
    text[o++] = 'x';
    for (int i = 0; i < 63; i++)
        text[o++] = ']';
    text[o] = '\0';
    struct ts_ystream *s = load_ok(text);
    ts_yaml_free(s);
    /* 65 levels do not */
    o = 0;
    for (int i = 0; i < 64; i++)
        text[o++] = '[';
    text[o++] = 'x';
    for (int i = 0; i < 64; i++)
        text[o++] = ']';
    text[o] = '\0';
    struct ts_err err;
    ck_assert_int_eq(load_fail(text, &err), TS_E_LIMIT);
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.col, 65);
}
END_TEST

START_TEST(test_yaml_merge_key_is_rejected_at_the_key)
{
    struct ts_err err;
    int rc = load_fail("base: &b {x: 1}\n"
                       "item:\n"
                       "  <<: *b\n"
                       "  y: 2\n",
                       &err);
    ck_assert_int_eq(rc, TS_E_UNSUPPORTED);
    ck_assert_str_eq(err.msg, "merge keys (<<) are not supported");
    ck_assert_uint_eq(err.line, 3);
    ck_assert_uint_eq(err.col, 3);
}
END_TEST

START_TEST(test_yaml_quoted_merge_key_is_an_ordinary_key)
{
    struct ts_ystream *s = load_ok("\"<<\": x\n");
    ck_assert_str_eq(ts_yaml_get(root_of(s), "<<")->str, "x");
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_yaml_non_scalar_key_is_rejected)
{
    struct ts_err err;
    ck_assert_int_eq(load_fail("ok: 1\n? [a, b]\n: c\n", &err), TS_E_UNSUPPORTED);
    ck_assert_str_eq(err.msg, "mapping keys must be scalars, got a list");
    ck_assert_uint_eq(err.line, 2);
    ck_assert_uint_eq(err.col, 3);
}
END_TEST

START_TEST(test_yaml_unknown_alias_and_cross_document_alias_are_rejected)
{
    struct ts_err err;
    ck_assert_int_eq(load_fail("a: 1\nb: *nope\n", &err), TS_E_PARSE);
    ck_assert_uint_eq(err.line, 2);
    ck_assert_uint_eq(err.col, 4);
    ck_assert_msg(strstr(err.msg, "*nope") != NULL, "%s", err.msg);
    /* anchors belong to their document */
    ck_assert_int_eq(load_fail("--- &a x\n--- *a\n", &err), TS_E_PARSE);
    ck_assert_uint_eq(err.line, 2);
    /* a node cannot contain an alias to itself */
    ck_assert_int_eq(load_fail("&a [*a]\n", &err), TS_E_PARSE);
}
END_TEST

START_TEST(test_yaml_syntax_error_names_libyaml_problem_and_position)
{
    struct ts_err err;
    ck_assert_int_eq(load_fail("a:\n  - b\n c: d\n", &err), TS_E_PARSE);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_uint_eq(err.col, 2);
    ck_assert_str_eq(err.msg, "did not find expected key while parsing a block mapping");
    char buf[700];
    ts_err_format(&err, buf, sizeof(buf));
    ck_assert_str_eq(buf, "bad.yml:3:2: error: did not find expected key while parsing a block "
                          "mapping");

    ck_assert_int_eq(load_fail("key: value: other\n", &err), TS_E_PARSE);
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.col, 11);
    ck_assert_str_eq(err.msg, "mapping values are not allowed in this context");

    ck_assert_int_eq(load_fail("x: [1, 2\n", &err), TS_E_PARSE);
    ck_assert_uint_eq(err.line, 2);
}
END_TEST

START_TEST(test_yaml_invalid_utf8_reports_line_and_col)
{
    struct ts_err err;
    ck_assert_int_eq(load_fail("a: 1\nb: \"x\xff\"\n", &err), TS_E_PARSE);
    ck_assert_uint_eq(err.line, 2);
    ck_assert_uint_eq(err.col, 6);
    ck_assert_msg(strstr(err.msg, "UTF-8") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_yaml_get_returns_first_match_and_null_for_non_maps)
{
    struct ts_ystream *s = load_ok("k: first\nk: second\nl: [1]\n");
    struct ts_ynode *r = root_of(s);
    ck_assert_str_eq(ts_yaml_get(r, "k")->str, "first");
    ck_assert_ptr_null(ts_yaml_get(r, "missing"));
    ck_assert_ptr_null(ts_yaml_get(ts_yaml_get(r, "l"), "k"));
    ck_assert_ptr_null(ts_yaml_get(NULL, "k"));
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_yaml_kind_names_read_well_in_errors)
{
    struct ts_ystream *s = load_ok("m: {}\nl: []\ns: str\nn: ~\n");
    struct ts_ynode *r = root_of(s);
    ck_assert_str_eq(ts_yaml_kind_name(ts_yaml_get(r, "m")), "a mapping");
    ck_assert_str_eq(ts_yaml_kind_name(ts_yaml_get(r, "l")), "a list");
    ck_assert_str_eq(ts_yaml_kind_name(ts_yaml_get(r, "s")), "a string");
    ck_assert_str_eq(ts_yaml_kind_name(ts_yaml_get(r, "n")), "null");
    ck_assert_str_eq(ts_yaml_kind_name(NULL), "nothing");
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_yaml_load_file_reads_a_file_and_names_it_in_errors)
{
    char path[] = "/tmp/check_yaml_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "ok: 1\nbad: [\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct ts_ystream *s = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(ts_yaml_load_file(path, &s, &err), TS_E_PARSE);
    ck_assert_ptr_null(s);
    ck_assert_str_eq(err.file, path);
    ck_assert_uint_eq(err.line, 3);
    unlink(path);

    ts_err_clear(&err);
    ck_assert_int_eq(ts_yaml_load_file("/nonexistent/dir/x.yml", &s, &err), TS_E_IO);
    ck_assert_str_eq(err.file, "/nonexistent/dir/x.yml");
    ck_assert_msg(strstr(err.msg, "No such file") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_yaml_first_error_wins)
{
    struct ts_err err = {0};
    ts_err_set(&err, TS_E_INVAL, "earlier.yml", 1, 1, "earlier problem");
    struct ts_ystream *s = NULL;
    ck_assert_int_eq(ts_yaml_load_buffer("x.yml", "[", 1, &s, &err), TS_E_PARSE);
    ck_assert_str_eq(err.file, "earlier.yml");
    ck_assert_str_eq(err.msg, "earlier problem");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("yaml");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_yaml_nodes_carry_one_based_line_and_col);
    tcase_add_test(tc, test_yaml_loads_every_document_with_its_start_line);
    tcase_add_test(tc, test_yaml_empty_input_has_no_documents);
    tcase_add_test(tc, test_yaml_empty_collections_before_any_child_load_as_empty);
    tcase_add_test(tc, test_yaml_quoted_null_is_a_string_plain_null_is_null);
    tcase_add_test(tc, test_yaml_scalar_styles_and_tags_are_kept);
    tcase_add_test(tc, test_yaml_scalar_with_nul_keeps_its_length);
    tcase_add_test(tc, test_yaml_alias_resolves_to_the_anchored_node);
    tcase_add_test(tc, test_yaml_anchor_redefinition_uses_the_latest);
    tcase_add_test(tc, test_yaml_alias_bomb_is_rejected);
    tcase_add_test(tc, test_yaml_alias_cannot_nest_past_the_depth_cap);
    tcase_add_test(tc, test_yaml_nesting_is_capped_at_max_depth);
    tcase_add_test(tc, test_yaml_merge_key_is_rejected_at_the_key);
    tcase_add_test(tc, test_yaml_quoted_merge_key_is_an_ordinary_key);
    tcase_add_test(tc, test_yaml_non_scalar_key_is_rejected);
    tcase_add_test(tc, test_yaml_unknown_alias_and_cross_document_alias_are_rejected);
    tcase_add_test(tc, test_yaml_syntax_error_names_libyaml_problem_and_position);
    tcase_add_test(tc, test_yaml_invalid_utf8_reports_line_and_col);
    tcase_add_test(tc, test_yaml_get_returns_first_match_and_null_for_non_maps);
    tcase_add_test(tc, test_yaml_kind_names_read_well_in_errors);
    tcase_add_test(tc, test_yaml_load_file_reads_a_file_and_names_it_in_errors);
    tcase_add_test(tc, test_yaml_first_error_wins);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
