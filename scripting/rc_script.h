/* rc_script.h: user transforms, engine-neutral (redis-style engine vtable).
 *
 * An engine (LuaJIT "lua", duktape "js") compiles one script that defines transform(cdc_event)
 * and runs it over a whole batch in one crossing: events go in as msgpack (rc_event.h) and
 * come out as msgpack, one result per input event (sent with its changes, dropped, fanned out,
 * or failed with a message that names the script file and line). Both engines share one value
 * mapping (README "Transforms"): numbers keep their msgpack type (float32/float64/int), integers
 * beyond 2^53 travel as decimal strings, str/bin/ext values are strings that keep their type,
 * maps keep their key order, and an identity transform reproduces the input byte for byte.
 *
 * A chain (rc_transform_chain_t) is a pipeline's ordered list of transforms with their
 * schema/table match patterns and error policy; the worker runs each batch through it.
 * @thread a VM is created on the main thread, then used by one worker thread for life. */
#ifndef RC_SCRIPT_H
#define RC_SCRIPT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_buf.h"
#include "rc_err.h"

/* One event's bytes inside a batch. */
typedef struct rc_span {
    const uint8_t *p;
    size_t len;
} rc_span_t;

typedef enum rc_script_status {
    RC_SCRIPT_SENT = 0, /* n_out >= 1 events were appended (1 = the event, more = fan-out) */
    RC_SCRIPT_DROPPED,  /* ACTION_DROP or an empty list: nothing appended */
    RC_SCRIPT_FAILED,   /* the script raised or returned something invalid: nothing appended;
                         * the message is errs->data[err_off .. err_off + err_len) */
    RC_SCRIPT_SKIPPED,  /* not run (did not match): the input bytes were copied unchanged */
} rc_script_status_t;

typedef struct rc_script_result {
    uint8_t status; /* rc_script_status_t */
    uint32_t n_out; /* events appended for this input */
    size_t end_off; /* out->size after this input's events */
    size_t err_off, err_len;
} rc_script_result_t;

/* An engine. create compiles src (the content of file, named in messages), runs its top
 * level in the sandbox (within budget_ms where the engine can interrupt it, and under the
 * memory cap memory_bytes; 0 = no limit) and checks it defines a function transform; on
 * failure (a top level that ran out of time or memory included) returns NULL and writes
 * "FILE:LINE: message" into errstr. transform_batch runs ev[i] through the
 * script when run[i] (else copies it to out unchanged), appends the results to out in input
 * order and fills res[i]; it returns an error only when the VM itself failed (out of memory).
 * destroy accepts NULL. */
typedef struct rc_script_engine {
    const char *name;
    void *(*create)(const char *file, const char *src, size_t len, unsigned budget_ms,
                    size_t memory_bytes, char *errstr, size_t errstr_size);
    rc_err_t (*transform_batch)(void *vm, const rc_span_t *ev, const bool *run, uint32_t n,
                                msgpack_sbuffer *out, rc_script_result_t *res, rc_buf_t *errs,
                                char *errstr, size_t errstr_size);
    void (*destroy)(void *vm);
    /* Optional (NULL when the engine cannot interrupt a script): limits the time scripts may
     * run per transform_batch call; past it, the running event fails with a message. 0 =
     * no limit. */
    void (*set_budget)(void *vm, unsigned ms);
    /* Optional: caps the memory the VM may hold (bytes; 0 = no cap). An allocation past it
     * fails inside the script, which fails the running event with a message that names the
     * cap; the VM stays usable once the script's garbage is collected. */
    void (*set_memory_limit)(void *vm, size_t bytes);
    /* Optional: the bytes the VM's heap holds now (what set_memory_limit caps). */
    size_t (*memory_used)(void *vm);
} rc_script_engine_t;

extern const rc_script_engine_t rc_script_lua;
extern const rc_script_engine_t rc_script_js;

/* The engine registered under name ("lua", "js"), or NULL. */
const rc_script_engine_t *rc_script_engine_find(const char *name);

/* Checks an event a script produced: a map whose kafka.topic is a valid Kafka topic name
 * (1..249 characters from A-Z a-z 0-9 . _ -). On failure writes a phrase into why. */
bool rc_script_check_event(const uint8_t *ev, size_t len, char *why, size_t why_size);
/* The same check on the event's kafka map alone (kafka[0..end)). */
bool rc_script_check_kafka(const uint8_t *kafka, const uint8_t *end, char *why, size_t why_size);

/* ---- chains ---- */

typedef struct rc_transform_chain rc_transform_chain_t;

