/* replay_main.c - runs a libFuzzer target over files without libFuzzer, so
 * the seed corpora run in `make test` under gcc (and under ASan+UBSan).
 * Usage: fuzz_x-replay FILE... ; exit 0 when every input ran. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        uint8_t *buf = malloc(1 << 20);
        if (!buf)
            return 1;
        size_t len = fread(buf, 1, 1 << 20, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        n++;
    }
    printf("%d inputs\n", n);
    return 0;
}
