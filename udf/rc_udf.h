/* rc_udf.h: the registry of native helper functions (UDFs) that scripts call.
 *
 * One process-wide registry: the built-ins (rc_udf_builtin.c) and the functions of plugins
 * loaded with rc_udf_load (config `udfs:`) are registered once, on the main thread, before any
 * script VM is created; after that the registry is only read. Each engine exposes every entry
 * as a global through one trampoline that turns its arguments into a msgpack array, calls
 * rc_udf_call and turns the one msgpack result back into a script value.
 * The ABI plugins see is include/rowcast/udf.h. */
#ifndef RC_UDF_H
#define RC_UDF_H

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>

#include "rc_err.h"
#include "rowcast/udf.h"

#define RC_UDF_MAX 1024 /* registered functions, built-ins included */

typedef struct rc_udf {
    char *name;
    int min_args, max_args; /* max_args -1 = any */
    rowcast_udf_fn fn;
    void *data;
    char *doc;
    char *origin; /* "built-in" or the plugin's file */
} rc_udf_t;

/* Registers the built-ins; later calls do nothing. @thread any (once-guarded) */
void rc_udf_init(void);

/* Registers def (name and doc copied); origin names where it came from in messages. Fails
 * with a sentence when the name is not an identifier, is taken, or the arity is invalid.
 * @thread main, before scripts are created */
rc_err_t rc_udf_register(const rowcast_udf_def_t *def, const char *origin, char *errstr,
                         size_t errstr_size);

/* Loads a plugin: dlopen, checks the ABI version it was built for, calls its
 * rowcast_udf_init. Every message names the file. A plugin stays loaded for the life of the
 * process; loading the same file (same real path) twice is a no-op. @thread main */
rc_err_t rc_udf_load(const char *path, char *errstr, size_t errstr_size);

/* Loads the n plugin files of a config's `udfs:` list, relative ones against base_dir (NULL =
 * the working directory). Stops at the first failure: "udfs[I]: FILE: what went wrong".
 * @thread main */
rc_err_t rc_udf_load_all(char *const *paths, size_t n, const char *base_dir, char *errstr,
                         size_t errstr_size);

/* The registered functions, in registration order; entries never move or go away. */
size_t rc_udf_count(void);
const rc_udf_t *rc_udf_at(size_t i);
const rc_udf_t *rc_udf_find(const char *name);

/* Calls u with args (a msgpack array of argc values): checks the arity, runs it and checks
 * that it wrote exactly one msgpack value, which is appended to out. On failure out is left
 * as it was and errstr holds "NAME: what went wrong". @thread any */
rc_err_t rc_udf_call(const rc_udf_t *u, const uint8_t *args, size_t args_len, uint32_t argc,
                     msgpack_sbuffer *out, char *errstr, size_t errstr_size);

/* Prints every UDF with its doc line and origin (rowcast --help-udfs). */
void rc_udf_print_help(FILE *out);

#endif
