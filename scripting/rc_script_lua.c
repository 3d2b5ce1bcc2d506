/* rc_script_lua.c: the LuaJIT engine ("engine: lua").
 *
 * One lua_State per script, sandboxed at creation: base (without load*, dofile, *fenv,
 * newproxy, collectgarbage), string (without dump), table, math, bit, and os.time/clock/date
 * only; no io, package/require, ffi, debug or jit. A batch is one protected C call that copies
 * the bytes of the events to run into one userdata and calls a small Lua driver once: it
 * makes each event a lazy proxy (see "events as lazy proxies": a field is converted when the
 * script reads it, untouched fields go back out as their bytes), pcalls transform per event
 * (one failing event does not stop the others) and tells C only about the events not sent
 * as they came; C writes the others' input bytes and packs the rest.
 * Maps remember their key order and each entry's msgpack type (see rc_script_int.h) in their
 * metatable, a "shape": {tags, key1, key2, ...} (arrays: {tags}), protected (getmetatable
 * gives false, setmetatable is refused) and shared by every table of the same keys and
 * types, so converting an event allocates no shape: shapes are interned by a signature (the
 * keys' msgpack bytes and the tags) in a cache that is dropped when it holds too many.
 * (A weak side table keyed by the tables, which this replaced, was where perf put most of
 * the ~20 us a 10-column event cost; making it afresh per batch only halved that.)
 * SQL NULL is the sentinel `null` (so assigning nil removes a key).
 *
 * Time budget: LuaJIT does not run hooks inside compiled traces (a compiled `while true do
 * end` would never be interrupted), so a script created under a budget is rewritten before it
 * is compiled (rc_script_lua_tick.c): every loop body, function and label a goto can jump
 * back to calls the prelude's tick, a count down that compiled code inlines (a few
 * instructions) and that calls over() every TICKS checks, which reads the clock and raises the
 * budget's error in the script once the batch's budget is spent; then every later check of
 * the event raises it too (pcall cannot keep a loop going), and the driver gives the next
 * event a fresh count. The script is compiled like one without a budget. A script the rewrite
 * cannot take (it names __rowcast_tick; the added local or upvalue passes one of LuaJIT's
 * limits), or a VM given a budget only after it was created, gets the way this engine had
 * before: an instruction-count hook checks the clock, and every function of the script's chunk
 * is marked not to be compiled (LUAJIT_MODE_ALLFUNC; a trace that reaches one stops there), so
 * the script runs interpreted and the hook sees its loops (each bytecode then pays the hook's
 * dispatch: an identity transform cost ~1,100 instructions an event that way, ~640 with the
 * checks).
 *
 * Memory cap: the VM's allocator counts the heap and, while the user's script runs, refuses
 * to grow it past the cap; Lua raises "not enough memory" in the script, which fails that
 * event. Converting the fields a script reads happens while it runs and is capped; the
 * conversions around the script are not (they are bounded by the batch). The top level runs
 * under the cap too (setup_main).
 * LuaJIT does not collect garbage when an allocation fails, so the driver collects after a
 * script ran out, and a full collection runs after a batch that left the heap above half
 * the cap. Once the cap is hit, a slack of an eighth of it (at least 1 MiB) lets the error
 * unwind and the collector work until the heap is back under the cap. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <luajit.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_mp.h"
#include "rc_script.h"
#include "rc_script_int.h"
#include "rc_udf.h"

typedef struct lvm {
    lua_State *L;
    char *file;
    int ref_shapes, ref_evmt, ref_driver, ref_transform, ref_cont, ref_drop, ref_sort, ref_relief,
        ref_cap, ref_chunk; /* ref_chunk: the script's main function (0: not loaded yet) */
    int ref_tick;           /* the prelude's tick (what rewritten scripts call) */
    unsigned budget_ms;
    bool ticked; /* the script carries the budget's checks: no hook, compiled (see "Time budget") */
    int64_t deadline_ns;               /* CLOCK_MONOTONIC; 0 = no script running under a budget */
    msgpack_sbuffer udf_args, udf_res; /* reused by every UDF call: no malloc per call */
    bool in_udf;
    size_t mem_used, mem_limit; /* bytes the Lua heap holds; the cap (0 = none) */
    bool mem_capped;            /* the cap applies: only while the user's script runs */
    bool mem_overdraft; /* the cap was hit: a little more is allowed until the garbage is gone */
    rc_buf_t sig;       /* signatures of the shapes being converted (a stack: nested ones on top) */
    unsigned n_shapes;  /* entries in the shape cache (registry ref_shapes) */
    /* the signature of the shape set last and the shape (registry ref_last_shape): the same
     * shape again (the list of one row that after and before are) skips the cache */
    char last_sig[32];
    size_t last_sig_len; /* 0: none */
    int ref_last_shape;
    uint32_t *evj;     /* per event of a batch: its number in the driver (0: not run) */
    uint32_t evj_cap;  /* (grown to the largest batch) */
    uint32_t *touched; /* the places in evstate set (evj_cap of room), cleared per batch */
    /* (evj_cap of room) a batch's index of its events' bytes and the runs of them to copy,
     * made in one pass before the userdata they go into (see batch_main) */
    struct bud_ev *scr_ev;
    struct bud_run *scr_run;
    uint32_t n_touched;
    void **evstate; /* per number: the state the event got when it was indexed (EV_TOUCHED_WHOLE:
                       it was converted whole), or NULL: not touched */
    const void *cur_bud; /* the running batch's bytes (a bud_t) */
    const void *cur_bmt; /* the running batch's metatable of events (its list: ref_cur_evs) */
    const void *not_bmt; /* a metatable last found not to be a batch's (reset per batch) */
    int ref_cur_evs;
    int ref_x[3];         /* the driver's xs, xr, xe (see prelude) */
    uint32_t x_cap;       /* the events they have room for */
    const void *peek_bud; /* what proxy_peek last found for an event not indexed yet */
    uint32_t peek_j;
    rc_script_pool_t pool;   /* the heap's small blocks */
    const void *evmt;        /* the metatable of event proxies (registry ref_evmt) */
    const void *cont, *drop; /* ACTION_CONT and ACTION_DROP (the registry keeps them) */
    /* the last valid kafka sent untouched (see untouched_ev_check): its key, then the head of
     * its value: map, "topic", its topic */
    uint8_t kafka[6 + 7 + 2 + 249];
    uint32_t topic_len; /* bytes of the value's head; 0: none */
    uint32_t kafka_at;  /* where that value was in its event */
} lvm_t;

#define SHAPE_CACHE_MAX 4096

/* The checks of a rewritten script between two reads of the clock (as in JS). */
#define TICKS     1024
#define TICKS_STR "1024"

/* The key under which a shape holds its kind (SHAPE_MAP or SHAPE_ARRAY): a light userdata
 * no script can make, so no user metatable passes for a shape. */
static const char shape_key;
enum { SHAPE_MAP = 1, SHAPE_ARRAY = 2, SHAPE_EVENT = 3 /* the metatable of event proxies */ };

/* The key under which an indexed event proxy holds its state (see "events as lazy proxies"): a
 * userdata that starts with its kind, UD_EVENT (an evproxy_t follows). An event not indexed yet
 * is an empty table whose metatable is its batch's (see batch_main): that holds, under bud_key,
 * the batch's bytes (UD_BATCH: a bud_t), under evs_key the batch's list of events (evs[0]: the
 * number of the event transform runs on) and, once one was looked for there, under rev_key the
 * reverse of that list (event -> number). */
static const char ev_key, bud_key, evs_key, rev_key;
enum { UD_EVENT = 1, UD_BATCH = 2 };
#define EV_TOUCHED_WHOLE ((void *)&rev_key) /* evstate of an event converted whole */
#define UD_HDR           16                 /* the kind, keeping what follows 16-byte aligned */

/* Pushes a new userdata of that kind and gives the size bytes after its header. */
static void *new_ud(lua_State *L, uint32_t kind, size_t size) {
    uint32_t *u = lua_newuserdata(L, UD_HDR + size);
    *u = kind;
    return (char *)u + UD_HDR;
}

/* The VM running on this thread (a VM runs on one thread at a time), for the hook. */
static __thread lvm_t *running_vm;

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void budget_hook(lua_State *L, lua_Debug *ar) {
    lvm_t *vm = running_vm;
    if (!vm || vm->deadline_ns == 0 || mono_ns() < vm->deadline_ns) {
        return;
    }
    /* only inside the user's script: the driver's own code must not raise */
    if (lua_getinfo(L, "S", ar) && strcmp(ar->source, "=rowcast") == 0) {
        return;
    }
    luaL_where(L, 0); /* in a hook, level 0 is the script's running function */
    lua_pushfstring(L, "the time budget of %d ms per batch ran out", (int)vm->budget_ms);
    lua_concat(L, 2);
    lua_error(L);
}

/* The VM's allocator: counts what the Lua heap holds and refuses to grow it past the cap
 * (Lua then raises "not enough memory" in the script). Shrinking fails only when the system
 * is out of memory (a block that moves into the pool may need a new slab). Small blocks come
 * from the VM's pool (rc_script_pool_t): Lua tells the allocator each block's size.
 * lua_vm_alloc takes the common cases (a small block freed, or made under the cap from a class
 * that has one free) without a call or a saved register; the rest comes here. */
static __attribute__((noinline)) void *lua_vm_alloc_slow(lvm_t *vm, void *ptr, size_t osize,
                                                         size_t nsize) {
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        rc_script_pool_free(&vm->pool, ptr, old);
        vm->mem_used -= old;
        return NULL;
    }
    if (vm->mem_capped && nsize > old) {
        /* past the cap, the error and the collection after it may still need a little */
        size_t slack = vm->mem_limit / 8 > (1 << 20) ? vm->mem_limit / 8 : (1 << 20);
        size_t cap = vm->mem_limit + (vm->mem_overdraft ? slack : 0);
        if (vm->mem_used - old + nsize > cap) {
            vm->mem_overdraft = true;
            return NULL;
        }
    }
    void *p = ptr ? rc_script_pool_realloc(&vm->pool, ptr, old, nsize)
                  : rc_script_pool_alloc(&vm->pool, nsize);
    if (p) {
        vm->mem_used = vm->mem_used - old + nsize;
    }
    return p;
}

static void *lua_vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    lvm_t *vm = ud;
    if (nsize == 0) {
        if (ptr && osize - 1 < RC_SCRIPT_POOL_MAX) { /* (0 < osize <= max) */
            rc_script_pool_push(&vm->pool, ptr, osize);
            vm->mem_used -= osize;
            return NULL;
        }
    } else if (!ptr && nsize <= RC_SCRIPT_POOL_MAX &&
               (!vm->mem_capped || vm->mem_used + nsize <= vm->mem_limit)) { /* (under the cap) */
        void *p = rc_script_pool_pop(&vm->pool, nsize);
        if (p) {
            vm->mem_used += nsize;
            return p;
        }
    }
    return lua_vm_alloc_slow(vm, ptr, osize, nsize);
}

/* relief(): after a script ran out of memory, collects its garbage with the cap lifted (the
 * collector may allocate while it shrinks its tables). */
static int l_relief(lua_State *L) {
    lvm_t *vm = lua_touserdata(L, lua_upvalueindex(1));
    bool capped = vm->mem_capped;
    vm->mem_capped = false;
    lua_gc(L, LUA_GCCOLLECT, 0);
    vm->mem_capped = capped;
    vm->mem_overdraft = vm->mem_used > vm->mem_limit; /* still above: a global holds it */
    return 0;
}

/* cap(on): the driver puts the script under the memory cap (on) or lifts it. */
static int l_cap(lua_State *L) {
    lvm_t *vm = lua_touserdata(L, lua_upvalueindex(1));
    vm->mem_capped = lua_toboolean(L, 1) && vm->mem_limit > 0;
    return 0;
}

static void lua_vm_set_memory_limit(void *opaque, size_t bytes) {
    lvm_t *vm = opaque;
    vm->mem_limit = bytes;
}

static size_t lua_vm_memory_used(void *opaque) {
    return ((lvm_t *)opaque)->mem_used;
}

/* Under a budget the functions of a script without the checks (every function of its chunk)
 * are never compiled, so the hook sees every loop of theirs; rowcast's driver still is. */
