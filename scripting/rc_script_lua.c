/* rc_script_lua.c: the LuaJIT engine ("engine: lua").
 *
 * One lua_State per script, sandboxed at creation: base (without load*, dofile, *fenv,
 * newproxy, collectgarbage), string (without dump), table, math, bit, and os.time/clock/date
 * only; no io, package/require, ffi, debug or jit. A batch is one protected C call that turns
 * the events to run into lazy proxies (see "events as lazy proxies": a field is converted
 * when the script reads it, untouched fields go back out as their bytes), calls a small Lua
 * driver once (it pcalls transform per event, so one failing event does not stop the
 * others), and writes the results back.
 * Maps remember their key order and each entry's msgpack type (see rc_script_int.h) in their
 * metatable, a "shape": {tags, key1, key2, ...} (arrays: {tags}), protected (getmetatable
 * gives false, setmetatable is refused) and shared by every table of the same keys and
 * types, so converting an event allocates no shape: shapes are interned by a signature (the
 * keys' msgpack bytes and the tags) in a cache that is dropped when it holds too many.
 * (A weak side table keyed by the tables, which this replaced, was where perf put most of
 * the ~20 us a 10-column event cost; making it afresh per batch only halved that.)
 * SQL NULL is the sentinel `null` (so assigning nil removes a key).
 *
 * Time budget: an instruction-count hook checks the clock and raises an error in the running
 * script once the batch's budget is spent. LuaJIT does not run hooks inside compiled traces
 * (a `while true do end` would never be interrupted), so a VM with a budget runs with the JIT
 * compiler off; the conversions dominate the cost (bench_transform shows no difference).
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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_script.h"
#include "rc_script_int.h"
#include "rc_udf.h"

typedef struct lvm {
    lua_State *L;
    char *file;
    int ref_shapes, ref_evmt, ref_driver, ref_transform, ref_cont, ref_drop, ref_sort, ref_relief;
    unsigned budget_ms;
    int64_t deadline_ns;               /* CLOCK_MONOTONIC; 0 = no script running under a budget */
    msgpack_sbuffer udf_args, udf_res; /* reused by every UDF call: no malloc per call */
    bool in_udf;
    size_t mem_used, mem_limit; /* bytes the Lua heap holds; the cap (0 = none) */
    bool mem_capped;            /* the cap applies: only while the user's script runs */
    bool mem_overdraft; /* the cap was hit: a little more is allowed until the garbage is gone */
    rc_buf_t sig;       /* signatures of the shapes being converted (a stack: nested ones on top) */
    unsigned n_shapes;  /* entries in the shape cache (registry ref_shapes) */
    void **evp;         /* the batch's proxies (batch_t.evp), grown to the largest batch */
    uint32_t evp_cap;
    rc_script_pool_t pool; /* the heap's small blocks */
    const void *evmt;      /* the metatable of event proxies (registry ref_evmt) */
} lvm_t;

#define SHAPE_CACHE_MAX 4096

/* The key under which a shape holds its kind (SHAPE_MAP or SHAPE_ARRAY): a light userdata
 * no script can make, so no user metatable passes for a shape. */
static const char shape_key;
enum { SHAPE_MAP = 1, SHAPE_ARRAY = 2, SHAPE_EVENT = 3 /* the metatable of event proxies */ };

/* The key under which an event proxy holds its state (see "events as lazy proxies"). */
static const char ev_key;

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
 * from the VM's pool (rc_script_pool_t): Lua tells the allocator each block's size. */
static void *lua_vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    lvm_t *vm = ud;
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
    void *p = rc_script_pool_realloc(&vm->pool, ptr, old, nsize);
    if (p) {
        vm->mem_used = vm->mem_used - old + nsize;
    }
    return p;
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

static void lua_vm_set_memory_limit(void *opaque, size_t bytes) {
    lvm_t *vm = opaque;
    vm->mem_limit = bytes;
}

static size_t lua_vm_memory_used(void *opaque) {
    return ((lvm_t *)opaque)->mem_used;
}

