/* rc_text.c: the canonical texts of temporal ext values (rc_event.h) read back into numbers,
 * for the encoders whose formats want numbers (protobuf, Debezium JSON). Strict: exactly the
 * forms the decoder writes, so a malformed value is an error rather than a guess. */
#include "rc_text.h"

/* "[-]HH:MM:SS[.f..]", hours two or more digits. */
bool rc_text_time(const uint8_t *s, size_t n, int64_t *micros, uint32_t *fsp) {
    bool neg = n > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0, h0 = i;
    uint64_t hours = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && i - h0 < 7) {
        hours = hours * 10 + (uint64_t)(s[i++] - '0');
    }
    uint32_t mm, ss, us;
    if (i - h0 < 2 || n - i < 6 || s[i] != ':' || s[i + 3] != ':' ||
        !rc_text_digits(s + i + 1, 2, &mm) || !rc_text_digits(s + i + 4, 2, &ss) || mm > 59 ||
        ss > 59 || !rc_text_fraction(s + i + 6, n - i - 6, &us, fsp)) {
        return false;
    }
    int64_t v = (int64_t)(((hours * 60 + mm) * 60 + ss) * 1000000 + us);
    *micros = neg ? -v : v;
    return true;
}

/* Days from 1970-01-01 to a proleptic Gregorian date. */
int64_t rc_text_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    uint64_t yoe = (uint64_t)(y - era * 400);
    uint64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

bool rc_text_timestamp(const uint8_t *s, size_t n, int64_t *epoch_us, uint32_t *fsp) {
    rc_datetime_t t;
    if (n < 20 || s[n - 1] != 'Z' || !rc_text_datetime(s, n - 1, &t) || t.month > 12 ||
        t.day > 31 || t.hour > 23 || t.minute > 59 || t.second > 59) {
        return false;
    }
    int64_t secs = (int64_t)t.hour * 3600 + t.minute * 60 + t.second;
    if (t.year != 0 || t.month != 0 || t.day != 0) {
        if (t.month == 0 || t.day == 0) {
            return false;
        }
        secs += rc_text_days_from_civil(t.year, t.month, t.day) * 86400;
    }
    *epoch_us = secs * 1000000 + t.micros;
    *fsp = t.fsp;
    return true;
}