static void script_jit(lvm_t *vm) {
    if (vm->ref_chunk) {
        lua_rawgeti(vm->L, LUA_REGISTRYINDEX, vm->ref_chunk);
        luaJIT_setmode(vm->L, -1,
                       LUAJIT_MODE_ALLFUNC |
                           (vm->budget_ms > 0 && !vm->ticked ? LUAJIT_MODE_OFF : LUAJIT_MODE_ON));
        lua_pop(vm->L, 1);
    }
}

static void lua_vm_set_budget(void *opaque, unsigned ms) {
    lvm_t *vm = opaque;
    vm->budget_ms = ms;
    if (ms > 0 && !vm->ticked) {
        lua_sethook(vm->L, budget_hook, LUA_MASKCOUNT, 1000);
    } else {
        lua_sethook(vm->L, NULL, 0, 0);
    }
    script_jit(vm);
}

/* over(): what the prelude's tick calls once its count of checks ran out (every TICKS
 * checks of a script that carries them): raises the budget's error at the script's line (level
 * 2: tick's caller) once the running batch's budget is spent, else gives the next count. */
static int l_over(lua_State *L) {
    lvm_t *vm = lua_touserdata(L, lua_upvalueindex(1));
    if (vm->deadline_ns != 0 && mono_ns() >= vm->deadline_ns) {
        luaL_where(L, 2);
        lua_pushfstring(L, "the time budget of %d ms per batch ran out", (int)vm->budget_ms);
        lua_concat(L, 2);
        return lua_error(L);
    }
    lua_pushinteger(L, TICKS);
    return 1;
}

/* What the conversion functions need; lives on the C stack of one call. */
typedef struct cx {
    lvm_t *vm;
    lua_State *L;
    msgpack_packer pk;
    bool lazy; /* maps become lazy proxies (what a script reads of an event) */
    /* the next value push_value converts fills its bytes [*p, end) exactly (its end is
     * known, so a map there can become a proxy without walking it first) */
    bool exact;
    char why[512];
} cx_t;

/* table.foreach on top of pairs (the library's own would show a proxy's hidden key). */
static const char foreach_src[] =
    "local pairs = pairs\n"
    "table.foreach = function(t, f)\n"
    "  for k, v in pairs(t) do local r = f(k, v) if r ~= nil then return r end end\n"
    "end\n";

/* The driver runs a batch: it makes the batch's events (lazy proxies: see "events as lazy
 * proxies": empty tables with the batch's metatable bmt) with the cap lifted, then calls
 * transform per event under the cap (a pcall each, so one failing event does not stop the
 * others; evs[0] tells C which event runs). An event transform returned nothing, ACTION_CONT
 * or itself for leaves no trace: C sends it as it came, or packs it when the script touched it
 * (C saw that: vm->evstate) and writes nothing here. Every other outcome is an exception: the
 * run notes it at the event's number (xr[j]: what transform returned, xe[j]: the error), and
 * the driver then compacts them: xs[k] is the event's number (negative: dropped), xr[k] what
 * to send, xe[k] the error. xs, xr and xe serve every batch (made again only for a larger one:
 * making them cost the nil-filling of their slots each batch, or after a batch that failed
 * midway, which may leave outcomes in them) and have room for every event, so nothing here
 * allocates under the cap but the events' own work; xr and xe are empty when a batch starts:
 * the driver lets go of the outcomes it moved, C of the exceptions it read. */
static const char prelude[] =
    "local over = ...\n"
    "local setmetatable, pcall, tostring, sort, error, type = setmetatable, pcall, "
    "tostring, table.sort, error, type\n"
    "-- the check of rewritten scripts (rc_script_lua_tick.c): one count down, inlined where\n"
    "-- the script is compiled; over() reads the clock when it runs out (n stays negative\n"
    "-- when over raised the budget's error: every later check of the event raises it too)\n"
    "local n = " TICKS_STR "\n"
    "local function tick()\n"
    "  local k = n - 1\n"
    "  n = k\n"
    "  if k < 0 then n = over() end\n"
    "end\n"
    "local function const(name)\n"
    "  return setmetatable({}, {__tostring = function() return name end, __metatable = false,\n"
    "    __newindex = function() error(name .. ' is read-only', 2) end})\n"
    "end\n"
    "local CONT, DROP = const('ACTION_CONT'), const('ACTION_DROP')\n"
    "local function driver(fn, m, bmt, evs, xs, xr, xe, relief, cap)\n"
    "  for j = 1, m do evs[j] = setmetatable({}, bmt) end\n"
    "  cap(true)\n"
    "  for j = 1, m do -- (the script's part)\n"
    "    evs[0] = j\n"
    "    if n < 0 then n = " TICKS_STR " end -- (the one before ran out of time)\n"
    "    local e = evs[j]\n"
    "    local ok, r = pcall(fn, e)\n"
    "    if not ok then\n"
    "      if r == 'not enough memory' then relief() end -- collect the event's garbage\n"
    "      local sok, s = pcall(tostring, r)\n"
    "      xe[j] = sok and s or (type(s) == 'string' and s or 'not enough memory')\n"
    "    elseif r ~= nil and r ~= CONT and r ~= e then\n"
    "      xr[j] = r\n"
    "    end\n"
    "  end\n"
    "  cap(false)\n"
    "  -- the outcomes, compacted in place (slot nx <= j was read and let go already)\n"
    "  local nx = 0\n"
    "  for j = 1, m do\n"
    "    local r, err = xr[j], xe[j]\n"
    "    if err ~= nil then\n"
    "      xe[j] = nil; nx = nx + 1; xs[nx] = j; xe[nx] = err\n"
    "    elseif r ~= nil then\n"
    "      xr[j] = nil; nx = nx + 1\n"
    "      if r == DROP then xs[nx] = -j else xs[nx] = j; xr[nx] = r end\n"
    "    elseif #evs[j] ~= 0 then -- (table.insert writes raw: C would not see it)\n"
    "      nx = nx + 1; xs[nx] = j; xr[nx] = evs[j]\n"
    "    end\n"
    "  end\n"
    "  return nx\n"
    "end\n"
    "local function sortkeys(t) sort(t, function(a, b) return tostring(a) < tostring(b) end) end\n"
    "return CONT, DROP, driver, sortkeys, tick\n";

/* ---- msgpack -> Lua ---- */

static int push_value(cx_t *c, const uint8_t **p, const uint8_t *end, int depth, uint8_t *tag);

/* Gives the table at t (on top of the stack) the shape of signature sig: from the cache, or
 * made from the signature's keys and the n tags and cached. */
static int set_shape(cx_t *c, int t, const char *sig, size_t sig_len, bool map, const uint8_t *tags,
                     uint32_t n) {
    lua_State *L = c->L;
    lvm_t *vm = c->vm;
    if (sig_len == vm->last_sig_len && memcmp(sig, vm->last_sig, sig_len) == 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_last_shape);
        lua_setmetatable(L, t);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_shapes);
    int cache = lua_gettop(L);
    lua_pushlstring(L, sig, sig_len);
    lua_pushvalue(L, -1);
    lua_rawget(L, cache);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        if (vm->n_shapes >= SHAPE_CACHE_MAX) { /* shapes in use stay with their tables */
            lua_newtable(L);
            lua_rawseti(L, LUA_REGISTRYINDEX, vm->ref_shapes);
            lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_shapes);
            lua_replace(L, cache);
            vm->n_shapes = 0;
        }
        lua_createtable(L, map ? (int)n + 1 : 1, 2);
        int shape = lua_gettop(L);
        lua_pushlstring(L, (const char *)tags, n);
        lua_rawseti(L, shape, 1);
        const uint8_t *k = (const uint8_t *)sig + 1, *kend = (const uint8_t *)sig + sig_len;
        for (uint32_t i = 0; map && i < n; i++) {
            uint8_t ktag;
            if (push_value(c, &k, kend, 0, &ktag) != 0) { /* read back: cannot fail */
                return -1;
            }
            lua_rawseti(L, shape, (int)i + 2);
            k++; /* the entry's tag */
        }
        lua_pushlightuserdata(L, (void *)&shape_key);
        lua_pushinteger(L, map ? SHAPE_MAP : SHAPE_ARRAY);
        lua_rawset(L, shape);
        lua_pushboolean(L, 0);
        lua_setfield(L, shape, "__metatable");
        lua_pushvalue(L, cache + 1);
        lua_pushvalue(L, shape);
        lua_rawset(L, cache); /* cache[sig] = shape */
        lua_pushvalue(L, shape);
        vm->n_shapes++;
    }
    if (sig_len <= sizeof(vm->last_sig)) {
        lua_pushvalue(L, -1);
        lua_rawseti(L, LUA_REGISTRYINDEX, vm->ref_last_shape);
        memcpy(vm->last_sig, sig, sig_len);
        vm->last_sig_len = sig_len;
    }
    lua_setmetatable(L, t);
    lua_settop(L, t);
    return 0;
}

static int push_map_proxy(cx_t *c, const uint8_t *start, const uint8_t *end, int depth, bool exact,
                          const uint8_t **p);

static int push_value(cx_t *c, const uint8_t **p, const uint8_t *end, int depth, uint8_t *tag) {
    lua_State *L = c->L;
    const uint8_t *start = *p;
    bool exact = c->exact;
    c->exact = false;
    mpv_t v;
    if (rc_script_mp_next(p, end, &v) != RC_OK) {
        snprintf(c->why, sizeof(c->why), "the event is not valid msgpack");
        return -1;
    }
    *tag = rc_script_tag_of(&v);
    switch (v.kind) {
    case MPV_NIL:
        lua_pushlightuserdata(L, NULL);
        return 0;
    case MPV_BOOL:
        lua_pushboolean(L, v.b);
        return 0;
    case MPV_UINT:
    case MPV_INT:
        if (*tag == TAG_INT) {
            lua_pushnumber(L, v.kind == MPV_UINT ? (double)v.u : (double)v.i);
        } else {
            char b[32];
            int n = rc_script_format_int(&v, b, sizeof(b));
            lua_pushlstring(L, b, (size_t)n);
        }
        return 0;
    case MPV_F32:
    case MPV_F64:
        lua_pushnumber(L, v.d);
        return 0;
    case MPV_EXT:
        if (v.ext < 0) {
            snprintf(c->why, sizeof(c->why), "ext type %d is not supported", v.ext);
            return -1;
        }
        /* fall through */
    case MPV_STR:
    case MPV_BIN:
        lua_pushlstring(L, v.s, v.n);
        return 0;
    case MPV_ARRAY:
    case MPV_MAP:
        break;
    }
    if (depth >= RC_SCRIPT_MAX_DEPTH) {
        snprintf(c->why, sizeof(c->why), "values nest deeper than %d levels", RC_SCRIPT_MAX_DEPTH);
        return -1;
    }
    bool map = v.kind == MPV_MAP;
    luaL_checkstack(L, 8, "nesting");
    if (map && c->lazy) {
        int prc = push_map_proxy(c, start, end, depth, exact, p);
        if (prc != 0) {
            return prc < 0 ? -1 : 0;
        }
    }
    uint8_t small[64], *tags = small;
    if (v.n > sizeof(small)) {
        tags = lua_newuserdata(L, v.n); /* scratch, collected with the batch */
    }
    int scratch = tags != small;
    lua_createtable(L, map ? 0 : (int)v.n, map ? (int)v.n : 0);
    int t = lua_gettop(L);
    /* the signature: kind, then per entry the key's msgpack bytes (maps) and the tag */
    rc_buf_t *sig = &c->vm->sig;
    if (depth == 0) {
        sig->len = 0; /* a conversion that failed may have left its part */
    }
    size_t sig_start = sig->len;
    if (rc_buf_putc(sig, map ? 'm' : 'a') != RC_OK) {
        snprintf(c->why, sizeof(c->why), "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < v.n; i++) {
        uint8_t ktag;
        if (map) {
            const uint8_t *k = *p;
            if (push_value(c, p, end, depth + 1, &ktag) != 0) {
                return -1;
            }
            if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
                snprintf(c->why, sizeof(c->why), "map keys must be strings or numbers");
                return -1;
            }
            if (rc_buf_append(sig, k, (size_t)(*p - k)) != RC_OK) {
                snprintf(c->why, sizeof(c->why), "out of memory");
                return -1;
            }
        }
        c->exact = exact && i + 1 == v.n; /* the last entry ends where its container does */
        if (push_value(c, p, end, depth + 1, &tags[i]) != 0) {
            return -1;
        }
        if (rc_buf_putc(sig, (char)tags[i]) != RC_OK) {
            snprintf(c->why, sizeof(c->why), "out of memory");
            return -1;
        }
        if (map) {
            lua_rawset(L, t);
        } else {
            lua_rawseti(L, t, (int)i + 1);
        }
    }
    if (set_shape(c, t, sig->data + sig_start, sig->len - sig_start, map, tags, v.n) != 0) {
        return -1;
    }
    sig->len = sig_start;
    if (scratch) {
        lua_remove(L, t - 1);
    }
    return 0;
}

