/* rc_script_cli.c: `rowcast transform-test`, a dry run of one script on one sample event.
 *
 * Reads EVENT.json (a whole cdc_event, kafka included), runs it through the script exactly as
 * a pipeline would, and prints one JSON line per message that would be produced:
 * {"topic": ..., "key": ..., "value": ...}. Exit 0 when the script sent or dropped the event,
 * 1 when it failed on it, 2 on a bad command line, event file or script (load errors). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_json.h"
#include "rc_mp.h"
#include "rc_script.h"
#include "rc_udf.h"

#define RC_SCRIPT_EVENT_MAX_DEPTH 48 /* the engines take 64 (RC_SCRIPT_MAX_DEPTH) */

static void usage(FILE *out) {
    fprintf(out, "Usage: rowcast transform-test --script FILE --event EVENT.json "
                 "[--engine lua|js] [--udf PLUGIN.so]...\n"
                 "\n"
                 "Runs transform(cdc_event) of FILE on the event in EVENT.json and prints each\n"
                 "message it would produce as {\"topic\", \"key\", \"value\"}, one per line.\n"
                 "The engine follows the file extension (.lua, .js) unless --engine is given.\n"
                 "--udf loads a UDF plugin (as the config's udfs: list does); repeatable.\n"
                 "Exit status: 0 sent or dropped, 1 the script failed, 2 bad input.\n");
}

/* A plain JSON scalar: null, true, false, an integer or a number; quoted ones are strings. */
static void pack_scalar(msgpack_packer *pk, struct fy_node *n) {
    size_t len;
    const char *s = fy_node_get_scalar(n, &len);
    if (fy_node_get_style(n) == FYNS_PLAIN && len > 0 && len < 64) {
        char buf[64], *end;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (strcmp(buf, "null") == 0) {
            msgpack_pack_nil(pk);
            return;
        }
        if (strcmp(buf, "true") == 0 || strcmp(buf, "false") == 0) {
            if (buf[0] == 't') {
                msgpack_pack_true(pk);
            } else {
                msgpack_pack_false(pk);
            }
            return;
        }
        errno = 0;
        if (buf[0] == '-') {
            long long v = strtoll(buf, &end, 10);
            if (errno == 0 && *end == '\0') {
                msgpack_pack_int64(pk, v);
                return;
            }
        } else if (isdigit((unsigned char)buf[0])) {
            unsigned long long v = strtoull(buf, &end, 10);
            if (errno == 0 && *end == '\0') {
                msgpack_pack_uint64(pk, v);
                return;
            }
        }
        errno = 0;
        double d = strtod(buf, &end);
        if (errno == 0 && *end == '\0') {
            msgpack_pack_double(pk, d);
            return;
        }
    }
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

/* False when n nests deeper than the scripts could take (the request may come from anyone). */
static bool pack_node(msgpack_packer *pk, struct fy_node *n, int depth) {
    void *it = NULL;
    if (depth > RC_SCRIPT_EVENT_MAX_DEPTH) {
        return false;
    }
    switch (fy_node_get_type(n)) {
    case FYNT_SCALAR:
        pack_scalar(pk, n);
        break;
    case FYNT_SEQUENCE: {
        msgpack_pack_array(pk, (size_t)fy_node_sequence_item_count(n));
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(n, &it)) != NULL) {
            if (!pack_node(pk, item, depth + 1)) {
                return false;
            }
        }
        break;
    }
    case FYNT_MAPPING: {
        msgpack_pack_map(pk, (size_t)fy_node_mapping_item_count(n));
        struct fy_node_pair *pair;
        while ((pair = fy_node_mapping_iterate(n, &it)) != NULL) {
            size_t klen;
            const char *k = fy_node_get_scalar(fy_node_pair_key(pair), &klen);
            msgpack_pack_str(pk, k ? klen : 0);
            msgpack_pack_str_body(pk, k ? k : "", k ? klen : 0);
            if (!pack_node(pk, fy_node_pair_value(pair), depth + 1)) {
                return false;
            }
        }
        break;
    }
    }
    return true;
}

/* Appends {"topic": ..., "key": ..., "value": ...} for the event at ev. */
static int write_message(rc_buf_t *out, const uint8_t *ev, const uint8_t *end, size_t *used) {
    const uint8_t *kafka, *topic, *key;
    size_t u;
    if (rc_mp_map_find(ev, end, "kafka", &kafka) != RC_OK ||
        rc_mp_map_find(kafka, end, "topic", &topic) != RC_OK) {
        return -1;
    }
    rc_buf_puts(out, "{\"topic\":");
    if (rc_json_write(out, topic, (size_t)(end - topic), &u) != RC_OK) {
        return -1;
    }
    rc_buf_puts(out, ",\"key\":");
    if (rc_mp_map_find(kafka, end, "key", &key) != RC_OK) {
        rc_buf_puts(out, "null");
    } else if (rc_json_write(out, key, (size_t)(end - key), &u) != RC_OK) {
        return -1;
    }
    rc_buf_puts(out, ",\"value\":");
    if (rc_json_write_event(out, ev, (size_t)(end - ev), used) != RC_OK) {
        return -1;
    }
    rc_buf_putc(out, '}');
    return 0;
}

