/* fuzz_cef.c - libFuzzer target for the CEF parser: explicit format and auto-detected (see fuzz_parse.h). */
#include "fuzz_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum ingest_format fmts[] = {INGEST_FMT_CEF, INGEST_FMT_AUTO};
    return fuzz_parse_formats(data, size, fmts, sizeof(fmts) / sizeof(fmts[0]), 0);
}