/* ---- Lua -> msgpack ---- */

static int pack_value(cx_t *c, int idx, uint8_t tag, int depth, const char *key);

static int pack_key(cx_t *c, int idx) {
    switch (lua_type(c->L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(c->L, idx, &n);
        msgpack_pack_str(&c->pk, n);
        msgpack_pack_str_body(&c->pk, s, n);
        return 0;
    }
    case LUA_TNUMBER:
        rc_script_pack_number(&c->pk, lua_tonumber(c->L, idx), TAG_NONE);
        return 0;
    default:
        snprintf(c->why, sizeof(c->why), "a map key is a %s; keys must be strings",
                 luaL_typename(c->L, idx));
        return -1;
    }
}

/* Pushes the shape of the table at t and returns its kind (SHAPE_MAP, SHAPE_ARRAY), or
 * pushes nothing and returns 0 when it has none. */
static int get_shape(lua_State *L, int t) {
    if (!lua_getmetatable(L, t)) {
        return 0;
    }
    lua_pushlightuserdata(L, (void *)&shape_key);
    lua_rawget(L, -2);
    int kind = (int)lua_tointeger(L, -1);
    lua_pop(L, kind ? 1 : 2);
    return kind;
}

static bool in_shape(lua_State *L, int shape, int nkeys, int key) {
    for (int j = 0; j < nkeys; j++) {
        lua_rawgeti(L, shape, j + 2);
        bool eq = lua_rawequal(L, -1, key);
        lua_pop(L, 1);
        if (eq) {
            return true;
        }
    }
    return false;
}

/* tag: what the entry held before (an empty new table that replaces a list is a list). */
/* Packs the ne keys listed in the array at index extras (in that order) with their values in
 * the table at t, as members of the map being written. */
static int pack_extras(cx_t *c, int t, int extras, int ne, int depth) {
    lua_State *L = c->L;
    int rc = 0;
    for (int j = 1; j <= ne && rc == 0; j++) {
        lua_rawgeti(L, extras, j);
        lua_pushvalue(L, -1);
        lua_rawget(L, t);
        rc = pack_key(c, -2);
        if (rc == 0) {
            rc = pack_value(c, lua_gettop(L), TAG_NONE, depth + 1, lua_tostring(L, -2));
        }
        lua_pop(L, 2);
    }
    return rc;
}

/* Sorts the keys in the list at extras (sortkeys), protected: a key's __tostring is the
 * script's code, which may raise or run out of time (the budget stays armed while results
 * are written); then *why says so. */
static int sort_keys(cx_t *c, int extras) {
    lua_State *L = c->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->vm->ref_sort);
    lua_pushvalue(L, extras);
    if (lua_pcall(L, 1, 0, 0) != 0) {
        const char *msg = lua_tostring(L, -1);
        snprintf(c->why, sizeof(c->why), "%s", msg ? msg : "the keys could not be sorted");
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

static int pack_table(cx_t *c, int t, int depth, uint8_t tag) {
    lua_State *L = c->L;
    luaL_checkstack(L, 10, "nesting");
    int base = lua_gettop(L);
    int kind = get_shape(L, t);
    int shape = lua_gettop(L);
    size_t ntags = 0;
    const uint8_t *tags = NULL;
    int n = (int)lua_objlen(L, t);
    int count = 0;
    if (kind != SHAPE_ARRAY) {
        lua_pushnil(L);
        while (lua_next(L, t) != 0) {
            count++;
            lua_pop(L, 1);
        }
    }
    int rc = 0;
    if (kind == SHAPE_ARRAY || (kind == 0 && n > 0 && count == n) ||
        (kind == 0 && count == 0 && tag == TAG_ARRAY)) {
        if (kind == SHAPE_ARRAY) {
            lua_rawgeti(L, shape, 1);
            tags = (const uint8_t *)lua_tolstring(L, -1, &ntags); /* stays on the stack */
        }
        msgpack_pack_array(&c->pk, (size_t)n);
        for (int i = 0; i < n && rc == 0; i++) {
            lua_rawgeti(L, t, i + 1);
            rc = pack_value(c, lua_gettop(L), (size_t)i < ntags ? tags[i] : TAG_NONE, depth + 1,
                            NULL);
            lua_pop(L, 1);
        }
        lua_settop(L, base);
        return rc;
    }
    msgpack_pack_map(&c->pk, (size_t)count);
    int nkeys = 0, done = 0;
    if (kind == SHAPE_MAP) {
        nkeys = (int)lua_objlen(L, shape) - 1;
        lua_rawgeti(L, shape, 1);
        tags = (const uint8_t *)lua_tolstring(L, -1, &ntags); /* stays on the stack */
        for (int j = 0; j < nkeys && rc == 0; j++) {
            lua_rawgeti(L, shape, j + 2);
            lua_pushvalue(L, -1);
            lua_rawget(L, t);
            if (!lua_isnil(L, -1)) {
                rc = pack_key(c, -2);
                if (rc == 0) {
                    rc = pack_value(c, lua_gettop(L), (size_t)j < ntags ? tags[j] : TAG_NONE,
                                    depth + 1, lua_tostring(L, -2));
                }
                done++;
            }
            lua_pop(L, 2);
        }
    }
    if (rc == 0 && done < count) { /* keys the script added: sorted, after the others */
        lua_newtable(L);
        int extras = lua_gettop(L), ne = 0;
        lua_pushnil(L);
        while (lua_next(L, t) != 0) {
            lua_pop(L, 1);
            if (!in_shape(L, shape, nkeys, lua_gettop(L))) {
                lua_pushvalue(L, -1);
                lua_rawseti(L, extras, ++ne);
            }
        }
        rc = ne > 1 ? sort_keys(c, extras) : 0;
        if (rc == 0) {
            rc = pack_extras(c, t, extras, ne, depth);
        }
    }
    lua_settop(L, base);
    return rc;
}

typedef rc_script_ev_t evproxy_t;
static evproxy_t *proxy_of(lvm_t *vm, lua_State *L, int idx);
static evproxy_t *proxy_peek(lvm_t *vm, lua_State *L, int idx, const uint8_t **lb, size_t *ln);
static int pack_proxy(cx_t *c, int t, evproxy_t *e, int depth);

static int pack_value(cx_t *c, int idx, uint8_t tag, int depth, const char *key) {
    lua_State *L = c->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        msgpack_pack_nil(&c->pk);
        return 0;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx)) {
            msgpack_pack_true(&c->pk);
        } else {
            msgpack_pack_false(&c->pk);
        }
        return 0;
    case LUA_TNUMBER:
        rc_script_pack_number(&c->pk, lua_tonumber(L, idx), tag);
        return 0;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        rc_script_pack_string(&c->pk, s, n, tag);
        return 0;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            msgpack_pack_nil(&c->pk);
            return 0;
        }
        break;
    case LUA_TTABLE:
        if (depth >= RC_SCRIPT_MAX_DEPTH) {
            snprintf(c->why, sizeof(c->why), "values nest deeper than %d levels (a cycle?)",
                     RC_SCRIPT_MAX_DEPTH);
            return -1;
        }
        const void *t = lua_topointer(L, idx);
        if (t != c->vm->cont && t != c->vm->drop) {
            if (idx < 0 && idx > LUA_REGISTRYINDEX) {
                idx = lua_gettop(L) + idx + 1;
            }
            const uint8_t *lb;
            size_t ln;
            evproxy_t *e = proxy_peek(c->vm, L, idx, &lb, &ln);
            if (lb && lua_objlen(L, idx) == 0) { /* an event not touched: as it came */
                c->pk.callback(c->pk.data, (const char *)lb, ln);
                return 0;
            }
            if (lb) {
                e = proxy_of(c->vm, L, idx);
            }
            return e ? pack_proxy(c, idx, e, depth) : pack_table(c, idx, depth, tag);
        }
        break;
    default:
        break;
    }
    snprintf(c->why, sizeof(c->why), "cannot send a %s value%s%s%s", luaL_typename(L, idx),
             key ? " (key \"" : "", key ? key : "", key ? "\")" : "");
    return -1;
}

/* ---- events as lazy proxies ----
 *
 * An event enters the script as a table that holds nothing at first: its metatable (shared,
 * protected) loads a top-level field from the event's msgpack the first time the script
 * reads it, and notes every field the script assigns. A field the script never loaded is
 * written back as the bytes it came with, as is a loaded field that still holds the value
 * it came with; an event the script did not touch at all is sent as its input bytes. Only
 * the fields a script reads pay for their conversion (e.after for a masking script, none
 * for a routing one that reads e.table). A map inside a field read (a row of e.after,
 * kafka.key) is a proxy too (push_map_proxy), so a script that masks one column converts
 * and writes that column, and the row's other columns go out as their bytes.
 * An event starts as an empty table whose metatable is its batch's, which holds the batch's
 * userdata (the bytes of every event of the batch) and list of events (an event's place in
 * it is its number: a table with no keys of its own has no hash part to allocate, which made
 * an identity transform about 330 instructions per event cheaper than two hidden keys); it is
 * indexed the first time the script reads or changes it (materialize), when it gets its own
 * state (under a key no script can make) with a copy of its bytes and the VM's metatable of
 * proxies. So an event the script does not touch costs an empty table and no index or copy
 * of its own, and an event kept past its batch stays whole (it keeps the batch's bytes until
 * it is touched); next, pairs, rawget, rawset and table.foreach load every field first and
 * never show the hidden key. */

#define EV_MAX_FIELDS RC_SCRIPT_EV_MAX_FIELDS

/* A proxy's index may be partial: a map whose end is known without walking it (a row that
 * ends its field: see cx_t.exact) is indexed as the script looks its fields up, up to the one
 * it asks for, so a script that masks the fourth column of a wide row reads four keys and
 * skips three values. e->nf is the map's number of entries (f has room for them all); the
 * userdata's header (before the state) says how many are indexed. Fields not indexed go out
 * as one run of their bytes. A key that is not a string (a number, as a map of any origin
 * may have) is indexed as an odd field: string look-ups pass it, and a look-up by any other
 * key compares it with the key's value. */
typedef struct evlazy {
    uint32_t kind;  /* UD_EVENT (see new_ud) */
    uint32_t ni;    /* fields indexed: f[0 .. ni) */
    uint32_t scan;  /* where field ni's entry starts */
    uint16_t odd;   /* fields indexed whose key is not a string */
    uint16_t spare; /* (the header is UD_HDR bytes) */
} evlazy_t;

#define KEY_ODD UINT32_MAX /* kn of a field whose key is not a string */

static evlazy_t *lazy_of(const evproxy_t *e) {
    return (evlazy_t *)((char *)e - UD_HDR);
}

/* Marks e (indexed in full) as such. */
static void lazy_whole(evproxy_t *e) {
    evlazy_t *z = lazy_of(e);
    z->ni = e->nf;
    z->scan = e->len;
    z->odd = 0;
}

/* Indexes e's next field (ni < nf). The bytes were walked (checked) when the map's container
 * was indexed, so only a key of a type no script value can be (nil, a boolean, a map, a list)
 * fails: false with the reason in why. */
