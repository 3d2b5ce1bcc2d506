/* rowcast/udf.h: the stable ABI of rowcast user-defined functions (UDFs), for plugins.
 *
 * A UDF is a C function over msgpack values: its arguments arrive as one msgpack array, it
 * writes exactly one msgpack value as its result, or fails with a sentence in errstr. rowcast
 * exposes every registered UDF as a global function in both script engines (LuaJIT and
 * duktape); the engines convert their values to msgpack and back with their usual mapping
 * (README "Transforms"), so one C function serves both languages.
 *
 * A plugin is a shared object named in the config (`udfs: [path/to/lib.so]`). It states the
 * ABI it was built for with ROWCAST_UDF_PLUGIN() and defines rowcast_udf_init, which rowcast
 * calls once, on the main thread, before any script is loaded:
 *
 *     #include <rowcast/udf.h>
 *     ROWCAST_UDF_PLUGIN();
 *     static int shout(const uint8_t *args, size_t args_len, uint32_t argc,
 *                      const rowcast_udf_out_t *out, char *errstr, size_t errstr_size,
 *                      void *data) { ... }
 *     int rowcast_udf_init(const rowcast_udf_host_t *host) {
 *         static const rowcast_udf_def_t def = {"shout", 1, 1, shout, NULL,
 *                                               "shout(s) -> string: s in capitals"};
 *         return host->add(host, &def);
 *     }
 *
 * The header depends on nothing but the C standard library; a plugin may use msgpack-c (the
 * write callback has msgpack_packer's signature: msgpack_packer_init(&pk, out->data,
 * out->write)) or write the few msgpack bytes it needs itself.
 *
 * Threads: a UDF runs on the pipeline worker threads, several at a time; it must be
 * reentrant (keep state in `data`, read-only, or synchronize it yourself). It must not block
 * for long: it runs inside the batch's time budget. */
#ifndef ROWCAST_UDF_H
#define ROWCAST_UDF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of the structs and functions below. rowcast loads only
 * plugins built for the version it speaks and names both versions when they differ. */
#define ROWCAST_UDF_ABI_VERSION 1

/* Where a UDF writes its result: call write(data, bytes, len) with the msgpack bytes of
 * exactly one value (in as many calls as convenient). write returns 0, or non-zero when
 * rowcast ran out of memory (then return non-zero from the UDF too). */
typedef int (*rowcast_udf_write_fn)(void *data, const char *buf, size_t len);

typedef struct rowcast_udf_out {
    void *data;
    rowcast_udf_write_fn write;
} rowcast_udf_out_t;

/* A UDF. args[0..args_len) is a msgpack array of argc values (argc is within the arity the
 * UDF was registered with: rowcast checks it before the call). Returns 0 after writing one
 * value to out; non-zero after writing a sentence into errstr (NUL-terminated, at most
 * errstr_size bytes), which the script sees as an error "NAME: sentence" at its own line.
 * data is the def's data pointer. */
typedef int (*rowcast_udf_fn)(const uint8_t *args, size_t args_len, uint32_t argc,
                              const rowcast_udf_out_t *out, char *errstr, size_t errstr_size,
                              void *data);

typedef struct rowcast_udf_def {
    const char *name; /* a script identifier: [A-Za-z_][A-Za-z0-9_]*, unique in the process */
    int min_args;     /* 0..255 */
    int max_args;     /* min_args..255, or -1 for any number */
    rowcast_udf_fn fn;
    void *data;      /* passed to fn; owned by the plugin, lives as long as the process */
    const char *doc; /* one line: "name(a, b) -> type: what it does" (rowcast --help-udfs) */
} rowcast_udf_def_t;

/* What rowcast hands to rowcast_udf_init. */
typedef struct rowcast_udf_host {
    uint32_t abi_version; /* ROWCAST_UDF_ABI_VERSION of the rowcast that loads the plugin */
    void *opaque;         /* rowcast's, for add */
    char *errstr;         /* rowcast_udf_init may write why it failed here (NUL-terminated) */
    size_t errstr_size;
    /* Registers one UDF (name and doc are copied). Returns 0, or non-zero when the def is
     * invalid or the name is taken; rowcast then refuses the plugin with the reason. */
    int (*add)(const struct rowcast_udf_host *host, const rowcast_udf_def_t *def);
} rowcast_udf_host_t;

/* The two symbols a plugin exports. */
#define ROWCAST_UDF_ABI_SYMBOL  "rowcast_udf_abi_version"
#define ROWCAST_UDF_INIT_SYMBOL "rowcast_udf_init"

#if defined(__GNUC__)
#define ROWCAST_UDF_EXPORT __attribute__((visibility("default")))
#else
#define ROWCAST_UDF_EXPORT
#endif

/* Put once in a plugin's source: records the ABI version the plugin was compiled against. */
#define ROWCAST_UDF_PLUGIN()                                                                       \
    ROWCAST_UDF_EXPORT extern const uint32_t rowcast_udf_abi_version;                              \
    ROWCAST_UDF_EXPORT const uint32_t rowcast_udf_abi_version = ROWCAST_UDF_ABI_VERSION

/* The entry point: registers the plugin's UDFs with host->add. Returns 0 on success; a
 * non-zero return makes rowcast refuse the plugin (and exit 2 at startup). */
ROWCAST_UDF_EXPORT int rowcast_udf_init(const rowcast_udf_host_t *host);

#ifdef __cplusplus
}
#endif

#endif
