/* rc_gtid.h: GTID sets of both flavors, as values that can be parsed, added to, compared,
 * subtracted, merged and written back in one canonical form.
 *
 * MySQL: a set of (source UUID, tag) each with a sorted list of disjoint, non-adjacent
 * intervals of transaction numbers, written "uuid:1-5:7:tag:1-3,uuid2:9" (UUIDs lowercase and
 * in order; per UUID the untagged intervals first, then the tags (lowercase) in order).
 * MariaDB: per (domain, server) the highest sequence number seen, written "0-1-5,0-2-9,1-1-3"
 * in (domain, server) order. A MariaDB GTID d-s-n is contained in a set when the domain holds a
 * sequence number >= n (sequence numbers grow within a domain, as gtid_strict_mode ensures), so
 * a MariaDB set's connect state (one d-s-n per domain, the highest) is where a replica resumes.
 *
 * A set is a plain value owned by its creator: free it with rc_gtid_set_destroy.
 * @thread any (a set is not shared between threads without the owner's lock) */
#ifndef RC_GTID_H
#define RC_GTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_buf.h"
#include "rc_err.h"

typedef enum rc_gtid_flavor {
    RC_GTID_MYSQL = 1,
    RC_GTID_MARIADB = 2,
} rc_gtid_flavor_t;

#define RC_GTID_TAG_MAX 32 /* characters of a MySQL 8.4 tag */

typedef struct rc_gtid_set rc_gtid_set_t;

/* An empty set. NULL when out of memory. */
rc_gtid_set_t *rc_gtid_set_new(rc_gtid_flavor_t flavor);
void rc_gtid_set_destroy(rc_gtid_set_t *s);
rc_gtid_set_t *rc_gtid_set_copy(const rc_gtid_set_t *s);

rc_gtid_flavor_t rc_gtid_set_flavor(const rc_gtid_set_t *s);
bool rc_gtid_set_is_empty(const rc_gtid_set_t *s);

/* Adds every GTID of the text form (empty text: nothing) to s. Whitespace around items is
 * allowed. On a syntax error s is unchanged and errstr says which character and what was
 * expected. */
rc_err_t rc_gtid_set_parse(rc_gtid_set_t *s, const char *text, char *errstr, size_t errstr_size);

/* Guesses the flavor from the text: "d-s-n" items are MariaDB, "uuid:..." MySQL. Empty text is
 * neither: RC_ERR_INVALID. */
rc_err_t rc_gtid_guess_flavor(const char *text, rc_gtid_flavor_t *out);

/* Adds one GTID: "uuid:n", "uuid:tag:n" or "d-s-n". */
rc_err_t rc_gtid_set_add(rc_gtid_set_t *s, const char *gtid, char *errstr, size_t errstr_size);

/* Adds the interval [first, last] of one MySQL (uuid, tag) ("" = untagged); uuid is 16 bytes. */
rc_err_t rc_gtid_set_add_interval(rc_gtid_set_t *s, const uint8_t uuid[16], const char *tag,
                                  uint64_t first, uint64_t last);

/* Adds a MariaDB d-s-n. */
rc_err_t rc_gtid_set_add_maria(rc_gtid_set_t *s, uint32_t domain, uint32_t server, uint64_t seq);

/* True when the GTID (text) is in s; false for text that is not a GTID of s's flavor. */
bool rc_gtid_set_contains(const rc_gtid_set_t *s, const char *gtid);

/* dst = dst ∪ src; dst = dst − src. Both sets must have the same flavor (else RC_ERR_INVALID).
 * MariaDB subtraction keeps the entries of dst that src does not contain. */
rc_err_t rc_gtid_set_merge(rc_gtid_set_t *dst, const rc_gtid_set_t *src);
rc_err_t rc_gtid_set_subtract(rc_gtid_set_t *dst, const rc_gtid_set_t *src);

/* True when every GTID of a is in b (MariaDB: every entry of a is contained in b). */
bool rc_gtid_set_is_subset(const rc_gtid_set_t *a, const rc_gtid_set_t *b);
bool rc_gtid_set_equal(const rc_gtid_set_t *a, const rc_gtid_set_t *b);

/* Appends the canonical text (no NUL) to out. */
rc_err_t rc_gtid_set_format(const rc_gtid_set_t *s, rc_buf_t *out);

/* MariaDB: appends the connect state, one d-s-n per domain (the highest sequence number), in
 * domain order. MySQL: the same as rc_gtid_set_format. */
rc_err_t rc_gtid_set_format_connect(const rc_gtid_set_t *s, rc_buf_t *out);

/* MariaDB: the highest sequence number in domain, or 0 (and false) when the domain is absent. */
bool rc_gtid_set_domain_seq(const rc_gtid_set_t *s, uint32_t domain, uint64_t *seq);

/* Number of MariaDB entries / MySQL (uuid, tag) groups, and iteration over MariaDB entries in
 * (domain, server) order. */
size_t rc_gtid_set_count(const rc_gtid_set_t *s);
bool rc_gtid_set_maria_at(const rc_gtid_set_t *s, size_t i, uint32_t *domain, uint32_t *server,
                          uint64_t *seq);

/* MySQL: appends the binary encoding used by COM_BINLOG_DUMP_GTID and PREVIOUS_GTIDS: format v0
 * (8-byte little-endian count) without tags, v1 (version byte 1, 6-byte count, version byte 1,
 * each tsid with its tag length as a one-byte variable-length integer) with tags; per tsid the
 * 16-byte UUID, an 8-byte interval count and each interval as start and end + 1 (8 bytes each). */
rc_err_t rc_gtid_set_encode_mysql(const rc_gtid_set_t *s, rc_buf_t *out);

#endif
