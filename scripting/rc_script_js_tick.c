/* rc_script_js_tick.c: makes JS scripts interruptible for the time budget.
 *
 * Debian's libduktape is built without DUK_USE_EXEC_TIMEOUT_CHECK, so duktape itself cannot
 * stop a running script. Instead the script's source is rewritten before it is compiled so
 * that every loop and every function call passes through a native check:
 *   while (c)            ->  while ((0).__rowcast_tick()&&(c))          (do ... while too)
 *   for (i; c; u)        ->  for (i;(0).__rowcast_tick()&&(c); u)       (for (;;): (true))
 *   function f(a) { x    ->  function f(a) { (0).__rowcast_tick();x     (x: the first
 *                                                             statement after "use strict";)
 *   get p() { x, m() { x ->  get p() { (0).__rowcast_tick();x ...      (accessors, methods)
 * (the check is a method of Number.prototype that scripts cannot replace: a global costs a
 * lookup through the scope chain, half of what a check costs). The top-level transform keeps
 * the check at its entry too: a script can reach it without naming it (walking the global
 * object) and recurse into it from a getter, so only that check bounds such a recursion. When
 * nothing else in the script names transform (see driver_only_transform), its own
 * `return ACTION_CONT;` becomes `return ;` and `return ACTION_DROP;` becomes
 * `return (0).__rowcast_drop;` when nothing can shadow the global (ACTION_CONT and ACTION_DROP
 * are read-only: rc_script_js.c; the driver takes both results alike, and a global lookup
 * costs about 600 instructions).
 * for-in loops over an object's keys end by themselves and are left alone. The object of a
 * delete, of a for-in and of a with passes through __rowcast_own, which gives an event the
 * script has not touched yet its own fields (they start on its prototype: rc_script_js.c):
 *   delete a.b.c         ->  delete __rowcast_own(a.b).c
 *   for (k in o)         ->  for (k in __rowcast_own(o))            (with (o) too)
 * Nothing is ever inserted across lines, so error line numbers stay those of the user's
 * file. eval and the Function constructor are removed from the sandbox (code they built
 * would not be checked), and the names __rowcast_tick, __rowcast_own and __rowcast_drop are
 * reserved.
 * The tokenizer knows just enough ES5 to find those places: comments, strings, regular
 * expression literals (told from division by the token before them), identifiers, numbers
 * and punctuators. The caller compiles the original text first, so a syntax error is
 * reported as the user wrote it; only valid ES5 reaches this code. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rc_buf.h"
#include "rc_script_int.h"

#define TICK     RC_SCRIPT_JS_TICK
#define MAX_NEST 1024
/* called on a number: found on Number.prototype (a short list), where a global takes a lookup
 * through the scope chain that costs about 700 instructions, half of what a tick costs */
#define TICK_CALL "(0)." TICK "()"
#define TICK_AND  "(0)." TICK "()&&("
#define OWN_CALL  RC_SCRIPT_JS_OWN "("
#define DROP      "(0)." RC_SCRIPT_JS_DROP

enum { T_EOF, T_IDENT, T_STR, T_NUM, T_REGEX, T_PUNCT };

typedef struct tok {
    int kind;
    const char *p;
    size_t n;
    int line;
    bool nl_before; /* a line terminator between the previous token and this one */
} tok_t;

typedef struct lexer {
    const char *s, *p, *end;
    int line;
    tok_t prev; /* the last significant token, for regex vs division */
} lexer_t;

static bool ident_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c == '\\' || c >= 0x80;
}

static bool is_word(const tok_t *t, const char *w) {
    return t->kind == T_IDENT && t->n == strlen(w) && memcmp(t->p, w, t->n) == 0;
}

static bool is_punct(const tok_t *t, char c) {
    return t->kind == T_PUNCT && t->n == 1 && t->p[0] == c;
}

/* May a '/' after prev start a regular expression? */
static bool regex_allowed(const tok_t *prev) {
    static const char *const kw[] = {"return", "typeof", "instanceof", "in", "new",  "delete",
                                     "void",   "throw",  "case",       "do", "else", NULL};
    switch (prev->kind) {
    case T_EOF:
        return true;
    case T_IDENT:
        for (int i = 0; kw[i]; i++) {
            if (is_word(prev, kw[i])) {
                return true;
            }
        }
        return false;
    case T_PUNCT:
        if (prev->n == 2) {
            return false; /* ++ and -- (postfix, most likely) */
        }
        return prev->p[0] != ')' && prev->p[0] != ']';
    default:
        return false;
    }
}

