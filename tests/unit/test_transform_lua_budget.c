/* test_transform_lua_budget.c: the LuaJIT engine's time budget (rc_script_lua.c) and the
 * rewrite that gives scripts their checks (rc_script_lua_tick.c).
 *
 * Under a budget a Lua script is compiled with a check in every loop body, function and label
 * a goto can jump back to: every form of endless run must be stopped within the budget, in
 * the interpreter and in compiled code (after the JIT warmed up on the same loops), with the
 * batch's other events still sent; a script that cannot carry the checks runs interpreted
 * under the hook and is stopped too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_script.h"
#include "rc_script_int.h"

#define BUDGET_MS 100

typedef struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp_t;

static void s(mp_t *m, const char *str) {
    msgpack_pack_str_with_body(&m->pk, str, strlen(str));
}

/* An insert into shop.TABLE of one row {id, status}, as the source writes it. */
static void pack_event(mp_t *m, const char *table) {
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, 7);
    s(m, "schema"), s(m, "shop");
    s(m, "table"), s(m, table);
    s(m, "action"), s(m, "insert");
    s(m, "before"), msgpack_pack_array(pk, 0);
    s(m, "after"), msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 2);
    s(m, "id"), msgpack_pack_uint64(pk, 7);
    s(m, "status"), s(m, "new");
    s(m, "meta"), msgpack_pack_map(pk, 1);
    s(m, "pipeline"), s(m, "p1");
    s(m, "kafka"), msgpack_pack_map(pk, 3);
    s(m, "topic"), s(m, "shop.orders");
    s(m, "key"), msgpack_pack_map(pk, 1);
    s(m, "id"), msgpack_pack_uint64(pk, 7);
    s(m, "headers"), msgpack_pack_map(pk, 0);
}

typedef struct batch {
    mp_t in;
    rc_span_t spans[64];
    bool runs[64];
    uint32_t n;
} batch_t;

