/* rc_script_lua_tick.c: makes Lua scripts interruptible for the time budget while compiled.
 *
 * LuaJIT runs no hooks inside compiled traces, so a script under a budget either runs
 * interpreted under an instruction-count hook (every bytecode then pays the hook's dispatch)
 * or carries its own checks. This file adds the checks to the script's source before it is
 * compiled, as rc_script_js_tick.c does for JS: a call of the local __rowcast_tick (rowcast's
 * Lua: a counter that reads the clock every 1024 calls; inlined into compiled traces) at
 *   the start of every loop body    while c do X    ->  while c do __rowcast_tick(); X
 *                                   for ... do X    ->  for ... do __rowcast_tick(); X
 *                                   repeat X        ->  repeat __rowcast_tick(); X
 *   the start of every function     function f(a) X ->  function f(a) __rowcast_tick(); X
 *   every label a goto can jump     ::l:: X         ->  ::l:: __rowcast_tick(); X
 *   back to
 * and `local __rowcast_tick = __rowcast_tick;` before the first line's text (after a UTF-8 BOM
 * and a #! line, which LuaJIT skips), whose global rowcast sets while the top level runs.
 * A loop of any form passes a check per round (a backward goto targets a label with a
 * statement after it in its block: the label "at the end of a block", which LuaJIT puts outside
 * the scope of the block's locals for `goto continue`, gets none, so that idiom still
 * compiles), and recursion, metamethods, callbacks of library functions (string.gsub,
 * table.sort) and coroutines all enter functions of the script. The script's functions are
 * the only Lua code a script can run: load, loadstring, dofile and string.dump are gone from
 * the sandbox. Nothing is inserted across lines, so error line numbers stay the user's. The
 * name __rowcast_tick may not appear in the script (a script could shadow or assign it).
 * The lexer knows just enough Lua to find those places: comments and long brackets, strings,
 * names, numbers and punctuators. The caller compiles the original text first, so only valid
 * Lua reaches this code; a script this code cannot rewrite runs under the hook instead. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rc_buf.h"
#include "rc_script_int.h"

#define TICK      RC_SCRIPT_LUA_TICK
#define TICK_CALL " " TICK "();"
#define MAX_NEST  1024

enum { T_EOF, T_NAME, T_STR, T_NUM, T_PUNCT };

typedef struct tok {
    int kind;
    const char *p;
    size_t n;
    int line;
} tok_t;

typedef struct lexer {
    const char *p, *end;
    int line;
} lexer_t;

static bool name_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c >= 0x80; /* (LuaJIT takes any byte >= 0x80 in names) */
}

static bool is_word(const tok_t *t, const char *w) {
    return t->kind == T_NAME && t->n == strlen(w) && memcmp(t->p, w, t->n) == 0;
}

