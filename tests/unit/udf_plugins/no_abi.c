/* no_abi.c: a test plugin without ROWCAST_UDF_PLUGIN() (rowcast must refuse it). */
#include <rowcast/udf.h>

int rowcast_udf_init(const rowcast_udf_host_t *host) {
    (void)host;
    return 0;
}
