#!/usr/bin/env python3
"""What does exactly_once cost? (issue 6: a transactional producer, a commit per group of source
transactions, messages visible to read_committed consumers only at the commit.)

Writes ROWS rows (1000-row transactions) into a fresh database once, then runs the real binary
over that binlog range ROUNDS times per delivery mode, alternating the modes, each round into its
own topic. A round's time is from the start of rowcast until a read_committed consumer has every
message (so it includes start-up, topic creation and, for exactly_once, the last commit). Needs
the services of tests/run.sh (RC_MARIADB_*, RC_KAFKA_BROKERS); use a build without sanitizers:

    cmake -S . -B build/rel -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build/rel
    tests/bench/bench_delivery.py --binary build/rel/server/rowcast [--rows N] [--rounds N]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition  # noqa: E402

from conftest import KAFKA_BROKERS, master_status, mysql_connect, pipeline_config, to_yaml  # noqa: E402


def one_round(binary, db, start, mode, rows, tmp):
    cfg = pipeline_config(f"bench_{mode}", db, start, delivery=mode)
    cfg["log_level"] = "warn"
    tag = uuid.uuid4().hex[:6]
    cfg["pipelines"][0]["sink"]["topic"] = "{schema}.{table}." + tag
    topic = f"{db}.t.{tag}"
    path = Path(tmp) / f"{tag}.yaml"
    path.write_text(to_yaml(cfg) + "\n")
    c = Consumer({"bootstrap.servers": KAFKA_BROKERS, "group.id": uuid.uuid4().hex,
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})  # fmt: skip
    t0 = time.monotonic()
    with open(Path(tmp) / f"{tag}.stderr", "w") as err:
        proc = subprocess.Popen([binary, "--config", str(path)], stderr=err)
    try:
        while True:
            md = c.list_topics(topic, timeout=5)
            if topic in md.topics and md.topics[topic].partitions:
                break
            if proc.poll() is not None:
                sys.exit(f"rowcast exited with {proc.returncode}; see {tmp}/{tag}.stderr")
            time.sleep(0.05)
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        n = 0
        while n < rows:
            n += sum(1 for m in c.consume(10000, 0.2) if not m.error())
            if time.monotonic() - t0 > 600:
                sys.exit(f"{mode}: only {n} of {rows} messages after 600 s")
        return time.monotonic() - t0
    finally:
        proc.terminate()
        proc.wait()
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    conn = mysql_connect()
    db = f"bench_{uuid.uuid4().hex[:8]}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
        cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT, note VARCHAR(20))")
        start = master_status(conn)
        cur.execute(f"USE {db}")
        for i in range(0, a.rows, 1000):
            last = min(i + 1000, a.rows)
            cur.execute(f"INSERT INTO t SELECT seq, 0, 'bench' FROM seq_{i + 1}_to_{last}")
    times = {"at_least_once": [], "exactly_once": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(a.rounds):
                for mode in times:
                    dt = one_round(a.binary, db, start, mode, a.rows, tmp)
                    times[mode].append(dt)
                    print(f"round {r + 1} {mode}: {a.rows} rows in {dt:.2f} s "
                          f"({a.rows / dt:.0f} rows/s)", flush=True)  # fmt: skip
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE {db}")
    for mode, ts in times.items():
        med = statistics.median(ts)
        print(f"{mode}: median {med:.2f} s, {a.rows / med:.0f} rows/s over {len(ts)} rounds")


if __name__ == "__main__":
    main()
