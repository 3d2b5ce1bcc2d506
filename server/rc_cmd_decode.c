/* rc_cmd_decode.c: `rowcast decode FILE...`, the offline path.
 *
 * Reads binlog files from disk through the same decoder and JSON writer as a pipeline and
 * prints one JSON document per row change, exactly the value a pipeline would produce. Used
 * to inspect binlogs, to replay them in tests and to compare with other decoders. */
#include "rc_cmd.h"

#include <msgpack.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_binlog.h"
#include "rc_buf.h"
#include "rc_debezium.h"
#include "rc_json.h"

typedef struct decode_ctx {
    regex_t include;
    bool has_include;
} decode_ctx_t;

static bool include_table(void *opaque, const char *schema, const char *table) {
    decode_ctx_t *ctx = opaque;
    char name[600];
    snprintf(name, sizeof(name), "%s.%s", schema, table);
    return regexec(&ctx->include, name, 0, NULL, 0) == 0;
}

static void usage(FILE *out) {
    fprintf(out, "Usage: rowcast decode [--include REGEX] [--format F] [--no-checksum]\n"
                 "                      [--geojson] FILE...\n"
                 "\n"
                 "Prints every row change in the binlog files as one JSON document per line,\n"
                 "the same value a pipeline produces to Kafka. Files are read in the order given,\n"
                 "as one stream.\n"
                 "\n"
                 "  --include REGEX  only tables whose schema.table matches (anchored)\n"
                 "  --format F       json (default) or debezium-json, as sink.format\n"
                 "  --no-checksum    do not verify CRC32 checksums\n"
                 "  --geojson        GEOMETRY values as {\"srid\", \"geojson\"}, not WKB\n");
}

/* Writes the JSON (or Debezium JSON) of every event packed in sb to out. */
static int print_events(msgpack_sbuffer *sb, rc_buf_t *json, FILE *out, const char *path,
                        bool debezium) {
    const uint8_t *p = (const uint8_t *)sb->data, *end = p + sb->size;
    while (p < end) {
        size_t used;
        rc_buf_reset(json);
        rc_err_t err = debezium ? rc_debezium_write_event(json, p, (size_t)(end - p), &used)
                                : rc_json_write_event(json, p, (size_t)(end - p), &used);
        if (err != RC_OK) {
            fprintf(stderr, "rowcast decode: %s: cannot write an event as JSON: %s\n", path,
                    rc_err2str(err));
            return -1;
        }
        rc_buf_putc(json, '\n');
        fwrite(json->data, 1, json->len, out);
        p += used;
    }
    sb->size = 0;
    return 0;
}

int rc_cmd_decode(int argc, char **argv) {
    decode_ctx_t ctx = {.has_include = false};
    bool verify = true, debezium = false, geojson = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--include") == 0 && i + 1 < argc) {
            size_t n = strlen(argv[++i]) + 5;
            char *anchored = malloc(n);
            snprintf(anchored, n, "^(%s)$", argv[i]);
            int rc = regcomp(&ctx.include, anchored, REG_EXTENDED | REG_NOSUB);
            free(anchored);
            if (rc != 0) {
                char msg[256];
                regerror(rc, &ctx.include, msg, sizeof(msg));
                fprintf(stderr, "rowcast decode: --include '%s': %s\n", argv[i], msg);
                return 2;
            }
            ctx.has_include = true;
        } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "debezium-json") != 0 && strcmp(argv[i], "json") != 0) {
                fprintf(stderr, "rowcast decode: --format '%s': use json or debezium-json\n",
                        argv[i]);
                return 2;
            }
            debezium = strcmp(argv[i], "debezium-json") == 0;
        } else if (strcmp(argv[i], "--no-checksum") == 0) {
            verify = false;
        } else if (strcmp(argv[i], "--geojson") == 0) {
            geojson = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "rowcast decode: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    rc_binlog_opts_t opts;
    rc_binlog_opts_init(&opts);
    opts.pipeline = "decode";
    opts.verify_checksum = verify;
    opts.geometry_geojson = geojson;
    if (ctx.has_include) {
        opts.include = include_table;
        opts.opaque = &ctx;
    }
    int status = 0;
    rc_binlog_t *dec = rc_binlog_new(&opts);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (dec) {
        rc_binlog_direct_sbuffer(dec, &sb); /* rows straight into sb, as the pipeline does */
    }
    rc_buf_t json = RC_BUF_INIT;
    for (; i < argc && status == 0; i++) {
        char errstr[1024];
        rc_binlog_file_t *f = rc_binlog_file_open(argv[i], errstr, sizeof(errstr));
        if (!f) {
            fprintf(stderr, "rowcast decode: %s\n", errstr);
            status = 1;
            break;
        }
        const char *base = strrchr(argv[i], '/');
        rc_binlog_set_position(dec, base ? base + 1 : argv[i], 4);
        const uint8_t *ev;
        size_t len;
        rc_err_t err;
        while ((err = rc_binlog_file_next(f, &ev, &len)) == RC_OK) {
            if (rc_binlog_feed(dec, ev, len, &pk, NULL, errstr, sizeof(errstr)) != RC_OK) {
                fprintf(stderr, "rowcast decode: %s at offset %llu: %s\n", argv[i],
                        (unsigned long long)rc_binlog_file_offset(f), errstr);
                status = 1;
                break;
            }
            if (print_events(&sb, &json, stdout, argv[i], debezium) != 0) {
                status = 1;
                break;
            }
        }
        if (status == 0 && err != RC_ERR_EOF) {
            fprintf(stderr, "rowcast decode: %s: %s after offset %llu\n", argv[i], rc_err2str(err),
                    (unsigned long long)rc_binlog_file_offset(f));
            status = 1;
        }
        rc_binlog_file_close(f);
    }
    rc_buf_free(&json);
    msgpack_sbuffer_destroy(&sb);
    rc_binlog_destroy(dec);
    if (ctx.has_include) {
        regfree(&ctx.include);
    }
    return status;
}
