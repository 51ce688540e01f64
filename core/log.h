/* log.h - leveled logging to stderr. Thread-safe (one write per line).
 * Not for the hot path: count there and log rate-limited summaries. */
#ifndef TS_LOG_H
#define TS_LOG_H

enum ts_log_level { TS_LOG_ERROR = 0, TS_LOG_WARN, TS_LOG_INFO, TS_LOG_DEBUG };

/* Set once by main before threads start. */
void ts_log_set_level(enum ts_log_level lvl);
enum ts_log_level ts_log_get_level(void);
void ts_log(enum ts_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ts_error(...) ts_log(TS_LOG_ERROR, __VA_ARGS__)
#define ts_warn(...) ts_log(TS_LOG_WARN, __VA_ARGS__)
#define ts_info(...) ts_log(TS_LOG_INFO, __VA_ARGS__)
#define ts_debug(...) ts_log(TS_LOG_DEBUG, __VA_ARGS__)

#endif
