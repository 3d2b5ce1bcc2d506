#!/usr/bin/env bash
# Writes binlog files for bench_decode from the real MariaDB (tests/services/mariadb.sh):
# a sysbench-shaped table (id, k, c CHAR(120), pad CHAR(60)) and a 20-column mixed table,
# each filled by ROWS inserts in 1 000-row transactions, then copies the binlog range that
# holds them into OUTDIR as sysbench.binlog and mixed.binlog (each a complete binlog file:
# the server rotates before and after, so every file starts with its own FDE); then updates
# (k and c of every row) and deletes the sysbench rows the same way, into
# sysbench_update.binlog and sysbench_delete.binlog.
#   tests/bench/gen_binlog.sh OUTDIR [ROWS]   (default 200000)
set -euo pipefail
out=${1:?usage: gen_binlog.sh OUTDIR [ROWS]}
rows=${2:-200000}
port=${RC_MARIADB_PORT:-13306}
my() { mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -p"${RC_MARIADB_ROOT_PASSWORD:-root}" "$@"; }
datadir=$(my -N -e "SELECT @@datadir")
mkdir -p "$out"

changes() { # name statement: run over @base = 0, 1 000, ... below ROWS, 1 000 rows a transaction
    local name=$1 stmt=$2 file done=0
    my -e "FLUSH BINARY LOGS"
    file=$(my -N -e "SHOW MASTER STATUS" | cut -f1)
    while ((done < rows)); do
        my rc_bench -e "SET @base=$done; $stmt"
        done=$((done + 1000))
    done
    my -e "FLUSH BINARY LOGS"
    cp "$datadir/$file" "$out/$name.binlog"
    echo "$out/$name.binlog: $(stat -c %s "$out/$name.binlog") bytes, $rows rows"
}

gen() { # name create-table insert-select: a new rc_bench with the table, filled
    my -e "DROP DATABASE IF EXISTS rc_bench; CREATE DATABASE rc_bench; $2"
    changes "$1" "$3"
}

seq1000="(SELECT a.n*100+b.n*10+c.n AS n FROM (SELECT 0 n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a, (SELECT 0 n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b, (SELECT 0 n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c) s"

gen sysbench \
    "CREATE TABLE rc_bench.sbtest (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL)" \
    "INSERT INTO sbtest SELECT @base+n+1, FLOOR(RAND()*1000000), REPEAT(CONCAT(FLOOR(RAND()*99999999999), '-'), 10), REPEAT(CONCAT(FLOOR(RAND()*99999999999), '-'), 5) FROM $seq1000"

changes sysbench_update \
    "UPDATE sbtest SET k = k + 1, c = REPEAT(CONCAT(FLOOR(RAND()*99999999999), '-'), 10) WHERE id > @base AND id <= @base + 1000"
changes sysbench_delete "DELETE FROM sbtest WHERE id > @base AND id <= @base + 1000"

gen mixed \
    "CREATE TABLE rc_bench.mixed (id BIGINT PRIMARY KEY, t TINYINT, s SMALLINT UNSIGNED, m MEDIUMINT, i INT, b BIGINT UNSIGNED, f FLOAT, d DOUBLE, dec1 DECIMAL(10,2), dec2 DECIMAL(30,10), v1 VARCHAR(32), v2 VARCHAR(255), ch CHAR(10), txt TEXT, bl BLOB, dt DATETIME(6), ts TIMESTAMP(3) NULL, dd DATE, tm TIME(3), yr YEAR) CHARSET utf8mb4" \
    "INSERT INTO mixed SELECT @base+n+1, n%127, n, -n, n*1000, n*1000000007, n/7, n/13, n/3, n/17, CONCAT('v', n), REPEAT('x', n%200), 'chars', REPEAT('text ', n%20), UNHEX(MD5(n)), NOW(6) - INTERVAL n SECOND, NOW(3), CURDATE() - INTERVAL n%1000 DAY, SEC_TO_TIME(n%86400), 1901 + n%200 FROM $seq1000"
my -e "DROP DATABASE rc_bench"
