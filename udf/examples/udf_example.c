/* udf_example.c: an example rowcast UDF plugin (built as rowcast_udf_example.so).
 *
 * Registers mask_digits(s [, keep_last]): every ASCII digit of s becomes 'X' except the last
 * keep_last digits (default 4), other characters stay, so "4111-1111-1111-1234" becomes
 * "XXXX-XXXX-XXXX-1234". NULL gives NULL. Load it with `udfs: [path/to/rowcast_udf_example.so]`;
 * scripts then call mask_digits(...) in Lua and JS alike.
 * Build your own the same way: include <rowcast/udf.h>, put ROWCAST_UDF_PLUGIN(); once, define
 * rowcast_udf_init, and compile with -shared -fPIC (msgpack-c is optional; it is used here to
 * read the arguments and write the result). */
#include <msgpack.h>
#include <rowcast/udf.h>
#include <stdio.h>
#include <string.h>

ROWCAST_UDF_PLUGIN();

static int mask_digits(const uint8_t *args, size_t args_len, uint32_t argc,
                       const rowcast_udf_out_t *out, char *errstr, size_t errstr_size, void *data) {
    (void)data;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = -1;
    if (msgpack_unpack_next(&u, (const char *)args, args_len, NULL) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != argc) {
        snprintf(errstr, errstr_size, "the arguments are not a msgpack array");
        goto done;
    }
    const msgpack_object *s = &u.data.via.array.ptr[0];
    int64_t keep = 4;
    if (argc > 1) {
        const msgpack_object *k = &u.data.via.array.ptr[1];
        if (k->type != MSGPACK_OBJECT_POSITIVE_INTEGER || k->via.u64 > 1000) {
            snprintf(errstr, errstr_size,
                     "argument 2 (keep_last) must be an integer from 0 to "
                     "1000");
            goto done;
        }
        keep = (int64_t)k->via.u64;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, out->data, out->write);
    if (s->type == MSGPACK_OBJECT_NIL) {
        rc = msgpack_pack_nil(&pk);
        goto done;
    }
    if (s->type != MSGPACK_OBJECT_STR) {
        snprintf(errstr, errstr_size, "argument 1 (s) must be a string");
        goto done;
    }
    const char *p = s->via.str.ptr;
    uint32_t n = s->via.str.size;
    int64_t digits = 0;
    for (uint32_t i = 0; i < n; i++) {
        digits += p[i] >= '0' && p[i] <= '9';
    }
    if (msgpack_pack_str(&pk, n) != 0) {
        goto done;
    }
    int64_t seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9' && seen++ < digits - keep) {
            c = 'X';
        }
        if (msgpack_pack_str_body(&pk, &c, 1) != 0) {
            goto done;
        }
    }
    rc = 0;
done:
    msgpack_unpacked_destroy(&u);
    return rc;
}

int rowcast_udf_init(const rowcast_udf_host_t *host) {
    static const rowcast_udf_def_t def = {
        "mask_digits",
        1,
        2,
        mask_digits,
        NULL,
        "mask_digits(s [, keep_last]) -> string: digits become X except the last keep_last "
        "(default 4)"};
    if (host->abi_version != ROWCAST_UDF_ABI_VERSION) {
        snprintf(host->errstr, host->errstr_size, "built for ABI %d", ROWCAST_UDF_ABI_VERSION);
        return -1;
    }
    return host->add(host, &def);
}
