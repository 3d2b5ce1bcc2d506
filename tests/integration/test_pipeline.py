"""End-to-end: rows written to a real MariaDB come out of a real Kafka as rowcast's JSON
messages, one per row, in binlog order, with exact values; config errors are reported with
file, line and key. Fixtures and the comparison live in conftest.py."""

import datetime
import os
import re
import time
from decimal import Decimal

from conftest import (
    ChangeLog,
    Expected,
    Position,
    Table,
    check_messages,
    consume,
    master_status,
    pipeline_config,
    server_id,
    topic_partitions,
)

import pytest

TYPES_COLUMNS = [
    ("id", "INT NOT NULL"),
    ("code", "VARCHAR(32) NOT NULL"),
    ("ti", "TINYINT"),
    ("uti", "TINYINT UNSIGNED"),
    ("si", "SMALLINT"),
    ("usi", "SMALLINT UNSIGNED"),
    ("mi", "MEDIUMINT"),
    ("umi", "MEDIUMINT UNSIGNED"),
    ("i", "INT"),
    ("ui", "INT UNSIGNED"),
    ("bi", "BIGINT"),
    ("ubi", "BIGINT UNSIGNED"),
    ("name", "VARCHAR(100)"),
    ("ch", "CHAR(8)"),
    ("d", "DATE"),
    ("dt", "DATETIME(3)"),
    ("ts", "TIMESTAMP(6) NULL"),
    ("amount", "DECIMAL(20,6)"),
]

ROW_MIN = dict(
    id=1, code="a", ti=-128, uti=255, si=-32768, usi=65535, mi=-8388608, umi=16777215,
    i=-2147483648, ui=4294967295, bi=-9223372036854775808, ubi=18446744073709551615,
    name="café 中文 😀 ünïcödé", ch="ab", d=datetime.date(2024, 1, 2),
    dt=datetime.datetime(2024, 1, 2, 3, 4, 5, 123000),
    ts=datetime.datetime(2024, 1, 2, 3, 4, 5, 123456),
    amount=Decimal("-12345678901234.123456"),
)  # fmt: skip
ROW_MAX = dict(
    id=2, code="é中😀", ti=127, uti=0, si=32767, usi=0, mi=8388607, umi=0,
    i=2147483647, ui=0, bi=9223372036854775807, ubi=0,
    name='dq " sq \' bs \\ nl \n tab \t cr \r end', ch="xyz\\\"'", d=datetime.date(1000, 1, 1),
    dt=datetime.datetime(9999, 12, 31, 23, 59, 59, 999000),
    ts=datetime.datetime(2038, 1, 19, 3, 14, 7, 0),
    amount=Decimal("0.000001"),
)  # fmt: skip
ROW_NULLS = dict(
    id=3, code="nulls", ti=None, uti=None, si=None, usi=None, mi=None, umi=None, i=None,
    ui=None, bi=None, ubi=None, name=None, ch=None, d=None, dt=None, ts=None, amount=None,
)  # fmt: skip


def _types_table(db):
    return Table(db, "types", TYPES_COLUMNS, pk=["id", "code"])


def _start(mysql, rowcast, db, name):
    """Read the binlog end, then start rowcast from exactly there."""
    file_, pos = master_status(mysql)
    proc = rowcast.start(pipeline_config(name, db, (file_, pos)))
    return proc, file_, pos, time.time()


def _position(mysql, name, file_, start_pos, t0):
    end_file, end_pos = master_status(mysql)
    assert end_file == file_, "the binlog rotated during the test"
    return Position(name, file_, start_pos, end_pos, server_id(mysql), t0, time.time())


