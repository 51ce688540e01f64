/* log.c - see log.h. The level is the only process-wide setting here; main
 * sets it before any thread starts, afterwards it is only read. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

static enum ts_log_level g_level = TS_LOG_INFO;

void ts_log_set_level(enum ts_log_level lvl)
{
    g_level = lvl;
}

enum ts_log_level ts_log_get_level(void)
{
    return g_level;
}

void ts_log(enum ts_log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    if (lvl > g_level)
        return;
    char line[2048];
    int n = snprintf(line, sizeof(line), "tocsin: %s: ", names[lvl]);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
