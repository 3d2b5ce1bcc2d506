/* bench_transform.c: what a transform costs per row, per engine.
 *
 * Builds N (default 200,000) insert events of a 10-column row (as bench_json does), cut into
 * batches of 1000, and times rc_transform_chain_run over them for: no script run (events
 * copied through: the floor), an identity script, and a script that masks one column, in
 * LuaJIT and in duktape, and a script that drops every event (what getting the events into the
 * engine costs, without writing them back). Prints CPU ns/row, the best of PASSES passes
 * after a warm-up; the identity figure minus the floor is the cost of crossing into the
 * engine and converting msgpack <-> script values.
 * Usage: bench_transform [rows] [batch size] [label filter, e.g. "lua" or "js mask"; "=LABEL"
 * runs only the case labelled LABEL, e.g. "=lua identity" without "lua identity, budget"]
 * On a shared machine count instructions instead (steadier than CPU time), e.g.
 *   valgrind --tool=callgrind --toggle-collect=lua_transform_batch bench_transform 10000 1000
 *   'lua mask'   (js: --toggle-collect=js_transform_batch; the lua count includes the floor's
 *   pass through the engine, which the label "zzz" measures alone) */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rc_event.h"
#include "rc_script.h"

static long BATCH = 1000;
#define PASSES 3

/* CPU time of the process: the machine the benchmark runs on may be shared, and wall time
 * then counts the time other processes held the CPU. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void str(msgpack_packer *pk, const char *s) {
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_event(msgpack_packer *pk, uint64_t i) {
    char t[64];
    msgpack_pack_map(pk, 7);
    str(pk, "schema"), str(pk, "shop");
    str(pk, "table"), str(pk, "orders");
    str(pk, "action"), str(pk, RC_ACTION_INSERT);
    str(pk, "before"), msgpack_pack_array(pk, 0);
    str(pk, "after"), msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 10);
    str(pk, "id"), msgpack_pack_uint64(pk, i + 1);
    str(pk, "customer_id"), msgpack_pack_int64(pk, (int64_t)(i * 7919 % 5000000));
    str(pk, "name"), str(pk, "Ann Example");
    str(pk, "email"), str(pk, "ann@example.com");
    str(pk, "status"), str(pk, "paid");
    str(pk, "qty"), msgpack_pack_uint64(pk, i % 17);
    str(pk, "price"), msgpack_pack_double(pk, 19.99);
    snprintf(t, sizeof(t), "%llu.50", (unsigned long long)(i % 100000));
    str(pk, "amount"), msgpack_pack_ext_with_body(pk, t, strlen(t), RC_EXT_DECIMAL);
    str(pk, "created"),
        msgpack_pack_ext_with_body(pk, "2024-02-29T13:01:02.500", 23, RC_EXT_DATETIME);
    str(pk, "note"), msgpack_pack_nil(pk);
    str(pk, "meta"), msgpack_pack_map(pk, 2);
    str(pk, "pipeline"), str(pk, "bench");
    str(pk, "timestamp"), msgpack_pack_uint64(pk, 1700000000000000ULL + i);
    str(pk, "kafka"), msgpack_pack_map(pk, 3);
    str(pk, "topic"), str(pk, "shop.orders");
    str(pk, "key"), msgpack_pack_map(pk, 1);
    str(pk, "id"), msgpack_pack_uint64(pk, i + 1);
    str(pk, "headers"), msgpack_pack_map(pk, 0);
}

typedef struct script {
    const char *label, *engine, *file, *src, *match_table;
    unsigned budget_ms; /* 0: none; pipelines run with transform_budget_ms (default 1000) */
} script_t;

