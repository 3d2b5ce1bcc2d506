"""End-to-end, debezium-json format: a plain Kafka consumer (confluent-kafka) reads rowcast's
topic and checks each message against the structure Debezium documents for its MySQL
connector (JsonConverter, schemas.enable=false): the envelope (before, after, source with its
fields, op, ts_ms, transaction) and Debezium's default value conventions, decoded the way a
Debezium consumer decodes them, compared with what the server holds for the row right after
each change. The table and rows are the protobuf test's. With sink.debezium.schemas (as
schemas.enable=true) every value and key is {"schema", "payload"}: the payload is checked as
above, and the schema against the payload (every field's Kafka Connect type holds its value,
optional only where the column is nullable) and against the column types Debezium documents."""

import base64
import datetime
import json
import struct
import time
from decimal import Decimal

import pytest

import test_protobuf as tp
from conftest import consume, master_status, pipeline_config, server_id

EPOCH = datetime.datetime(1970, 1, 1)


def debezium_decode(sql_type, v):
    """A Debezium JSON value back into the Python value PyMySQL gives for the column."""
    if v is None:
        return None
    base = tp._base(sql_type)
    if base == "decimal":  # org.apache.kafka.connect.data.Decimal: unscaled two's complement
        unscaled = int.from_bytes(base64.b64decode(v), "big", signed=True)
        return Decimal(unscaled).scaleb(-tp._fsp_scale(sql_type))
    if base == "date":  # io.debezium.time.Date: days since the epoch
        return datetime.date(1970, 1, 1) + datetime.timedelta(days=v)
    if base == "time":  # io.debezium.time.MicroTime
        return datetime.timedelta(microseconds=v)
    if base == "datetime":  # io.debezium.time.Timestamp (ms) up to fsp 3, MicroTimestamp above
        unit = "milliseconds" if tp._fsp(sql_type) <= 3 else "microseconds"
        return EPOCH + datetime.timedelta(**{unit: v})
    if base == "timestamp":  # io.debezium.time.ZonedTimestamp, UTC
        assert v.endswith("Z"), v
        return datetime.datetime.fromisoformat(v[:-1])
    if base in ("varbinary", "blob"):  # bytes: base64 in JSON
        return base64.b64decode(v)
    if base == "bigint" and "unsigned" in sql_type.lower() and v < 0:
        return v + 2**64  # bigint.unsigned.handling.mode=long wraps; a consumer unwraps
    if base == "float":
        return v
    if base == "bit":  # BIT(10), io.debezium.data.Bits: the bits as little-endian bytes
        raw = base64.b64decode(v)
        assert len(raw) == 2, v  # (10 + 7) // 8
        return int.from_bytes(raw, "little").to_bytes(2, "big")  # PyMySQL: big-endian bytes
    if base == "geometry":  # io.debezium.data.geometry.Geometry: {"wkb": base64, "srid": int}
        assert set(v) == {"srid", "wkb"}, v
        return v["srid"].to_bytes(4, "little") + base64.b64decode(v["wkb"])
    return v


def check_row(got, server_row):
    assert list(got) == [c for c, _ in tp.COLUMNS], list(got)
    for col, sql_type in tp.COLUMNS:
        want, value = server_row[col], debezium_decode(sql_type, got[col])
        where = f"column {col} ({sql_type}): server {want!r}, message {got[col]!r}"
        if tp._base(sql_type) == "float" and want is not None:
            f32 = struct.unpack("f", struct.pack("f", float(want)))[0]
            assert struct.unpack("f", struct.pack("f", value))[0] == f32, where
        elif tp._base(sql_type) == "set":
            assert value == want, where  # Debezium's EnumSet: the comma-separated text
        else:
            assert value == want, where


# Kafka Connect's schema types and the values each holds in JSON (JsonConverter)
CONNECT_RANGES = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}