def test_insert_update_delete_all_types_composite_key(mysql, db, rowcast):
    """Each column type round-trips exactly; update has one before and one after row, delete
    only before; the key is the composite primary key in column order."""
    t = _types_table(db)
    file_, pos = master_status(mysql)
    t0 = time.time()
    # The CREATE TABLE is in the stream too: rowcast must pass over DDL.
    with mysql.cursor() as cur:
        cur.execute(t.create_sql())
    proc = rowcast.start(pipeline_config("it_types", db, (file_, pos)))

    log = ChangeLog(mysql)
    r1 = dict(ROW_MIN)
    r2 = dict(ROW_MAX)
    r3 = dict(ROW_NULLS)
    for r in (r1, r2, r3):
        log.insert(t, r)
    r1 = log.update(
        t, r1, name="mis à jour ✓", amount=Decimal("-0.500000"),
        dt=datetime.datetime(2024, 2, 29, 23, 59, 59, 100000), ubi=18446744073709551614,
    )  # fmt: skip
    r3 = log.update(t, r3, ti=0, ubi=18446744073709551615, ch="", name="", d=datetime.date(2000, 2, 29))
    log.delete(t, r2)
    # The same kinds of change inside one transaction.
    log.begin()
    r4 = dict(ROW_MIN, id=4, code="tx \"q\"", name="in a transaction")
    log.insert(t, r4)
    r4 = log.update(t, r4, i=-1, amount=Decimal("99999999999999.999999"))
    log.delete(t, r1)
    log.commit()
    position = _position(mysql, "it_types", file_, pos, t0)

    # The test's model of the table agrees with the database.
    assert t.select_all(mysql) == [t.json_row(r3), t.json_row(r4)]

    msgs = consume(t.topic, len(log.expected), process=proc)
    check_messages(msgs, log.expected, position)
    assert topic_partitions(t.topic) == [0]

    # A few values spelled out, so a wrong conversion cannot hide in the model.
    first = msgs[0].json()["after"][0]
    assert first["ubi"] == 18446744073709551615 and first["i"] == -2147483648
    assert first["bi"] == -9223372036854775808
    assert first["amount"] == "-12345678901234.123456"
    assert first["d"] == "2024-01-02" and first["dt"] == "2024-01-02T03:04:05.123"
    assert first["ts"] == "2024-01-02T03:04:05.123456Z"
    assert first["name"] == "café 中文 😀 ünïcödé" and first["ch"] == "ab"
    assert b"18446744073709551615" in msgs[0].value  # a JSON number, not a string or float
    second = msgs[1].json()["after"][0]
    assert second["name"] == 'dq " sq \' bs \\ nl \n tab \t cr \r end'
    assert second["amount"] == "0.000001" and second["dt"] == "9999-12-31T23:59:59.999"
    assert second["code"] == "é中😀"
    assert msgs[2].json()["after"][0]["ubi"] is None
    update = msgs[3].json()
    assert update["action"] == "update" and update["after"][0]["dt"] == "2024-02-29T23:59:59.100"
    assert update["after"][0]["amount"] == "-0.500000"
    delete = msgs[5].json()
    assert delete["action"] == "delete" and delete["after"] == [] and len(delete["before"]) == 1
    assert re.fullmatch(rb'\{"id":2,"code":"(\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80|'
                        rb'\\u00e9\\u4e2d\\ud83d\\ude00)"\}', msgs[5].key, re.I), msgs[5].key


