/* ts.h - Tocsin core: error codes, the user-facing error record, small helpers.
 *
 * Every function in Tocsin returns 0 or a negative TS_E_* code. Failures a
 * user must act on (config, rules, CLI, input) also fill a struct ts_err: the
 * first error wins, later ones are ignored so that the root cause is shown.
 * Thread-safety: all functions here are reentrant.
 */
#ifndef TS_H
#define TS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum ts_errcode {
    TS_OK = 0,
    TS_E_NOMEM = -1,   /* allocation failed */
    TS_E_INVAL = -2,   /* invalid argument or input */
    TS_E_IO = -3,      /* read/write/open failed (errno kept in ts_err) */
    TS_E_PARSE = -4,   /* input could not be parsed */
    TS_E_LIMIT = -5,   /* a hard cap was reached */
    TS_E_NOTFOUND = -6,
    TS_E_KAFKA = -7,   /* librdkafka reported an error */
    TS_E_CONFIG = -8,  /* configuration error (details in ts_err) */
    TS_E_STOPPED = -9, /* the component was asked to stop */
    TS_E_UNSUPPORTED = -10,
    TS_E_STORE = -11,
};

/* A user-facing error: "file:line:col: error: message". line/col are 1-based;
 * 0 means unknown. */
struct ts_err {
    int code;          /* TS_E_* of the first error, 0 if none */
    char file[256];
    unsigned line;
    unsigned col;
    char msg[512];
};

const char *ts_strerror(int code);

/* Record an error unless one is already recorded (first error wins).
 * err may be NULL. Returns code so callers can `return ts_err_set(...)`. */
int ts_err_set(struct ts_err *err, int code, const char *file, unsigned line, unsigned col,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The same with a va_list, for the printf-like error helpers of loaders. */
int ts_err_vset(struct ts_err *err, int code, const char *file, unsigned line, unsigned col,
                const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
void ts_err_clear(struct ts_err *err);
/* Format as "file:line:col: error: msg" (parts omitted when unknown). */
void ts_err_format(const struct ts_err *err, char *buf, size_t len);

#define TS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TS_UNUSED(x) ((void)(x))

#endif
