/* err.c - error codes and the first-error-wins user error record. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ts.h"

const char *ts_strerror(int code)
{
    switch (code) {
    case TS_OK: return "success";
    case TS_E_NOMEM: return "out of memory";
    case TS_E_INVAL: return "invalid argument";
    case TS_E_IO: return "I/O error";
    case TS_E_PARSE: return "parse error";
    case TS_E_LIMIT: return "limit reached";
    case TS_E_NOTFOUND: return "not found";
    case TS_E_KAFKA: return "Kafka error";
    case TS_E_CONFIG: return "configuration error";
    case TS_E_STOPPED: return "stopped";
    case TS_E_UNSUPPORTED: return "unsupported";
    case TS_E_STORE: return "storage error";
    default: return "unknown error";
    }
}

int ts_err_vset(struct ts_err *err, int code, const char *file, unsigned line, unsigned col,
                const char *fmt, va_list ap)
{
    if (!err || err->code != 0)
        return code;
    err->code = code;
    snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
    err->line = line;
    err->col = col;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return code;
}

int ts_err_set(struct ts_err *err, int code, const char *file, unsigned line, unsigned col,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_err_vset(err, code, file, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

void ts_err_clear(struct ts_err *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

void ts_err_format(const struct ts_err *err, char *buf, size_t len)
{
    if (!err->file[0])
        snprintf(buf, len, "error: %s", err->msg);
    else if (!err->line)
        snprintf(buf, len, "%s: error: %s", err->file, err->msg);
    else if (!err->col)
        snprintf(buf, len, "%s:%u: error: %s", err->file, err->line, err->msg);
    else
        snprintf(buf, len, "%s:%u:%u: error: %s", err->file, err->line, err->col, err->msg);
}
