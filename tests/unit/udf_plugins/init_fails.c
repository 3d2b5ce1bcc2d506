/* init_fails.c: a test plugin whose rowcast_udf_init refuses to start, with a reason. */
#include <rowcast/udf.h>
#include <stdio.h>

ROWCAST_UDF_PLUGIN();

int rowcast_udf_init(const rowcast_udf_host_t *host) {
    snprintf(host->errstr, host->errstr_size, "the license file is missing");
    return 1;
}