/* The next token; false with *why on a lexical error. */
static bool next(lexer_t *lx, tok_t *t, char *why, size_t why_size) {
    bool nl = false;
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n') {
            lx->line++;
            nl = true;
            lx->p++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
            lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/') {
            while (lx->p < lx->end && *lx->p != '\n') {
                lx->p++;
            }
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
            const char *e = memmem(lx->p + 2, (size_t)(lx->end - lx->p - 2), "*/", 2);
            if (!e) {
                snprintf(why, why_size, "%d: unterminated comment", lx->line);
                return false;
            }
            for (const char *q = lx->p; q < e; q++) {
                if (*q == '\n') {
                    lx->line++;
                    nl = true;
                }
            }
            lx->p = e + 2;
        } else if ((unsigned char)c == 0xe2 && lx->end - lx->p >= 3 &&
                   (unsigned char)lx->p[1] == 0x80 &&
                   ((unsigned char)lx->p[2] == 0xa8 || (unsigned char)lx->p[2] == 0xa9)) {
            nl = true; /* U+2028, U+2029 */
            lx->p += 3;
        } else {
            break;
        }
    }
    t->p = lx->p;
    t->line = lx->line;
    t->nl_before = nl;
    if (lx->p >= lx->end) {
        t->kind = T_EOF;
        t->n = 0;
        return true;
    }
    unsigned char c = (unsigned char)*lx->p;
    const char *q = lx->p;
    if (c == '"' || c == '\'') {
        q++;
        while (q < lx->end && *q != (char)c) {
            if (*q == '\\' && q + 1 < lx->end) {
                q++;
                lx->line += *q == '\n';
            } else if (*q == '\n') {
                break;
            }
            q++;
        }
        if (q >= lx->end || *q != (char)c) {
            snprintf(why, why_size, "%d: unterminated string", t->line);
            return false;
        }
        t->kind = T_STR;
        q++;
    } else if (c == '/' && regex_allowed(&lx->prev)) {
        bool cls = false;
        q++;
        while (q < lx->end && (*q != '/' || cls) && *q != '\n') {
            if (*q == '\\' && q + 1 < lx->end && q[1] != '\n') {
                q++;
            } else if (*q == '[') {
                cls = true;
            } else if (*q == ']') {
                cls = false;
            }
            q++;
        }
        if (q >= lx->end || *q != '/') {
            snprintf(why, why_size, "%d: unterminated regular expression", t->line);
            return false;
        }
        q++;
        while (q < lx->end && ident_char((unsigned char)*q)) {
            q++; /* flags */
        }
        t->kind = T_REGEX;
    } else if (c >= '0' && c <= '9') {
        while (q < lx->end && (ident_char((unsigned char)*q) || *q == '.' ||
                               ((*q == '+' || *q == '-') && (q[-1] == 'e' || q[-1] == 'E') &&
                                !(q - lx->p >= 2 && (lx->p[1] == 'x' || lx->p[1] == 'X'))))) {
            q++;
        }
        t->kind = T_NUM;
    } else if (c == '.' && q + 1 < lx->end && q[1] >= '0' && q[1] <= '9') {
        q++;
        while (q < lx->end && (ident_char((unsigned char)*q) || *q == '.' ||
                               ((*q == '+' || *q == '-') && (q[-1] == 'e' || q[-1] == 'E')))) {
            q++;
        }
        t->kind = T_NUM;
    } else if (ident_char(c)) {
        while (q < lx->end && ident_char((unsigned char)*q)) {
            q++;
        }
        t->kind = T_IDENT;
    } else {
        q++;
        if ((c == '+' || c == '-') && q < lx->end && *q == (char)c) {
            q++;
        }
        t->kind = T_PUNCT;
    }
    t->n = (size_t)(q - lx->p);
    lx->p = q;
    lx->prev = *t;
    return true;
}

enum { R_NONE, R_WHILE, R_FOR, R_PARAMS, R_BODY, R_WITH };

typedef struct frame {
    char open; /* '(' '[' '{' */
    int role;
    int semis;      /* R_FOR: ';' seen at this level */
    size_t at_semi; /* R_FOR: the token count at the first ';' */
    bool for_in;    /* R_FOR: the object of a for-in passes through RC_SCRIPT_JS_OWN */
    bool ctrl;      /* '(': of a statement (if, for, ...) or a function's parameters */
} frame_t;