static const script_t scripts[] = {
    {"no script run (floor)", "lua", "floor.lua", "function transform(e) end", "none", 0},
    {"lua identity", "lua", "identity.lua", "function transform(e) return ACTION_CONT end", NULL,
     0},
    {"lua mask email", "lua", "mask.lua",
     "function transform(e) local r = e.after[1]; r.email = '***' end", NULL, 0},
    {"lua drop", "lua", "drop.lua", "function transform(e) return ACTION_DROP end", NULL, 0},
    {"js drop", "js", "drop.js", "function transform(e) { return ACTION_DROP; }", NULL, 0},
    {"js identity", "js", "identity.js", "function transform(e) { return ACTION_CONT; }", NULL, 0},
    {"js mask email", "js", "mask.js", "function transform(e) { e.after[0].email = '***'; }", NULL,
     0},
    /* as pipelines run them (transform_budget_ms: 1000): Lua and JS scripts carry the loop
     * checks (rc_script_lua_tick.c, rc_script_js_tick.c); Lua's stay compiled */
    {"lua identity, budget", "lua", "identity.lua", "function transform(e) return ACTION_CONT end",
     NULL, 1000},
    {"lua mask email, budget", "lua", "mask.lua",
     "function transform(e) local r = e.after[1]; r.email = '***' end", NULL, 1000},
    {"js identity, budget", "js", "identity.js", "function transform(e) { return ACTION_CONT; }",
     NULL, 1000},
    {"js mask email, budget", "js", "mask.js",
     "function transform(e) { e.after[0].email = '***'; }", NULL, 1000},
    /* what users run to scrub a column: read it, call a UDF, set the result */
    {"lua mask_email udf", "lua", "udf.lua",
     "function transform(e) local r = e.after[1]; r.email = mask_email(r.email) end", NULL, 0},
    {"lua mask_email udf, budget", "lua", "udf.lua",
     "function transform(e) local r = e.after[1]; r.email = mask_email(r.email) end", NULL, 1000},
    /* reads one field and drops: what a field read costs over "js drop" */
    {"js drop by table", "js", "droptable.js",
     "function transform(e) { if (e.table === 'orders') return ACTION_DROP; }", NULL, 0},
};

int main(int argc, char **argv) {
    long rows = argc > 1 ? atol(argv[1]) : 200000;
    BATCH = argc > 2 && atol(argv[2]) > 0 ? atol(argv[2]) : 1000;
    const char *only = argc > 3 ? argv[3] : NULL;
    long batches = (rows + BATCH - 1) / BATCH;
    msgpack_sbuffer *in = calloc((size_t)batches, sizeof(*in));
    for (long b = 0; b < batches; b++) {
        msgpack_sbuffer_init(&in[b]);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &in[b], msgpack_sbuffer_write);
        for (long i = 0; i < BATCH; i++) {
            pack_event(&pk, (uint64_t)(b * BATCH + i));
        }
    }
    char dir[] = "/tmp/bench_transform_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("%ld rows of 10 columns, batches of %ld\n", batches * BATCH, BATCH);
    for (size_t s = 0; s < sizeof(scripts) / sizeof(scripts[0]); s++) {
        if (only && s > 0 &&
            (only[0] == '=' ? strcmp(scripts[s].label, only + 1) != 0
                            : !strstr(scripts[s].label, only))) {
            continue; /* the floor always runs: the other figures are read against it */
        }
        char path[256], errstr[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, scripts[s].file);
        FILE *f = fopen(path, "w");
        fputs(scripts[s].src, f);
        fclose(f);
        rc_transform_spec_t spec = {
            scripts[s].engine, path, NULL, scripts[s].match_table, scripts[s].budget_ms,
            (size_t)256 << 20, NULL, 0};
        rc_transform_chain_t *c = rc_transform_chain_new("bench", &spec, 1, NULL, RC_ON_ERROR_FAIL,
                                                         errstr, sizeof(errstr));
        if (!c) {
            fprintf(stderr, "%s\n", errstr);
            return 1;
        }
        msgpack_sbuffer work;
        msgpack_sbuffer_init(&work);
        double best = 0;
        /* the first pass warms up (JIT, buffers); the fastest of the others counts: on a
         * shared machine the slower passes measure the neighbours */
        for (long pass = 0; pass <= PASSES; pass++) {
            double t0 = now_s();
            for (long b = 0; b < batches; b++) {
                work.size = 0;
                msgpack_sbuffer_write(&work, in[b].data, in[b].size);
                uint32_t n = (uint32_t)BATCH, mark = 0;
                size_t off;
                if (rc_transform_chain_run(c, &work, &n, &mark, &off, errstr, sizeof(errstr)) !=
                    RC_OK) {
                    fprintf(stderr, "%s\n", errstr);
                    return 1;
                }
            }
            double dt = now_s() - t0;
            if (pass == 1 || (pass > 1 && dt < best)) {
                best = dt;
            }
        }
        printf("%-24s %8.0f ns/row (CPU time, best of %d passes)\n", scripts[s].label,
               best * 1e9 / (double)(batches * BATCH), PASSES);
        msgpack_sbuffer_destroy(&work);
        rc_transform_chain_destroy(c);
        unlink(path);
    }
    rmdir(dir);
    for (long b = 0; b < batches; b++) {
        msgpack_sbuffer_destroy(&in[b]);
    }
    free(in);
    return 0;
}