static void lua_vm_set_budget(void *opaque, unsigned ms) {
    lvm_t *vm = opaque;
    vm->budget_ms = ms;
    if (ms > 0) {
        luaJIT_setmode(vm->L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
        lua_sethook(vm->L, budget_hook, LUA_MASKCOUNT, 1000);
    } else {
        lua_sethook(vm->L, NULL, 0, 0);
    }
}

/* What the conversion functions need; lives on the C stack of one call. */
typedef struct cx {
    lvm_t *vm;
    lua_State *L;
    msgpack_packer pk;
    bool lazy; /* maps become lazy proxies (what a script reads of an event) */
    char why[512];
} cx_t;

/* table.foreach on top of pairs (the library's own would show a proxy's hidden key). */
static const char foreach_src[] =
    "local pairs = pairs\n"
    "table.foreach = function(t, f)\n"
    "  for k, v in pairs(t) do local r = f(k, v) if r ~= nil then return r end end\n"
    "end\n";

static const char prelude[] =
    "local setmetatable, pcall, tostring, sort, error = setmetatable, pcall, tostring, "
    "table.sort, error\n"
    "local function const(name)\n"
    "  return setmetatable({}, {__tostring = function() return name end, __metatable = false,\n"
    "    __newindex = function() error(name .. ' is read-only', 2) end})\n"
    "end\n"
    "local function driver(fn, evs, n, res, errs, relief)\n"
    "  for i = 1, n do\n"
    "    local e = evs[i]\n"
    "    if e ~= nil then\n"
    "      local ok, r = pcall(fn, e)\n"
    "      if ok then res[i] = r else\n"
    "        if r == 'not enough memory' then relief() end -- collect the event's garbage\n"
    "        errs[i] = tostring(r)\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local function sortkeys(t) sort(t, function(a, b) return tostring(a) < tostring(b) end) end\n"
    "return const('ACTION_CONT'), const('ACTION_DROP'), driver, sortkeys\n";

/* ---- msgpack -> Lua ---- */

static int push_value(cx_t *c, const uint8_t **p, const uint8_t *end, int depth, uint8_t *tag);

/* Gives the table at t (on top of the stack) the shape of signature sig: from the cache, or
 * made from the signature's keys and the n tags and cached. */
static int set_shape(cx_t *c, int t, const char *sig, size_t sig_len, bool map, const uint8_t *tags,
                     uint32_t n) {
    lua_State *L = c->L;
    lvm_t *vm = c->vm;
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
    lua_setmetatable(L, t);
    lua_settop(L, t);
    return 0;
}

static int push_map_proxy(cx_t *c, const uint8_t *start, const uint8_t *end, int depth,
                          const uint8_t **p);

static int push_value(cx_t *c, const uint8_t **p, const uint8_t *end, int depth, uint8_t *tag) {
    lua_State *L = c->L;
    const uint8_t *start = *p;
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
        int prc = push_map_proxy(c, start, end, depth, p);
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
        if (ne > 1) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, c->vm->ref_sort);
            lua_pushvalue(L, extras);
            lua_call(L, 1, 0);
        }
        rc = pack_extras(c, t, extras, ne, depth);
    }
    lua_settop(L, base);
    return rc;
}

typedef rc_script_ev_t evproxy_t;
static evproxy_t *proxy_of(lvm_t *vm, lua_State *L, int idx);
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
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->vm->ref_cont);
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->vm->ref_drop);
        bool action = lua_rawequal(L, idx, -1) || lua_rawequal(L, idx, -2);
        lua_pop(L, 2);
        if (!action) {
            evproxy_t *e = proxy_of(c->vm, L, idx);
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
 * and writes that column, and the row's other columns go out as their bytes. The event's bytes are copied into a userdata that
 * the table holds under a key no script can make, so an event kept past its batch stays
 * whole; next, pairs, rawget, rawset and table.foreach load every field first and never
 * show that key. */

#define EV_MAX_FIELDS RC_SCRIPT_EV_MAX_FIELDS

/* Pushes a proxy of the map ev[0..len) indexed in f. */
static evproxy_t *push_indexed(cx_t *c, const rc_script_evfield_t *f, uint32_t nf, uint32_t hdr,
                               const uint8_t *ev, size_t len, int depth) {
    lua_State *L = c->L;
    lua_createtable(L, 0, 1); /* the hidden key; fields the script loads make it grow */
    evproxy_t *e = lua_newuserdata(L, rc_script_ev_size(nf, len));
    rc_script_ev_init(e, f, nf, hdr, ev, len);
    e->depth = (uint8_t)depth;
    lua_pushlightuserdata(L, (void *)&ev_key);
    lua_insert(L, -2);
    lua_rawset(L, -3);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->vm->ref_evmt);
    lua_setmetatable(L, -2);
    return e;
}