/* Skips the rest of a bracketed group whose opening token was just read; false if it does
 * not close. */
static bool skip_group(lexer_t *lx) {
    int nest = 1;
    tok_t u;
    char ignore[64];
    while (nest > 0) {
        if (!next(lx, &u, ignore, sizeof(ignore)) || u.kind == T_EOF) {
            return false;
        }
        if (u.kind == T_PUNCT && u.n == 1) {
            char c = u.p[0];
            nest += (c == '(' || c == '[' || c == '{') - (c == ')' || c == ']' || c == '}');
        }
    }
    return true;
}

/* After `delete` (lx just past it): when its operand is a property reference (a.b, a[k],
 * f(x).y.z, (a.b)), where its object starts (*start) and where its last accessor starts
 * (*close): the object then goes through RC_SCRIPT_JS_OWN, `delete OWN(a).b`, so that an
 * event with its fields on its prototype has them to delete. Anything else (delete x, a
 * call) is left alone. */
static bool delete_operand(lexer_t lx, const char **start, const char **close) {
    tok_t t;
    char ignore[64];
    if (!next(&lx, &t, ignore, sizeof(ignore)) || t.kind == T_EOF) {
        return false;
    }
    *start = t.p;
    lexer_t inner = lx; /* just inside a '(' */
    bool group = false;
    if (t.kind == T_IDENT) {
        static const char *const no[] = {"function", "new", "typeof", "void", "delete", NULL};
        for (int i = 0; no[i]; i++) {
            if (is_word(&t, no[i])) {
                return false;
            }
        }
    } else if (is_punct(&t, '(') || is_punct(&t, '[')) {
        group = is_punct(&t, '(');
        if (!skip_group(&lx)) {
            return false;
        }
    } else if (t.kind != T_STR && t.kind != T_NUM) {
        return false;
    }
    bool access = false, suffix = false;
    for (;; suffix = true) {
        if (!next(&lx, &t, ignore, sizeof(ignore))) {
            return false;
        }
        if (is_punct(&t, '.')) {
            tok_t name;
            if (!next(&lx, &name, ignore, sizeof(ignore)) || name.kind != T_IDENT) {
                return false;
            }
            *close = t.p;
            access = true;
        } else if (is_punct(&t, '[') || is_punct(&t, '(')) {
            access = is_punct(&t, '[');
            if (access) {
                *close = t.p;
            }
            if (!skip_group(&lx)) {
                return false;
            }
        } else if (!suffix && group) {
            return delete_operand(inner, start, close); /* delete (a.b) */
        } else {
            return access;
        }
    }
}

/* Is the top-level `function transform` called by rowcast's driver alone, as far as the text
 * shows? No other token of the script may name transform (an identifier, or a string that
 * could look it up: this['transform']) or callee (arguments.callee). A script that reaches
 * transform without naming it (a name built at run time, a walk over the global object) and
 * calls it itself gets nothing where `return ACTION_CONT;` was written (the README says so).
 * plain[0]: and nothing can shadow ACTION_CONT (read-only, so no script can give it another
 * value), so that transform's own `return ACTION_CONT;` can be `return ;` (a lookup through
 * the scope chain, about 600 instructions per event, spared: the driver takes nothing for
 * ACTION_CONT). No token may name ACTION_CONT but after a return (no declaration, parameter
 * or property of that name; no string that spells it) and there is no with, whose object
 * could hold another ACTION_CONT. plain[1]: the same of ACTION_DROP, and `return ACTION_DROP;`
 * becomes `return (0).__rowcast_drop;` (the same value, from a short list that scripts cannot
 * change: about half the cost). */
static const char *const constants[2] = {"ACTION_CONT", "ACTION_DROP"};
static const char *const plain_text[2] = {"", DROP};

