#!/usr/bin/env python3
"""End-to-end rows/s of one pipeline, binlog to Kafka acknowledgement, for one or more builds.

Writes ROWS rows (1000-row transactions, table (id INT PRIMARY KEY, v VARCHAR(40))) into a fresh
database once, then runs each given binary over that binlog range ROUNDS times, alternating the
binaries, and prints rows / (time from start until the pipeline's own counters show every event
delivered) and the process's CPU per row. Used to compare builds, e.g. with and without jemalloc:

    cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build/release
    cmake -S . -B build/rel-nojem -G Ninja -DCMAKE_BUILD_TYPE=Release -DRC_JEMALLOC=OFF \\
        -DRC_TESTS=OFF && cmake --build build/rel-nojem
    tests/bench/bench_e2e.py --binary build/release/server/rowcast \\
        --binary build/rel-nojem/server/rowcast [--rows N] [--rounds N]

Needs the services of tests/run.sh (RC_MARIADB_*, RC_KAFKA_BROKERS).
"""

import argparse
import http.client
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench_rest_load import BROKERS, HOST, PORT, free_port, get, proc_cpu, root, write_rows


def one_round(binary, db, start, rows, n, tmp):
    port = free_port()
    name = f"e2e{n}"
    cfg = {
        "log_level": "warn",
        "http": {"listen": f"127.0.0.1:{port}"},
        "kafka": {"brokers": BROKERS, "rdkafka": {"linger.ms": 5}},
        "pipelines": [{
            "name": name,
            "source": {"host": HOST, "port": PORT, "user": "rowcast", "password": "rowcast",
                       "server_id": 970000 + n, "include": [re.escape(db) + r"\..*"],
                       "start": f"file:{start[0]}:{start[1]}"},
            "sink": {"topic": "{schema}.{table}." + name},
        }],
    }  # fmt: skip
    path = Path(tmp) / f"{name}.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "--config", str(path)], stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                st = json.loads(get(conn, f"/v1/pipelines/{name}/status"))
                if st["counters"]["events_delivered"] >= rows:
                    break
                assert st["state"] in ("CREATED", "STARTING", "RUNNING"), st
            except OSError:
                assert proc.poll() is None, "rowcast exited"
            time.sleep(0.02)
        return rows / (time.monotonic() - t0), proc_cpu(proc.pid) / rows
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", action="append", required=True)
    ap.add_argument("--rows", type=int, default=500000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    db = f"bench_e2e_{uuid.uuid4().hex[:8]}"
    conn = root()
    start = write_rows(conn, db, args.rows)
    res = {b: [] for b in args.binary}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            n = 0
            for r in range(args.rounds):
                for b in args.binary:
                    rows_s, cpu = one_round(b, db, start, args.rows, n, tmp)
                    n += 1
                    res[b].append(rows_s)
                    print(f"round {r}: {b}: {rows_s:9.0f} rows/s, {cpu * 1e9:6.0f} ns CPU/row",
                          flush=True)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{db}`")
    for b, v in res.items():
        print(f"median {statistics.median(v):9.0f} rows/s  {b}")


if __name__ == "__main__":
    sys.exit(main())