/* A batch of the events of these tables. */
static void batch_of(batch_t *b, const char *const *tables, uint32_t n) {
    msgpack_sbuffer_init(&b->in.sb);
    msgpack_packer_init(&b->in.pk, &b->in.sb, msgpack_sbuffer_write);
    size_t at[64];
    for (uint32_t i = 0; i < n; i++) {
        at[i] = b->in.sb.size;
        pack_event(&b->in, tables[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        size_t end = i + 1 < n ? at[i + 1] : b->in.sb.size;
        b->spans[i] = (rc_span_t){(const uint8_t *)b->in.sb.data + at[i], end - at[i]};
        b->runs[i] = true;
    }
    b->n = n;
}

typedef struct run {
    msgpack_sbuffer out;
    rc_script_result_t res[64];
    rc_buf_t errs;
    double ms; /* how long the batch took */
} run_t;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void run_batch(void *vm, const batch_t *b, run_t *r) {
    msgpack_sbuffer_init(&r->out);
    r->errs = (rc_buf_t)RC_BUF_INIT;
    char why[512];
    double t0 = now_ms();
    if (rc_script_lua.transform_batch(vm, b->spans, b->runs, b->n, &r->out, r->res, &r->errs, why,
                                      sizeof(why)) != RC_OK) {
        fail_msg("the batch failed: %s", why);
    }
    r->ms = now_ms() - t0;
}

static void run_free(run_t *r) {
    msgpack_sbuffer_destroy(&r->out);
    rc_buf_free(&r->errs);
}

/* Event i of r failed with a message that contains want. */
static void expect_error(const run_t *r, uint32_t i, const char *want, const char *what) {
    if (r->res[i].status != RC_SCRIPT_FAILED) {
        fail_msg("%s: event %u: status %d, not failed", what, i, r->res[i].status);
    }
    const char *msg = r->errs.data + r->res[i].err_off;
    if (!strstr(msg, want)) {
        fail_msg("%s: event %u: got '%s', want '%s'", what, i, msg, want);
    }
}

static void expect_sent(const run_t *r, uint32_t i, const char *what) {
    if (r->res[i].status != RC_SCRIPT_SENT) {
        fail_msg("%s: event %u: status %d (%s)", what, i, r->res[i].status,
                 r->res[i].status == RC_SCRIPT_FAILED ? r->errs.data + r->res[i].err_off : "-");
    }
}

static void *vm_new(const char *src, unsigned budget_ms) {
    char errstr[1024];
    void *vm =
        rc_script_lua.create("t.lua", src, strlen(src), budget_ms, 0, errstr, sizeof(errstr));
    if (!vm) {
        fail_msg("%s: %s", src, errstr);
    }
    return vm;
}

/* The rewrite of src compiles: the engine runs src with the checks, compiled (not under the
 * hook). */
static void expect_rewritten(const char *src) {
    rc_buf_t out = RC_BUF_INIT;
    char why[256];
    if (rc_script_lua_instrument(src, strlen(src), &out, why, sizeof(why)) != RC_OK) {
        fail_msg("%s: not rewritten: %s", src, why);
    }
    lua_State *L = luaL_newstate();
    if (luaL_loadbufferx(L, out.data, out.len, "=t", "t") != 0) {
        fail_msg("%s: the rewrite does not compile: %s\n%.*s", src, lua_tostring(L, -1),
                 (int)out.len, out.data);
    }
    lua_close(L);
    rc_buf_free(&out);
}

/* rc_script_lua_instrument makes exactly want of src. */
static void expect_instrumented(const char *src, const char *want) {
    rc_buf_t out = RC_BUF_INIT;
    char why[256];
    if (rc_script_lua_instrument(src, strlen(src), &out, why, sizeof(why)) != RC_OK) {
        fail_msg("%s: %s", src, why);
    }
    if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0) {
        fail_msg("got '%.*s'\nwant '%s'", (int)out.len, out.data, want);
    }
    rc_buf_free(&out);
}

#define LOCAL "local __rowcast_tick = __rowcast_tick; "
#define TICK  " __rowcast_tick();"

static void test_lua_rewrite_puts_the_checks_on_the_same_lines(void **state) {
    (void)state;
    expect_instrumented("function transform(e)\n  while e do e = nil end\nend", LOCAL
                        "function transform(e)" TICK "\n  while e do" TICK " e = nil end\nend");
    expect_instrumented("for i = 1, 3 do end for k, v in pairs(t) do end repeat x() until y",
                        LOCAL "for i = 1, 3 do" TICK " end for k, v in pairs(t) do" TICK
                              " end repeat" TICK " x() until y");
    /* a `do` in the head is a function's loop's; a plain do block gets nothing */
    expect_instrumented("while (function() for i=1,2 do end end)() do do x() end end",
                        LOCAL "while (function()" TICK " for i=1,2 do" TICK " end end)() do" TICK
                              " do x() end end");
    /* methods, anonymous functions, varargs */
    expect_instrumented("function a.b:c(x, ...) end local f = function() end", LOCAL
                        "function a.b:c(x, ...)" TICK " end local f = function()" TICK " end");
    /* a label a statement follows gets a check (after its ';'); a label at a block's end, as
     * in `goto continue`, none (nothing can jump back to it, and a statement after it would
     * put it in the scope of the block's locals) */
    expect_instrumented("::a:: ::b:: x = 1 goto a", LOCAL "::a:: ::b::" TICK " x = 1 goto a");
    expect_instrumented("::a::; goto a", LOCAL "::a::;" TICK " goto a");
    expect_instrumented("for i = 1, 2 do if i then goto continue end local x = 1 ::continue:: end",
                        LOCAL "for i = 1, 2 do" TICK
                              " if i then goto continue end local x = 1 ::continue:: end");
    expect_instrumented("repeat ::l:: until x", LOCAL "repeat" TICK " ::l:: until x");
    /* goto is a name where no name follows */
    expect_instrumented("local goto = 1 goto = goto + 1", LOCAL "local goto = 1 goto = goto + 1");
    /* nothing in strings, comments and long brackets; numbers with signs in them */
    expect_instrumented("-- while true do end\n--[==[ function() ]] ]==] x = 'do \\' end'"
                        " .. \"for\\\"\" .. [[\nrepeat]] .. [=[ ]] ]=] .. 0x1p-4 .. 1e+5 .. .5",
                        LOCAL "-- while true do end\n--[==[ function() ]] ]==] x = 'do \\' end'"
                              " .. \"for\\\"\" .. [[\nrepeat]] .. [=[ ]] ]=] .. 0x1p-4 .. 1e+5 "
                              ".. .5");
    expect_instrumented("x = 'a\\z\n   b' while x do end",
                        LOCAL "x = 'a\\z\n   b' while x do" TICK " end");
    /* the local goes after a BOM and a #! line, which LuaJIT skips */
    expect_instrumented("#!/usr/bin/env rowcast\nwhile x do end",
                        "#!/usr/bin/env rowcast\n" LOCAL "while x do" TICK " end");
    expect_instrumented("\xef\xbb\xbfx = 1", "\xef\xbb\xbf" LOCAL "x = 1");

    /* the name is rowcast's: a script could assign or shadow it */
    rc_buf_t out = RC_BUF_INIT;
    char why[256];
    static const char reserved[] = "x = 1\nlocal __rowcast_tick = function() end";
    assert_int_equal(rc_script_lua_instrument(reserved, strlen(reserved), &out, why, sizeof(why)),
                     RC_ERR_INVALID);
    assert_string_equal(why, "2: the name __rowcast_tick is reserved by rowcast");
    rc_buf_free(&out);
}

/* What a script computes and where its errors are reported do not change with the checks. */
static void test_lua_rewrite_keeps_semantics_and_lines(void **state) {
    (void)state;
    static const char src[] =
        "local calls = 0 -- while true do end\n"
        "local function count(s) calls = calls + 1 return #s end\n"
        "local mt = {__index = function(t, k) return k * 2 end}\n"
        "function transform(e)\n"
        "  local s, i, t = 0, 0, 'for i = 1, 2 do end'\n"
        "  for j = 1, 4 do s = s + j end                           -- 10\n"
        "  for _, v in ipairs({1, 2}) do s = s + v end             -- 13\n"
        "  while i < 3 do i = i + 1 end s = s + i                  -- 16\n"
        "  repeat local y = i i = i + 1 until y >= 5 s = s + i     -- 22\n"
        "  i = 0 ::top:: i = i + 1 if i < 4 then goto top end s = s + i -- 26\n"
        "  for j = 1, 3 do if j == 2 then goto continue end local x = j s = s + x\n"
        "  ::continue:: end                                        -- 30\n"
        "  s = s + count(t) + setmetatable({}, mt)[3]              -- 55\n"
        "  s = s + select(2, ('ab'):gsub('.', function(c) return c end)) -- 57\n"
        "  e.after[1].s = s e.after[1].calls = calls\n"
        "  if e.table == 'bad' then error('bad table') end\n"
        "end\n";
    expect_rewritten(src);
    batch_t b;
    static const char *const tables[] = {"orders", "bad"};
    batch_of(&b, tables, 2);
    run_t r[2];
    for (int budget = 0; budget < 2; budget++) {
        void *vm = vm_new(src, budget ? 1000 : 0);
        run_batch(vm, &b, &r[budget]);
        expect_sent(&r[budget], 0, "rewrite");
        expect_error(&r[budget], 1, "t.lua:16: bad table", "rewrite");
        rc_script_lua.destroy(vm);
    }
    assert_int_equal(r[0].out.size, r[1].out.size);
    assert_memory_equal(r[0].out.data, r[1].out.data, r[0].out.size);
    /* calls = 1, s = 57 (keys a script adds go out sorted) */
    assert_non_null(memmem(r[1].out.data, r[1].out.size,
                           "\xa5"
                           "calls\x01\xa1s\x39",
                           10));
    run_free(&r[0]);
    run_free(&r[1]);
    msgpack_sbuffer_destroy(&b.in.sb);
}

/* Every case loops (or recurses) on line 4 without end for an orders event, and LIM times for
 * a warm event (enough for the JIT to compile the same code first). */
#define HEAD                                                                                       \
    "function transform(e)\n  if e.table == 'users' then return end\n"                             \
    "  local lim = e.table == 'warm' and 200 or 1/0\n"
static const char *const loop_cases[] = {
    HEAD "  local i = 0 while i < lim do i = i + 1 end\nend",
    HEAD "  local i = 0 repeat i = i + 1 until i >= lim\nend",
    HEAD "  local s = 0 for i = 1, lim do s = s + i end\nend",
    /* a generic for whose iterator never ends */
    HEAD "  local i = 0 for k in function() i = i + 1 if i <= lim then return i end end do end\n"
         "end",
    /* goto backwards */
    HEAD "  local i = 0 ::top:: i = i + 1 if i < lim then goto top end\nend",
    /* exponential recursion, no loop at all */
    HEAD "  local function f(d) if d > 0 then f(d - 1) f(d - 1) end end f(lim == 200 and 7 or 99)\n"
         "end",
    /* mutual tail recursion: a loop without a loop statement or a growing stack */
    HEAD "  local g local function f(i) if i < lim then return g(i + 1) end end g = function(i) "
         "return f(i) end f(0)\nend",
    /* the budget's error caught: every later check of the event raises it again */
    HEAD "  for n = 1, lim do pcall(function() local i = 0 while i < lim do i = i + 1 end end) "
         "end\nend",
    HEAD "  pcall(function() local i = 0 while i < lim do i = i + 1 end end) for i = 1, 2 do end\n"
         "end",
    /* loops in an error handler */
    HEAD "  for n = 1, lim do xpcall(error, function() local i = 0 while i < lim do i = i + 1 end "
         "end) end\nend",
    /* coroutines: one that yields forever, one that loops inside */
    HEAD "  local co = coroutine.wrap(function() while true do coroutine.yield() end end) for n = "
         "1, lim do co() end\nend",
    HEAD "  coroutine.wrap(function() local i = 0 while i < lim do i = i + 1 end end)()\nend",
    /* a metamethod that recurses through itself */
    HEAD "  local t = setmetatable({}, {__index = function(t, k) return k > 0 and t[k - 1] + "
         "t[k - 1] or 1 end}) local x = t[lim == 200 and 7 or 99]\nend",
    /* string.gsub's callback recursing through gsub */
    HEAD "  local function f(d) if d > 0 then ('xx'):gsub('.', function() f(d - 1) end) end end "
         "f(lim == 200 and 7 or 40)\nend",
    /* table.sort's comparator */
    HEAD "  local t = {} for i = 1, 20 do t[i] = i end for n = 1, lim do table.sort(t, "
         "function(a, b) return a < b end) end\nend",
};

static void test_lua_budget_stops_every_loop_form_interpreted_and_compiled(void **state) {
    (void)state;
    static const char *const warm[32] = {
        "warm", "warm", "warm", "warm", "warm", "warm", "warm", "warm", "warm", "warm", "warm",
        "warm", "warm", "warm", "warm", "warm", "warm", "warm", "warm", "warm", "warm", "warm",
        "warm", "warm", "warm", "warm", "warm", "warm", "warm", "warm", "warm", "warm"};
    static const char *const endless[] = {"orders", "users"};
    batch_t bw, be;
    batch_of(&bw, warm, 32);
    batch_of(&be, endless, 2);
    for (size_t k = 0; k < sizeof(loop_cases) / sizeof(loop_cases[0]); k++) {
        const char *src = loop_cases[k];
        expect_rewritten(src);
        for (int warmed = 0; warmed < 2; warmed++) {
            void *vm = vm_new(src, BUDGET_MS);
            rc_script_lua.set_budget(vm, 60000); /* (the warm-up's time is no test's) */
            for (int round = 0; warmed && round < 4; round++) { /* the JIT compiles the loops */
                run_t r;
                run_batch(vm, &bw, &r);
                for (uint32_t i = 0; i < bw.n; i++) {
                    expect_sent(&r, i, src);
                }
                run_free(&r);
            }
            rc_script_lua.set_budget(vm, BUDGET_MS);
            for (int round = 0; round < 2; round++) { /* the VM stays usable */
                run_t r;
                run_batch(vm, &be, &r);
                expect_error(&r, 0, "t.lua:4: the time budget of 100 ms per batch ran out", src);
                expect_sent(&r, 1, src);
                if (r.ms > 20 * BUDGET_MS) {
                    fail_msg("%s: stopped after %.0f ms", src, r.ms);
                }
                run_free(&r);
            }
            rc_script_lua.destroy(vm);
        }
    }
    msgpack_sbuffer_destroy(&bw.in.sb);
    msgpack_sbuffer_destroy(&be.in.sb);
}

/* The top level runs under the budget with the checks too: creating the VM fails, in time. */
static void test_lua_budget_stops_endless_top_levels(void **state) {
    (void)state;
    static const char *const srcs[] = {
        "x = 1\nwhile true do end",
        "x = 1\n::a:: x = x + 1 goto a",
        "local function f(d) if d > 0 then f(d - 1) f(d - 1) end end\nf(99)",
    };
    static const char *const want[] = {"t.lua:2: the time budget", "t.lua:2: the time budget",
                                       "t.lua:1: the time budget"};
    for (size_t k = 0; k < sizeof(srcs) / sizeof(srcs[0]); k++) {
        expect_rewritten(srcs[k]);
        char errstr[512] = "";
        double t0 = now_ms();
        void *vm = rc_script_lua.create("t.lua", srcs[k], strlen(srcs[k]), BUDGET_MS, 0, errstr,
                                        sizeof(errstr));
        if (vm || !strstr(errstr, want[k]) || now_ms() - t0 > 20 * BUDGET_MS) {
            fail_msg("%s: got '%s', want '%s'", srcs[k], errstr, want[k]);
        }
    }
}

/* A script that cannot carry the checks (it names rowcast's local, or a function of it has
 * LuaJIT's 120 upvalues already) runs under the hook, uncompiled, and is stopped too. */
static void test_lua_scripts_without_the_checks_run_under_the_hook(void **state) {
    (void)state;
    char upvalues[4096];
    int n = snprintf(upvalues, sizeof(upvalues), "local ");
    for (int i = 0; i < 120; i++) {
        n += snprintf(upvalues + n, sizeof(upvalues) - (size_t)n, "%sv%d", i ? ", " : "", i);
    }
    n += snprintf(upvalues + n, sizeof(upvalues) - (size_t)n, "\nlocal function f() return ");
    for (int i = 0; i < 120; i++) {
        n += snprintf(upvalues + n, sizeof(upvalues) - (size_t)n, "%sv%d", i ? ", " : "", i);
    }
    snprintf(upvalues + n, sizeof(upvalues) - (size_t)n,
             " end\nfunction transform(e)\n  if e.table == 'users' then return end\n"
             "  while true do end\nend");
    const char *const srcs[] = {
        "__rowcast_tick = 1\nfunction transform(e)\n  if e.table == 'users' then return end\n"
        "  while true do end\nend",
        upvalues,
    };
    static const char *const endless[] = {"orders", "users"};
    batch_t b;
    batch_of(&b, endless, 2);
    for (size_t k = 0; k < 2; k++) {
        rc_buf_t out = RC_BUF_INIT;
        char why[256];
        lua_State *L = luaL_newstate();
        bool rewritten =
            rc_script_lua_instrument(srcs[k], strlen(srcs[k]), &out, why, sizeof(why)) == RC_OK &&
            luaL_loadbufferx(L, out.data, out.len, "=t", "t") == 0;
        lua_close(L);
        rc_buf_free(&out);
        assert_false(rewritten);
        void *vm = vm_new(srcs[k], BUDGET_MS);
        run_t r;
        run_batch(vm, &b, &r);
        expect_error(&r, 0, "the time budget of 100 ms per batch ran out", srcs[k]);
        expect_sent(&r, 1, srcs[k]);
        run_free(&r);
        rc_script_lua.destroy(vm);
    }
    msgpack_sbuffer_destroy(&b.in.sb);
}

/* A budget lifted (set_budget 0) lifts it for a script with the checks: they count on, and
 * nothing stops a long loop. */
static void test_lua_budget_lifted_lets_checked_scripts_run(void **state) {
    (void)state;
    static const char src[] = "function transform(e)\n  local t0 = os.clock()\n"
                              "  while os.clock() - t0 < 0.25 do end\nend";
    static const char *const one[] = {"orders"};
    batch_t b;
    batch_of(&b, one, 1);
    void *vm = vm_new(src, BUDGET_MS);
    run_t r;
    run_batch(vm, &b, &r);
    expect_error(&r, 0, "t.lua:3: the time budget of 100 ms per batch ran out", src);
    run_free(&r);
    rc_script_lua.set_budget(vm, 0);
    run_batch(vm, &b, &r);
    expect_sent(&r, 0, src);
    run_free(&r);
    rc_script_lua.set_budget(vm, BUDGET_MS);
    run_batch(vm, &b, &r);
    expect_error(&r, 0, "t.lua:3: the time budget of 100 ms per batch ran out", src);
    run_free(&r);
    rc_script_lua.destroy(vm);
    msgpack_sbuffer_destroy(&b.in.sb);
}

/* Script code that rowcast runs while it writes the batch's results out (the __tostring of a
 * key the script added, by which added keys are sorted; the __index of a table transform
 * returned, asked for its schema) is stopped by the budget too, and fails its event alone.
 * (Regression: both ran without end, after the budget of the batch was no longer armed; an
 * error in them failed the whole batch as the VM's.) */
static void test_lua_budget_stops_metamethods_run_while_results_are_written(void **state) {
    (void)state;
    static const char *const srcs[] = {
        "function transform(e)\n  if e.table == 'users' then return end\n"
        "  e[setmetatable({}, {__tostring = function() while true do end end})] = 1 e.z = 1\nend",
        "function transform(e)\n  if e.table == 'users' then return end\n"
        "  return setmetatable({}, {__index = function() while true do end end})\nend",
        "function transform(e)\n  if e.table == 'users' then return end\n"
        "  e[setmetatable({}, {__tostring = function() error('no') end})] = 1 e.z = 1\nend",
    };
    static const char *const want[] = {
        "t.lua:3: the time budget of 100 ms per batch ran out",
        "t.lua:3: the time budget of 100 ms per batch ran out",
        "t.lua:3: no",
    };
    static const char *const endless[] = {"orders", "users"};
    batch_t b;
    batch_of(&b, endless, 2);
    for (size_t k = 0; k < sizeof(srcs) / sizeof(srcs[0]); k++) {
        for (int checked = 0; checked < 2; checked++) { /* with the checks, under the hook */
            void *vm = vm_new(srcs[k], checked ? BUDGET_MS : 0);
            if (!checked) {
                rc_script_lua.set_budget(vm, BUDGET_MS);
            }
            run_t r;
            run_batch(vm, &b, &r);
            expect_error(&r, 0, want[k], srcs[k]);
            expect_sent(&r, 1, srcs[k]);
            run_free(&r);
            rc_script_lua.destroy(vm);
        }
    }
    msgpack_sbuffer_destroy(&b.in.sb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lua_rewrite_puts_the_checks_on_the_same_lines),
        cmocka_unit_test(test_lua_rewrite_keeps_semantics_and_lines),
        cmocka_unit_test(test_lua_budget_stops_every_loop_form_interpreted_and_compiled),
        cmocka_unit_test(test_lua_budget_stops_endless_top_levels),
        cmocka_unit_test(test_lua_scripts_without_the_checks_run_under_the_hook),
        cmocka_unit_test(test_lua_budget_lifted_lets_checked_scripts_run),
        cmocka_unit_test(test_lua_budget_stops_metamethods_run_while_results_are_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
