/* check_rules_memo.c - the prefilter's scan shortcuts (rules/ac.c), each
 * against the byte-by-byte DFA scan: the scan memo (for every text, the hit
 * calls made through the memo are exactly those a plain scan makes — when
 * the value was seen before (replayed), when two values share a slot (one
 * slot for all: the stored value must be compared, not only its hash), when
 * the value pool starts over, and through the interleaved many-text scan);
 * and the skip table for long texts (random literal sets of several lengths,
 * random and planted texts, overlapping and adjacent occurrences). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../rules/rules_int.h"
#include "check_util.h"

#define MAXC 4096

struct calls {
    uint64_t sig[MAXC]; /* (trigger index, n) of each call, sorted before comparing */
    size_t n;
    const struct ac_trigger *base;
};

static void rec(void *ctx, const struct ac_trigger *t, uint32_t n)
{
    struct calls *c = ctx;
    ck_assert_uint_lt(c->n, MAXC);
    /* the trigger's identity: its rule and slot (unique per literal here) */
    c->sig[c->n++] = ((uint64_t)t->rule << 32) | ((uint64_t)t->slot << 16) | n;
}

static int cmp64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void same(struct calls *a, struct calls *b, const char *what)
{
    qsort(a->sig, a->n, sizeof(uint64_t), cmp64);
    qsort(b->sig, b->n, sizeof(uint64_t), cmp64);
    ck_assert_msg(a->n == b->n, "%s: %zu calls vs %zu", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        ck_assert_msg(a->sig[i] == b->sig[i], "%s: call %zu differs", what, i);
}

static const char *lits[] = {"powershell", "-enc", "vssadmin", "delete shadows", "whoami",
                             "\\temp\\", "rundll32", "comsvcs", "minidump", ".exe"};

static struct ac *build(void)
{
    struct ac_builder *b;
    ck_assert_int_eq(ac_builder_create(&b), 0);
    for (uint32_t i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
        struct ac_trigger t = {.rule = i, .field = 7, .slot = i % 3};
        ck_assert_int_eq(ac_builder_add(b, lits[i], strlen(lits[i]), t), 0);
    }
    struct ac *a;
    ck_assert_int_eq(ac_build(b, 7, &a), 0);
    ac_builder_free(b);
    return a;
}

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* a value from a small vocabulary (so values repeat), some long */
static size_t value(char *buf, size_t cap, uint32_t k)
{
    static const char *parts[] = {"C:\\Windows\\System32\\", "cmd.exe /c ", "powershell.exe -enc ",
                                  "SQBFAFgA", "vssadmin delete shadows /all", "whoami /all ",
                                  "C:\\Users\\a\\AppData\\Local\\Temp\\x.exe ",
                                  "rundll32 comsvcs.dll, MiniDump 624 ", "notepad", "ok"};
    size_t n = 0;
    uint32_t parts_n = 1 + k % 5;
    uint32_t seed = k;
    for (uint32_t i = 0; i < parts_n; i++) {
        const char *p = parts[(seed >> (i * 3)) % 10];
        size_t l = strlen(p);
        if (n + l >= cap)
            break;
        memcpy(buf + n, p, l);
        n += l;
    }
    if (k % 97 == 0) { /* now and then a value too long to remember */
        while (n + 10 < cap && n < 3000) {
            buf[n] = (char)('a' + n % 26);
            n++;
        }
    }
    buf[n] = 0;
    return n;
}

static void check_with(uint32_t slots, size_t pool)
{
    struct ac *a = build();
    struct ac_memo *m;
    ck_assert_int_eq(ac_memo_create(&m, slots, pool), 0);
    static struct calls plain, memo;
    char buf[4096];
    for (int round = 0; round < 3000; round++) {
        uint32_t k = rnd(200) * 131u;
        size_t n = value(buf, sizeof(buf), k);
        plain.n = memo.n = 0;
        ac_scan(a, buf, n, rec, &plain);
        ac_scan_memo(m, a, buf, n, rec, &memo);
        same(&plain, &memo, "ac_scan_memo");
    }
    /* many texts at once: the same calls as scanning each alone */
    for (int round = 0; round < 500; round++) {
        const struct ac *A[11];
        const char *T[11];
        size_t N[11];
        static char bufs[11][4096];
        size_t k = 1 + rnd(11);
        plain.n = memo.n = 0;
        for (size_t i = 0; i < k; i++) {
            N[i] = value(bufs[i], sizeof(bufs[i]), rnd(200) * 131u);
            T[i] = bufs[i];
            A[i] = a;
            ac_scan(a, T[i], N[i], rec, &plain);
        }
        ac_scan_many_memo(m, A, T, N, k, rec, &memo);
        same(&plain, &memo, "ac_scan_many_memo");
    }
    uint64_t hits, misses;
    ac_memo_stats(m, &hits, &misses);
    ck_assert_msg(hits > 0, "no value was replayed (%llu misses)", (unsigned long long)misses);
    ac_memo_free(m);
    ac_free(a);
}

START_TEST(test_memo_replays_exactly_the_scans_calls)
{
    check_with(4096, 1u << 20);
}
END_TEST

START_TEST(test_one_slot_for_all_compares_the_value_itself)
{
    check_with(1, 1u << 20);
}
END_TEST

START_TEST(test_small_pool_starts_over_and_stays_exact)
{
    check_with(64, 4096);
}
END_TEST

START_TEST(test_bad_sizes_are_refused)
{
    struct ac_memo *m = (struct ac_memo *)1;
    ck_assert_int_eq(ac_memo_create(&m, 3, 1u << 20), TS_E_INVAL);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(ac_memo_create(&m, 0, 1u << 20), TS_E_INVAL);
    ck_assert_int_eq(ac_memo_create(&m, 16, 100), TS_E_INVAL);
}
END_TEST

/* random literals over a small alphabet (so they overlap and share
 * prefixes and suffixes), lengths lo..hi */
static struct ac *build_random(uint32_t nlit, uint32_t lo, uint32_t hi, char lit[][24])
{
    struct ac_builder *b;
    ck_assert_int_eq(ac_builder_create(&b), 0);
    for (uint32_t i = 0; i < nlit; i++) {
        uint32_t len = lo + rnd(hi - lo + 1);
        for (uint32_t k = 0; k < len; k++)
            lit[i][k] = "abcdeAB:\\."[rnd(10)];
        lit[i][len] = 0;
        struct ac_trigger t = {.rule = i, .field = 1, .slot = 0};
        ck_assert_int_eq(ac_builder_add(b, lit[i], len, t), 0);
    }
    struct ac *a;
    ck_assert_int_eq(ac_build(b, 1, &a), 0);
    ac_builder_free(b);
    return a;
}

START_TEST(test_skip_table_finds_what_the_byte_scan_finds)
{
    static char lit[40][24];
    static char text[5000];
    static struct calls dfa, skip;
    uint64_t found = 0;
    for (int set = 0; set < 30; set++) {
        uint32_t lo = 1 + rnd(8), hi = lo + rnd(8);
        uint32_t nlit = 1 + rnd(40);
        struct ac *a = build_random(nlit, lo, hi, lit);
        for (int round = 0; round < 20; round++) {
            size_t len = 64 + rnd(2000);
            for (size_t i = 0; i < len; i++)
                text[i] = "abcdefxyzABCD:.\\ "[rnd(18)];
            /* plant literals: at random places, back to back, overlapping */
            uint32_t plants = rnd(12);
            for (uint32_t p = 0; p < plants; p++) {
                const char *l = lit[rnd(nlit)];
                size_t ll = strlen(l);
                size_t at = rnd((uint32_t)(len - ll));
                if (p && rnd(2))
                    at = (at / 2) * 2 % (len - ll);
                memcpy(text + at, l, ll);
            }
            dfa.n = skip.n = 0;
            ac_scan_dfa(a, text, len, rec, &dfa);
            ac_scan(a, text, len, rec, &skip);
            found += dfa.n;
            same(&dfa, &skip, "skip table");
        }
        ac_free(a);
    }
    ck_assert_uint_gt(found, 300); /* the texts did hold literals */
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("rules_memo");
    TCase *t = tcase_create("memo");
    tcase_set_timeout(t, 120); /* under ASan on a busy machine */
    tcase_add_test(t, test_memo_replays_exactly_the_scans_calls);
    tcase_add_test(t, test_one_slot_for_all_compares_the_value_itself);
    tcase_add_test(t, test_small_pool_starts_over_and_stays_exact);
    tcase_add_test(t, test_bad_sizes_are_refused);
    tcase_add_test(t, test_skip_table_finds_what_the_byte_scan_finds);
    suite_add_tcase(s, t);
    return s;
}

TS_CHECK_MAIN(make_suite)
