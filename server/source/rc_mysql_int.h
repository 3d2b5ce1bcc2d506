/* rc_mysql_int.h: the body of a replication connection, shared by rc_mysql.c (connection,
 * dump, stream) and rc_mysql_pos.c (positions, GTID dump, purge checks, timestamp search). */
#ifndef RC_MYSQL_INT_H
#define RC_MYSQL_INT_H

#include <mysql.h>
#include <stdbool.h>

#include "rc_mysql.h"

/* The layout of Connector/C's MARIADB_TLS (ma_tls.h, which does not compile on its own). */
struct ma_tls_layout {
    void *data;
    void *pvio;
    void *ssl;
};

struct rc_mysql {
    MYSQL *conn;
    char endpoint[300];
    bool mariadb;
    bool tls;
};

#endif