static bool index_next(evproxy_t *e, char *why, size_t why_size) {
    evlazy_t *z = lazy_of(e);
    const uint8_t *b = rc_script_ev_bytes(e), *p = b + z->scan, *end = b + e->len;
    rc_script_evfield_t *f = &e->f[z->ni];
    f->kv = z->scan;
    mpv_t k;
    if (p < end && (*p & 0xe0) == 0xa0 && (size_t)(end - p - 1) >= (size_t)(*p & 0x1f)) {
        f->k = z->scan + 1; /* a fixstr, as column names are */
        f->kn = *p & 0x1fu;
        p += 1 + f->kn;
    } else if (rc_script_mp_next(&p, end, &k) != RC_OK) {
        snprintf(why, why_size, "the event is not valid msgpack");
        return false;
    } else if (k.kind == MPV_STR || k.kind == MPV_BIN || (k.kind == MPV_EXT && k.ext >= 0)) {
        f->k = (uint32_t)((const uint8_t *)k.s - b); /* seen as the string of its bytes */
        f->kn = k.n;
    } else if (k.kind == MPV_UINT || k.kind == MPV_INT || k.kind == MPV_F32 || k.kind == MPV_F64) {
        f->k = f->kv;
        f->kn = KEY_ODD;
        z->odd++;
    } else {
        snprintf(why, why_size, "map keys must be strings or numbers");
        return false;
    }
    f->v = (uint32_t)(p - b);
    if (rc_mp_skip_one(&p, end) != RC_OK) {
        snprintf(why, why_size, "the event is not valid msgpack");
        return false;
    }
    f->end = (uint32_t)(p - b);
    z->scan = f->end;
    z->ni++;
    return true;
}

static bool index_all(evproxy_t *e, char *why, size_t why_size) {
    while (lazy_of(e)->ni < e->nf) {
        if (!index_next(e, why, why_size)) {
            return false;
        }
    }
    return true;
}

/* The field whose key is the string s[0..n), indexing as far as needed: its number, -1 when
 * there is none, -2 when the bytes are bad (why). */
static int find_field(evproxy_t *e, const char *s, size_t n, char *why, size_t why_size) {
    const uint8_t *b = rc_script_ev_bytes(e);
    evlazy_t *z = lazy_of(e);
    for (uint32_t j = 0;; j++) {
        if (j == z->ni) {
            if (j == e->nf) {
                return -1;
            }
            if (!index_next(e, why, why_size)) {
                return -2;
            }
        }
        if (e->f[j].kn == n &&
            (n == 0 || (b[e->f[j].k] == (uint8_t)s[0] && memcmp(b + e->f[j].k, s, n) == 0))) {
            return (int)j; /* (the first byte first: most keys of a length differ there) */
        }
    }
}

/* Pushes field j's key as the script sees it. */
static void push_key(lua_State *L, const evproxy_t *e, uint32_t j) {
    const uint8_t *b = rc_script_ev_bytes(e);
    if (e->f[j].kn != KEY_ODD) {
        lua_pushlstring(L, (const char *)b + e->f[j].k, e->f[j].kn);
        return;
    }
    cx_t c = {.L = L}; /* a number (index_next let no other key through): no state needed */
    const uint8_t *p = b + e->f[j].kv;
    uint8_t tag;
    if (push_value(&c, &p, b + e->f[j].v, 0, &tag) != 0) {
        lua_pushnil(L); /* (cannot happen: index_next read it) */
    }
}

/* Pushes a proxy of the map ev[0..len) indexed in f (nf fields), or, when f is NULL, of the
 * map of nf entries whose header is hdr bytes, indexed as the script looks it up. */
static evproxy_t *push_indexed(cx_t *c, const rc_script_evfield_t *f, uint32_t nf, uint32_t hdr,
                               const uint8_t *ev, size_t len, int depth) {
    lua_State *L = c->L;
    lua_createtable(L, 0, 1); /* the hidden key; fields the script loads make it grow */
    evproxy_t *e = new_ud(L, UD_EVENT, rc_script_ev_size(nf, len));
    if (f) {
        rc_script_ev_init(e, f, nf, hdr, ev, len);
        lazy_whole(e);
    } else {
        e->loaded = 0; /* (rc_script_ev_init with no fields: the bytes go after room for nf) */
        e->extra = false;
        e->nf = nf;
        e->len = (uint32_t)len;
        e->hdr = hdr;
        memcpy((uint8_t *)rc_script_ev_bytes(e), ev, len);
        evlazy_t *z = lazy_of(e);
        z->ni = 0;
        z->scan = hdr;
        z->odd = 0;
    }
    e->depth = (uint8_t)depth;
    lua_pushlightuserdata(L, (void *)&ev_key);
    lua_insert(L, -2);
    lua_rawset(L, -3);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->vm->ref_evmt);
    lua_setmetatable(L, -2);
    return e;
}

/* A map inside a field a script reads (a row of after, kafka.key) is a proxy too: a column
 * is converted when the script reads it, and on the way out the columns it did not change
 * are copied as their bytes (a script that masks one column writes that column only). The
 * map starts at start (inside end); on success *p is moved past it. Same returns as
 * push_proxy. */
static int push_map_proxy(cx_t *c, const uint8_t *start, const uint8_t *end, int depth, bool exact,
                          const uint8_t **p) {
    if (exact && (size_t)(end - start) <= UINT32_MAX) { /* its end is known: no walk */
        const uint8_t *q = start;
        mpv_t m;
        if (rc_script_mp_next(&q, end, &m) == RC_OK && m.kind == MPV_MAP && m.n <= EV_MAX_FIELDS) {
            push_indexed(c, NULL, m.n, (uint32_t)(q - start), start, (size_t)(end - start), depth);
            *p = end;
            return 1;
        }
    }
    rc_script_evfield_t f[EV_MAX_FIELDS];
    uint32_t nf = 0, hdr = 0;
    int rc = rc_script_ev_index(start, (size_t)(end - start), f, &nf, &hdr, c->why, sizeof(c->why));
    if (rc == 1) {
        size_t len = nf ? f[nf - 1].end : hdr;
        push_indexed(c, f, nf, hdr, start, len, depth);
        *p = start + len;
    }
    return rc;
}

/* A batch's events as the driver hands them out: one userdata per batch holds the bytes of
 * the events it runs; an event is an empty table with the batch's metatable (which holds that
 * userdata and the list of the batch's events, whose place in it is the event's number) until
 * the script first reads or changes it, when it is indexed (materialize). An event the script
 * does not touch costs an empty table and goes out as its input bytes, without an index; an
 * event kept past its batch keeps the batch's bytes and its list alive until it is touched
 * (its own copy then). */
typedef struct bud_ev {
    uint32_t off, len;
} bud_ev_t;

typedef struct bud_run { /* bytes that follow each other in the input, copied at once */
    const uint8_t *p;
    uint32_t off, len; /* where they go in the batch's bytes */
} bud_run_t;

typedef struct bud {
    uint32_t m;
    bud_ev_t ev[];
    /* then the events' bytes */
} bud_t;

static const uint8_t *bud_bytes(const bud_t *u) {
    return (const uint8_t *)&u->ev[u->m];
}

/* The number of the event at idx (an absolute index) in the list of its batch, whose
 * metatable is at mt and list at evs: the event transform runs on (evs[0]) in one look, any
 * other through the list's reverse, made the first time one is needed. 0: not in the list. */
static uint32_t event_number(lua_State *L, int idx, int mt, int evs, uint32_t m) {
    lua_rawgeti(L, evs, 0);
    lua_Integer j = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (j >= 1 && j <= (lua_Integer)m) {
        lua_rawgeti(L, evs, (int)j);
        bool same = lua_rawequal(L, -1, idx);
        lua_pop(L, 1);
        if (same) {
            return (uint32_t)j;
        }
    }
    lua_pushlightuserdata(L, (void *)&rev_key);
    lua_rawget(L, mt);
    if (!lua_istable(L, -1)) { /* a script that keeps events and reads them later */
        lua_pop(L, 1);
        lua_createtable(L, 0, (int)m);
        for (uint32_t i = 1; i <= m; i++) {
            lua_rawgeti(L, evs, (int)i);
            lua_pushinteger(L, (lua_Integer)i);
            lua_rawset(L, -3);
        }
        lua_pushlightuserdata(L, (void *)&rev_key);
        lua_pushvalue(L, -2);
        lua_rawset(L, mt);
    }
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    j = lua_tointeger(L, -1);
    lua_pop(L, 2);
    return j >= 1 && j <= (lua_Integer)m ? (uint32_t)j : 0;
}

/* The bytes of the event not indexed yet at idx (an absolute index) whose metatable (at mtp) is
 * on top of the stack, which this pops: *lb, *ln (left NULL when the metatable is not a batch's),
 * with the batch and number in vm->peek_bud, peek_j. */
static void unindexed(lvm_t *vm, lua_State *L, int idx, const void *mtp, const uint8_t **lb,
                      size_t *ln) {
    int mt = lua_gettop(L);
    if (mtp == vm->not_bmt) {
        lua_pop(L, 1);
        return;
    }
    if (mtp == vm->cur_bmt) { /* the running batch's: its parts are at hand */
        const bud_t *u = vm->cur_bud;
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_cur_evs);
        uint32_t j = event_number(L, idx, mt, mt + 1, u->m);
        if (j > 0) {
            *lb = bud_bytes(u) + u->ev[j - 1].off;
            *ln = u->ev[j - 1].len;
            vm->peek_bud = u;
            vm->peek_j = j;
        }
        lua_settop(L, mt - 1);
        return;
    }
    lua_pushlightuserdata(L, (void *)&bud_key);
    lua_rawget(L, mt);
    const uint32_t *ud = lua_touserdata(L, -1); /* (only C sets that key: a userdata or none) */
    if (ud && *ud == UD_BATCH) {
        const bud_t *u = (const bud_t *)((const char *)ud + UD_HDR);
        lua_pushlightuserdata(L, (void *)&evs_key);
        lua_rawget(L, mt);
        uint32_t j = event_number(L, idx, mt, mt + 2, u->m);
        if (j > 0) {
            *lb = bud_bytes(u) + u->ev[j - 1].off;
            *ln = u->ev[j - 1].len;
            vm->peek_bud = u;
            vm->peek_j = j;
        }
    } else {
        vm->not_bmt = mtp; /* (a shape: batch_main resets this when it makes a metatable) */
    }
    lua_settop(L, mt - 1);
}

/* The proxy's state when the table at idx (an absolute index) is a proxy (its metatable is
 * the VM's metatable of proxies, compared by address, or a batch's), else NULL. A proxy not
 * indexed yet gives NULL with its bytes in *lb, *ln. */
static evproxy_t *proxy_state(lvm_t *vm, lua_State *L, int idx, const uint8_t **lb, size_t *ln);

static evproxy_t *proxy_peek(lvm_t *vm, lua_State *L, int idx, const uint8_t **lb, size_t *ln) {
    *lb = NULL;
    if (!lua_getmetatable(L, idx)) {
        return NULL;
    }
    const void *mtp = lua_topointer(L, -1);
    if (mtp == vm->evmt) {
        lua_pop(L, 1);
        return proxy_state(vm, L, idx, lb, ln);
    }
    unindexed(vm, L, idx, mtp, lb, ln);
    return NULL;
}

/* proxy_peek on a table known to be a proxy (the metamethods' first argument: only tables
 * whose metatable is the VM's protected one or a batch's reach them). */
static evproxy_t *proxy_state(lvm_t *vm, lua_State *L, int idx, const uint8_t **lb, size_t *ln) {
    *lb = NULL;
    lua_pushlightuserdata(L, (void *)&ev_key);
    lua_rawget(L, idx);
    const uint32_t *ud = lua_touserdata(L, -1); /* (only C sets that key: a userdata or none) */
    lua_pop(L, 1);
    if (ud && *ud == UD_EVENT) {
        return (evproxy_t *)((const char *)ud + UD_HDR);
    }
    if (!ud && lua_getmetatable(L, idx)) {
        unindexed(vm, L, idx, lua_topointer(L, -1), lb, ln);
    }
    return NULL;
}

