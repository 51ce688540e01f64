/* fuzz_config.c - libFuzzer target for the configuration loader
 * (core/config.c): load from a buffer, format any error, free.
 * Seeds: tests/fuzz/corpus/config/. */
#include <stddef.h>
#include <stdint.h>

#include "../../core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ts_config *c = NULL;
    struct ts_err err = {0};
    if (ts_config_load_buffer("fuzz.yml", (const char *)data, size, &c, &err) == 0) {
        ts_config_free(c);
    } else {
        char buf[1024];
        ts_err_format(&err, buf, sizeof(buf));
    }
    return 0;
}