def test_multi_statement_transaction_two_tables(mysql, db, rowcast):
    """One transaction over two tables (one without a primary key) gives every row's message,
    in statement order per table, all with the transaction's GTID; a rolled-back transaction
    and a table outside `include` give nothing."""
    orders = Table(
        db, "orders",
        [("id", "INT NOT NULL"), ("customer", "VARCHAR(64)"), ("amount", "DECIMAL(10,2)"),
         ("created", "DATETIME(3)")],
        pk=["id"],
    )  # fmt: skip
    audit = Table(db, "audit", [("seq", "BIGINT"), ("note", "VARCHAR(200)"), ("at", "DATE")])
    other_db = db + "_other"  # must not match the anchored include regex '<db>\..*'
    with mysql.cursor() as cur:
        cur.execute(orders.create_sql())
        cur.execute(audit.create_sql())
        cur.execute(f"CREATE DATABASE `{other_db}` CHARACTER SET utf8mb4")
        cur.execute(f"CREATE TABLE `{other_db}`.`orders` (id INT PRIMARY KEY, v INT)")
    try:
        proc, file_, pos, t0 = _start(mysql, rowcast, db, "it_tx")
        log = ChangeLog(mysql)

        # Rolled back: nothing of it may appear.
        mysql.begin()
        with mysql.cursor() as cur:
            cur.execute(f"INSERT INTO `{db}`.`orders` VALUES (999, 'ghost', 1.00, NOW(3))")
        mysql.rollback()

        log.begin()
        o1 = dict(id=1, customer="alice", amount=Decimal("10.50"),
                  created=datetime.datetime(2024, 5, 1, 12, 0, 0, 1000))  # fmt: skip
        o2 = dict(id=2, customer="bob", amount=Decimal("-3.00"), created=None)
        log.insert(orders, o1)
        a1 = dict(seq=1, note="order 1 created", at=datetime.date(2024, 5, 1))
        log.insert(audit, a1)
        log.insert(orders, o2)
        with mysql.cursor() as cur:
            cur.execute(f"INSERT INTO `{other_db}`.`orders` VALUES (1, 1)")
        o1 = log.update(orders, o1, amount=Decimal("11.00"))
        a2 = dict(seq=2, note="order 2 created", at=datetime.date(2024, 5, 1))
        log.insert(audit, a2)
        o2 = log.update(orders, o2, customer="bob ß", created=datetime.datetime(2024, 5, 2))
        log.delete(audit, a1)
        o3 = dict(id=3, customer=None, amount=None, created=None)
        log.insert(orders, o3)
        log.delete(orders, o1)
        a2 = log.update(audit, a2, note=None)
        log.commit()
        position = _position(mysql, "it_tx", file_, pos, t0)
        assert len({e.gtid for e in log.expected}) == 1

        assert orders.select_all(mysql) == [orders.json_row(o2), orders.json_row(o3)]
        for table in (orders, audit):
            expected = log.for_topic(table.topic)
            msgs = consume(table.topic, len(expected), process=proc)
            check_messages(msgs, expected, position)
        assert [e.action for e in log.for_topic(orders.topic)] == [
            "insert", "insert", "update", "update", "insert", "delete"
        ]  # fmt: skip
        assert topic_partitions(f"{other_db}.orders") is None, "include matched another database"
    finally:
        with mysql.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{other_db}`")


def test_ten_thousand_rows_in_one_transaction(mysql, db, rowcast):
    """10 000 rows inserted by one transaction (multi-row INSERTs from executemany) give
    10 000 messages, every id once, in insertion order."""
    n = 10_000
    big = Table(
        db, "big",
        [("id", "INT NOT NULL"), ("payload", "VARCHAR(100)"), ("amount", "DECIMAL(12,2)"),
         ("flag", "TINYINT UNSIGNED")],
        pk=["id"],
    )  # fmt: skip
    with mysql.cursor() as cur:
        cur.execute(big.create_sql())
    proc, file_, pos, t0 = _start(mysql, rowcast, db, "it_bulk")

    rows = [
        dict(id=i, payload=f"row {i} " + "x" * (i % 50), amount=Decimal(i) / 100 - 25,
             flag=i % 256)
        for i in range(1, n + 1)
    ]  # fmt: skip
    log = ChangeLog(mysql)
    log.begin()
    with mysql.cursor() as cur:
        cur.executemany(
            f"INSERT INTO `{db}`.`big` (id, payload, amount, flag) VALUES (%s, %s, %s, %s)",
            [(r["id"], r["payload"], r["amount"], r["flag"]) for r in rows],
        )
    for r in rows:
        log.expect(Expected(big, "insert", after=r))
    log.commit()
    position = _position(mysql, "it_bulk", file_, pos, t0)

    msgs = consume(big.topic, n, timeout=240, process=proc)
    ids = [m.json()["after"][0]["id"] for m in msgs]
    assert sorted(ids) == list(range(1, n + 1)), "ids missing or duplicated"
    assert ids == list(range(1, n + 1)), "ids out of order"
    check_messages(msgs, log.expected, position)


BAD_CONFIGS = {
    # name: (text, line, key); the password must never be echoed
    "port_not_integer": (
        """\
log_level: info
http: {listen: ""}
kafka: {brokers: "127.0.0.1:19092"}
pipelines:
  - name: bad
    source:
      host: 127.0.0.1
      port: not-a-port
      user: rowcast
      password: sekret-pw-4711
      server_id: 4101
      include: ['db1\\..*']
      start: earliest
    sink: {format: json, topic: '{schema}.{table}', create_topics: true}
""",
        8,
        "pipelines[0].source.port",
    ),
    "unknown_key": (
        """\
log_level: info
http: {listen: ""}
kafka: {brokers: "127.0.0.1:19092"}
pipelines:
  - name: bad
    source:
      host: 127.0.0.1
      port: 13306
      user: rowcast
      password: sekret-pw-4711
      server_id: 4101
      include: ['db1\\..*']
      start: earliest
    sink:
      format: json
      topic: '{schema}.{table}'
      colour: blue
""",
        17,
        "pipelines[0].sink.colour",
    ),
    "bad_start": (
        """\
log_level: info
http: {listen: ""}
kafka: {brokers: "127.0.0.1:19092"}
pipelines:
  - name: bad
    source: {host: 127.0.0.1, port: 13306, user: rowcast, password: sekret-pw-4711,
             server_id: 4101, include: ['db1\\..*'],
             start: 'sometime soon'}
    sink: {format: json, topic: '{schema}.{table}', create_topics: true}
""",
        8,
        "pipelines[0].source.start",
    ),
}


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2_naming_file_line_and_key(rowcast, tmp_path, case, check):
    text, line, key = BAD_CONFIGS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    args = ["--config", str(path)] + (["--check"] if check else [])
    res = rowcast.run(args, timeout=30)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 2, f"exit status {res.returncode}, stderr:\n{err}"
    assert re.search(r"bad\.yaml:%d\b" % line, err), f"no 'bad.yaml:{line}' in:\n{err}"
    assert key in err, f"key {key} not named in:\n{err}"
    out = err + res.stdout.decode("utf-8", "replace")
    assert "sekret-pw-4711" not in out, "the password was printed"


def test_check_good_config_exits_0(rowcast):
    cfg = pipeline_config("it_check", "it_check_db", ("mariadb-bin.000001", 4))
    cfg["pipelines"][0]["source"]["password"] = "${RC_IT_PASSWORD}"  # from the environment
    path = rowcast.write_config(cfg, "good.yaml")
    env = dict(os.environ, RC_IT_PASSWORD="rowcast")
    res = rowcast.run(["--config", str(path), "--check"], timeout=30, env=env)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 0, f"exit status {res.returncode}, stderr:\n{err}"