/* Raises "LINE: what" at the script's line (level 1: the function that called into C). */
static int raise_at_line(lua_State *L, const char *what) {
    luaL_where(L, 1);
    lua_pushstring(L, what);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Indexes the proxy at t (not indexed yet; its bytes ev[0..len), which its metatable keeps
 * alive until this returns) and gives it its own state with a copy of its bytes and the VM's
 * metatable of proxies, so that it no longer holds its batch. An event that does not fit an index (more than EV_MAX_FIELDS
 * fields, a key that is not a string) is converted whole instead and becomes an ordinary
 * table of its shape: NULL. */
static evproxy_t *materialize(cx_t *c, int t, const uint8_t *ev, size_t len) {
    lua_State *L = c->L;
    rc_script_evfield_t f[EV_MAX_FIELDS];
    uint32_t nf = 0, hdr = 0;
    int rc = rc_script_ev_index(ev, len, f, &nf, &hdr, c->why, sizeof(c->why));
    if (rc < 0) {
        raise_at_line(L, c->why);
    }
    luaL_checkstack(L, 8, "nesting");
    evproxy_t *e = NULL;
    if (rc == 1) {
        e = new_ud(L, UD_EVENT, rc_script_ev_size(nf, len));
        rc_script_ev_init(e, f, nf, hdr, ev, len);
        lazy_whole(e);
        lua_pushlightuserdata(L, (void *)&ev_key);
        lua_insert(L, -2);
        lua_rawset(L, t);
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->vm->ref_evmt);
        lua_setmetatable(L, t); /* the table lets go of its batch */
    } else {
        const uint8_t *p = ev;
        uint8_t tag;
        c->vm->sig.len = 0;
        c->lazy = false;
        if (push_value(c, &p, ev + len, 0, &tag) != 0) {
            raise_at_line(L, c->why);
        }
        int w = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, w) != 0) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, t);
        }
        lua_getmetatable(L, w);
        lua_setmetatable(L, t);
        lua_settop(L, w - 1);
    }
    return e;
}

/* Is the value at idx one of the hidden keys of a proxy? */
static bool is_hidden(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TLIGHTUSERDATA) {
        return false;
    }
    const void *k = lua_touserdata(L, idx);
    return k == &ev_key;
}

/* proxy_peek that indexes a proxy not indexed yet (known: the table is a proxy). */
static evproxy_t *proxy_get(lvm_t *vm, lua_State *L, int idx, bool known) {
    if (idx < 0 && idx > LUA_REGISTRYINDEX) {
        idx = lua_gettop(L) + idx + 1;
    }
    const uint8_t *lb;
    size_t ln;
    evproxy_t *e = known ? proxy_state(vm, L, idx, &lb, &ln) : proxy_peek(vm, L, idx, &lb, &ln);
    if (lb) {
        const void *bud = vm->peek_bud;
        uint32_t j = vm->peek_j;
        cx_t c = {.vm = vm, .L = L};
        e = materialize(&c, idx, lb, ln);
        if (bud == vm->cur_bud) { /* an event of the running batch: C sends it by this */
            if (!vm->evstate[j - 1]) {
                vm->touched[vm->n_touched++] = j - 1;
            }
            vm->evstate[j - 1] = e ? (void *)e : EV_TOUCHED_WHOLE;
        }
    }
    return e;
}

static evproxy_t *proxy_of(lvm_t *vm, lua_State *L, int idx) {
    return proxy_get(vm, L, idx, false);
}

/* The field whose key is the value at idx (an absolute index): its number, -1 when there is
 * none, -2 when the map's bytes are bad (why). */
static int field_of(lua_State *L, evproxy_t *e, int idx, char *why, size_t why_size) {
    int t = lua_type(L, idx);
    if (t == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        int j = find_field(e, s, n, why, why_size);
        if (j != -1 || lazy_of(e)->odd == 0) {
            return j; /* (a look-up that missed indexed every field) */
        }
    } else if (t != LUA_TNUMBER) {
        return -1;
    } else if (!index_all(e, why, why_size)) {
        return -2;
    }
    for (uint32_t j = 0; lazy_of(e)->odd > 0 && j < lazy_of(e)->ni; j++) {
        if (e->f[j].kn == KEY_ODD) {
            push_key(L, e, j);
            bool eq = lua_rawequal(L, -1, idx);
            lua_pop(L, 1);
            if (eq) {
                return (int)j;
            }
        }
    }
    return -1;
}

/* field_of in the script's call: bad bytes raise at its line. */
static int field_at(lua_State *L, evproxy_t *e, int idx) {
    char why[128];
    int j = field_of(L, e, idx, why, sizeof(why));
    if (j == -2) {
        raise_at_line(L, why);
    }
    return j;
}

/* Loads field j of the proxy at t into it (t[key] = value), marks it loaded and leaves the
 * value on the stack. key: the index of the field's name on the stack (0: made from the
 * event's bytes). */
static void load_field_at(cx_t *c, int t, evproxy_t *e, uint32_t j, int key) {
    lua_State *L = c->L;
    const uint8_t *b = rc_script_ev_bytes(e), *p = b + e->f[j].v;
    uint8_t tag;
    c->vm->sig.len = 0; /* never inside another conversion */
    if (key) {
        lua_pushvalue(L, key);
    } else {
        push_key(L, e, j);
    }
    c->lazy = true;
    c->exact = true; /* the value ends where its field does */
    int rc = push_value(c, &p, b + e->f[j].end, e->depth + 1, &tag);
    c->lazy = false;
    if (rc != 0) { /* checked as it is converted */
        char msg[700];
        snprintf(msg, sizeof(msg), "field %.*s: %s", (int)(e->f[j].kn == KEY_ODD ? 0 : e->f[j].kn),
                 (const char *)b + e->f[j].k, c->why);
        raise_at_line(L, msg); /* the script's line that read it */
    }
    lua_pushvalue(L, -1);
    lua_insert(L, -3);
    lua_rawset(L, t);
    e->loaded |= 1ULL << j;
}

/* Loads field j of the proxy at t into it (t[key] = value) and marks it loaded. */
static void load_field(cx_t *c, int t, evproxy_t *e, uint32_t j) {
    load_field_at(c, t, e, j, 0);
    lua_pop(c->L, 1);
}

static void load_all(cx_t *c, int t, evproxy_t *e) {
    if (!index_all(e, c->why, sizeof(c->why))) {
        raise_at_line(c->L, c->why);
    }
    for (uint32_t j = 0; j < e->nf; j++) {
        if (!(e->loaded & (1ULL << j))) {
            load_field(c, t, e, j);
        }
    }
}

/* __index(t, k): only fields not loaded yet (or assigned nil) come here. */
static int l_ev_index(lua_State *L) {
    cx_t c = {.vm = lua_touserdata(L, lua_upvalueindex(1)), .L = L};
    evproxy_t *e = proxy_get(c.vm, L, 1, true);
    if (!e) { /* converted whole just now (it does not fit an index): an ordinary table */
        lua_settop(L, 2);
        lua_rawget(L, 1);
        return 1;
    }
    int j = field_at(L, e, 2);
    if (j < 0 || (e->loaded & (1ULL << j))) {
        return 0;
    }
    load_field_at(&c, 1, e, (uint32_t)j, 2);
    return 1;
}

/* The script sets key 2 of proxy e (NULL: not an event): a field it names is loaded (its new
 * value is written out), any other key is extra. */
static void note_set(lua_State *L, evproxy_t *e) {
    if (e) {
        int j = field_at(L, e, 2);
        if (j >= 0) {
            e->loaded |= 1ULL << j;
        } else {
            e->extra = true;
        }
    }
}

/* __newindex(t, k, v): a key the table does not hold yet. */
static int l_ev_newindex(lua_State *L) {
    note_set(L, proxy_get(lua_touserdata(L, lua_upvalueindex(1)), L, 1, true));
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}

/* next(t, k) that loads a proxy's fields first and skips its hidden key. */
static int l_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    evproxy_t *e = proxy_of(lua_touserdata(L, lua_upvalueindex(1)), L, 1);
    if (e) {
        cx_t c = {.vm = lua_touserdata(L, lua_upvalueindex(1)), .L = L};
        load_all(&c, 1, e);
    }
    for (;;) {
        if (lua_next(L, 1) == 0) {
            lua_pushnil(L);
            return 1;
        }
        if (!e || !is_hidden(L, -2)) {
            return 2;
        }
        lua_pop(L, 1); /* the hidden key: go on from it */
    }
}

/* pairs(t): next, t, nil (with the next above for proxies). */
static int l_pairs(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int l_rawget(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    evproxy_t *e = proxy_of(lua_touserdata(L, lua_upvalueindex(1)), L, 1);
    if (e) {
        if (is_hidden(L, 2)) {
            lua_pushnil(L);
            return 1;
        }
        int j = field_at(L, e, 2);
        if (j >= 0 && !(e->loaded & (1ULL << j))) {
            cx_t c = {.vm = lua_touserdata(L, lua_upvalueindex(1)), .L = L};
            load_field(&c, 1, e, (uint32_t)j);
        }
    }
    lua_rawget(L, 1);
    return 1;
}

static int l_rawset(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_settop(L, 3);
    note_set(L, proxy_of(lua_touserdata(L, lua_upvalueindex(1)), L, 1));
    lua_rawset(L, 1);
    lua_settop(L, 1);
    return 1;
}

/* Does the value at idx still equal v, a field's value as it came (same bytes when packed)? */
static bool same_as_field(lua_State *L, int idx, const mpv_t *vp) {
    mpv_t v = *vp;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        if (v.kind != MPV_STR && v.kind != MPV_BIN && v.kind != MPV_EXT) {
            return false;
        }
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return n == v.n && memcmp(s, v.s, n) == 0;
    }
    case LUA_TNUMBER: {
        uint8_t tag = rc_script_tag_of(&v);
        double d = lua_tonumber(L, idx);
        return (tag == TAG_F32 || tag == TAG_F64) ? d == v.d && !signbit(d) == !signbit(v.d)
               : tag == TAG_INT ? d == (v.kind == MPV_UINT ? (double)v.u : (double)v.i)
                                : false;
    }
    case LUA_TBOOLEAN:
        return v.kind == MPV_BOOL && v.b == (bool)lua_toboolean(L, idx);
    case LUA_TLIGHTUSERDATA:
        return v.kind == MPV_NIL && lua_touserdata(L, idx) == NULL;
    default:
        return false;
    }
}

/* Packs the proxy at t: fields as they came unless loaded and changed, then the keys the
 * script added, sorted. */
static int pack_proxy(cx_t *c, int t, evproxy_t *e, int depth) {
    lua_State *L = c->L;
    const uint8_t *b = rc_script_ev_bytes(e);
    if (lua_objlen(L, t) > 0) { /* table.insert writes raw, past __newindex */
        e->extra = true;
    }
    if (e->loaded == 0 && !e->extra) {
        c->pk.callback(c->pk.data, (const char *)b, e->len);
        return 0;
    }
    if (e->extra && !index_all(e, c->why, sizeof(c->why))) { /* (to tell the added keys) */
        return -1;
    }
    luaL_checkstack(L, 10 + (int)e->nf, "nesting");
    int base = lua_gettop(L);
    uint32_t ni = lazy_of(e)->ni, count = e->nf - ni; /* fields not indexed go as they came */
    uint64_t gone = 0;
    /* the values of the loaded fields stay on the stack, in field order, for the writing */
    for (uint32_t j = 0; j < ni; j++) {
        if (e->loaded & (1ULL << j)) {
            push_key(L, e, j);
            lua_rawget(L, t);
            if (lua_isnil(L, -1)) {
                gone |= 1ULL << j;
                lua_pop(L, 1);
            }
        }
        count += !(gone & (1ULL << j));
    }
    int vals = base + 1; /* the next loaded value's slot */
    int extras = 0, ne = 0;
    if (e->extra) {
        lua_newtable(L);
        extras = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, t) != 0) {
            lua_pop(L, 1);
            if (is_hidden(L, -1) || field_of(L, e, lua_gettop(L), c->why, sizeof(c->why)) >= 0) {
                continue;
            }
            lua_pushvalue(L, -1);
            lua_rawseti(L, extras, ++ne);
        }
        if (ne > 1 && sort_keys(c, extras) != 0) {
            lua_settop(L, base);
            return -1;
        }
        count += (uint32_t)ne;
    }
    /* bytes written as they came are gathered into runs [from, to) of the input: one write
     * per run rather than one per field */
    uint32_t from = 0, to = 0;
    if (count == e->nf) {
        to = e->hdr;
    } else {
        msgpack_pack_map(&c->pk, count);
    }
    int rc = 0;
    for (uint32_t j = 0; j < ni && rc == 0; j++) {
        const rc_script_evfield_t *f = &e->f[j];
        if (gone & (1ULL << j)) {
            continue;
        }
        bool same = !(e->loaded & (1ULL << j));
        int val = 0;
        mpv_t v; /* (the value it came with, when loaded) */
        if (!same) {
            val = vals++;
            rc_script_ev_value(e, j, &v);
            same = same_as_field(L, val, &v);
        }
        /* the key is written as it came either way */
        uint32_t upto = same ? f->end : f->v;
        if (to != f->kv) {
            rc_script_write_run(&c->pk, b, from, to);
            from = f->kv;
        }
        to = upto;
        if (same) {
            continue;
        }
        rc_script_write_run(&c->pk, b, from, to);
        from = to = f->end;
        char key[128]; /* (for messages; snprintf here was a tenth of a masking event) */
        size_t kn = f->kn == KEY_ODD ? 0 : f->kn < sizeof(key) ? f->kn : sizeof(key) - 1;
        memcpy(key, b + f->k, kn);
        key[kn] = '\0';
        rc = pack_value(c, val, rc_script_tag_of(&v), depth + 1, key);
    }
    if (rc == 0 && ni < e->nf) { /* the fields not indexed: one run to the map's end */
        if (to != lazy_of(e)->scan) {
            rc_script_write_run(&c->pk, b, from, to);
            from = lazy_of(e)->scan;
        }
        to = e->len;
    }
    if (rc == 0) {
        rc_script_write_run(&c->pk, b, from, to);
    }
    rc = rc == 0 ? pack_extras(c, t, extras, ne, depth) : rc;
    lua_settop(L, base);
    return rc;
}

