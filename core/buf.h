/* buf.h - growable byte buffer with a hard cap, and JSON string escaping.
 * A ts_buf belongs to one thread. Appends past the cap fail with TS_E_LIMIT
 * and leave the buffer as it was before the failing append. */
#ifndef TS_BUF_H
#define TS_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct ts_buf {
    char *data; /* owned; NUL-terminated after every successful append */
    size_t len;
    size_t cap;   /* allocated */
    size_t limit; /* hard cap on len; 0 = 64 MiB */
};

void ts_buf_init(struct ts_buf *b, size_t limit);
void ts_buf_free(struct ts_buf *b);
void ts_buf_reset(struct ts_buf *b);
int ts_buf_reserve(struct ts_buf *b, size_t extra);
int ts_buf_append(struct ts_buf *b, const void *p, size_t n);
int ts_buf_puts(struct ts_buf *b, const char *s);
int ts_buf_putc(struct ts_buf *b, char c);
int ts_buf_printf(struct ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string with quotes. Invalid UTF-8 bytes become U+FFFD. */
int ts_buf_json_str(struct ts_buf *b, const char *s, size_t n);
/* Append s for display on a terminal, so that hostile text (log lines,
 * field values) can neither move the cursor, recolour, clear the screen nor
 * forge lines: printable ASCII and valid UTF-8 as they are; every control
 * character as a visible escape - \n \r \t, other C0 and DEL as \xNN
 * (\x1b), C1 (U+0080..U+009F), the Unicode bidi controls (U+061C, U+200E,
 * U+200F, U+202A..U+202E, U+2066..U+2069) and U+2028/U+2029 as \uNNNN; a
 * byte that is not UTF-8 as \xNN. A backslash is not doubled (the output is
 * for reading, not for parsing back). At most max bytes are appended (0: no
 * bound), never cutting an escape or a UTF-8 sequence; *cut (may be NULL)
 * is set when some of s was left out. */
int ts_buf_term_str(struct ts_buf *b, const char *s, size_t n, size_t max, bool *cut);
/* Append a field value as JSON. A float that is NaN or infinite (JSON has
 * no such number; e.g. 1e999 in a JSON event) is written as the string
 * "NaN", "Infinity" or "-Infinity". */
int ts_buf_json_value(struct ts_buf *b, const struct ts_value *v);
/* Append standard base64 of p. */
int ts_buf_base64(struct ts_buf *b, const void *p, size_t n);

/* Length of the valid UTF-8 prefix of s (== n when all valid). */
size_t ts_utf8_valid_prefix(const char *s, size_t n);

/* v in decimal into out (at least 21 bytes), NUL-terminated, as "%lld"
 * prints it, without printf (hot paths view integer fields as text).
 * Returns the length. */
size_t ts_fmt_i64(char *out, int64_t v);

#endif