/* Pushes an event as a proxy (its state in *out): 1 = pushed, 0 = it does not fit one (more
 * than EV_MAX_FIELDS fields, or a key that is not a string: convert it whole), -1 = bad event
 * (c->why). */
static int push_proxy(cx_t *c, const uint8_t *ev, size_t len, evproxy_t **out) {
    rc_script_evfield_t f[EV_MAX_FIELDS];
    uint32_t nf = 0, hdr = 0;
    int rc = rc_script_ev_index(ev, len, f, &nf, &hdr, c->why, sizeof(c->why));
    if (rc == 1) {
        *out = push_indexed(c, f, nf, hdr, ev, len, 0);
    }
    return rc;
}

/* A map inside a field a script reads (a row of after, kafka.key) is a proxy too: a column
 * is converted when the script reads it, and on the way out the columns it did not change
 * are copied as their bytes (a script that masks one column writes that column only). The
 * map starts at start (inside end); on success *p is moved past it. Same returns as
 * push_proxy. */
static int push_map_proxy(cx_t *c, const uint8_t *start, const uint8_t *end, int depth,
                          const uint8_t **p) {
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

/* The proxy's state when the table at idx is a proxy (its metatable is the VM's metatable of
 * proxies: compared by address, which a look-up of the shape's kind cost twice), else NULL. */
static evproxy_t *proxy_of(lvm_t *vm, lua_State *L, int idx) {
    if (idx < 0 && idx > LUA_REGISTRYINDEX) {
        idx = lua_gettop(L) + idx + 1;
    }
    if (!lua_getmetatable(L, idx)) {
        return NULL;
    }
    bool proxy = lua_topointer(L, -1) == vm->evmt;
    lua_pop(L, 1);
    if (!proxy) {
        return NULL;
    }
    lua_pushlightuserdata(L, (void *)&ev_key);
    lua_rawget(L, idx);
    evproxy_t *e = lua_type(L, -1) == LUA_TUSERDATA ? lua_touserdata(L, -1) : NULL;
    lua_pop(L, 1);
    return e;
}

/* The field named by the string at idx, or -1. */
static int field_of(lua_State *L, const evproxy_t *e, int idx) {
    if (lua_type(L, idx) != LUA_TSTRING) {
        return -1;
    }
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    return rc_script_ev_field(e, s, n);
}

/* Loads field j of the proxy at t into it (t[key] = value) and marks it loaded. */
static void load_field(cx_t *c, int t, evproxy_t *e, uint32_t j) {
    lua_State *L = c->L;
    const uint8_t *b = rc_script_ev_bytes(e), *p = b + e->f[j].v;
    uint8_t tag;
    c->vm->sig.len = 0; /* never inside another conversion */
    lua_pushlstring(L, (const char *)b + e->f[j].k, e->f[j].kn);
    c->lazy = true;
    int rc = push_value(c, &p, b + e->f[j].end, e->depth + 1, &tag);
    c->lazy = false;
    if (rc != 0) { /* checked as it is converted */
        char msg[700];
        snprintf(msg, sizeof(msg), "field %.*s: %s", (int)e->f[j].kn, (const char *)b + e->f[j].k,
                 c->why);
        luaL_where(L, 1); /* the script's line that read it */
        lua_pushstring(L, msg);
        lua_concat(L, 2);
        lua_error(L);
    }
    lua_rawset(L, t);
    e->loaded |= 1ULL << j;
}

static void load_all(cx_t *c, int t, evproxy_t *e) {
    for (uint32_t j = 0; j < e->nf; j++) {
        if (!(e->loaded & (1ULL << j))) {
            load_field(c, t, e, j);
        }
    }
}

/* __index(t, k): only fields not loaded yet (or assigned nil) come here. */
static int l_ev_index(lua_State *L) {
    cx_t c = {.vm = lua_touserdata(L, lua_upvalueindex(1)), .L = L};
    evproxy_t *e = proxy_of(c.vm, L, 1);
    int j = e ? field_of(L, e, 2) : -1;
    if (j < 0 || (e->loaded & (1ULL << j))) {
        return 0;
    }
    load_field(&c, 1, e, (uint32_t)j);
    lua_settop(L, 2);
    lua_rawget(L, 1);
    return 1;
}

/* The script sets key 2 of proxy e (NULL: not an event): a field it names is loaded (its new
 * value is written out), any other key is extra. */
static void note_set(lua_State *L, evproxy_t *e) {
    if (e) {
        int j = field_of(L, e, 2);
        if (j >= 0) {
            e->loaded |= 1ULL << j;
        } else {
            e->extra = true;
        }
    }
}

/* __newindex(t, k, v): a key the table does not hold yet. */
static int l_ev_newindex(lua_State *L) {
    note_set(L, proxy_of(lua_touserdata(L, lua_upvalueindex(1)), L, 1));
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
        if (!e || lua_type(L, -2) != LUA_TLIGHTUSERDATA || lua_touserdata(L, -2) != &ev_key) {
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
        if (lua_type(L, 2) == LUA_TLIGHTUSERDATA && lua_touserdata(L, 2) == &ev_key) {
            lua_pushnil(L);
            return 1;
        }
        int j = field_of(L, e, 2);
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

/* Does the value at idx still equal field j's value as it came (same bytes when packed)? */
static bool same_as_field(lua_State *L, int idx, const evproxy_t *e, uint32_t j) {
    mpv_t v;
    rc_script_ev_value(e, j, &v);
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
        return (tag == TAG_F32 || tag == TAG_F64) ? d == v.d
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
    luaL_checkstack(L, 10, "nesting");
    int base = lua_gettop(L);
    uint32_t count = 0;
    uint64_t gone = 0;
    for (uint32_t j = 0; j < e->nf; j++) {
        if (e->loaded & (1ULL << j)) {
            lua_pushlstring(L, (const char *)b + e->f[j].k, e->f[j].kn);
            lua_rawget(L, t);
            if (lua_isnil(L, -1)) {
                gone |= 1ULL << j;
            }
            lua_pop(L, 1);
        }
        count += !(gone & (1ULL << j));
    }
    int extras = 0, ne = 0;
    if (e->extra) {
        lua_newtable(L);
        extras = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, t) != 0) {
            lua_pop(L, 1);
            if ((lua_type(L, -1) == LUA_TLIGHTUSERDATA && lua_touserdata(L, -1) == &ev_key) ||
                field_of(L, e, lua_gettop(L)) >= 0) {
                continue;
            }
            lua_pushvalue(L, -1);
            lua_rawseti(L, extras, ++ne);
        }
        if (ne > 1) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, c->vm->ref_sort);
            lua_pushvalue(L, extras);
            lua_call(L, 1, 0);
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
    for (uint32_t j = 0; j < e->nf && rc == 0; j++) {
        const rc_script_evfield_t *f = &e->f[j];
        if (gone & (1ULL << j)) {
            continue;
        }
        bool same = !(e->loaded & (1ULL << j));
        if (!same) {
            lua_pushlstring(L, (const char *)b + f->k, f->kn);
            lua_rawget(L, t);
            same = same_as_field(L, -1, e, j);
            if (same) {
                lua_pop(L, 1);
            }
        }
        /* the key is written as it came either way */
        uint32_t upto = same ? f->end : f->v;
        if (to != f->kv) {
            if (to > from) {
                c->pk.callback(c->pk.data, (const char *)b + from, to - from);
            }
            from = f->kv;
        }
        to = upto;
        if (same) {
            continue;
        }
        c->pk.callback(c->pk.data, (const char *)b + from, to - from);
        from = to = f->end;
        mpv_t v;
        rc_script_ev_value(e, j, &v);
        char key[128]; /* (for messages; snprintf here was a tenth of a masking event) */
        size_t kn = f->kn < sizeof(key) ? f->kn : sizeof(key) - 1;
        memcpy(key, b + f->k, kn);
        key[kn] = '\0';
        rc = pack_value(c, lua_gettop(L), rc_script_tag_of(&v), depth + 1, key);
        lua_pop(L, 1);
    }
    if (rc == 0 && to > from) {
        c->pk.callback(c->pk.data, (const char *)b + from, to - from);
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
    evproxy_t **evp; /* evp[i]: the state of event i's proxy (NULL: converted whole) */
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

/* Packs the event at idx and checks it; false with c->why on failure. known: the state of
 * the proxy at idx when the caller knows it (the batch's own event), else NULL. */
static bool emit(cx_t *c, batch_t *b, int idx, evproxy_t *known) {
    size_t start = b->out->size;
    if (lua_type(c->L, idx) != LUA_TTABLE) {
        snprintf(c->why, sizeof(c->why), "a list element is a %s, not an event",
                 luaL_typename(c->L, idx));
        return false;
    }
    evproxy_t *e = known ? known : proxy_of(c->vm, c->L, idx);
    if (e && e->loaded == 0 && !e->extra && lua_objlen(c->L, idx) == 0) { /* untouched */
        c->pk.callback(c->pk.data, (const char *)rc_script_ev_bytes(e), e->len);
        return rc_script_ev_check(e, c->why, sizeof(c->why));
    }
    if (pack_value(c, idx, TAG_MAP, 0, NULL) != 0) {
        return false;
    }
    int k = e ? rc_script_ev_field(e, "kafka", 5) : -1;
    if (k >= 0 && !(e->loaded & (1ULL << k))) { /* kafka went out as it came */
        return rc_script_ev_check(e, c->why, sizeof(c->why));
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

static int batch_main(lua_State *L) {
    batch_t *b = lua_touserdata(L, 1);
    lvm_t *vm = b->vm;
    cx_t c = {.vm = vm, .L = L};
    msgpack_packer_init(&c.pk, b->out, msgpack_sbuffer_write);
    vm->in_udf = false;
    lua_settop(L, 0);
    lua_pushnil(L);                   /* 1: unused */
    lua_createtable(L, (int)b->n, 0); /* 2: events */
    lua_createtable(L, (int)b->n, 0); /* 3: results */
    lua_newtable(L);                  /* 4: errors */
    for (uint32_t i = 0; i < b->n; i++) {
        if (!b->run[i]) {
            continue;
        }
        const uint8_t *p = b->ev[i].p;
        uint8_t tag = TAG_MAP;
        b->evp[i] = NULL;
        int prc = push_proxy(&c, p, b->ev[i].len, &b->evp[i]);
        if (prc == 0) { /* does not fit a proxy: converted whole */
            prc = push_value(&c, &p, p + b->ev[i].len, 0, &tag);
        } else if (prc == 1) {
            prc = 0;
        }
        if (prc != 0 || tag != TAG_MAP) {
            lua_settop(L, 4);
            char msg[700];
            snprintf(msg, sizeof(msg), "%s: %s", vm->file,
                     prc != 0 ? c.why : "the event is not a map");
            lua_pushstring(L, msg);
            lua_rawseti(L, 4, (int)i + 1);
            continue;
        }
        lua_rawseti(L, 2, (int)i + 1);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_driver);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_transform);
    lua_pushvalue(L, 2);
    lua_pushinteger(L, (lua_Integer)b->n);
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 4);
    if (vm->budget_ms > 0) {
        vm->deadline_ns = mono_ns() + (int64_t)vm->budget_ms * 1000000LL;
        running_vm = vm;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_relief);
    vm->mem_capped = vm->mem_limit > 0; /* the cap binds the script, not the conversions */
    lua_call(L, 6, 0);
    vm->mem_capped = false;
    vm->deadline_ns = 0;

    for (uint32_t i = 0; i < b->n && !b->nomem; i++) {
        rc_script_result_t *r = &b->res[i];
        size_t start = b->out->size;
        memset(r, 0, sizeof(*r));
        if (!b->run[i]) {
            msgpack_sbuffer_write(b->out, (const char *)b->ev[i].p, b->ev[i].len);
            r->status = RC_SCRIPT_SKIPPED;
            r->n_out = 1;
            r->end_off = b->out->size;
            continue;
        }
        lua_settop(L, 4);
        lua_rawgeti(L, 4, (int)i + 1);
        if (!lua_isnil(L, -1)) {
            const char *msg = lua_tostring(L, -1);
            char oom[700];
            if (vm->mem_limit && msg && strcmp(msg, "not enough memory") == 0) {
                snprintf(oom, sizeof(oom),
                         "%s: not enough memory (the script's memory limit is "
                         "%zu MiB)",
                         vm->file, vm->mem_limit >> 20);
                msg = oom;
            }
            fail_event(b, r, start, msg);
            r->end_off = b->out->size;
            continue;
        }
        lua_rawgeti(L, 3, (int)i + 1); /* 6: what transform returned */
        lua_rawgeti(L, 2, (int)i + 1); /* 7: the event */
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_cont);
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_drop); /* 8, 9 */
        bool ok = true;
        r->status = RC_SCRIPT_SENT;
        if (lua_isnil(L, 6) || lua_rawequal(L, 6, 8) || lua_rawequal(L, 6, 7)) {
            ok = emit(&c, b, 7, b->evp[i]);
            r->n_out = 1;
        } else if (lua_rawequal(L, 6, 9)) {
            r->status = RC_SCRIPT_DROPPED;
        } else if (lua_type(L, 6) == LUA_TTABLE) {
            int kind = get_shape(L, 6);
            bool single = kind == SHAPE_MAP || kind == SHAPE_EVENT;
            lua_settop(L, 9);
            if (!single) {
                lua_getfield(L, 6, "schema");
                single = !lua_isnil(L, -1);
                lua_pop(L, 1);
            }
            if (single) {
                ok = emit(&c, b, 6, NULL);
                r->n_out = 1;
            } else {
                int k = (int)lua_objlen(L, 6);
                for (int j = 1; j <= k && ok; j++) {
                    lua_rawgeti(L, 6, j);
                    ok = emit(&c, b, lua_gettop(L), NULL);
                    lua_pop(L, 1);
                }
                r->n_out = (uint32_t)k;
                if (k == 0) {
                    r->status = RC_SCRIPT_DROPPED;
                }
            }
        } else {
            char d[120];
            describe(L, 6, d, sizeof(d));
            snprintf(c.why, sizeof(c.why),
                     "transform returned %s; expected ACTION_CONT, ACTION_DROP, the event or a "
                     "list of events",
                     d);
            ok = false;
        }
        if (!ok) {
            char msg[700];
            snprintf(msg, sizeof(msg), "%s: %s", vm->file, c.why);
            fail_event(b, r, start, msg);
        }
        r->end_off = b->out->size;
    }
    lua_settop(L, 0);
    return 0;
}

static rc_err_t lua_transform_batch(void *opaque, const rc_span_t *ev, const bool *run, uint32_t n,
                                    msgpack_sbuffer *out, rc_script_result_t *res, rc_buf_t *errs,
                                    char *errstr, size_t errstr_size) {
    lvm_t *vm = opaque;
    if (n > vm->evp_cap) {
        void **evp = realloc(vm->evp, n * sizeof(*evp));
        if (!evp) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: out of memory", vm->file);
        }
        vm->evp = evp;
        vm->evp_cap = n;
    }
    batch_t b = {vm, ev, run, n, out, res, errs, false, (evproxy_t **)vm->evp};
    int rc = lua_cpcall(vm->L, batch_main, &b);
    vm->deadline_ns = 0;
    vm->mem_capped = false;
    if (vm->mem_limit && vm->mem_used > vm->mem_limit / 2) {
        lua_gc(vm->L, LUA_GCCOLLECT, 0); /* LuaJIT has no emergency collection on a failure */
    }
    vm->mem_overdraft = vm->mem_used > vm->mem_limit;
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
    uint8_t tag;
    if (push_value(&c, &p, p + vm->udf_res.size, 0, &tag) != 0) {
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
    lua_call(L, 0, 4);
    vm->ref_sort = luaL_ref(L, LUA_REGISTRYINDEX);
    vm->ref_driver = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "ACTION_DROP");
    vm->ref_drop = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "ACTION_CONT");
    vm->ref_cont = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_newtable(L); /* the shape cache: signature -> shape */
    vm->ref_shapes = luaL_ref(L, LUA_REGISTRYINDEX);
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
    if (vm->budget_ms > 0) { /* the jit library turned the compiler back on: hooks need it off */
        luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    }
    char chunk[1024];
    snprintf(chunk, sizeof(chunk), "@%s", vm->file);
    if (luaL_loadbufferx(L, s->src, s->len, chunk, "t") != 0) {
        snprintf(s->err, sizeof(s->err), "%s", lua_tostring(L, -1));
        return 0;
    }
    vm->mem_capped = vm->mem_limit > 0; /* the top level is the user's code: capped */
    int rc = lua_pcall(L, 0, 0, 0);
    vm->mem_capped = false;
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
    free(vm->evp);
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
    if (budget_ms > 0) {          /* the top level runs under the budget as a batch does */
        lua_vm_set_budget(vm, budget_ms);
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
