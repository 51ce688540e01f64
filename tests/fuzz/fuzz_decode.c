/* fuzz_decode.c - libFuzzer target for normalisation with the shipped
 * decoders and profiles (etc/decoders, etc/profiles, loaded once from the
 * repository root, where make fuzz and make fuzz-replay run): each input is
 * one log line, parsed as any format (INGEST_FMT_AUTO) and, when it parses,
 * run through every decoder (regexes, key=value, types, renames) and the
 * profiles; the same input is also tried as RFC 3164 with the rest of it as the
 * message of a program the shipped decoders accept (its first byte picks
 * which), so the decoders' patterns see fuzzed text. Seeds:
 * tests/fuzz/corpus/decode/. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../ingest/ingest.h"
#include "../../normalise/normalise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct norm_set *norm;
static struct norm_scratch *scratch;
static struct ts_arena *arena;

static void setup(void)
{
    static const char *const dec[] = {"etc/decoders"};
    static const char *const prof[] = {"etc/profiles"};
    struct norm_opts o = {.decoder_paths = dec, .ndecoder_paths = 1,
                          .profile_paths = prof, .nprofile_paths = 1};
    struct ts_err err = {0};
    if (norm_set_create(&norm, &o, &err) != 0 || norm_scratch_create(&scratch, norm) != 0 ||
        ts_arena_create(&arena, 1u << 16, 1u << 26) != 0) {
        char msg[512];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "fuzz_decode: cannot load etc/decoders and etc/profiles (run from the "
                        "repository root): %s\n", msg);
        abort();
    }
}

static void one(const char *raw, size_t len)
{
    ts_arena_reset(arena);
    struct ts_event ev;
    ts_event_init(&ev, arena);
    char *r = ts_arena_strndup(arena, raw, len);
    if (!r)
        return;
    ev.raw = r;
    ev.raw_len = (uint32_t)len;
    ev.ingest_ns = 1718445600000000000LL;
    struct ingest_diag d = {0};
    if (ingest_parse(INGEST_FMT_AUTO, NULL, &ev, &d) != 0)
        return;
    struct norm_explain ex;
    (void)norm_set_batch_begin(scratch);
    (void)norm_apply(norm, scratch, &ev, &ex);
    (void)norm_undecoded(scratch);
    (void)norm_regex_cut(scratch);
    norm_set_batch_end(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!norm)
        setup();
    if (size > (1u << 20))
        return 0;
    one((const char *)data, size);
    if (size == 0)
        return 0;
    /* the first byte picks a program the shipped decoders accept, the
     * rest is its message */
    static const char *const progs[] = {"sshd[42]",         "sshd(pam_unix)[7]", "sudo",
                                        "su",               "kernel",            "cron[3]",
                                        "postfix/smtpd[9]", "dovecot",           "useradd[5]",
                                        "gdm-password",     "imap-login",        "httpd"};
    const char *prog = progs[data[0] % (sizeof(progs) / sizeof(progs[0]))];
    char *buf = malloc(size + 64);
    if (!buf)
        return 0;
    int h = snprintf(buf, 64, "<38>Jun 14 15:16:01 host %s: ", prog);
    memcpy(buf + h, data + 1, size - 1);
    one(buf, (size_t)h + size - 1);
    free(buf);
    return 0;
}
