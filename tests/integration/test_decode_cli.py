"""`rowcast decode FILE...`: binlog files from disk through the pipeline's decoder and JSON
writer. Expected values come from tests/data/binlog/ORIGIN.md (the fixtures' MANIFEST)."""

import json
import os
import subprocess
import zlib
from pathlib import Path

DATA = Path(os.environ.get("RC_TEST_DATA", Path(__file__).resolve().parents[1] / "data")) / "binlog"
BINARY = os.environ.get("RC_BINARY", "build/test/server/rowcast")


def decode(*args):
    proc = subprocess.run([BINARY, "decode", *map(str, args)], capture_output=True, text=True,
                          timeout=60)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, events, proc.stderr


def test_mariadb_rows_with_full_metadata():
    rc, events, err = decode(DATA / "rust_mysql_common/mariadb-bin.000001")
    assert rc == 0, err
    assert [e["after"][0]["id"] for e in events] == [62, 63]
    first = events[0]
    assert (first["schema"], first["table"], first["action"]) == ("toddy_test", "outbox", "insert")
    assert first["before"] == []
    assert first["after"][0]["topic"] == "foo"
    assert first["after"][0]["created"] == "2022-04-20T22:18:04Z"
    assert first["meta"]["gtid"] == "0-1-1"
    assert first["meta"]["binlog_file"] == "mariadb-bin.000001"
    assert "kafka" not in first


def test_zstd_compressed_transaction_and_include_filter():
    path = DATA / "mysql-binlog-connector-java/mysql-bin.compressed"
    rc, events, err = decode("--include", r"demo\.movies", path)
    assert rc == 0, err
    assert len(events) == 1
    ev = events[0]
    assert ev["action"] == "update"
    assert ev["before"][0]["col_5"] == "Western"
    assert ev["after"][0]["col_5"] == "Western|Action"
    assert ev["after"][0]["col_2"] == "Once Upon a Time in the West"
    rc, events, err = decode("--include", r"other\..*", path)
    assert (rc, events) == (0, [])


def test_negative_time_beyond_24_hours():
    rc, events, err = decode(DATA / "rust_mysql_common/time_issue.000001")
    assert rc == 0, err
    assert [e["after"][0]["col_1"] for e in events] == ["-507:48:27"]


def test_vector_columns_as_float_arrays():
    rc, events, err = decode(DATA / "rust_mysql_common/vector.binlog")
    assert rc == 0, err
    first = events[0]
    assert (first["table"], first["meta"]["binlog_pos"]) == ("foo", 1085)  # MANIFEST
    assert first["after"] == [{"id": 1, "vector_column": [1.1, 2.2, 3.3]}]
    assert events[1]["after"] == [{"id": 2, "vector_column": [1.0, -1.0, 0.0]}]


def test_undecodable_column_fails_naming_file_offset_and_column(tmp_path):
    """The fixture with its VECTOR column's type changed to 243 (MYSQL_TYPE_INVALID), which no
    server writes: the decoder stops and says where and what."""
    data = bytearray((DATA / "rust_mysql_common/vector.binlog").read_bytes())
    p, patched = 4, 0
    while p < len(data):
        size = int.from_bytes(data[p + 9:p + 13], "little")
        if data[p + 4] == 19 and not patched:  # the first TABLE_MAP: foo (id INT, vector_column)
            body = p + 19
            at = body + 8  # table id (6) and flags (2)
            at += 1 + data[at] + 1  # schema name and NUL
            at += 1 + data[at] + 1  # table name and NUL
            ncols = data[at]
            types = data[at + 1:at + 1 + ncols]
            assert 242 in types, types
            data[at + 1 + types.index(242)] = 243
            crc = zlib.crc32(bytes(data[p:p + size - 4]))
            data[p + size - 4:p + size] = crc.to_bytes(4, "little")
            patched = 1
        p += size
    path = tmp_path / "vector-invalid.binlog"
    path.write_bytes(bytes(data))
    rc, events, err = decode(path)
    assert rc == 1
    assert "vector-invalid.binlog at offset" in err, err
    assert "vector_column" in err and "243" in err, err


def test_missing_file_and_bad_option():
    rc, _, err = decode("/nonexistent/binlog.000001")
    assert rc == 1 and "/nonexistent/binlog.000001" in err
    rc, _, err = decode("--include", "(", DATA / "rust_mysql_common/mariadb-bin.000001")
    assert rc == 2 and "--include" in err


def test_debezium_json_format():
    """--format debezium-json prints what a debezium-json pipeline would produce."""
    rc, events, err = decode("--format", "debezium-json", DATA / "rust_mysql_common/mariadb-bin.000001")
    assert rc == 0, err
    assert [e["after"]["id"] for e in events] == [62, 63]
    first = events[0]
    assert first["op"] == "c" and first["before"] is None
    assert first["after"]["created"] == "2022-04-20T22:18:04Z"  # TIMESTAMP: ZonedTimestamp
    src = first["source"]
    assert (src["connector"], src["db"], src["table"]) == ("mysql", "toddy_test", "outbox")
    assert (src["gtid"], src["file"], src["name"]) == ("0-1-1", "mariadb-bin.000001", "decode")
    assert src["ts_ms"] == 1650493084000
    rc, _, err = decode("--format", "avro", DATA / "rust_mysql_common/mariadb-bin.000001")
    assert rc == 2 and "--format 'avro': use json or debezium-json" in err


def test_geometry_as_wkb_by_default_and_geojson_on_request():
    path = DATA / "mariadb/geometry.000001"
    rc, events, err = decode(path)
    assert rc == 0, err
    assert events[0]["after"][0]["g"] == {"srid": 4326, "wkb": "AQEAAAAAAAAAAADwPwAAAAAAAABA"}
    rc, events, err = decode("--geojson", path)
    assert rc == 0, err
    assert events[0]["after"][0]["g"] == {
        "srid": 4326, "geojson": {"type": "Point", "coordinates": [1.0, 2.0]}}
    assert [e["after"][0]["g"]["geojson"]["type"] for e in events[:8]] == [
        "Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
        "GeometryCollection", "GeometryCollection"]  # fmt: skip
