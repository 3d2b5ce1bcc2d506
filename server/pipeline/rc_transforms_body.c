/* rc_transforms_body.c: parsing and checking the body of PUT /v1/pipelines/{name}/transform. */
#include "rc_transforms_body.h"

#include <libfyaml.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *keep(rc_transforms_body_t *b, const char *s, size_t len) {
    char **n = realloc(b->strings, (b->n_strings + 1) * sizeof(*n));
    if (!n) {
        return NULL;
    }
    b->strings = n;
    char *c = malloc(len + 1);
    if (!c) {
        return NULL;
    }
    memcpy(c, s, len);
    c[len] = '\0';
    b->strings[b->n_strings++] = c;
    return c;
}

static bool key_is(struct fy_node_pair *pair, const char **k, size_t *klen) {
    *k = fy_node_get_scalar(fy_node_pair_key(pair), klen);
    return *k != NULL;
}

/* A JSON string value: a quoted scalar. */
static const char *string_of(struct fy_node *v, size_t *len) {
    if (!v || !fy_node_is_scalar(v) || fy_node_get_style(v) == FYNS_PLAIN) {
        return NULL;
    }
    return fy_node_get_scalar(v, len);
}

static rc_err_t bad(const char *name, char *field, size_t field_size, char *errstr,
                    size_t errstr_size, size_t i, const char *sub, const char *extra,
                    const char *msg) {
    char f[256];
    snprintf(f, sizeof(f), "transforms[%zu]%s%s", i, sub, extra);
    snprintf(field, field_size, "%s", f);
    return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s: %s%s%s", name, f, f[0] ? ": " : "",
                     msg);
}

static rc_err_t parse_match(const char *name, rc_transforms_body_t *b, size_t i, struct fy_node *m,
                            rc_transform_spec_t *spec, char *field, size_t field_size, char *errstr,
                            size_t errstr_size) {
    if (!fy_node_is_mapping(m)) {
        return bad(name, field, field_size, errstr, errstr_size, i, ".match", "",
                   "expected an object with schema and/or table");
    }
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(m, &it)) != NULL) {
        const char *k;
        size_t klen;
        char kname[64];
        if (!key_is(pair, &k, &klen)) {
            return bad(name, field, field_size, errstr, errstr_size, i, ".match", "",
                       "keys must be strings");
        }
        snprintf(kname, sizeof(kname), ".%.*s", (int)(klen > 40 ? 40 : klen), k);
        bool is_schema = klen == 6 && memcmp(k, "schema", 6) == 0;
        bool is_table = klen == 5 && memcmp(k, "table", 5) == 0;
        if (!is_schema && !is_table) {
            return bad(name, field, field_size, errstr, errstr_size, i, ".match", kname,
                       "unknown key (schema, table)");
        }
        size_t vlen;
        const char *v = string_of(fy_node_pair_value(pair), &vlen);
        if (!v) {
            return bad(name, field, field_size, errstr, errstr_size, i, ".match", kname,
                       "expected a string (an anchored POSIX extended regex)");
        }
        char *s = keep(b, v, vlen);
        if (!s) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        size_t alen = vlen + 5;
        char *anchored = malloc(alen);
        if (!anchored) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        snprintf(anchored, alen, "^(%s)$", s);
        regex_t re;
        int rc = regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB);
        free(anchored);
        if (rc != 0) {
            char why[256], msg[400];
            regerror(rc, &re, why, sizeof(why));
            snprintf(msg, sizeof(msg), "'%.100s' is not a valid regular expression: %s", s, why);
            return bad(name, field, field_size, errstr, errstr_size, i, ".match", kname, msg);
        }
        regfree(&re);
        if (is_schema) {
            spec->match_schema = s;
        } else {
            spec->match_table = s;
        }
    }
    return RC_OK;
}

