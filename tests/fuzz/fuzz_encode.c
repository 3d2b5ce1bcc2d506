/* fuzz_encode.c: libFuzzer target over the message encoders. The input is msgpack bytes, as a
 * transform script can make them: rc_msg_encode in every format must fail cleanly or succeed,
 * and whatever rc_proto writes must be protobuf that protobuf-c reads and packs again into the
 * very same bytes (valid and canonical; protobuf-c cannot hold a NUL inside a string, so
 * messages with one are only checked for validity). rc_json_write_event_tpl, with templates kept
 * from one input to the next (so they are mostly someone else's keys), three times per input
 * (the third with the run of leading members the second learnt), must give what
 * rc_json_write_event gives: the same result, bytes and size used; so must
 * rc_proto_write_event_tpl, its templates kept the same way, give what rc_proto_write_event
 * gives, and rc_msg's protobuf value (its templates, kafka not read again) be the latter; and
 * rc_msg's debezium-json value (its row templates kept the same way) rc_debezium's. The input's
 * first object alone (rc_json_write: the fast value writer, value_at) and as the one item of an
 * array (the generic writer) must give the same text. The input's first 8 bytes as a double, and
 * as N / 10^3 below 2^42 (float3_at's doubles), must be written as text that reads back as it,
 * the latter as printf's "%.3f" less its trailing zeros. Seeds: tests/data/golden/msgpack. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.pb-c.h"
#include "rc_cols.h"
#include "rc_debezium.h"
#include "rc_json.h"
#include "rc_msg.h"
#include "rc_proto.h"

static bool varint(const uint8_t **p, const uint8_t *e, uint64_t *v) {
    *v = 0;
    for (int shift = 0; *p < e && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            return true;
        }
    }
    return false;
}

/* True when a string field anywhere in the message holds a NUL byte: valid protobuf, but
 * protobuf-c keeps strings NUL-terminated, so such a message cannot come back byte for byte. */
/* Aborts unless rc_json_write writes the double x as text that reads back as x, and as want
 * (when not NULL). */