/* ---- the batch ---- */

typedef struct batch {
    lvm_t *vm;
    const rc_span_t *ev;
    const bool *run;
    uint32_t n;
    msgpack_sbuffer *out;
    rc_script_result_t *res;
    rc_buf_t *errs;
    bool nomem;
    uint32_t *evj; /* evj[i]: event i's number in the driver (0: not run) */
} batch_t;

static void fail_event(batch_t *b, rc_script_result_t *r, size_t start, const char *msg) {
    b->out->size = start;
    r->status = RC_SCRIPT_FAILED;
    r->n_out = 0;
    r->err_off = b->errs->len;
    if (rc_buf_puts(b->errs, msg) != RC_OK || rc_buf_putc(b->errs, '\0') != RC_OK) {
        b->nomem = true;
    }
    r->err_len = strlen(msg);
}

/* ev_check when field j (find_field's answer) is kafka's. */
static bool ev_check_kafka(evproxy_t *e, int j, char *why, size_t why_size) {
    if (j == -1) {
        snprintf(why, why_size, "the event has no kafka.topic");
    }
    if (j < 0) {
        return false;
    }
    const uint8_t *b = rc_script_ev_bytes(e);
    return rc_script_check_kafka(b + e->f[j].v, b + e->f[j].end, why, why_size);
}

/* rc_script_ev_check on a proxy whose index may be partial (a row sent as an event). */
static bool ev_check(evproxy_t *e, char *why, size_t why_size) {
    return ev_check_kafka(e, find_field(e, "kafka", 5, why, why_size), why, why_size);
}

static uint64_t word_at(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* a[0..n) equals b[0..n), n >= 8: two overlapping words up to 16 bytes, four up to 32 */
static inline bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n) {
    if (n <= 16) {
        return ((word_at(a) ^ word_at(b)) | (word_at(a + n - 8) ^ word_at(b + n - 8))) == 0;
    }
    if (n <= 32) {
        return ((word_at(a) ^ word_at(b)) | (word_at(a + 8) ^ word_at(b + 8)) |
                (word_at(a + n - 16) ^ word_at(b + n - 16)) |
                (word_at(a + n - 8) ^ word_at(b + n - 8))) == 0;
    }
    return memcmp(a, b, n) == 0;
}

static __attribute__((noinline)) bool
untouched_ev_check_full(lvm_t *vm, const uint8_t *ev, size_t len, char *why, size_t why_size);

/* rc_script_check_event of an event sent as it came (ev[0..len), not indexed). The events of
 * a batch mostly go to one topic and have one shape: when the bytes where the last one found
 * valid had its kafka key and value are that key, map head, "topic" and topic again, the event
 * passes with one compare; anything else takes the full check (rc_mp_map_find: the first
 * top-level "kafka"), which remembers a valid kafka whose head is a fixmap and a topic key
 * (its topic a fixstr or str 8). Not a parse: bytes of a value before kafka (a bin column)
 * that are a valid kafka head at just that place would pass for it (so would a second kafka
 * there after a bad first one); walking the event to its kafka key to rule that out costs as
 * much as the rest of an untouched event (~600 instructions for bench_transform's). */
static inline bool untouched_ev_check(lvm_t *vm, const uint8_t *ev, size_t len, char *why,
                                      size_t why_size) {
    size_t at = vm->kafka_at, n = vm->topic_len;
    if (n && len >= at && len - at >= n && same_bytes(ev + at - 6, vm->kafka, 6 + n)) {
        return true;
    }
    return untouched_ev_check_full(vm, ev, len, why, why_size);
}

static bool untouched_ev_check_full(lvm_t *vm, const uint8_t *ev, size_t len, char *why,
                                    size_t why_size) {
    const uint8_t *end = ev + len, *v, *p;
    if (rc_mp_map_find(ev, end, "kafka", &v) != RC_OK) {
        snprintf(why, why_size, "the event has no kafka.topic");
        return false;
    }
    p = v;
    if (rc_mp_skip(&p, end) != RC_OK || !rc_script_check_kafka(v, p, why, why_size)) {
        return false; /* (rc_mp_map_find found it whole: not the skip) */
    }
    /* remembered with its key, which the one compare checks too */
    size_t h =
        v - ev >= 6 && memcmp(v - 6, "\xa5kafka", 6) == 0 ? rc_script_topic_head_len(v, p) : 0;
    vm->topic_len = 0;
    if (h && h <= sizeof(vm->kafka) - 6) {
        memcpy(vm->kafka, v - 6, 6 + h);
        vm->topic_len = (uint32_t)h;
        vm->kafka_at = (uint32_t)(v - ev);
    }
    return true;
}

/* Packs the event at idx and checks it; false with c->why on failure. An event the script
 * did not touch goes out as it came, its kafka.topic checked. */
static bool emit(cx_t *c, batch_t *b, int idx, evproxy_t *known) {
    size_t start = b->out->size;
    lua_State *L = c->L;
    if (lua_type(L, idx) != LUA_TTABLE) {
        snprintf(c->why, sizeof(c->why), "a list element is a %s, not an event",
                 luaL_typename(L, idx));
        return false;
    }
    const uint8_t *lb = NULL;
    size_t ln = 0;
    evproxy_t *e = known ? known : proxy_peek(c->vm, L, idx, &lb, &ln);
    if (lb && lua_objlen(L, idx) == 0) {
        c->pk.callback(c->pk.data, (const char *)lb, ln);
        return untouched_ev_check(c->vm, lb, ln, c->why, sizeof(c->why));
    }
    if (lb) {
        e = proxy_of(c->vm, L, idx);
    }
    if (e && e->loaded == 0 && !e->extra && lua_objlen(L, idx) == 0) { /* untouched */
        c->pk.callback(c->pk.data, (const char *)rc_script_ev_bytes(e), e->len);
        return ev_check(e, c->why, sizeof(c->why));
    }
    if ((e ? pack_proxy(c, idx, e, 0) : pack_value(c, idx, TAG_MAP, 0, NULL)) != 0) {
        return false;
    }
    int k = e ? find_field(e, "kafka", 5, c->why, sizeof(c->why)) : -1;
    if (k >= 0 && !(e->loaded & (1ULL << k))) { /* kafka went out as it came */
        return ev_check_kafka(e, k, c->why, sizeof(c->why));
    }
    return rc_script_check_event((const uint8_t *)b->out->data + start, b->out->size - start,
                                 c->why, sizeof(c->why));
}

static void describe(lua_State *L, int idx, char *buf, size_t size) {
    const char *tn = luaL_typename(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER ||
        lua_type(L, idx) == LUA_TBOOLEAN) {
        const char *s = lua_type(L, idx) == LUA_TBOOLEAN
                            ? (lua_toboolean(L, idx) ? "true" : "false")
                            : lua_tostring(L, idx);
        snprintf(buf, size, "a %s (%.60s)", tn, s ? s : "?");
    } else {
        snprintf(buf, size, "a %s", tn);
    }
}

static bool is_map(uint8_t c) {
    return (c & 0xf0) == 0x80 || c == 0xde || c == 0xdf;
}

/* schema_of(t): t.schema (what tells an event from a list of events). */
static int l_schema_of(lua_State *L) {
    lua_getfield(L, 1, "schema");
    return 1;
}

/* Sends what transform gave for event i (at index 7: the event, another event, a list of
 * events or something else; own: the event itself, with its state when it was indexed) into
 * r. */
static void send_result(cx_t *c, batch_t *b, rc_script_result_t *r, size_t start, bool own,
                        evproxy_t *state) {
    lua_State *L = c->L;
    bool ok = true;
    r->status = RC_SCRIPT_SENT;
    if (own) {
        ok = emit(c, b, 7, state);
        r->n_out = 1;
    } else if (lua_type(L, 7) == LUA_TTABLE) {
        int kind = get_shape(L, 7);
        bool single = kind == SHAPE_MAP || kind == SHAPE_EVENT;
        lua_settop(L, 7);
        if (!single) { /* (protected: an __index is the script's code, see sort_keys) */
            lua_pushcfunction(L, l_schema_of);
            lua_pushvalue(L, 7);
            if (lua_pcall(L, 1, 1, 0) != 0) {
                const char *msg = lua_tostring(L, -1);
                snprintf(c->why, sizeof(c->why), "%s", msg ? msg : "?");
                ok = false;
            } else {
                single = !lua_isnil(L, -1);
            }
            lua_settop(L, 7);
        }
        if (ok && single) {
            ok = emit(c, b, 7, NULL);
            r->n_out = 1;
        } else if (ok) {
            int k = (int)lua_objlen(L, 7);
            for (int j = 1; j <= k && ok; j++) {
                lua_rawgeti(L, 7, j);
                ok = emit(c, b, lua_gettop(L), NULL);
                lua_pop(L, 1);
            }
            r->n_out = (uint32_t)k;
            if (k == 0) {
                r->status = RC_SCRIPT_DROPPED;
            }
        }
    } else {
        char d[120];
        describe(L, 7, d, sizeof(d));
        snprintf(c->why, sizeof(c->why),
                 "transform returned %s; expected ACTION_CONT, ACTION_DROP, the event or a "
                 "list of events",
                 d);
        ok = false;
    }
    if (!ok) {
        char msg[700];
        snprintf(msg, sizeof(msg), "%s: %s", c->vm->file, c->why);
        fail_event(b, r, start, msg);
    }
}

/* Events that follow each other in the batch go into its userdata (and the output) in copies
 * of up to about this many bytes (a run closes once it is longer): fewer calls than one per
 * event, and runs of a few small events stay under 4 KiB, where glibc's memcpy copies with
 * vector moves (AVX2); it copies larger blocks with rep movsb, which callgrind counts per
 * byte: runs of ~12 KB measured 1,368 instructions per row for the identity, 3.5 KB 589. */
#define RUN_MAX 3584