static bool driver_only_transform(const char *src, size_t len, bool plain[2]) {
    lexer_t lx = {.s = src, .p = src, .end = src + len, .line = 1};
    tok_t t, before = {.kind = T_EOF};
    char ignore[64];
    int names = 0;
    plain[0] = plain[1] = true;
    for (; next(&lx, &t, ignore, sizeof(ignore)) && t.kind != T_EOF; before = t) {
        bool escaped = false; /* \x74, \u0074 or \164 could spell either name */
        for (const char *q = t.p; q + 1 < t.p + t.n && !escaped; q++) {
            escaped = q[0] == '\\' && (q[1] == 'x' || q[1] == 'u' || (q[1] >= '0' && q[1] <= '9'));
        }
        if (t.kind == T_IDENT) {
            names += is_word(&t, "transform");
            if (escaped || is_word(&t, "callee")) {
                return false;
            }
            for (int x = 0; x < 2; x++) {
                if (is_word(&t, "with") ||
                    (is_word(&t, constants[x]) && (!is_word(&before, "return") || t.nl_before))) {
                    plain[x] = false;
                }
            }
        } else if (t.kind == T_STR || t.kind == T_REGEX) {
            if (escaped || memmem(t.p, t.n, "transform", 9) || memmem(t.p, t.n, "callee", 6)) {
                return false;
            }
            for (int x = 0; x < 2; x++) {
                if (memmem(t.p, t.n, constants[x], strlen(constants[x]))) {
                    plain[x] = false;
                }
            }
        }
    }
    return names == 1;
}

/* Is the token after t (lx just past it) a ';' or '}'? */
static bool ends_statement(lexer_t lx) {
    tok_t u;
    char ignore[64];
    return next(&lx, &u, ignore, sizeof(ignore)) && (is_punct(&u, ';') || is_punct(&u, '}'));
}