static void check_double_text(double x, const char *want) {
    uint8_t b[9] = {0xcb};
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    for (int i = 0; i < 8; i++) {
        b[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    rc_buf_t out = RC_BUF_INIT;
    if (rc_json_write(&out, b, sizeof b, NULL) != RC_OK || rc_buf_putc(&out, '\0') != RC_OK) {
        abort();
    }
    if (isnan(x) || isinf(x) ? strcmp(out.data, "null") != 0
                             : strtod(out.data, NULL) != x || (want && strcmp(out.data, want))) {
        abort();
    }
    rc_buf_free(&out);
}

/* The input's first 8 bytes as a double and as a double of 3 decimals, through check_double_text. */
static void check_doubles(const uint8_t *data, size_t size) {
    uint64_t r;
    if (size < 8) {
        return;
    }
    memcpy(&r, data, sizeof r);
    double d;
    memcpy(&d, &r, sizeof d);
    check_double_text(d, NULL);
    uint64_t n = r % 4398046511104000ULL;
    d = (double)n / 1000 * (r >> 63 ? -1 : 1);
    char want[64];
    snprintf(want, sizeof want, "%.3f", d);
    size_t len = strlen(want);
    while (want[len - 1] == '0' && want[len - 2] != '.') {
        len--;
    }
    want[len] = '\0';
    check_double_text(d, want);
}

static bool string_has_nul(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n) {
    const uint8_t *e = p + n;
    while (p < e) {
        uint64_t tag, len;
        if (!varint(&p, e, &tag)) {
            return false;
        }
        switch (tag & 7) {
        case 0:
            if (!varint(&p, e, &len)) {
                return false;
            }
            break;
        case 1:
            p += 8;
            break;
        case 5:
            p += 4;
            break;
        case 2: {
            if (!varint(&p, e, &len) || len > (uint64_t)(e - p)) {
                return false;
            }
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3));
            if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, len)) {
                return true;
            }
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && string_has_nul(f->descriptor, p, len)) {
                return true;
            }
            p += len;
            break;
        }
        default:
            return false;
        }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const rc_format_t formats[] = {RC_FORMAT_JSON, RC_FORMAT_PROTOBUF,
                                          RC_FORMAT_DEBEZIUM_JSON};
    char err[256];
    rc_msg_t msg = RC_MSG_INIT;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        size_t used;
        msg.key_joined = i == 2;
        msg.debezium_schemas = i == 2; /* the schema part reads kafka.columns (rc_cols.c) */
        rc_err_t encoded = rc_msg_encode(&msg, formats[i], data, size, &used, err, sizeof err);
        if (encoded == RC_OK && used > size) {
            abort();
        }
        if (encoded == RC_OK && formats[i] == RC_FORMAT_JSON && msg.n_headers > 1 &&
            msg.headers[1].value_len == 4 && memcmp(msg.headers[1].value, "json", 4) == 0) {
            /* rc_msg's JSON value (templates, kafka not read again) is rc_json_write_event's */
            rc_buf_t plain = RC_BUF_INIT;
            size_t plain_used;
            if (rc_json_write_event(&plain, data, size, &plain_used) != RC_OK ||
                plain.len != msg.value.len ||
                (plain.len > 0 && memcmp(plain.data, msg.value.data, plain.len) != 0)) {
                abort();
            }
            rc_buf_free(&plain);
        }
        if (encoded == RC_OK && formats[i] == RC_FORMAT_PROTOBUF && msg.n_headers > 1 &&
            msg.headers[1].value_len == 8 && memcmp(msg.headers[1].value, "protobuf", 8) == 0) {
            rc_buf_t plain = RC_BUF_INIT;
            size_t plain_used;
            if (rc_proto_write_event(&plain, data, size, &plain_used) != RC_OK ||
                plain.len != msg.value.len ||
                (plain.len > 0 && memcmp(plain.data, msg.value.data, plain.len) != 0)) {
                abort();
            }
            rc_buf_free(&plain);
        }
    }
    rc_msg_free(&msg);

    rc_buf_t out = RC_BUF_INIT, tpl_out = RC_BUF_INIT;
    size_t used, tpl_used;
    static rc_json_tpl_t *tpl;
    if (!tpl && !(tpl = rc_json_tpl_new())) {
        abort();
    }
    for (int i = 0; i < 3; i++) { /* a new key set, a known one, then its leading run */
        rc_buf_reset(&out);
        rc_buf_reset(&tpl_out);
        rc_err_t err = rc_json_write_event(&out, data, size, &used);
        if (rc_json_write_event_tpl(&tpl_out, tpl, data, size, NULL, &tpl_used) != err ||
            (err == RC_OK && (tpl_used != used || tpl_out.len != out.len ||
                              (out.len > 0 && memcmp(tpl_out.data, out.data, out.len) != 0)))) {
            abort(); /* the templates changed the output */
        }
    }
    static rc_proto_tpl_t *ptpl;
    if (!ptpl && !(ptpl = rc_proto_tpl_new())) {
        abort();
    }
    const uint8_t *cols = rc_cols_of_event(data, size);
    for (int i = 0; i < 2; i++) { /* a new key set, then a known one */
        rc_buf_reset(&out);
        rc_buf_reset(&tpl_out);
        rc_err_t err = rc_proto_write_event(&out, data, size, &used);
        /* the second time with the event's end known, as rc_msg passes it */
        const uint8_t *ev_end = i == 1 && err == RC_OK ? data + used : NULL;
        if (rc_proto_write_event_tpl(&tpl_out, ptpl, data, size, cols, ev_end, &tpl_used) != err ||
            (err == RC_OK && (tpl_used != used || tpl_out.len != out.len ||
                              (out.len > 0 && memcmp(tpl_out.data, out.data, out.len) != 0)))) {
            abort(); /* the templates changed the output */
        }
    }
    rc_buf_free(&tpl_out);
    rc_buf_reset(&out);
    if (rc_proto_write_event(&out, data, size, &used) == RC_OK) {
        Rowcast__V1__Event *e =
            rowcast__v1__event__unpack(NULL, out.len, (const uint8_t *)out.data);
        if (!e) {
            abort(); /* we wrote protobuf that protobuf-c cannot read */
        }
        size_t n = rowcast__v1__event__get_packed_size(e);
        uint8_t *again = malloc(n ? n : 1);
        if (!again || rowcast__v1__event__pack(e, again) != n) {
            abort();
        }
        if ((n != out.len || (n > 0 && memcmp(again, out.data, n) != 0)) &&
            !string_has_nul(&rowcast__v1__event__descriptor, (const uint8_t *)out.data, out.len)) {
            abort(); /* not canonical */
        }
        free(again);
        rowcast__v1__event__free_unpacked(e, NULL);
    }
    rc_buf_reset(&out);
    rc_debezium_write_event(&out, data, size, &used);
    /* rc_msg's debezium-json value, its row templates kept from one input to the next (a new
     * key set, then a known one), is rc_debezium_write_event_typed's, with and without schemas */
    static rc_msg_t dmsg = RC_MSG_INIT;
    for (int i = 0; i < 2; i++) {
        rc_buf_reset(&out);
        rc_err_t plain = rc_debezium_write_event_typed(&out, data, size, cols, i == 1, &used);
        dmsg.debezium_schemas = i == 1;
        if (rc_msg_encode(&dmsg, RC_FORMAT_DEBEZIUM_JSON, data, size, &used, err, sizeof err) ==
                RC_OK &&
            dmsg.n_headers > 1 && dmsg.headers[1].value_len == 13 &&
            memcmp(dmsg.headers[1].value, "debezium-json", 13) == 0 &&
            (plain != RC_OK || out.len != dmsg.value.len ||
             (out.len > 0 && memcmp(out.data, dmsg.value.data, out.len) != 0))) {
            abort(); /* the templates changed the output */
        }
    }
    /* the fast value writer against the generic one: x alone and [x] */
    uint8_t *arr = malloc(size + 1);
    if (!arr) {
        abort();
    }
    arr[0] = 0x91;
    if (size) {
        memcpy(arr + 1, data, size);
    }
    rc_buf_t in_arr = RC_BUF_INIT;
    size_t arr_used;
    rc_buf_reset(&out);
    rc_err_t alone = rc_json_write(&out, data, size, &used);
    if (rc_json_write(&in_arr, arr, size + 1, &arr_used) == RC_OK &&
        (alone != RC_OK || arr_used != used + 1 || in_arr.len != out.len + 2 ||
         memcmp(in_arr.data + 1, out.data, out.len) != 0)) {
        abort(); /* value_at wrote other text than write_value */
    }
    rc_buf_free(&in_arr);
    free(arr);
    rc_buf_free(&out);
    check_doubles(data, size);
    return 0;
}
