/* rc_transforms_body.h: the scripts of PUT /v1/pipelines/{name}/transform.
 *
 * The body is a JSON object with one key, transforms: the config's transform entries with the
 * script's text in place of its file, run in order, [] for none (events as read):
 *   {"transforms": [{"engine": "lua", "script": "function transform(e) ... end",
 *                    "match": {"schema": "shop", "table": "users|orders"}}]}
 * The same text is kept in pipelines_dir/NAME.transforms, so a restart reads it back through the
 * same parser. @thread any */
#ifndef RC_TRANSFORMS_BODY_H
#define RC_TRANSFORMS_BODY_H

#include <stddef.h>

#include "rc_err.h"
#include "rc_script.h"

typedef struct rc_transforms_body {
    rc_transform_spec_t *specs; /* engine, file ("transforms[i]"), match_*, source, source_len */
    size_t n;
    char **strings; /* what the specs point to */
    size_t n_strings;
} rc_transforms_body_t;

/* Parses text; `name` stands for the file in messages. On error returns RC_ERR_INVALID with a
 * sentence in errstr and the key path at fault in field ("" for the body, "transforms[1].engine",
 * "transforms[0].match.table"). budget_ms and memory_bytes of the specs are 0: the pipeline's
 * settings fill them. Free with rc_transforms_body_free (also after an error). */
rc_err_t rc_transforms_body_parse(const char *name, const char *text, size_t len,
                                  rc_transforms_body_t *out, char *field, size_t field_size,
                                  char *errstr, size_t errstr_size);
void rc_transforms_body_free(rc_transforms_body_t *b);

#endif
