/* no_init.c: a test plugin that states its ABI but has no rowcast_udf_init. */
#include <rowcast/udf.h>

ROWCAST_UDF_PLUGIN();

ROWCAST_UDF_EXPORT int not_the_entry_point(void);
int not_the_entry_point(void) {
    return 0;
}