typedef struct rc_transform_spec {
    const char *engine;       /* "lua" | "js" */
    const char *file;         /* script path; relative ones are resolved against base_dir */
    const char *match_schema; /* anchored POSIX extended regex, or NULL = any */
    const char *match_table;
    unsigned budget_ms;  /* time budget per batch where the engine supports one; 0 = none */
    size_t memory_bytes; /* memory cap of the script's VM; 0 = none */
    /* The script's text when it does not come from a file (POST /v1/transform/test): then
     * file only names the script in messages. NULL = read file. Not kept after _new. */
    const char *source;
    size_t source_len;
} rc_transform_spec_t;

typedef enum rc_on_error {
    RC_ON_ERROR_FAIL = 0,    /* the batch fails with the script's message */
    RC_ON_ERROR_SKIP,        /* the event is counted, logged (rate-limited) and not sent */
    RC_ON_ERROR_DEAD_LETTER, /* the event, as it entered the failing transform, goes to the
                              * dead-letter topic with the error in its headers */
} rc_on_error_t;

typedef struct rc_transform_stats {
    uint64_t dropped;       /* events a script dropped */
    uint64_t errors;        /* events skipped after a script error (on_error: skip) */
    uint64_t dead_lettered; /* events sent to the dead-letter topic (on_error: dead_letter) */
} rc_transform_stats_t;

/* Reads and compiles every script (also what --check does). `pipeline` names the chain in
 * messages. Returns NULL with "pipeline P: transforms[i]: FILE:LINE: message" in errstr.
 * The caller owns the chain; free it with rc_transform_chain_destroy. */
rc_transform_chain_t *rc_transform_chain_new(const char *pipeline, const rc_transform_spec_t *specs,
                                             size_t n, const char *base_dir, rc_on_error_t on_error,
                                             char *errstr, size_t errstr_size);
void rc_transform_chain_destroy(rc_transform_chain_t *c);

/* on_error: dead_letter. A failed event is sent to `topic` ({pipeline} is replaced by the
 * pipeline's name) instead of its own: the event as it entered the transform that failed,
 * its kafka.key kept, with the Kafka headers rowcast.error (the message), rowcast.transform
 * (the script file) and rowcast.topic (the topic it had). Later transforms of the chain
 * leave it alone. Fails with a sentence when the topic is not a valid Kafka topic name. */
rc_err_t rc_transform_chain_set_dead_letter(rc_transform_chain_t *c, const char *topic,
                                            char *errstr, size_t errstr_size);

/* Runs the n events in *buf (msgpack maps back to back) through the chain, replacing *buf's
 * content with the result and *n with the number of events in it. *mark is an event count of
 * the input (a transaction boundary); on return *mark and *mark_off are the event count and
 * byte offset in the output that hold exactly the results of those input events. Fails (and
 * leaves *buf unusable) when a script fails under on_error: fail, or the VM fails.
 * @thread worker */
rc_err_t rc_transform_chain_run(rc_transform_chain_t *c, msgpack_sbuffer *buf, uint32_t *n,
                                uint32_t *mark, size_t *mark_off, char *errstr, size_t errstr_size);

/* Asks the next rc_transform_chain_run to map n more input event counts (ascending: every
 * transaction boundary of the batch) to output event counts, in place, the way it maps *mark.
 * marks must stay valid until that run returns; a failed run leaves them undefined.
 * @thread worker */
void rc_transform_chain_set_marks(rc_transform_chain_t *c, uint32_t *marks, size_t n);

void rc_transform_chain_get_stats(rc_transform_chain_t *c, rc_transform_stats_t *out);

/* The bytes the chain's VMs hold now (the sum of what their memory caps count).
 * @thread the thread that runs the chain (or any before it runs) */
size_t rc_transform_chain_memory(rc_transform_chain_t *c);

/* The dry run behind `rowcast transform-test` and POST /v1/transform/test: runs the JSON
 * object event (a whole cdc_event, kafka included) through the script of spec exactly as a
 * pipeline would and appends each message it would produce to out as a JSON object
 * {"topic": ..., "key": ..., "value": ...}, sep between two of them; *n_out is their count
 * (0 = dropped). Fails with the message in errstr; *ran then says whether the script was
 * loaded and failed on the event (raised, timed out, returned something invalid) rather than
 * failed to load (unknown engine, compile error, top level raised). Messages name the script
 * as spec->file does, without the chain's "pipeline P: transforms[0]: " prefix.
 * @thread any (the VM lives and dies inside the call) */
struct fy_node;
rc_err_t rc_script_test(const rc_transform_spec_t *spec, struct fy_node *event, const char *sep,
                        rc_buf_t *out, uint32_t *n_out, bool *ran, char *errstr,
                        size_t errstr_size);

/* `rowcast transform-test ARGS` (argv[0] is "transform-test"); returns the exit status. */
int rc_script_cli_main(int argc, char **argv);

#endif