# What Debezium's documentation gives for the protobuf test's column types (MySQL connector,
# default modes): (Connect type, logical type name or None, parameters or None)
DEBEZIUM_TYPES = {
    "tinyint": ("int16", None, None),
    "tinyint unsigned": ("int16", None, None),
    "smallint": ("int16", None, None),
    "mediumint unsigned": ("int32", None, None),
    "int": ("int32", None, None),
    "int unsigned": ("int64", None, None),
    "bigint": ("int64", None, None),
    "bigint unsigned": ("int64", None, None),
    "float": ("float", None, None),
    "double": ("double", None, None),
    "decimal(20,6)": ("bytes", "org.apache.kafka.connect.data.Decimal",
                      {"scale": "6", "connect.decimal.precision": "20"}),
    "date": ("int32", "io.debezium.time.Date", None),
    "time(6)": ("int64", "io.debezium.time.MicroTime", None),
    "time": ("int64", "io.debezium.time.MicroTime", None),
    "datetime(3)": ("int64", "io.debezium.time.Timestamp", None),
    "datetime": ("int64", "io.debezium.time.Timestamp", None),
    "timestamp(6) null": ("string", "io.debezium.time.ZonedTimestamp", None),
    "year": ("int32", "io.debezium.time.Year", None),
    "char(8)": ("string", None, None),
    "varchar(100)": ("string", None, None),
    "varchar(16) not null": ("string", None, None),
    "int not null": ("int32", None, None),
    "text": ("string", None, None),
    "varbinary(16)": ("bytes", None, None),
    "blob": ("bytes", None, None),
    "enum('small','medium','large')": ("string", "io.debezium.data.Enum", None),
    "set('a','b','c','d')": ("string", "io.debezium.data.EnumSet", None),
    "bit(10)": ("bytes", "io.debezium.data.Bits", {"length": "10"}),
    "json": ("string", None, None),  # MariaDB's JSON is a LONGTEXT
    "geometry": ("struct", "io.debezium.data.geometry.Geometry", None),
}  # fmt: skip


def check_connect_value(schema, value, where):
    """value must be what JsonConverter gives for a value of the Connect schema."""
    where = f"{where}: schema {schema}, value {value!r}"
    if value is None:
        assert schema["optional"], where
        return
    t = schema["type"]
    if t in CONNECT_RANGES:
        bits = CONNECT_RANGES[t]
        assert isinstance(value, int) and not isinstance(value, bool), where
        assert -(2 ** (bits - 1)) <= value < 2 ** (bits - 1), where
    elif t in ("float", "double"):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
    elif t == "boolean":
        assert isinstance(value, bool), where
    elif t == "string":
        assert isinstance(value, str), where
    elif t == "bytes":
        assert isinstance(value, str) and base64.b64encode(base64.b64decode(value)).decode() == value
    elif t == "struct":
        check_struct(schema, value, where)
    else:
        raise AssertionError(f"unknown Connect type {t}: {where}")


def check_struct(schema, value, where):
    """A JSON object against a Connect struct schema: the same fields, in order, each holding
    its type."""
    assert schema["type"] == "struct" and isinstance(value, dict), where
    names = [f["field"] for f in schema["fields"]]
    assert names == list(value), (names, list(value), where)
    for f in schema["fields"]:
        check_connect_value(f, value[f["field"]], f"{where}.{f['field']}")


def check_envelope_schema(doc, db, pipeline):
    """{"schema", "payload"} of a value: the envelope's schema holds the payload, and the column
    fields have Debezium's documented types and the columns' nullability."""
    assert list(doc) == ["schema", "payload"], doc
    schema, payload = doc["schema"], doc["payload"]
    assert schema["name"] == f"{pipeline}.{db}.t.Envelope" and not schema["optional"]
    fields = {f["field"]: f for f in schema["fields"]}
    assert list(fields) == ["before", "after", "source", "op", "ts_ms", "transaction"]
    assert fields["source"]["name"] == "io.debezium.connector.mysql.Source"
    check_struct(schema, payload, "envelope")
    for side in ("before", "after"):
        f = fields[side]
        assert f["optional"] and f["name"] == f"{pipeline}.{db}.t.Value", f
        assert [c["field"] for c in f["fields"]] == [c for c, _ in tp.COLUMNS], f
        for c, (col, sql_type) in zip(f["fields"], tp.COLUMNS):
            want = DEBEZIUM_TYPES[sql_type.lower()]
            assert (c["type"], c.get("name"), c.get("parameters")) == want, (col, c)
            assert c["optional"] == ("not null" not in sql_type.lower()), (col, c)