static int batch_main(lua_State *L) {
    batch_t *b = lua_touserdata(L, 1);
    lvm_t *vm = b->vm;
    cx_t c = {.vm = vm, .L = L};
    msgpack_packer_init(&c.pk, b->out, msgpack_sbuffer_write);
    vm->in_udf = false;
    lua_settop(L, 0);
    /* the events to run (maps: their first byte says) get numbers 1..m and their bytes go
     * into one userdata, which the events not yet indexed hold */
    const rc_span_t *ev = b->ev; /* (locals: the stores below cannot change them) */
    const bool *run = b->run;
    uint32_t *evj = b->evj, n = b->n, m = 0, nr = 0;
    bud_ev_t *sev = vm->scr_ev; /* (the index and the runs: copied once the size is known) */
    bud_run_t *sr = vm->scr_run;
    size_t off = 0, run_off = 0; /* events that follow each other are copied at once */
    const uint8_t *seg = NULL;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = 0;
        if (run[i] && ev[i].len > 0 && is_map(ev[i].p[0])) {
            size_t len = ev[i].len;
            sev[m] = (bud_ev_t){(uint32_t)off, (uint32_t)len};
            j = ++m;
            if (off == run_off || ev[i].p != seg + (off - run_off) || off - run_off > RUN_MAX) {
                if (off != run_off) {
                    sr[nr++] = (bud_run_t){seg, (uint32_t)run_off, (uint32_t)(off - run_off)};
                }
                seg = ev[i].p;
                run_off = off;
            }
            off += len;
        }
        evj[i] = j;
    }
    if (off != run_off) {
        sr[nr++] = (bud_run_t){seg, (uint32_t)run_off, (uint32_t)(off - run_off)};
    }
    if (off > UINT32_MAX) {
        return luaL_error(L, "a batch of %zu bytes is too large for the Lua engine", off);
    }
    bud_t *u = new_ud(L, UD_BATCH, sizeof(bud_t) + m * sizeof(bud_ev_t) + off); /* 1 */
    u->m = m;
    if (m > 0) {
        memcpy(u->ev, sev, m * sizeof(bud_ev_t));
    }
    uint8_t *to = (uint8_t *)bud_bytes(u);
    for (uint32_t r = 0; r < nr; r++) {
        memcpy(to + sr[r].off, sr[r].p, sr[r].len);
    }
    lua_createtable(L, (int)m, 0); /* 2: events, 3: xs, 4: xr, 5: xe (see prelude) */
    if (m > vm->x_cap) {
        for (int t = 0; t < 3; t++) {
            lua_createtable(L, (int)m, 0);
            lua_pushvalue(L, -1);
            lua_rawseti(L, LUA_REGISTRYINDEX, vm->ref_x[t]);
        }
        vm->x_cap = m;
    } else {
        for (int t = 0; t < 3; t++) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_x[t]);
        }
    }
    /* 6: the events' metatable: the proxies' metamethods, the bytes and the list */
    lua_createtable(L, 0, 8);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_evmt);
    static const char *const mm[] = {"__index", "__newindex", "__metatable"};
    for (int t = 0; t < 3; t++) {
        lua_getfield(L, 7, mm[t]);
        lua_setfield(L, 6, mm[t]);
    }
    lua_pop(L, 1);
    lua_pushlightuserdata(L, (void *)&shape_key);
    lua_pushinteger(L, SHAPE_EVENT);
    lua_rawset(L, 6);
    lua_pushlightuserdata(L, (void *)&bud_key);
    lua_pushvalue(L, 1);
    lua_rawset(L, 6);
    lua_pushlightuserdata(L, (void *)&evs_key);
    lua_pushvalue(L, 2);
    lua_rawset(L, 6);
    lua_pushvalue(L, 2);
    lua_rawseti(L, LUA_REGISTRYINDEX, vm->ref_cur_evs);
    vm->cur_bmt = lua_topointer(L, 6);
    vm->not_bmt = NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_driver);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_transform);
    lua_pushinteger(L, (lua_Integer)m);
    lua_pushvalue(L, 6);
    for (int t = 2; t <= 5; t++) {
        lua_pushvalue(L, t);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_relief);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_cap);
    if (vm->budget_ms > 0) {
        vm->deadline_ns = mono_ns() + (int64_t)vm->budget_ms * 1000000LL;
        running_vm = vm;
    }
    for (uint32_t t = 0; t < vm->n_touched; t++) { /* (cheaper than clearing them all) */
        vm->evstate[vm->touched[t]] = NULL;
    }
    vm->n_touched = 0;
    vm->cur_bud = u;
    vm->mem_capped = false; /* the driver caps the script, not the making of the events */
    lua_call(L, 9, 1);
    vm->mem_capped = false;
    /* the deadline stays armed while the results are written: the script's metamethods run
     * there (sort_keys, l_schema_of); lua_transform_batch disarms it */
    uint32_t nx = (uint32_t)lua_tointeger(L, -1);
    lua_settop(L, 5);

    uint32_t k = 1; /* the next exception */
    lua_Integer xj = 0;
    uint32_t xa = 0; /* its event's number (0: none left) */
    if (k <= nx) {
        lua_rawgeti(L, 3, (int)k);
        xj = lua_tointeger(L, -1);
        xa = (uint32_t)(xj < 0 ? -xj : xj);
        lua_pop(L, 1);
    }
    msgpack_sbuffer *out = b->out;
    void *const *evstate = vm->evstate;
    rc_script_result_t *res = b->res;
    /* events sent as they came that follow each other in the input are copied in runs (as
     * into the userdata): rs[0..pend) is still to be copied to out->data + out->size */
    const uint8_t *rs = NULL;
    size_t pend = 0;
    for (uint32_t i = 0; i < n && !b->nomem; i++) {
        rc_script_result_t *r = &res[i];
        uint32_t j = evj[i];
        /* as it came: not run, or run and untouched and not the next exception (most events) */
        if (j != 0 ? j != xa && !evstate[j - 1] : !run[i]) {
            size_t len = ev[i].len, size = out->size;
            if (j != 0 && !untouched_ev_check(vm, ev[i].p, len, c.why, sizeof(c.why))) {
                if (pend != 0) {
                    memcpy(out->data + size, rs, pend);
                    out->size += pend;
                    pend = 0;
                }
                char msg[700];
                snprintf(msg, sizeof(msg), "%s: %s", vm->file, c.why);
                memset(r, 0, sizeof(*r));
                fail_event(b, r, out->size, msg);
                r->end_off = out->size;
                continue;
            }
            if (pend != 0 && ev[i].p == rs + pend && pend <= RUN_MAX &&
                out->alloc - size - pend >= len) {
                pend += len;
            } else {
                if (pend != 0) {
                    memcpy(out->data + size, rs, pend);
                    out->size = size += pend;
                    pend = 0;
                }
                if (out->alloc - size >= len) { /* (most: room is left) */
                    rs = ev[i].p;
                    pend = len;
                } else {
                    msgpack_sbuffer_write(out, (const char *)ev[i].p, len);
                }
            }
            *r = (rc_script_result_t){.status = j != 0 ? RC_SCRIPT_SENT : RC_SCRIPT_SKIPPED,
                                      .n_out = 1,
                                      .end_off = out->size + pend};
            continue;
        }
        if (pend != 0) { /* what follows writes into out */
            memcpy(out->data + out->size, rs, pend);
            out->size += pend;
            pend = 0;
        }
        if (j == 0 || j != xa) {
            void *state = j != 0 ? vm->evstate[j - 1] : NULL;
            if (state) { /* transform returned nothing, ACTION_CONT or the event it touched */
                size_t start = b->out->size;
                memset(r, 0, sizeof(*r));
                lua_settop(L, 6);
                lua_rawgeti(L, 2, (int)b->evj[i]); /* 7: the event */
                send_result(&c, b, r, start, true, state == EV_TOUCHED_WHOLE ? NULL : state);
                r->end_off = b->out->size;
                continue;
            }
            char msg[700];
            snprintf(msg, sizeof(msg), "%s: the event is not a map", vm->file);
            memset(r, 0, sizeof(*r));
            fail_event(b, r, b->out->size, msg);
            r->end_off = b->out->size;
            continue;
        }
        /* exception k is this event's */
        size_t start = b->out->size;
        memset(r, 0, sizeof(*r));
        lua_settop(L, 5);
        if (xj < 0) {
            r->status = RC_SCRIPT_DROPPED;
        } else {
            lua_rawgeti(L, 5, (int)k); /* 6: the error */
            lua_rawgeti(L, 4, (int)k); /* 7: what to send */
            if (!lua_isnil(L, 6)) {
                const char *msg = lua_tostring(L, 6);
                char oom[700];
                if (vm->mem_limit && msg && strcmp(msg, "not enough memory") == 0) {
                    snprintf(oom, sizeof(oom),
                             "%s: not enough memory (the script's memory limit is "
                             "%zu MiB)",
                             vm->file, vm->mem_limit >> 20);
                    msg = oom;
                }
                fail_event(b, r, start, msg ? msg : "?");
            } else {
                lua_rawgeti(L, 2, (int)(xj)); /* 8: the event */
                void *state = vm->evstate[xj - 1];
                send_result(&c, b, r, start, lua_rawequal(L, 7, 8),
                            state == EV_TOUCHED_WHOLE ? NULL : state);
            }
        }
        r->end_off = b->out->size;
        if (xj > 0) { /* let go of what it sent (xr, xe serve the next batch; a drop left none) */
            lua_pushnil(L);
            lua_rawseti(L, 4, (int)k);
            lua_pushnil(L);
            lua_rawseti(L, 5, (int)k);
        }
        xa = 0;
        if (++k <= nx) {
            lua_rawgeti(L, 3, (int)k);
            xj = lua_tointeger(L, -1);
            xa = (uint32_t)(xj < 0 ? -xj : xj);
            lua_pop(L, 1);
        }
    }
    if (pend != 0) {
        memcpy(out->data + out->size, rs, pend);
        out->size += pend;
    }
    lua_settop(L, 0);
    return 0;
}

static rc_err_t lua_transform_batch(void *opaque, const rc_span_t *ev, const bool *run, uint32_t n,
                                    msgpack_sbuffer *out, rc_script_result_t *res, rc_buf_t *errs,
                                    char *errstr, size_t errstr_size) {
    lvm_t *vm = opaque;
    if (n > vm->evj_cap) {
        uint32_t *evj = realloc(vm->evj, n * sizeof(*evj));
        if (evj) {
            vm->evj = evj;
        }
        void **evstate = evj ? realloc(vm->evstate, n * sizeof(*evstate)) : NULL;
        if (evstate) {
            vm->evstate = evstate;
        }
        uint32_t *touched = evstate ? realloc(vm->touched, n * sizeof(*touched)) : NULL;
        if (touched) {
            vm->touched = touched;
        }
        bud_ev_t *scr_ev = touched ? realloc(vm->scr_ev, n * sizeof(*scr_ev)) : NULL;
        if (scr_ev) {
            vm->scr_ev = scr_ev;
        }
        bud_run_t *scr_run = scr_ev ? realloc(vm->scr_run, n * sizeof(*scr_run)) : NULL;
        if (!scr_run) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: out of memory", vm->file);
        }
        vm->scr_run = scr_run;
        memset(vm->evstate, 0, n * sizeof(*vm->evstate));
        vm->n_touched = 0;
        vm->evj_cap = n;
    }
    batch_t b = {vm, ev, run, n, out, res, errs, false, vm->evj};
    int rc = lua_cpcall(vm->L, batch_main, &b);
    vm->cur_bud = NULL;
    vm->cur_bmt = NULL;
    lua_pushboolean(vm->L, 0); /* the list lives on only with an event the script kept */
    lua_rawseti(vm->L, LUA_REGISTRYINDEX, vm->ref_cur_evs);
    vm->deadline_ns = 0;
    vm->mem_capped = false;
    if (vm->mem_limit && vm->mem_used > vm->mem_limit / 2) {
        lua_gc(vm->L, LUA_GCCOLLECT, 0); /* LuaJIT has no emergency collection on a failure */
    }
    vm->mem_overdraft = vm->mem_used > vm->mem_limit;
    if (rc != 0 || b.nomem) {
        vm->x_cap = 0; /* xr, xe may hold outcomes no one let go of: new ones for the next batch */
    }
    if (rc != 0) {
        rc_err_t err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: the Lua VM failed: %s%s",
                                 vm->file, lua_tostring(vm->L, -1),
                                 vm->mem_limit ? " (the script's memory limit ran out)" : "");
        lua_settop(vm->L, 0);
        return err;
    }
    if (b.nomem) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: out of memory", vm->file);
    }
    return RC_OK;
}

/* ---- globals ---- */

/* copy(value): a deep copy that keeps key order and types (for fan-out). */
static int l_copy(lua_State *L) {
    lvm_t *vm = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cx_t c = {.vm = vm, .L = L};
    msgpack_packer_init(&c.pk, &sb, msgpack_sbuffer_write);
    int rc = pack_value(&c, 1, TAG_NONE, 0, NULL);
    const uint8_t *p = (const uint8_t *)sb.data;
    uint8_t tag;
    if (rc == 0) {
        rc = push_value(&c, &p, p + sb.size, 0, &tag);
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0) {
        return luaL_error(L, "copy: %s", c.why);
    }
    return 1;
}

/* The one trampoline of every UDF (upvalues: the VM and the rc_udf_t): the arguments become
 * a msgpack array, rc_udf_call runs the C function, its msgpack result becomes the return
 * value. Errors are raised at the caller's line: "FILE:LINE: NAME: what went wrong". */
