/* rc_log.h: leveled logging to stderr.
 *
 * The macros check the level before any argument is formatted, so a disabled debug line
 * costs one load and a compare. Lines carry a UTC timestamp, the level and a component. */
#ifndef RC_LOG_H
#define RC_LOG_H

typedef enum rc_log_level {
    RC_LOG_ERROR = 0,
    RC_LOG_WARN = 1,
    RC_LOG_INFO = 2,
    RC_LOG_DEBUG = 3,
} rc_log_level_t;

extern int rc_log_level_current;

/* Parse "error|warn|info|debug"; returns -1 when the name is unknown. */
int rc_log_level_parse(const char *name);
void rc_log_set_level(rc_log_level_t level);
void rc_log_write(rc_log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define RC_LOG(level, comp, ...)                                                                   \
    do {                                                                                           \
        if ((int)(level) <= rc_log_level_current) {                                                \
            rc_log_write((level), (comp), __VA_ARGS__);                                            \
        }                                                                                          \
    } while (0)
#define rc_error(comp, ...) RC_LOG(RC_LOG_ERROR, comp, __VA_ARGS__)
#define rc_warn(comp, ...)  RC_LOG(RC_LOG_WARN, comp, __VA_ARGS__)
#define rc_info(comp, ...)  RC_LOG(RC_LOG_INFO, comp, __VA_ARGS__)
#define rc_debug(comp, ...) RC_LOG(RC_LOG_DEBUG, comp, __VA_ARGS__)

#endif
