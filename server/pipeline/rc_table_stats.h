/* rc_table_stats.h: one pipeline's event counts per table and action, for /metrics.
 *
 * A pipeline keeps two: the reader counts the events it decodes (read: once per binlog rows
 * event, whose rows share a table and action), the worker the events that left the transforms
 * without any message (dropped by a script, or skipped after a script error) and the messages it
 * produces (produced, by the schema/table/action the transformed event has).
 * Tables are labelled "schema.table"; the action is insert, update, delete or other. At most
 * RC_TABLE_STATS_MAX tables are told apart, the rest are counted together under "_other", so
 * the number of series stays bounded. Each set has one counting thread, which updates counts
 * without a lock (relaxed atomics) and takes the set's mutex only to add a table; a scrape takes
 * it while it reads. */
#ifndef RC_TABLE_STATS_H
#define RC_TABLE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_err.h"

#define RC_TABLE_STATS_MAX 1000

typedef enum rc_table_count {
    RC_TABLE_READ = 0,
    RC_TABLE_PRODUCED,
    RC_TABLE_DROPPED,
    RC_TABLE_N_COUNTS,
} rc_table_count_t;

typedef struct rc_table_stats rc_table_stats_t;

rc_table_stats_t *rc_table_stats_new(void);
void rc_table_stats_destroy(rc_table_stats_t *t);

/* Counts the n events of buf (msgpack maps back to back) under kind; when same_table, they
 * all share the first one's table and action (the rows of one binlog rows event), which is then
 * the only one read. RC_ERR_NOMEM; RC_ERR_INVALID for a buffer that is not n maps (what was
 * counted stays). @thread the one thread that counts into t */
rc_err_t rc_table_stats_count(rc_table_stats_t *t, const uint8_t *buf, size_t len, uint32_t n,
                              bool same_table, rc_table_count_t kind);
/* Remembers the table and action of each of the n events of buf, for rc_table_stats_dropped;
 * counts nothing. Errors as rc_table_stats_count. @thread worker */
rc_err_t rc_table_stats_slots(rc_table_stats_t *t, const uint8_t *buf, size_t len, uint32_t n);
/* n + 1 marks 0, 1, .., n for rc_transform_chain_set_marks, so the run maps every input event
 * to its output count; NULL when out of memory. Valid until the next call. @thread worker */
uint32_t *rc_table_stats_event_marks(rc_table_stats_t *t, uint32_t n);
/* After the run: counts as dropped the input events (of the last rc_table_stats_slots, n of
 * them) whose mark did not move. @thread worker */
void rc_table_stats_dropped(rc_table_stats_t *t, uint32_t n);
/* Room for the offsets of n events in a buffer (where each one starts), filled by the caller
 * while it walks the buffer anyway; NULL when out of memory. @thread worker */
size_t *rc_table_stats_offsets(rc_table_stats_t *t, uint32_t n);
/* Counts as produced the n events of buf at those offsets. Each costs a look at its first keys
 * only, not a walk over the whole event. @thread worker */
rc_err_t rc_table_stats_produced(rc_table_stats_t *t, const uint8_t *buf, size_t len, uint32_t n);

/* Calls fn for each table and action seen, in the order first seen, with its counts.
 * @thread any */
typedef void (*rc_table_stats_fn)(void *arg, const char *table, const char *action,
                                  const uint64_t counts[RC_TABLE_N_COUNTS]);
void rc_table_stats_each(rc_table_stats_t *t, rc_table_stats_fn fn, void *arg);

#endif
