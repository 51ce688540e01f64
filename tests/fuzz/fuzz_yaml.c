/* fuzz_yaml.c - libFuzzer target for the YAML tree loader (core/yaml.c).
 * Loads the input as a YAML stream, walks every node (so a bad pointer in the
 * tree is touched) and frees it. Seeds: tests/fuzz/corpus/yaml/. */
#include <stddef.h>
#include <stdint.h>

#include "../../core/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bounded walk: the loader caps depth, so recursion is bounded too. */
static size_t walk(const struct ts_ynode *n, unsigned depth)
{
    if (!n || depth > TS_YAML_MAX_DEPTH + 1)
        return 0;
    size_t total = 1;
    if (n->kind == TS_Y_SCALAR)
        return total + (n->str[n->len] == '\0' ? 0 : 1);
    for (size_t i = 0; i < n->nitems; i++)
        total += walk(n->items[i], depth + 1);
    for (size_t i = 0; i < n->npairs; i++) {
        total += walk(n->pairs[i].key, depth + 1);
        total += walk(n->pairs[i].val, depth + 1);
    }
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ts_ystream *s = NULL;
    struct ts_err err = {0};
    if (ts_yaml_load_buffer("fuzz.yml", (const char *)data, size, &s, &err) == 0) {
        volatile size_t n = 0;
        for (size_t i = 0; i < s->ndocs; i++) {
            /* shared (aliased) subtrees are walked each time: cap the work */
            if (n < (1u << 16))
                n += walk(s->docs[i].root, 1);
            (void)ts_yaml_is_null(s->docs[i].root);
            (void)ts_yaml_kind_name(s->docs[i].root);
            (void)ts_yaml_get(s->docs[i].root, "title");
        }
        ts_yaml_free(s);
    }
    return 0;
}
