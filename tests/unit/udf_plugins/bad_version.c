/* bad_version.c: a test plugin that claims a future UDF ABI version (rowcast must refuse it). */
#include <rowcast/udf.h>

ROWCAST_UDF_EXPORT extern const uint32_t rowcast_udf_abi_version;
ROWCAST_UDF_EXPORT const uint32_t rowcast_udf_abi_version = ROWCAST_UDF_ABI_VERSION + 41;

int rowcast_udf_init(const rowcast_udf_host_t *host) {
    (void)host;
    return 0;
}