@pytest.mark.parametrize("schemas", [False, True], ids=["payload", "schemas"])
def test_debezium_envelope_and_values_match_the_server(mysql, db, rowcast, schemas):
    types = dict(tp.COLUMNS)
    cols = ",\n  ".join(f"`{c}` {t}" for c, t in tp.COLUMNS)
    with mysql.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(
            f"CREATE TABLE `{db}`.`t` (\n  {cols},\n  PRIMARY KEY (`id`, `k`)\n)"
            " CHARACTER SET utf8mb4"
        )
    file_, pos = master_status(mysql)
    t0 = time.time()
    proc = rowcast.start(
        pipeline_config(
            "it_dbz", db, (file_, pos),
            sink={"format": "debezium-json", "topic": "{schema}.{table}", "create_topics": True,
                  "debezium": {"schemas": schemas}},
        )
    )  # fmt: skip
    expected = []

    def change(op, sql, params, row, before=None):
        with mysql.cursor() as cur:
            cur.execute(sql, params)
            cur.execute("SELECT @@last_gtid")
            gtid = cur.fetchone()[0]
        after = tp._snapshot(mysql, db, row) if op != "d" else None
        expected.append((op, before, after, gtid))
        return after

    def insert(row):
        return change("c", *tp.insert_sql(db, "t", row), row)

    a = insert(tp.ROW_A)
    b = insert(tp.ROW_B)
    insert(tp.ROW_NULLS)
    change("u", f"UPDATE `{db}`.`t` SET `amount` = %s, `d` = %s WHERE `id` = 1",
           [Decimal("-0.5"), datetime.date(1969, 12, 31)], tp.ROW_A, before=a)  # fmt: skip
    change("d", f"DELETE FROM `{db}`.`t` WHERE `id` = 2", [], tp.ROW_B, before=b)
    end_file, end_pos = master_status(mysql)
    assert end_file == file_
    sid = server_id(mysql)

    msgs = consume(f"{db}.t", len(expected), process=proc)
    assert len(msgs) == len(expected)
    values = []
    for m, (op, before, after, gtid) in zip(msgs, expected):
        v = m.json()
        key = json.loads(m.key)
        if schemas:
            check_envelope_schema(v, db, "it_dbz")
            v = v["payload"]
            assert list(key) == ["schema", "payload"], key
            ks = key["schema"]
            assert ks["name"] == f"it_dbz.{db}.t.Key" and not ks["optional"], ks
            assert [(f["field"], f["type"], f["optional"]) for f in ks["fields"]] == [
                ("id", "int32", False), ("k", "string", False)], ks  # fmt: skip
            check_struct(ks, key["payload"], "key")
            key = key["payload"]
        values.append(v)
        where = f"message at offset {m.offset}: {v}"
        assert list(v) == ["before", "after", "source", "op", "ts_ms", "transaction"], where
        assert v["op"] == op and v["transaction"] is None, where
        if before is None:
            assert v["before"] is None, where
        else:
            check_row(v["before"], before)
        if after is None:
            assert v["after"] is None, where
        else:
            check_row(v["after"], after)
        s = v["source"]
        assert list(s) == ["version", "connector", "name", "ts_ms", "snapshot", "db", "sequence",
                           "table", "server_id", "gtid", "file", "pos", "row", "thread",
                           "query"], where  # fmt: skip
        assert s["connector"] == "mysql" and s["name"] == "it_dbz" and s["snapshot"] == "false"
        assert s["db"] == db and s["table"] == "t" and s["server_id"] == sid, where
        assert s["gtid"] == gtid and s["file"] == file_ and pos < s["pos"] < end_pos, where
        assert s["row"] == 0 and s["sequence"] is None and s["query"] is None, where
        assert (t0 - 2) * 1000 <= s["ts_ms"] <= (time.time() + 2) * 1000, where
        assert s["ts_ms"] % 1000 == 0  # binlog event times are whole seconds
        assert (t0 - 2) * 1000 <= v["ts_ms"] <= (time.time() + 2) * 1000, where

        row = after if after is not None else before
        assert list(key) == tp.PK and all(key[c] == row[c] for c in tp.PK), (key, where)
        headers = dict(m.headers)
        assert headers["content-type"] == b"application/json", where
        assert headers["rowcast.format"] == b"debezium-json", where
        assert headers["rowcast.gtid"] == gtid.encode(), where

    # a few raw values spelled out as Debezium documents them
    first = values[0]["after"]
    assert first["d"] == 19782  # 2024-02-29 in days
    assert first["dt"] == 1704164645123  # DATETIME(3) 2024-01-02 03:04:05.123 in ms
    assert first["tm"] == -3020399000000  # TIME(6) -838:59:59 in µs
    assert first["ts"] == "2038-01-19T03:14:07.999999Z"
    assert first["ubi"] == -1  # 18446744073709551615 in "long" mode
    assert first["e"] == "medium" and first["s"] == "a,d"
    assert base64.b64decode(first["amount"]) == (-12345678901234123456).to_bytes(9, "big", signed=True)
    assert first["bt"] == base64.b64encode(bytes([0b00000101, 0b10])).decode()  # little-endian
    update = values[3]
    assert update["after"]["d"] == -1 and update["before"]["d"] == 19782
    assert update["after"]["amount"] == base64.b64encode(b"\xf8\x5e\xe0").decode()  # -500000
