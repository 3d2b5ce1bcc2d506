/* rc_config_json.c: a loaded config written back as JSON, driven by the same key tables.
 *
 * Used by GET /v1/pipelines/{name}/config. Secrets never leave the process: a set secret key is
 * written as "***", and keys that name a secret file are left out (the value they loaded is
 * shown, masked, under the key they conflict with). Unset optional strings are left out. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rc_config.h"
#include "rc_config_table.h"
#include "rc_json.h"

static void write_key(rc_buf_t *out, bool *first, const char *name) {
    if (!*first) {
        rc_buf_putc(out, ',');
    }
    *first = false;
    rc_json_write_string(out, name, strlen(name));
    rc_buf_putc(out, ':');
}

static void write_str(rc_buf_t *out, const char *s) {
    rc_json_write_string(out, s, strlen(s));
}

void rc_config_table_write_json(const rc_config_table_t *table, const void *base, rc_buf_t *out) {
    bool first = true;
    rc_buf_putc(out, '{');
    for (size_t i = 0; i < table->n_keys; i++) {
        const rc_config_key_t *k = &table->keys[i];
        const char *field = (const char *)base + k->offset;
        bool secret = (k->flags & RC_CONFIG_SECRET) != 0;
        switch (k->type) {
        case RC_CONFIG_SECRET_FILE:
            break;
        case RC_CONFIG_STRING:
        case RC_CONFIG_ENUM_STR: {
            const char *s = *(char *const *)field;
            if (s) {
                write_key(out, &first, k->name);
                write_str(out, secret ? "***" : s);
            }
            break;
        }
        case RC_CONFIG_INT:
            write_key(out, &first, k->name);
            rc_buf_printf(out, "%d", *(const int *)field);
            break;
        case RC_CONFIG_U32:
            write_key(out, &first, k->name);
            rc_buf_printf(out, "%u", (unsigned)*(const uint32_t *)field);
            break;
        case RC_CONFIG_SECONDS: {
            double v = *(const double *)field;
            write_key(out, &first, k->name);
            rc_buf_printf(out, "%.17g", isfinite(v) ? v : 0.0);
            break;
        }
        case RC_CONFIG_BOOL:
            write_key(out, &first, k->name);
            rc_buf_puts(out, *(const bool *)field ? "true" : "false");
            break;
        case RC_CONFIG_ENUM:
            write_key(out, &first, k->name);
            write_str(out, k->choices[*(const int *)field]);
            break;
        case RC_CONFIG_STRING_LIST: {
            char *const *items = *(char **const *)field;
            size_t n = *(const size_t *)((const char *)base + k->count_offset);
            write_key(out, &first, k->name);
            rc_buf_putc(out, '[');
            for (size_t j = 0; j < n; j++) {
                if (j) {
                    rc_buf_putc(out, ',');
                }
                write_str(out, secret ? "***" : items[j]);
            }
            rc_buf_putc(out, ']');
            break;
        }
        case RC_CONFIG_KV_MAP: {
            const rc_kv_t *kv = *(rc_kv_t *const *)field;
            size_t n = *(const size_t *)((const char *)base + k->count_offset);
            bool inner = true;
            write_key(out, &first, k->name);
            rc_buf_putc(out, '{');
            for (size_t j = 0; j < n; j++) {
                write_key(out, &inner, kv[j].key);
                write_str(out, secret ? "***" : kv[j].value);
            }
            rc_buf_putc(out, '}');
            break;
        }
        case RC_CONFIG_MAP:
            write_key(out, &first, k->name);
            rc_config_table_write_json(k->sub, field, out);
            break;
        case RC_CONFIG_MAP_LIST: {
            const char *items = *(char *const *)field;
            size_t n = *(const size_t *)((const char *)base + k->count_offset);
            write_key(out, &first, k->name);
            rc_buf_putc(out, '[');
            for (size_t j = 0; j < n; j++) {
                if (j) {
                    rc_buf_putc(out, ',');
                }
                rc_config_table_write_json(k->sub, items + j * k->elem_size, out);
            }
            rc_buf_putc(out, ']');
            break;
        }
        }
    }
    rc_buf_putc(out, '}');
}