static bool is_punct(const tok_t *t, const char *s) {
    return t->kind == T_PUNCT && t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

/* Steps over a line break at p (\n, \r, \r\n or \n\r: one line, as LuaJIT counts them). */
static const char *newline(lexer_t *lx, const char *p) {
    char c = *p++;
    if (p < lx->end && (*p == '\n' || *p == '\r') && *p != c) {
        p++;
    }
    lx->line++;
    return p;
}

/* At p a '[': the level of the long bracket that opens there ([[: 0, [=[: 1, ...), or -1. */
static int long_open(const lexer_t *lx, const char *p) {
    const char *q = p + 1;
    while (q < lx->end && *q == '=') {
        q++;
    }
    return q < lx->end && *q == '[' ? (int)(q - p - 1) : -1;
}

/* Steps over a long bracket of that level opening at p; NULL when it does not close. */
static const char *long_skip(lexer_t *lx, const char *p, int level) {
    p += level + 2;
    while (p < lx->end) {
        if (*p == ']' && lx->end - p >= level + 2 && p[level + 1] == ']') {
            bool eq = true;
            for (int i = 1; i <= level && eq; i++) {
                eq = p[i] == '=';
            }
            if (eq) {
                return p + level + 2;
            }
            p++;
        } else if (*p == '\n' || *p == '\r') {
            p = newline(lx, p);
        } else {
            p++;
        }
    }
    return NULL;
}

/* The next token; false with *why on what valid Lua cannot hold. */
static bool next(lexer_t *lx, tok_t *t, char *why, size_t why_size) {
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n' || c == '\r') {
            lx->p = newline(lx, lx->p);
        } else if (c == ' ' || c == '\t' || c == '\v' || c == '\f') {
            lx->p++;
        } else if (c == '-' && lx->end - lx->p >= 2 && lx->p[1] == '-') {
            int level = lx->end - lx->p >= 3 && lx->p[2] == '[' ? long_open(lx, lx->p + 2) : -1;
            if (level >= 0) {
                int line = lx->line;
                if (!(lx->p = long_skip(lx, lx->p + 2, level))) {
                    snprintf(why, why_size, "%d: unfinished long comment", line);
                    return false;
                }
            } else {
                while (lx->p < lx->end && *lx->p != '\n' && *lx->p != '\r') {
                    lx->p++;
                }
            }
        } else {
            break;
        }
    }
    t->p = lx->p;
    t->line = lx->line;
    if (lx->p >= lx->end) {
        t->kind = T_EOF;
        t->n = 0;
        return true;
    }
    unsigned char c = (unsigned char)*lx->p;
    const char *q = lx->p;
    int level;
    if (c == '"' || c == '\'') {
        q++;
        while (q < lx->end && *q != (char)c && *q != '\n' && *q != '\r') {
            if (*q == '\\' && q + 1 < lx->end) {
                q++; /* the escaped byte: a quote, a backslash, a line break */
                if (*q == '\n' || *q == '\r') {
                    q = newline(lx, q);
                    continue;
                }
                if (*q == 'z') { /* \z: the white space after it, line breaks too */
                    q++;
                    while (q < lx->end && (*q == ' ' || (*q >= '\t' && *q <= '\r'))) {
                        q = *q == '\n' || *q == '\r' ? newline(lx, q) : q + 1;
                    }
                    continue;
                }
            }
            q++;
        }
        if (q >= lx->end || *q != (char)c) {
            snprintf(why, why_size, "%d: unfinished string", t->line);
            return false;
        }
        q++;
        t->kind = T_STR;
    } else if (c == '[' && (level = long_open(lx, q)) >= 0) {
        if (!(q = long_skip(lx, q, level))) {
            snprintf(why, why_size, "%d: unfinished long string", t->line);
            return false;
        }
        t->kind = T_STR;
    } else if ((c >= '0' && c <= '9') ||
               (c == '.' && q + 1 < lx->end && q[1] >= '0' && q[1] <= '9')) {
        /* as LuaJIT's lexer: name bytes and dots, and a sign after an exponent's letter */
        char xp = 'e';
        if (c == '0' && q + 1 < lx->end && (q[1] == 'x' || q[1] == 'X')) {
            xp = 'p';
        }
        q++;
        while (q < lx->end &&
               (name_char((unsigned char)*q) || *q == '.' ||
                ((*q == '+' || *q == '-') && (q[-1] == xp || q[-1] == xp - ('a' - 'A'))))) {
            q++;
        }
        t->kind = T_NUM;
    } else if (name_char(c)) {
        while (q < lx->end && name_char((unsigned char)*q)) {
            q++;
        }
        t->kind = T_NAME;
    } else {
        /* the punctuators this code tells apart: '::' (labels), '..', '...'; the rest as one
         * byte each (== and the like are never looked at) */
        q++;
        if ((c == ':' || c == '.') && q < lx->end && *q == (char)c) {
            q++;
            if (c == '.' && q < lx->end && *q == '.') {
                q++;
            }
        }
        t->kind = T_PUNCT;
    }
    t->n = (size_t)(q - lx->p);
    lx->p = q;
    return true;
}

/* Where the check goes after the token t (lx just past it): right after it, or after the ';'
 * that follows it (a ';' cannot start a statement in Lua 5.1). */
static const char *after(lexer_t lx, const tok_t *t) {
    tok_t u;
    char ignore[64];
    return next(&lx, &u, ignore, sizeof(ignore)) && is_punct(&u, ";") ? u.p + 1 : t->p + t->n;
}

/* Does a block end at the token u (no statement follows there)? */
static bool ends_block(const tok_t *u) {
    return u->kind == T_EOF || is_word(u, "end") || is_word(u, "else") || is_word(u, "elseif") ||
           is_word(u, "until");
}

/* What is open: a loop waiting for its `do`, a loop's body, a `do` block, a function (its
 * parameters first), an `if`, a `repeat`. */
enum { K_HEAD, K_LOOP, K_DO, K_FN, K_IF, K_REPEAT };