static rc_err_t parse_entry(const char *name, rc_transforms_body_t *b, size_t i, struct fy_node *e,
                            char *field, size_t field_size, char *errstr, size_t errstr_size) {
    rc_transform_spec_t *spec = &b->specs[i];
    if (!fy_node_is_mapping(e)) {
        return bad(name, field, field_size, errstr, errstr_size, i, "", "",
                   "expected an object {engine, script, match}");
    }
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(e, &it)) != NULL) {
        const char *k;
        size_t klen;
        if (!key_is(pair, &k, &klen)) {
            return bad(name, field, field_size, errstr, errstr_size, i, "", "",
                       "keys must be strings");
        }
        char kname[64];
        snprintf(kname, sizeof(kname), ".%.*s", (int)(klen > 40 ? 40 : klen), k);
        if (!((klen == 6 && memcmp(k, "engine", 6) == 0) ||
              (klen == 6 && memcmp(k, "script", 6) == 0) ||
              (klen == 5 && memcmp(k, "match", 5) == 0))) {
            return bad(name, field, field_size, errstr, errstr_size, i, "", kname,
                       "unknown key (engine, script, match)");
        }
    }
    size_t elen, slen;
    const char *engine = string_of(fy_node_mapping_lookup_by_string(e, "engine", FY_NT), &elen);
    if (!engine || !((elen == 3 && memcmp(engine, "lua", 3) == 0) ||
                     (elen == 2 && memcmp(engine, "js", 2) == 0))) {
        return bad(name, field, field_size, errstr, errstr_size, i, "", ".engine",
                   "required, \"lua\" or \"js\"");
    }
    spec->engine = elen == 3 ? "lua" : "js";
    const char *script = string_of(fy_node_mapping_lookup_by_string(e, "script", FY_NT), &slen);
    if (!script) {
        return bad(name, field, field_size, errstr, errstr_size, i, "", ".script",
                   "required, the script's text as a string");
    }
    char label[32];
    snprintf(label, sizeof(label), "transforms[%zu]", i);
    if (!(spec->source = keep(b, script, slen)) || !(spec->file = keep(b, label, strlen(label)))) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    spec->source_len = slen;
    struct fy_node *m = fy_node_mapping_lookup_by_string(e, "match", FY_NT);
    if (m) {
        return parse_match(name, b, i, m, spec, field, field_size, errstr, errstr_size);
    }
    return RC_OK;
}

rc_err_t rc_transforms_body_parse(const char *name, const char *text, size_t len,
                                  rc_transforms_body_t *out, char *field, size_t field_size,
                                  char *errstr, size_t errstr_size) {
    memset(out, 0, sizeof(*out));
    if (field_size) {
        field[0] = '\0';
    }
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_JSON_FORCE};
    struct fy_document *doc = fy_document_build_from_string(&cfg, text, len);
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    rc_err_t err = RC_OK;
    if (!root || !fy_node_is_mapping(root)) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "%s: not a JSON object {\"transforms\": [...]}", name);
        goto done;
    }
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(root, &it)) != NULL) {
        const char *k;
        size_t klen;
        if (!key_is(pair, &k, &klen) || !(klen == 10 && memcmp(k, "transforms", 10) == 0)) {
            snprintf(field, field_size, "%.*s", k ? (int)(klen > 100 ? 100 : klen) : 0, k ? k : "");
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                            "%s: unknown key '%s' (the body has one key, transforms)", name, field);
            goto done;
        }
    }
    struct fy_node *list = fy_node_mapping_lookup_by_string(root, "transforms", FY_NT);
    if (!list || !fy_node_is_sequence(list)) {
        snprintf(field, field_size, "transforms");
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "%s: transforms: required, a list of {engine, script, match} ([] for "
                        "none)",
                        name);
        goto done;
    }
    int n = fy_node_sequence_item_count(list);
    if (n > 0 && !(out->specs = calloc((size_t)n, sizeof(*out->specs)))) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        goto done;
    }
    out->n = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < n && err == RC_OK; i++) {
        err = parse_entry(name, out, (size_t)i, fy_node_sequence_get_by_index(list, i), field,
                          field_size, errstr, errstr_size);
    }
done:
    fy_document_destroy(doc);
    return err;
}

void rc_transforms_body_free(rc_transforms_body_t *b) {
    for (size_t i = 0; i < b->n_strings; i++) {
        free(b->strings[i]);
    }
    free(b->strings);
    free(b->specs);
    memset(b, 0, sizeof(*b));
}