rc_err_t rc_script_js_instrument(const char *src, size_t len, rc_buf_t *outbuf, char *why,
                                 size_t why_size) {
    lexer_t lx = {.s = src, .p = src, .end = src + len, .line = 1};
    bool plain[2];
    bool driver_only = driver_only_transform(src, len, plain);
    bool driver_body = false; /* the next function body is the driver's transform */
    int body_at = -1;         /* st[body_at] is that body while it is open */
    bool closed_ctrl = false; /* the last group closed was a statement's or parameters' */
    rc_script_out_t o = {.b = outbuf, .copied = src};
    frame_t st[MAX_NEST];
    int depth = 0;
    int pending = R_NONE;    /* what the next '(' opens */
    bool fn_name_ok = false; /* after `function`: a name may come before '(' */
    bool body_next = false;  /* the next '{' opens a function body */
    size_t ntok = 0;
    tok_t t, before = {.kind = T_EOF};
    const char *closes[MAX_NEST]; /* where the objects of pending deletes end (a stack) */
    int n_close = 0;
    while (true) {
        if (!next(&lx, &t, why, why_size)) {
            return RC_ERR_INVALID;
        }
        if (t.kind == T_EOF) {
            break;
        }
        ntok++;
        if (t.kind == T_IDENT &&
            ((t.n == strlen(TICK) && memcmp(t.p, TICK, t.n) == 0) ||
             (t.n == strlen(RC_SCRIPT_JS_OWN) && memcmp(t.p, RC_SCRIPT_JS_OWN, t.n) == 0) ||
             (t.n == strlen(RC_SCRIPT_JS_DROP) && memcmp(t.p, RC_SCRIPT_JS_DROP, t.n) == 0))) {
            snprintf(why, why_size, "%d: the name %.*s is reserved by rowcast", t.line, (int)t.n,
                     t.p);
            return RC_ERR_INVALID;
        }
        while (n_close > 0 && closes[n_close - 1] == t.p) { /* a delete's object ends here */
            rc_script_out_insert(&o, t.p, ")");
            n_close--;
        }
        bool member = is_punct(&before, '.'); /* x.while is a property, not a keyword */
        int was_pending = pending;
        bool was_fn = fn_name_ok, was_body = body_next;
        pending = R_NONE;
        fn_name_ok = false;
        body_next = false;
        if (t.kind == T_IDENT && !member) {
            if (is_word(&t, "while")) {
                pending = R_WHILE;
            } else if (is_word(&t, "for")) {
                pending = R_FOR;
            } else if (is_word(&t, "with")) {
                pending = R_WITH;
            } else if (is_word(&t, "in") && depth > 0 && st[depth - 1].role == R_FOR &&
                       st[depth - 1].semis == 0 && !st[depth - 1].for_in) {
                st[depth - 1].for_in = true;
                rc_script_out_insert(&o, t.p + t.n, " " OWN_CALL);
            } else if (body_at >= 0 && t.n == 11 && memcmp(t.p, "ACTION_", 7) == 0 &&
                       ((plain[0] && is_word(&t, constants[0])) ||
                        (plain[1] && is_word(&t, constants[1]))) &&
                       is_word(&before, "return") && !t.nl_before && ends_statement(lx)) {
                bool nested = false; /* in a function inside transform */
                for (int k = body_at + 1; k < depth; k++) {
                    nested = nested || st[k].role == R_BODY;
                }
                if (!nested) {
                    rc_script_out_insert(&o, t.p, plain_text[t.p[7] == 'D']); /* return ; */
                    o.copied = t.p + t.n;
                }
            } else if (is_word(&t, "delete")) {
                const char *start, *close;
                if (n_close < MAX_NEST && delete_operand(lx, &start, &close)) {
                    rc_script_out_insert(&o, start, OWN_CALL);
                    closes[n_close++] = close;
                }
            } else if (is_word(&t, "function")) {
                pending = R_PARAMS;
                fn_name_ok = true;
            } else if (was_fn) {
                pending = R_PARAMS; /* function NAME ( */
                driver_body = driver_only && depth == 0 && is_word(&t, "transform");
            }
        }
        if (t.kind == T_PUNCT && t.n == 1) {
            char c = t.p[0];
            if (c == '(' || c == '[' || c == '{') {
                if (depth == MAX_NEST) {
                    snprintf(why, why_size, "%d: nesting deeper than %d levels", t.line, MAX_NEST);
                    return RC_ERR_INVALID;
                }
                frame_t *f = &st[depth++];
                *f = (frame_t){.open = c, .role = R_NONE};
                f->ctrl = c == '(' && (was_pending != R_NONE || is_word(&before, "if") ||
                                       is_word(&before, "switch") || is_word(&before, "catch"));
                if (c == '(' && (was_pending == R_WHILE || was_pending == R_FOR ||
                                 was_pending == R_PARAMS || was_pending == R_WITH)) {
                    f->role = was_pending;
                    if (was_pending == R_WHILE) {
                        rc_script_out_insert(&o, t.p + 1, TICK_AND);
                    } else if (was_pending == R_WITH) {
                        rc_script_out_insert(&o, t.p + 1, OWN_CALL);
                    }
                } else if (c == '{' && (was_body || (is_punct(&before, ')') && !closed_ctrl))) {
                    /* a function's body, or a method's or accessor's (m() {, get x() {: a
                     * '{' after a group that was no statement's and no parameters') */
                    f->role = R_BODY;
                    /* before the first statement, on its line (duktape reports some errors at
                     * the line of the last call), or after a directive ("use strict";) */
                    lexer_t peek = lx;
                    tok_t a, b;
                    char ignore[64];
                    const char *at = t.p + 1, *text = TICK_CALL ";";
                    if (next(&peek, &a, ignore, sizeof(ignore))) {
                        at = a.kind == T_EOF ? at : a.p;
                        if (a.kind == T_STR && next(&peek, &b, ignore, sizeof(ignore))) {
                            tok_t c;
                            if (is_punct(&b, ';')) {
                                at = next(&peek, &c, ignore, sizeof(ignore)) && c.kind != T_EOF
                                         ? c.p
                                         : b.p + 1;
                            } else if (b.nl_before || is_punct(&b, '}')) {
                                at = a.p + a.n;
                                text = ";" TICK_CALL ";";
                            }
                        }
                    }
                    rc_script_out_insert(
                        &o, at, text); /* may lie past this token: nothing else goes there */
                    if (driver_body) {
                        body_at = depth - 1;
                    }
                    driver_body = false;
                }
            } else if (c == ')' || c == ']' || c == '}') {
                if (depth > 0) {
                    frame_t *f = &st[--depth];
                    closed_ctrl = f->ctrl;
                    body_at = depth == body_at ? -1 : body_at;
                    if (f->role == R_WHILE || f->role == R_WITH ||
                        (f->role == R_FOR && f->for_in)) {
                        rc_script_out_insert(&o, t.p, ")");
                    } else if (f->role == R_PARAMS) {
                        body_next = true;
                    }
                }
            } else if (c == ';' && depth > 0 && st[depth - 1].role == R_FOR) {
                frame_t *f = &st[depth - 1];
                f->semis++;
                if (f->semis == 1) {
                    rc_script_out_insert(&o, t.p + 1, TICK_AND);
                    f->at_semi = ntok;
                } else if (f->semis == 2) {
                    rc_script_out_insert(&o, t.p, ntok == f->at_semi + 1 ? "true)" : ")");
                }
            }
        }
        before = t;
    }
    rc_script_out_insert(&o, lx.end, "");
    if (o.nomem) {
        snprintf(why, why_size, "out of memory");
        return RC_ERR_NOMEM;
    }
    return RC_OK;
}
