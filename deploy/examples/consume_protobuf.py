#!/usr/bin/env python3
"""A consumer of rowcast's protobuf messages (sink.format: protobuf), to copy and adapt.

It turns each rowcast.v1.Event into plain Python values (int, float, Decimal, date, timedelta,
datetime, str, bytes, a list for SET, parsed JSON) and prints one line per message.

Setup (Debian: apt-get install protobuf-compiler; pip install confluent-kafka protobuf):
    protoc --proto_path=proto --python_out=gen rowcast/v1/event.proto
    PYTHONPATH=gen deploy/examples/consume_protobuf.py --brokers 127.0.0.1:9092 --topic shop.orders
"""

import argparse
import datetime
import json
import sys
from decimal import Decimal

from confluent_kafka import Consumer

from rowcast.v1 import event_pb2

ACTIONS = {event_pb2.ACTION_INSERT: "insert", event_pb2.ACTION_UPDATE: "update",
           event_pb2.ACTION_DELETE: "delete"}  # fmt: skip


def value_of(v):
    """The Python value of one rowcast.v1.Value."""
    kind = v.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "decimal_value":
        return Decimal(v.decimal_value)
    if kind == "date_value":
        d = v.date_value
        # MySQL's zero date (and zero parts) has no Python date: keep its text
        if d.month == 0 or d.day == 0:
            return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
        return datetime.date(d.year, d.month, d.day)
    if kind == "time_value":
        return datetime.timedelta(microseconds=v.time_value.micros)
    if kind == "datetime_value":
        d = v.datetime_value
        if d.month == 0 or d.day == 0:
            return f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
        return datetime.datetime(d.year, d.month, d.day, d.hour, d.minute, d.second, d.micros)
    if kind == "timestamp_value":
        if v.timestamp_value.epoch_micros == 0:
            return None  # MySQL's zero TIMESTAMP
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return epoch + datetime.timedelta(microseconds=v.timestamp_value.epoch_micros)
    if kind == "json_value":
        return json.loads(v.json_value)
    if kind == "set_value":
        return list(v.set_value.members)
    if kind == "geometry_value":
        return {"srid": v.geometry_value.srid, "wkb": v.geometry_value.wkb}
    if kind == "vector_value":
        return list(v.vector_value.values)
    return getattr(v, kind)  # bool, int, uint, float, double, string, bytes, enum


def row_of(row):
    """A row as a dict {column: value}, in table order."""
    return {c.name: value_of(c.value) for c in row.columns}


def event_of(data):
    e = event_pb2.Event.FromString(data)
    return {
        "schema": e.schema,
        "table": e.table,
        "action": ACTIONS.get(e.action, "?"),
        "before": [row_of(r) for r in e.before],
        "after": [row_of(r) for r in e.after],
        "gtid": e.meta.gtid or None,
        "position": f"{e.meta.binlog_file}:{e.meta.binlog_pos}",
    }


def _plain(x):
    if isinstance(x, bytes):
        return x.hex()
    if isinstance(x, (Decimal, datetime.date, datetime.timedelta)):
        return str(x)
    raise TypeError(type(x))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", default="rowcast-example")
    ap.add_argument("--max-messages", type=int, default=0, help="stop after this many (0: never)")
    ap.add_argument("--timeout", type=float, default=0, help="stop after this many idle seconds")
    args = ap.parse_args()
    c = Consumer({"bootstrap.servers": args.brokers, "group.id": args.group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": True})  # fmt: skip
    c.subscribe([args.topic])
    seen, idle = 0, 0.0
    try:
        while not args.max_messages or seen < args.max_messages:
            m = c.poll(0.5)
            if m is None:
                idle += 0.5
                if args.timeout and idle >= args.timeout:
                    break
                continue
            if m.error():
                print(f"consumer error: {m.error()}", file=sys.stderr)
                continue
            idle = 0.0
            headers = dict(m.headers() or [])
            if not headers.get("content-type", b"").startswith(b"application/x-protobuf"):
                print(f"skipping a message that is not protobuf at offset {m.offset()}",
                      file=sys.stderr)  # fmt: skip
                continue
            key = event_pb2.Key.FromString(m.key()) if m.key() else None
            out = {"key": row_of(key) if key else None, **event_of(m.value())}
            print(json.dumps(out, default=_plain, ensure_ascii=False), flush=True)
            seen += 1
    finally:
        c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
