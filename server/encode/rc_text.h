/* rc_text.h: temporal values' canonical text (rc_event.h) -> numbers.
 *   DATE "YYYY-MM-DD", DATETIME "YYYY-MM-DDTHH:MM:SS[.f]", TIMESTAMP the same with "Z" (UTC),
 *   TIME "[-]HH:MM:SS[.f]" (hours two or more digits); the fraction has 1 to 6 digits and its
 *   digit count is the column's fsp. Zero dates and zero parts are read as zeros.
 * @thread any (pure functions) */
#ifndef RC_TEXT_H
#define RC_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rc_datetime {
    uint32_t year, month, day, hour, minute, second;
    uint32_t micros; /* fraction of the second */
    uint32_t fsp;    /* digits of the fraction in the text, 0..6 */
} rc_datetime_t;

bool rc_text_date(const uint8_t *s, size_t n, rc_datetime_t *t);
bool rc_text_datetime(const uint8_t *s, size_t n, rc_datetime_t *t);
/* A TIME as signed microseconds. */
bool rc_text_time(const uint8_t *s, size_t n, int64_t *micros, uint32_t *fsp);
/* A TIMESTAMP as microseconds since the epoch; MySQL's zero TIMESTAMP gives 0. */
bool rc_text_timestamp(const uint8_t *s, size_t n, int64_t *epoch_us, uint32_t *fsp);
/* Days from 1970-01-01 to a proleptic Gregorian date. */
int64_t rc_text_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
