"""Decoding against the real MariaDB, through the real pipeline to Kafka: MariaDB's compressed
binlog events (log_bin_compress=ON) and BINARY(n) values, whose trailing zero bytes the server
leaves out of the binlog. Fixtures and the comparison live in conftest.py."""

import base64
import contextlib
import time
from decimal import Decimal

from conftest import (
    ChangeLog,
    Position,
    Table,
    check_messages,
    consume,
    master_status,
    mysql_connect,
    pipeline_config,
    server_id,
)


@contextlib.contextmanager
def global_vars(conn, **values):
    """SET GLOBAL each variable for the block and put the old values back after it (these
    variables have no session scope; the integration tests run one at a time)."""
    with conn.cursor() as cur:
        old = {}
        for k in values:
            cur.execute(f"SELECT @@global.{k}")
            old[k] = cur.fetchone()[0]
        try:
            for k, v in values.items():
                cur.execute(f"SET GLOBAL {k} = %s", (v,))
            yield
        finally:
            for k, v in old.items():
                cur.execute(f"SET GLOBAL {k} = %s", (v,))


def binlog_event_types(conn, file_, pos):
    """The type names SHOW BINLOG EVENTS gives for the events of `file_` from `pos` on."""
    with conn.cursor() as cur:
        cur.execute(f"SHOW BINLOG EVENTS IN '{file_}' FROM {int(pos)}")
        return [r[2] for r in cur.fetchall()]


def test_compressed_binlog_events_through_the_pipeline(mysql, db, rowcast):
    """With log_bin_compress=ON and the smallest threshold, every DDL and rows event is
    compressed (QUERY_COMPRESSED, WRITE/UPDATE/DELETE_ROWS_COMPRESSED_V1); the messages are
    the same as without compression, in one transaction and across several."""
    t = Table(
        db, "zipped",
        [("id", "INT NOT NULL"), ("name", "VARCHAR(400)"), ("body", "TEXT"),
         ("amount", "DECIMAL(30,10)"), ("ubi", "BIGINT UNSIGNED")],
        pk=["id"],
    )  # fmt: skip
    file_, pos = master_status(mysql)
    t0 = time.time()
    with global_vars(mysql, log_bin_compress="ON", log_bin_compress_min_len=10):
        # a fresh connection, so nothing depends on when the session reads the variables
        conn = mysql_connect()
        try:
            with conn.cursor() as cur:
                cur.execute(t.create_sql())
            proc = rowcast.start(pipeline_config("it_zip", db, (file_, pos)))
            log = ChangeLog(conn)
            rows = [
                dict(id=1, name="ab" * 150, body="😀 café " * 40, amount=Decimal("-1.5"),
                     ubi=18446744073709551615),
                dict(id=2, name="short", body=None, amount=None, ubi=0),
                dict(id=3, name="", body="", amount=Decimal("12345678901234567890.0123456789"),
                     ubi=1),
            ]  # fmt: skip
            for r in rows:
                log.insert(t, r)
            rows[0] = log.update(t, rows[0], name="xyz" * 120, body="changed")
            log.delete(t, rows[1])
            log.begin()
            r4 = dict(id=4, name="in a transaction " * 5, body="t" * 300, amount=Decimal("0"),
                      ubi=4)  # fmt: skip
            log.insert(t, r4)
            r4 = log.update(t, r4, amount=Decimal("-0.0000000001"))
            log.delete(t, rows[2])
            log.commit()
            end_file, end_pos = master_status(conn)
        finally:
            conn.close()
    assert end_file == file_, "the binlog rotated during the test"
    position = Position("it_zip", file_, pos, end_pos, server_id(mysql), t0, time.time())

    types = binlog_event_types(mysql, file_, pos)
    for name in ("Query_compressed", "Write_rows_compressed_v1", "Update_rows_compressed_v1",
                 "Delete_rows_compressed_v1"):  # fmt: skip
        assert name in types, f"{name} is not in the binlog: {types}"
    assert not {"Write_rows_v1", "Update_rows_v1", "Delete_rows_v1"} & set(types), types

    assert t.select_all(mysql) == [t.json_row(rows[0]), t.json_row(r4)]
    msgs = consume(t.topic, len(log.expected), process=proc)
    check_messages(msgs, log.expected, position)
    first = msgs[0].json()["after"][0]
    assert first["ubi"] == 18446744073709551615 and first["amount"] == "-1.5000000000"
    assert first["body"] == "😀 café " * 40
