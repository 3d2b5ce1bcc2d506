#!/usr/bin/env python3
"""Does a busy REST API slow a pipeline down? (issue 7: >= 1000 requests/s of GET /metrics and
status while a pipeline streams must not cut its throughput by more than 5 %.)

Writes ROWS rows into a fresh database once, then runs the real binary ROUNDS times over the
same binlog range, alternating a quiet round and a loaded one, in which LOAD_THREADS keep-alive
clients send GET /metrics and GET /v1/pipelines/NAME/status as fast as they can up to RATE
requests/s together. Throughput is rows / (last delivery - first read), from the pipeline's own
counters. Needs the services of tests/run.sh (RC_MARIADB_*, RC_KAFKA_BROKERS); use a build
without sanitizers for figures:

    cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build/release
    tests/bench/bench_rest_load.py --binary build/release/server/rowcast [--rows N] [--rounds N]
"""

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pymysql

REPO = Path(__file__).resolve().parents[2]
HOST = os.environ.get("RC_MARIADB_HOST", "127.0.0.1")
PORT = int(os.environ.get("RC_MARIADB_PORT", "13306"))
BROKERS = os.environ.get("RC_KAFKA_BROKERS", "127.0.0.1:19092")


def root():
    return pymysql.connect(host=HOST, port=PORT, user="root",
                           password=os.environ.get("RC_MARIADB_ROOT_PASSWORD", "root"),
                           autocommit=True)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (path, r.status, body[:200])
    return body


class Load(threading.Thread):
    def __init__(self, port, name, rate, stop):
        super().__init__(daemon=True)
        self.port, self.name, self.rate, self.stop, self.done = port, name, rate, stop, 0

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        paths = ["/metrics", f"/v1/pipelines/{self.name}/status"]
        t0 = time.monotonic()
        while not self.stop.is_set():
            get(conn, paths[self.done % 2])
            self.done += 1
            ahead = self.done / self.rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)


def one_round(args, db, start, n, loaded, tmp):
    port = free_port()
    name = f"bench{n}"
    cfg = {
        "log_level": "warn",
        "http": {"listen": f"127.0.0.1:{port}"},
        "kafka": {"brokers": BROKERS, "rdkafka": {"linger.ms": 5}},
        "pipelines": [{
            "name": name,
            "source": {"host": HOST, "port": PORT, "user": os.environ.get("RC_MARIADB_USER", "rowcast"),
                       "password": os.environ.get("RC_MARIADB_PASSWORD", "rowcast"),
                       "server_id": 900000 + n, "include": [re.escape(db) + r"\..*"],
                       "start": f"file:{start[0]}:{start[1]}"},
            "sink": {"topic": "{schema}.{table}." + name},
        }],
    }
    path = Path(tmp) / f"{name}.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    proc = subprocess.Popen([args.binary, "--config", str(path)], stderr=subprocess.DEVNULL)
    stop = threading.Event()
    loaders = []
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                get(status, "/v1/info")
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "no HTTP"
                time.sleep(0.05)
        if loaded:
            loaders = [Load(port, name, args.rate / args.threads, stop) for _ in range(args.threads)]
            for t in loaders:
                t.start()
        t_load = time.monotonic()
        first = last = None
        while True:
            st = json.loads(get(status, f"/v1/pipelines/{name}/status"))
            now = time.monotonic()
            c = st["counters"]
            if first is None and c["events_read"] > 0:
                first = now
            if c["events_delivered"] >= args.rows:
                last = now
                break
            assert st["state"] in ("CREATED", "STARTING", "RUNNING"), st
            time.sleep(0.02)
        stop.set()
        for t in loaders:
            t.join()
        requests = sum(t.done for t in loaders)
        return args.rows / (last - first), requests / (time.monotonic() - t_load)
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(REPO / "build/release/server/rowcast"))
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--rate", type=float, default=1200, help="requests/s of the load, together")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    db = f"bench_rest_{uuid.uuid4().hex[:8]}"
    conn = root()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40))")
        cur.execute("SHOW MASTER STATUS")
        start = cur.fetchone()[:2]
        for i in range(0, args.rows, 1000):
            conn.begin()
            cur.executemany(f"INSERT INTO `{db}`.t VALUES (%s, %s)",
                            [(j, f"row {j}") for j in range(i, min(i + 1000, args.rows))])
            conn.commit()
    results = {False: [], True: []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(args.rounds):
                loaded = n % 2 == 1
                rows_s, req_s = one_round(args, db, start, n, loaded, tmp)
                results[loaded].append(rows_s)
                print(f"round {n}: {'loaded' if loaded else 'quiet '} {rows_s:10.0f} rows/s"
                      + (f"  {req_s:7.0f} requests/s" if loaded else ""), flush=True)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{db}`")
    quiet, busy = statistics.median(results[False]), statistics.median(results[True])
    print(f"median quiet {quiet:.0f} rows/s, loaded {busy:.0f} rows/s: "
          f"{100 * (busy - quiet) / quiet:+.1f} %")


if __name__ == "__main__":
    sys.exit(main())