static int l_udf(lua_State *L) {
    lvm_t *vm = lua_touserdata(L, lua_upvalueindex(1));
    const rc_udf_t *u = lua_touserdata(L, lua_upvalueindex(2));
    int argc = lua_gettop(L);
    if (vm->in_udf) {
        return luaL_error(L,
                          "%s: UDFs cannot be called while the arguments of another are "
                          "converted",
                          u->name);
    }
    if (argc > 255) {
        return luaL_error(L, "%s: too many arguments (%d)", u->name, argc);
    }
    vm->udf_args.size = 0;
    vm->udf_res.size = 0;
    cx_t c = {.vm = vm, .L = L};
    msgpack_packer_init(&c.pk, &vm->udf_args, msgpack_sbuffer_write);
    msgpack_pack_array(&c.pk, (size_t)argc);
    vm->in_udf = true;
    for (int i = 1; i <= argc; i++) {
        if (lua_type(L, i) == LUA_TSTRING) { /* what most UDFs take: a str, no dispatch */
            size_t n;
            const char *s = lua_tolstring(L, i, &n);
            msgpack_pack_str(&c.pk, n);
            msgpack_pack_str_body(&c.pk, s, n);
            continue;
        }
        if (pack_value(&c, i, TAG_NONE, 0, NULL) != 0) {
            vm->in_udf = false;
            return luaL_error(L, "%s: argument %d: %s", u->name, i, c.why);
        }
    }
    vm->in_udf = false;
    char why[600];
    if (rc_udf_call(u, (const uint8_t *)vm->udf_args.data, vm->udf_args.size, (uint32_t)argc,
                    &vm->udf_res, why, sizeof(why)) != RC_OK) {
        return luaL_error(L, "%s", why);
    }
    const uint8_t *p = (const uint8_t *)vm->udf_res.data;
    size_t rn = vm->udf_res.size; /* one whole value: rc_udf_call checked it */
    if ((p[0] & 0xe0) == 0xa0 || p[0] == 0xd9 || p[0] == 0xda || p[0] == 0xdb) {
        size_t hdr = (p[0] & 0xe0) == 0xa0 ? 1 : p[0] == 0xd9 ? 2 : p[0] == 0xda ? 3 : 5;
        lua_pushlstring(L, (const char *)p + hdr, rn - hdr); /* a str result, as most are */
        return 1;
    }
    uint8_t tag;
    if (push_value(&c, &p, p + rn, 0, &tag) != 0) {
        return luaL_error(L, "%s: its result: %s", u->name, c.why);
    }
    return 1;
}

static const char *const removed_globals[] = {
    "dofile",         "loadfile", "load", "loadstring", "getfenv", "setfenv", "newproxy",
    "collectgarbage", "gcinfo",   "jit",  "module",     "require", "package", "io",
    "debug",          "ffi",      NULL,
};

typedef struct setup {
    lvm_t *vm;
    const char *src;
    size_t len;
    char err[1024];
} setup_t;

static void open_lib(lua_State *L, lua_CFunction f, const char *name) {
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

static int setup_main(lua_State *L) {
    setup_t *s = lua_touserdata(L, 1);
    lvm_t *vm = s->vm;
    open_lib(L, luaopen_base, "");
    open_lib(L, luaopen_table, LUA_TABLIBNAME);
    open_lib(L, luaopen_string, LUA_STRLIBNAME);
    open_lib(L, luaopen_math, LUA_MATHLIBNAME);
    open_lib(L, luaopen_bit, LUA_BITLIBNAME);
    open_lib(L, luaopen_os, LUA_OSLIBNAME);
    open_lib(L, luaopen_jit, LUA_JITLIBNAME); /* turns the compiler on; the global goes below */

    if (luaL_loadbuffer(L, prelude, sizeof(prelude) - 1, "=rowcast") != 0) {
        return lua_error(L);
    }
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, l_over, 1);
    lua_call(L, 1, 5);
    vm->ref_tick = luaL_ref(L, LUA_REGISTRYINDEX);
    vm->ref_sort = luaL_ref(L, LUA_REGISTRYINDEX);
    vm->ref_driver = luaL_ref(L, LUA_REGISTRYINDEX);
    vm->drop = lua_topointer(L, -1);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "ACTION_DROP");
    vm->ref_drop = luaL_ref(L, LUA_REGISTRYINDEX);
    vm->cont = lua_topointer(L, -1);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "ACTION_CONT");
    vm->ref_cont = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_newtable(L); /* the shape cache: signature -> shape */
    vm->ref_shapes = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushboolean(L, 0); /* (the slot of the shape set last) */
    vm->ref_last_shape = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushboolean(L, 0); /* (the slot of the running batch's list of events) */
    vm->ref_cur_evs = luaL_ref(L, LUA_REGISTRYINDEX);
    for (int t = 0; t < 3; t++) {
        lua_newtable(L); /* xs, xr, xe: made for the first batch */
        vm->ref_x[t] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_createtable(L, 0, 4); /* the metatable of event proxies */
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, l_ev_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, l_ev_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushlightuserdata(L, (void *)&shape_key);
    lua_pushinteger(L, SHAPE_EVENT);
    lua_rawset(L, -3);
    vm->evmt = lua_topointer(L, -1); /* the registry keeps it: its address stays */
    vm->ref_evmt = luaL_ref(L, LUA_REGISTRYINDEX);
    /* what iterates or reads raw loads a proxy's fields first and hides its state */
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, l_next, 1);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "next");
    lua_pushcclosure(L, l_pairs, 1);
    lua_setglobal(L, "pairs");
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, l_rawget, 1);
    lua_setglobal(L, "rawget");
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, l_rawset, 1);
    lua_setglobal(L, "rawset");
    if (luaL_loadbuffer(L, foreach_src, sizeof(foreach_src) - 1, "=rowcast") != 0) {
        return lua_error(L);
    }
    lua_call(L, 0, 0);

    /* os keeps only time, clock and date */
    lua_getglobal(L, "os");
    lua_createtable(L, 0, 3);
    const char *keep[] = {"time", "clock", "date"};
    for (int i = 0; i < 3; i++) {
        lua_getfield(L, -2, keep[i]);
        lua_setfield(L, -2, keep[i]);
    }
    lua_setglobal(L, "os");
    lua_pop(L, 1);
    for (int i = 0; removed_globals[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed_globals[i]);
    }
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    lua_pushlightuserdata(L, NULL);
    lua_setglobal(L, "null");
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, l_copy, 1);
    lua_setglobal(L, "copy");
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, l_relief, 1);
    vm->ref_relief = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, l_cap, 1);
    vm->ref_cap = luaL_ref(L, LUA_REGISTRYINDEX);
    rc_udf_init();
    for (size_t i = 0, n = rc_udf_count(); i < n; i++) {
        const rc_udf_t *u = rc_udf_at(i);
        lua_pushlightuserdata(L, vm);
        lua_pushlightuserdata(L, (void *)u);
        lua_pushcclosure(L, l_udf, 2);
        lua_setglobal(L, u->name);
    }

    /* the script: text only (mode "t" refuses bytecode), run once, must define transform */
    if (s->len > 0 && s->src[0] == LUA_SIGNATURE[0]) {
        snprintf(s->err, sizeof(s->err),
                 "%s: precompiled bytecode is not accepted; give the "
                 "script as text",
                 vm->file);
        return 0;
    }
    char chunk[1024];
    snprintf(chunk, sizeof(chunk), "@%s", vm->file);
    if (luaL_loadbufferx(L, s->src, s->len, chunk, "t") != 0) {
        snprintf(s->err, sizeof(s->err), "%s", lua_tostring(L, -1));
        return 0;
    }
    /* under a budget, the script with the checks (compiled as they are errors are reported
     * as the user wrote them); one that cannot carry them (it names __rowcast_tick, has a
     * function with 120 upvalues, its top level 199 locals) runs under the hook */
    if (vm->budget_ms > 0) {
        rc_buf_t text = RC_BUF_INIT;
        char why[128];
        if (rc_script_lua_instrument(s->src, s->len, &text, why, sizeof(why)) == RC_OK) {
            if (luaL_loadbufferx(L, text.data, text.len, chunk, "t") == 0) {
                lua_replace(L, -2);
                vm->ticked = true;
            } else {
                lua_pop(L, 1); /* the rewritten text's error */
            }
        }
        rc_buf_free(&text);
    }
    lua_pushvalue(L, -1);
    vm->ref_chunk = luaL_ref(L, LUA_REGISTRYINDEX);
    /* under a budget: the hook and the script interpreted, or the checks and compiled */
    lua_vm_set_budget(vm, vm->budget_ms);
    if (vm->ticked) { /* what the rewritten text's first statement reads, for its top level */
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_tick);
        lua_setglobal(L, RC_SCRIPT_LUA_TICK);
    }
    vm->mem_capped = vm->mem_limit > 0; /* the top level is the user's code: capped */
    int rc = lua_pcall(L, 0, 0, 0);
    vm->mem_capped = false;
    if (vm->ticked) {
        lua_pushnil(L);
        lua_setglobal(L, RC_SCRIPT_LUA_TICK);
    }
    if (rc == LUA_ERRMEM ||
        (rc != 0 && vm->mem_limit && strcmp(lua_tostring(L, -1), "not enough memory") == 0)) {
        snprintf(s->err, sizeof(s->err),
                 "%s: not enough memory while the top level of the script ran (the script's "
                 "memory limit is %zu MiB)",
                 vm->file, vm->mem_limit >> 20);
        return 0;
    }
    if (rc != 0) {
        snprintf(s->err, sizeof(s->err), "%s", lua_tostring(L, -1));
        return 0;
    }
    lua_getglobal(L, "transform");
    if (!lua_isfunction(L, -1)) {
        snprintf(s->err, sizeof(s->err),
                 "%s: the script must define a function transform(cdc_event)", vm->file);
        return 0;
    }
    vm->ref_transform = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static void lua_vm_destroy(void *opaque) {
    lvm_t *vm = opaque;
    if (!vm) {
        return;
    }
    if (vm->L) {
        lua_close(vm->L);
    }
    rc_script_pool_destroy(&vm->pool); /* after the heap: its blocks live in the slabs */
    msgpack_sbuffer_destroy(&vm->udf_args);
    msgpack_sbuffer_destroy(&vm->udf_res);
    rc_buf_free(&vm->sig);
    free(vm->evj);
    free(vm->evstate);
    free(vm->touched);
    free(vm->scr_ev);
    free(vm->scr_run);
    free(vm->file);
    free(vm);
}

static void *lua_vm_create(const char *file, const char *src, size_t len, unsigned budget_ms,
                           size_t memory_bytes, char *errstr, size_t errstr_size) {
    lvm_t *vm = calloc(1, sizeof(*vm));
    if (!vm || !(vm->file = strdup(file)) || !(vm->L = lua_newstate(lua_vm_alloc, vm))) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: cannot create a Lua VM", file);
        goto fail;
    }
    msgpack_sbuffer_init(&vm->udf_args);
    msgpack_sbuffer_init(&vm->udf_res);
    setup_t s = {.vm = vm, .src = src, .len = len};
    vm->mem_limit = memory_bytes; /* the top level runs under the cap (setup_main) */
    vm->budget_ms = budget_ms;    /* (setup_main sets the hook or rewrites the script) */
    if (budget_ms > 0) {          /* the top level runs under the budget as a batch does */
        vm->deadline_ns = mono_ns() + (int64_t)budget_ms * 1000000LL;
        running_vm = vm;
    }
    int crc = lua_cpcall(vm->L, setup_main, &s);
    vm->deadline_ns = 0;
    if (crc != 0) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: cannot set up the Lua VM: %s", file,
                  lua_tostring(vm->L, -1));
        goto fail;
    }
    if (s.err[0]) {
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s", s.err);
        goto fail;
    }
    lua_settop(vm->L, 0);
    return vm;
fail:
    lua_vm_destroy(vm);
    return NULL;
}

const rc_script_engine_t rc_script_lua = {
    .name = "lua",
    .create = lua_vm_create,
    .transform_batch = lua_transform_batch,
    .destroy = lua_vm_destroy,
    .set_budget = lua_vm_set_budget,
    .set_memory_limit = lua_vm_set_memory_limit,
    .memory_used = lua_vm_memory_used,
};
