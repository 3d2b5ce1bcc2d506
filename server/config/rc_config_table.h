/* rc_config_table.h: declarative key tables and the engine that walks them (private to config).
 *
 * rc_config.c describes every key once (name, type, default, bounds, description); the engine in
 * rc_config_table.c uses the same tables to parse YAML into the structs, to free them and to print
 * the reference, so the three can never disagree. */
#ifndef RC_CONFIG_TABLE_H
#define RC_CONFIG_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rc_err.h"

typedef enum rc_config_type {
    RC_CONFIG_STRING,      /* char * */
    RC_CONFIG_SECRET_FILE, /* char *: the value names a file whose content is stored */
    RC_CONFIG_INT,         /* int, within [min, max] */
    RC_CONFIG_U32,         /* uint32_t, within [min, max] */
    RC_CONFIG_SECONDS,     /* double, within [min, max] */
    RC_CONFIG_BOOL,        /* bool; YAML 1.2 core: true or false only */
    RC_CONFIG_ENUM,        /* int: index of the value in `choices` */
    RC_CONFIG_ENUM_STR,    /* char *: one of `choices` */
    RC_CONFIG_STRING_LIST, /* char ** at offset, size_t count at count_offset */
    RC_CONFIG_KV_MAP,      /* rc_kv_t * at offset, size_t count at count_offset; file order */
    RC_CONFIG_MAP,         /* nested table; its offsets are relative to base + offset */
    RC_CONFIG_MAP_LIST,    /* array of elem_size structs at offset, size_t count; >= min items */
} rc_config_type_t;

enum {
    RC_CONFIG_REQUIRED = 1 << 0, /* missing or null is an error */
    RC_CONFIG_SECRET = 1 << 1,   /* value never appears in a message; wiped before free */
    RC_CONFIG_UNIQUE = 1 << 2,   /* no two list items may have the same value (whole file) */
};

/* Parse flags. */
enum {
    RC_CONFIG_PARSE_JSON = 1 << 0,             /* the text must be JSON (a REST request body) */
    RC_CONFIG_PARSE_ENV_SECRETS_ONLY = 1 << 1, /* ${VAR} only in secret keys: text from a client
                                            * must not read the server's environment into a
                                            * value it can read back */
    RC_CONFIG_PARSE_ENV_OVERRIDES = 1 << 2,    /* apply ROWCAST_<KEY>__<KEY>... variables (the
                                                * process environment) before the walk */
};

typedef struct rc_config_table rc_config_table_t;

/* Validates one parsed value (field points at the stored char *, int, uint32_t or double; for a
 * string list at one element). On failure writes a phrase into why and returns false. */
typedef bool (*rc_config_check_fn)(const void *field, char *why, size_t why_size);

/* Runs after a map is parsed and its defaults applied: fills computed defaults and checks keys
 * against each other. Returns NULL, or the name of the key to blame with a phrase in why. */
typedef const char *(*rc_config_finish_fn)(void *base, char *why, size_t why_size);

typedef struct rc_config_key {
    const char *name;
    rc_config_type_t type;
    size_t offset;
    size_t count_offset;          /* lists and maps of name: value */
    unsigned flags;               /* RC_CONFIG_REQUIRED | ... */
    const char *def;              /* default, written as in the file; NULL = none */
    const char *def_doc;          /* a computed default in words (set by the table's finish) */
    double min, max;              /* numbers: bounds; MAP_LIST: min items */
    const char *const *choices;   /* ENUM, ENUM_STR: NULL-terminated */
    const rc_config_table_t *sub; /* MAP, MAP_LIST */
    size_t elem_size;             /* MAP_LIST */
    const char *conflicts;        /* a sibling key that may not be set together with this one */
    rc_config_check_fn check;
    const char *desc;
} rc_config_key_t;

struct rc_config_table {
    const rc_config_key_t *keys;
    size_t n_keys;
    rc_config_finish_fn finish; /* optional */
};

/* Parses YAML text into base (zeroed by the caller) following table. `name` is the file name
 * used in messages; relative secret file names are resolved against `dir` (NULL = cwd). On
 * error writes "NAME:LINE: KEY.PATH: what is wrong" into errstr; base may be half filled and
 * must be freed with rc_config_table_free either way. Nothing is printed. */
rc_err_t rc_config_table_parse(const rc_config_table_t *table, void *base, const char *name,
                               const char *dir, const char *yaml, size_t len, char *errstr,
                               size_t errstr_size);

/* rc_config_table_parse with flags (RC_CONFIG_PARSE_*) and, when where is not NULL, the key path
 * of the value at fault (e.g. "source.port"; "" for the document itself) written into where. */
rc_err_t rc_config_table_parse_ex(const rc_config_table_t *table, void *base, const char *name,
                                  const char *dir, const char *text, size_t len, unsigned flags,
                                  char *where, size_t where_size, char *errstr, size_t errstr_size);

/* 1 when the YAML text's top-level map has the key, 0 when not (or the text is not a map),
 * -1 when the text does not parse (the full parse reports why). */
int rc_config_table_has_top_key(const char *text, size_t len, const char *key);

/* Frees every string, list and map the table describes in base (secrets wiped first) and
 * leaves the fields NULL/0. Accepts half-filled structs. */
void rc_config_table_free(const rc_config_table_t *table, void *base);

/* Prints one entry per key path (lists as name[]): type, bounds, default, description. */
void rc_config_table_print(const rc_config_table_t *table, FILE *out);

/* Appends base as one JSON object following table (rc_config_json.c): set secrets as "***",
 * secret-file keys and unset strings left out. */
struct rc_buf;
void rc_config_table_write_json(const rc_config_table_t *table, const void *base,
                                struct rc_buf *out);

/* Writes s as a double-quoted, escaped, possibly shortened snippet for messages. */
void rc_config_table_quote(const char *s, char *buf, size_t buf_size);

#endif