rc_err_t rc_script_lua_instrument(const char *src, size_t len, rc_buf_t *outbuf, char *why,
                                  size_t why_size) {
    lexer_t lx = {.p = src, .end = src + len, .line = 1};
    rc_script_out_t o = {.b = outbuf, .copied = src};
    int st[MAX_NEST];
    int depth = 0;
    bool params = false; /* after `function`: its parameters' ')' is still to come */
    /* the local goes before the first line's text; LuaJIT skips a UTF-8 BOM and a #! line */
    if (len >= 3 && memcmp(lx.p, "\xef\xbb\xbf", 3) == 0) {
        lx.p += 3;
    }
    if (lx.p < lx.end && *lx.p == '#') {
        while (lx.p < lx.end && *lx.p != '\n' && *lx.p != '\r') {
            lx.p++;
        }
        if (lx.p < lx.end) {
            lx.p = newline(&lx, lx.p);
        }
    }
    rc_script_out_insert(&o, lx.p, "local " TICK " = " TICK "; ");
    tok_t t;
    while (true) {
        if (!next(&lx, &t, why, why_size)) {
            return RC_ERR_INVALID;
        }
        if (t.kind == T_EOF) {
            break;
        }
        if (t.kind == T_NAME && is_word(&t, TICK)) {
            snprintf(why, why_size, "%d: the name %s is reserved by rowcast", t.line, TICK);
            return RC_ERR_INVALID;
        }
        int open = -1; /* what t opens */
        if (t.kind == T_PUNCT && params && is_punct(&t, ")")) {
            params = false;
            rc_script_out_insert(&o, after(lx, &t), TICK_CALL);
        } else if (t.kind == T_PUNCT && is_punct(&t, "::")) {
            /* a label, or a run of them: checked when a statement follows in its block */
            lexer_t peek = lx;
            tok_t u, v;
            const char *at;
            while (true) {
                if (!next(&peek, &u, why, why_size) || u.kind != T_NAME ||
                    !next(&peek, &v, why, why_size) || !is_punct(&v, "::")) {
                    snprintf(why, why_size, "%d: a label this code does not understand", t.line);
                    return RC_ERR_INVALID;
                }
                at = v.p + v.n;
                lexer_t more = peek;
                if (!next(&more, &u, why, why_size)) {
                    return RC_ERR_INVALID;
                }
                if (!is_punct(&u, "::")) {
                    break;
                }
                peek = more;
            }
            lexer_t rest = peek;
            if (!next(&rest, &u, why, why_size)) {
                return RC_ERR_INVALID;
            }
            if (is_punct(&u, ";")) {
                at = u.p + 1;
                if (!next(&rest, &u, why, why_size)) {
                    return RC_ERR_INVALID;
                }
            }
            if (!ends_block(&u)) {
                rc_script_out_insert(&o, at, TICK_CALL);
            }
            lx = peek; /* the labels are read */
        } else if (t.kind == T_NAME) {
            if (is_word(&t, "while") || is_word(&t, "for")) {
                open = K_HEAD;
            } else if (is_word(&t, "do")) {
                if (depth > 0 && st[depth - 1] == K_HEAD) {
                    st[depth - 1] = K_LOOP;
                    rc_script_out_insert(&o, after(lx, &t), TICK_CALL);
                } else {
                    open = K_DO;
                }
            } else if (is_word(&t, "repeat")) {
                open = K_REPEAT;
                rc_script_out_insert(&o, after(lx, &t), TICK_CALL);
            } else if (is_word(&t, "function")) {
                open = K_FN;
                params = true;
            } else if (is_word(&t, "if")) {
                open = K_IF;
            } else if (is_word(&t, "end") || is_word(&t, "until")) {
                int want = t.p[0] == 'u' ? K_REPEAT : -1;
                if (depth == 0 || st[depth - 1] == K_HEAD || params ||
                    (want == K_REPEAT) != (st[depth - 1] == K_REPEAT)) {
                    snprintf(why, why_size, "%d: '%.*s' closes nothing this code saw open", t.line,
                             (int)t.n, t.p);
                    return RC_ERR_INVALID;
                }
                depth--;
            }
        }
        if (open >= 0) {
            if (depth == MAX_NEST) {
                snprintf(why, why_size, "%d: blocks nested deeper than %d levels", t.line,
                         MAX_NEST);
                return RC_ERR_INVALID;
            }
            st[depth++] = open;
        }
    }
    if (depth != 0 || params) {
        snprintf(why, why_size, "%d: a block is not closed", t.line);
        return RC_ERR_INVALID;
    }
    rc_script_out_insert(&o, lx.end, "");
    if (o.nomem) {
        snprintf(why, why_size, "out of memory");
        return RC_ERR_NOMEM;
    }
    return RC_OK;
}
