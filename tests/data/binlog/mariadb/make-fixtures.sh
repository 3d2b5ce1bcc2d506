#!/usr/bin/env bash
# Writes the binlog fixtures of this folder with the real MariaDB of tests/services (start it
# first, with the same RC_SERVICES_DIR / RC_MARIADB_PORT): each file is one whole binlog file
# that holds exactly the SQL below, cut with FLUSH BINARY LOGS and copied unchanged.
# Usage: tests/data/binlog/mariadb/make-fixtures.sh [NAME...]
#   rewrites the files next to it (only the NAMEd ones, e.g. compressed.000001, if given)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/services/common.sh
source "$here/../../../services/common.sh"
SOCKET="$RC_SERVICES_DIR/mariadb/mariadbd.sock"
((${#SOCKET} > 100)) && SOCKET="/tmp/rowcast-mariadb-${RC_MARIADB_PORT:-13306}.sock"
DATADIR="$RC_SERVICES_DIR/mariadb/data"
sql() { mariadb --no-defaults --default-character-set=utf8mb4 --protocol=socket -S "$SOCKET" -uroot -N "$@"; }
only=("$@")

# one_file NAME SQL: runs SQL as the only content of a fresh binlog file, copied to NAME.
one_file() {
    local name="$1" body="$2" file
    if ((${#only[@]})) && [[ " ${only[*]} " != *" $name "* ]]; then
        return 0
    fi
    sql -e "FLUSH BINARY LOGS"
    file="$(sql -e "SHOW MASTER STATUS" | cut -f1)"
    sql <<<"$body"
    sql -e "FLUSH BINARY LOGS"
    cp "$DATADIR/$file" "$here/$name"
    chmod 644 "$here/$name"
    TZ=UTC mariadb-binlog --no-defaults --base64-output=decode-rows -vv "$here/$name" \
        >"$here/$name.mariadb-binlog-vv.txt"
    log "wrote $here/$name from $file ($(sql -e 'SELECT VERSION()'))"
}

# log_bin_compress=ON with the default threshold of 256 bytes: the small INSERT stays a plain
# WRITE_ROWS_V1, the others become WRITE/UPDATE/DELETE_ROWS_COMPRESSED_V1 (166-168), and the
# long CREATE TABLE a QUERY_COMPRESSED (165). Then, with the smallest threshold (10 bytes), one
# transaction of two compressed INSERTs around a SAVEPOINT (which MariaDB never compresses).
one_file compressed.000001 "
SET GLOBAL log_bin_compress = ON;
SET GLOBAL log_bin_compress_min_len = 256;
DROP DATABASE IF EXISTS rc_fix;
CREATE DATABASE rc_fix;
CREATE TABLE rc_fix.t (id INT PRIMARY KEY, name VARCHAR(400), data BLOB, n BIGINT UNSIGNED)
  COMMENT 'a table for compressed binlog events: this comment makes the CREATE TABLE statement longer than log_bin_compress_min_len, which is 256 bytes here, so that MariaDB writes it as a QUERY_COMPRESSED event (type 165) rather than a plain QUERY event.';
INSERT INTO rc_fix.t VALUES (1, 'small', X'00ff00', 7);
INSERT INTO rc_fix.t VALUES (2, REPEAT('abc', 100), X'0001020300000000', 18446744073709551615),
                            (3, 'x', NULL, 0);
UPDATE rc_fix.t SET name = REPEAT('xyz', 120), data = X'ff00' WHERE id = 2;
DELETE FROM rc_fix.t WHERE id IN (2, 3);
SET GLOBAL log_bin_compress_min_len = 10;
BEGIN;
INSERT INTO rc_fix.t VALUES (4, 'in a transaction', NULL, 4);
SAVEPOINT sp1;
INSERT INTO rc_fix.t VALUES (5, 'after the savepoint', NULL, 5);
COMMIT;
DROP DATABASE rc_fix;
SET GLOBAL log_bin_compress = OFF;
SET GLOBAL log_bin_compress_min_len = 256;
"

# BINARY(n) values: the server strips trailing 0x00 bytes in the row image; SELECT gives n bytes.
one_file binary-padding.000001 "
DROP DATABASE IF EXISTS rc_fix;
CREATE DATABASE rc_fix;
CREATE TABLE rc_fix.b (id INT PRIMARY KEY, b4 BINARY(4), c4 CHAR(4) CHARACTER SET binary,
  b1 BINARY(1), b255 BINARY(255), ch CHAR(4) CHARACTER SET latin1, vb VARBINARY(8));
INSERT INTO rc_fix.b VALUES (1, X'01', X'0100', X'00', X'ff', 'ab', X'0100'),
                            (2, X'00000000', X'', '', X'00', '', X''),
                            (3, X'01020304', X'00000001', X'7f', REPEAT(X'00', 254), 'abcd', X'00'),
                            (4, NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE rc_fix.b SET b4 = X'0000' WHERE id = 1;
DELETE FROM rc_fix.b WHERE id = 3;
DROP DATABASE rc_fix;
"

# Column compression (BLOB/TEXT/VARCHAR/VARBINARY COMPRESSED: table map types 140 and 141): a
# value below column_compression_threshold is stored behind a 0x00 header byte, a longer one
# deflated, raw (column_compression_zlib_wrap=OFF, the default) or zlib-wrapped (ON).
one_file compressed-columns.000001 "
SET SESSION binlog_annotate_row_events = OFF;
SET SESSION column_compression_threshold = 100;
DROP DATABASE IF EXISTS rc_fix;
CREATE DATABASE rc_fix;
CREATE TABLE rc_fix.c (id INT PRIMARY KEY, bc BLOB COMPRESSED, vc VARCHAR(300) COMPRESSED,
  tc TEXT COMPRESSED, lat VARCHAR(200) CHARACTER SET latin1 COMPRESSED,
  vb VARBINARY(20) COMPRESSED) CHARACTER SET utf8mb4;
INSERT INTO rc_fix.c VALUES (1, X'00ff00', 'short', '', 'café €', X'0000');
INSERT INTO rc_fix.c VALUES (2, REPEAT(X'00ff', 150), REPEAT('xy', 60), REPEAT('é😀', 40),
  REPEAT('€uro ', 30), NULL);
SET SESSION column_compression_zlib_wrap = ON;
INSERT INTO rc_fix.c VALUES (3, REPEAT('abc', 100), REPEAT('z', 300), NULL, REPEAT('ÿ', 150), '');
UPDATE rc_fix.c SET tc = REPEAT('changed ', 20) WHERE id = 1;
DELETE FROM rc_fix.c WHERE id = 2;
DROP DATABASE rc_fix;
"

# Every character set iconv can convert, one column each (collation ids from 1 to 2304), with
# a value SELECT returns as the UTF-8 noted in test_binlog.c; ENUM and SET in non-UTF-8 charsets;
# then a table in swe7, which has no converter, last.
one_file charsets.000001 "
SET SESSION binlog_annotate_row_events = OFF;
DROP DATABASE IF EXISTS rc_fix;
CREATE DATABASE rc_fix;
CREATE TABLE rc_fix.cs (id INT PRIMARY KEY,
  cp1251 VARCHAR(40) CHARACTER SET cp1251, koi8r VARCHAR(40) CHARACTER SET koi8r,
  cp1250 VARCHAR(40) CHARACTER SET cp1250, latin2 VARCHAR(40) CHARACTER SET latin2,
  greek VARCHAR(40) CHARACTER SET greek, hebrew VARCHAR(40) CHARACTER SET hebrew,
  latin5 VARCHAR(40) CHARACTER SET latin5, latin7 VARCHAR(40) CHARACTER SET latin7,
  gbk VARCHAR(40) CHARACTER SET gbk, gb2312 VARCHAR(40) CHARACTER SET gb2312,
  big5 VARCHAR(40) CHARACTER SET big5, sjis VARCHAR(40) CHARACTER SET sjis,
  cp932 VARCHAR(40) CHARACTER SET cp932, ujis VARCHAR(40) CHARACTER SET ujis,
  eucjpms VARCHAR(40) CHARACTER SET eucjpms, euckr VARCHAR(40) CHARACTER SET euckr,
  tis620 VARCHAR(40) CHARACTER SET tis620, cp866 VARCHAR(40) CHARACTER SET cp866,
  cp852 VARCHAR(40) CHARACTER SET cp852, cp1256 VARCHAR(40) CHARACTER SET cp1256,
  cp1257 VARCHAR(40) CHARACTER SET cp1257, macroman VARCHAR(40) CHARACTER SET macroman,
  ucs2 VARCHAR(40) CHARACTER SET ucs2, utf16 VARCHAR(40) CHARACTER SET utf16,
  utf16le VARCHAR(40) CHARACTER SET utf16le, utf32 CHAR(10) CHARACTER SET utf32,
  l1nopad VARCHAR(40) CHARACTER SET latin1 COLLATE latin1_swedish_nopad_ci,
  uca VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_ai_ci,
  t16 TEXT CHARACTER SET utf16,
  e ENUM('да','нет') CHARACTER SET cp1251, s SET('α','β','γ') CHARACTER SET greek,
  z VARCHAR(40) CHARACTER SET utf16 COMPRESSED);
INSERT INTO rc_fix.cs VALUES (1, 'Привет мир', 'Привет', 'Žluťoučký kůň', 'Žluťoučký kůň',
  'Καλημέρα', 'שלום', 'İstanbul şğ', 'Ąčęėį', '中文汉字', '中文汉字', '中文繁體', '日本語ｶﾀｶﾅ',
  '日本語①', '日本語テキスト', '日本語①', '한국어', 'ภาษาไทย', 'Привет', 'Žluť', 'مرحبا', 'Ąčę',
  'café', 'ü中€', '😀𝄞ü', '😀ü', '😀ü', 'café €', '😀 uca1400', REPEAT('😀', 100), 'нет',
  'α,γ', REPEAT('ü', 40));
CREATE TABLE rc_fix.sw (id INT PRIMARY KEY, s VARCHAR(10) CHARACTER SET swe7);
INSERT INTO rc_fix.sw VALUES (1, 'abc');
DROP DATABASE rc_fix;
"

# GEOMETRY: every WKB geometry type, SRIDs 0 and 4326, a nested collection, NULL; the values
# SELECT ST_SRID(g), ST_AsGeoJSON(g) gives are noted in test_binlog.c.
one_file geometry.000001 "
SET SESSION binlog_annotate_row_events = OFF;
DROP DATABASE IF EXISTS rc_fix;
CREATE DATABASE rc_fix;
CREATE TABLE rc_fix.g (id INT PRIMARY KEY, g GEOMETRY, p POINT);
INSERT INTO rc_fix.g VALUES
  (1, ST_GeomFromText('POINT(1 2)', 4326), POINT(-0.5, 1e300)),
  (2, ST_GeomFromText('LINESTRING(0 0, 1.5 2.25, -3 4)'), NULL),
  (3, ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))', 3857), NULL),
  (4, ST_GeomFromText('MULTIPOINT(1 1, 2 2)'), NULL),
  (5, ST_GeomFromText('MULTILINESTRING((0 0, 1 1), (2 2, 3 3, 4 5))'), NULL),
  (6, ST_GeomFromText('MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))'), NULL),
  (7, ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1))', 4326), NULL),
  (8, GeometryCollection(Point(1, 2), GeometryCollection(Point(3, 4))), NULL);
UPDATE rc_fix.g SET g = ST_GeomFromText('POINT(7 8)', 4326) WHERE id = 2;
DELETE FROM rc_fix.g WHERE id = 3;
DROP DATABASE rc_fix;
"