/* The chain's messages start with "pipeline P: " and, for a load error, "transforms[0]: "; the
 * dry run has one script and no pipeline. */
static void strip_chain_prefix(const char *pipeline, char *errstr) {
    char prefix[256];
    int n = snprintf(prefix, sizeof(prefix), "pipeline %s: ", pipeline);
    if (n > 0 && (size_t)n < sizeof(prefix) && strncmp(errstr, prefix, (size_t)n) == 0) {
        memmove(errstr, errstr + n, strlen(errstr + n) + 1);
    }
    static const char stage[] = "transforms[0]: ";
    if (strncmp(errstr, stage, sizeof(stage) - 1) == 0) {
        memmove(errstr, errstr + sizeof(stage) - 1, strlen(errstr + sizeof(stage) - 1) + 1);
    }
}

rc_err_t rc_script_test(const rc_transform_spec_t *spec, struct fy_node *event, const char *sep,
                        rc_buf_t *out, uint32_t *n_out, bool *ran, char *errstr,
                        size_t errstr_size) {
    static const char pipeline[] = "transform-test";
    *ran = false;
    *n_out = 0;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    rc_err_t err;
    rc_transform_chain_t *c = NULL;
    if (!pack_node(&pk, event, 0)) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "the event nests deeper than %d levels", RC_SCRIPT_EVENT_MAX_DEPTH);
        goto done;
    }
    c = rc_transform_chain_new(pipeline, spec, 1, NULL, RC_ON_ERROR_FAIL, errstr, errstr_size);
    if (!c) {
        strip_chain_prefix(pipeline, errstr);
        err = RC_ERR_INVALID;
        goto done;
    }
    *ran = true;
    uint32_t n = 1, mark = 1;
    size_t mark_off;
    err = rc_transform_chain_run(c, &buf, &n, &mark, &mark_off, errstr, errstr_size);
    if (err != RC_OK) {
        strip_chain_prefix(pipeline, errstr);
        goto done;
    }
    const uint8_t *cur = (const uint8_t *)buf.data, *end = cur + buf.size;
    for (uint32_t i = 0; i < n; i++) {
        size_t used;
        if (i) {
            rc_buf_puts(out, sep);
        }
        /* an event a Lua script did not touch went out unchecked, as in a pipeline (where the
         * encoder refuses it): a message without a valid topic is the script's result */
        char why[400];
        if (!rc_script_check_event(cur, (size_t)(end - cur), why, sizeof(why))) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s: message %u: %s", spec->file,
                            i + 1, why);
            goto done;
        }
        if (write_message(out, cur, end, &used) != 0) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                            "cannot write message %u of the result as JSON", i);
            goto done;
        }
        cur += used;
    }
    *n_out = n;
done:
    rc_transform_chain_destroy(c);
    msgpack_sbuffer_destroy(&buf);
    return err;
}

int rc_script_cli_main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"script", required_argument, NULL, 's'}, {"event", required_argument, NULL, 'e'},
        {"engine", required_argument, NULL, 'g'}, {"udf", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *script = NULL, *event = NULL, *engine = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            script = optarg;
            break;
        case 'e':
            event = optarg;
            break;
        case 'g':
            engine = optarg;
            break;
        case 'u': {
            char why[1024];
            if (rc_udf_load(optarg, why, sizeof(why)) != RC_OK) {
                fprintf(stderr, "rowcast transform-test: %s\n", why);
                return 2;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!script || !event || optind < argc) {
        usage(stderr);
        return 2;
    }
    if (!engine) {
        const char *dot = strrchr(script, '.');
        engine = dot && strcmp(dot, ".js") == 0 ? "js" : "lua";
    }
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_JSON_FORCE};
    struct fy_document *doc = fy_document_build_from_file(&cfg, event);
    if (!doc || !fy_node_is_mapping(fy_document_root(doc))) {
        fprintf(stderr, "rowcast transform-test: %s: cannot read it as one JSON object\n", event);
        fy_document_destroy(doc);
        return 2;
    }
    char errstr[2048];
    rc_buf_t out = RC_BUF_INIT;
    uint32_t n;
    bool ran;
    rc_transform_spec_t spec = {engine, script, NULL, NULL, 5000, (size_t)256 << 20, NULL, 0};
    rc_err_t err =
        rc_script_test(&spec, fy_document_root(doc), "\n", &out, &n, &ran, errstr, sizeof(errstr));
    fy_document_destroy(doc);
    if (err != RC_OK) {
        fprintf(stderr, "rowcast transform-test: %s\n", errstr);
        rc_buf_free(&out);
        return ran ? 1 : 2;
    }
    if (n > 0) {
        rc_buf_putc(&out, '\n');
        fwrite(out.data, 1, out.len, stdout);
    }
    rc_buf_free(&out);
    fprintf(stderr, "rowcast transform-test: 1 event in, %u message%s out%s\n", n,
            n == 1 ? "" : "s", n == 0 ? " (dropped)" : "");
    return 0;
}
