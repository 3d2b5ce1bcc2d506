#!/usr/bin/env python3
"""Does a busy REST API slow a pipeline down? (issue 7: >= 1000 requests/s of GET /metrics and
status while a pipeline streams must not cut its throughput by more than 5 %.)

Writes ROWS rows into a fresh database once, then runs the real binary ROUNDS times over the
same binlog range, alternating a quiet round and a loaded one, in which LOAD_THREADS keep-alive
clients send GET /metrics and GET /v1/pipelines/NAME/status as fast as they can up to RATE
requests/s together. Throughput is rows / (last delivery - first read), from the pipeline's own
counters.

On a machine with few cores the load generator itself takes CPU from the pipeline (and from
Kafka and the database beside it). A third kind of round measures that alone: the same load
sent to a decoy rowcast process (an idle pipeline of the same name), so that "loaded" minus
"decoy" is what serving the requests costs the streaming process. It also prints the CPU the
streaming process spent per request in loaded rounds. Needs the services of tests/run.sh
(RC_MARIADB_*, RC_KAFKA_BROKERS); use a build without sanitizers for figures:

    cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build/release
    tests/bench/bench_rest_load.py --binary build/release/server/rowcast [--rows N] [--rounds N]

ROUNDS counts cycles of quiet, loaded and decoy rounds.
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


def proc_cpu(pid):
    """CPU seconds (user + system) the process has used."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def start_decoy(args, name, n, tmp):
    """An idle rowcast with a pipeline of the same name (it reads no table) to send load to."""
    port = free_port()
    cfg = {
        "log_level": "warn",
        "http": {"listen": f"127.0.0.1:{port}"},
        "kafka": {"brokers": BROKERS},
        "pipelines": [{
            "name": name,
            "source": {"host": HOST, "port": PORT, "user": os.environ.get("RC_MARIADB_USER", "rowcast"),
                       "password": os.environ.get("RC_MARIADB_PASSWORD", "rowcast"),
                       "server_id": 950000 + n, "include": [r"no_such_db\..*"], "start": "latest"},
            "sink": {"topic": "{schema}.{table}"},
        }],
    }
    path = Path(tmp) / f"decoy{n}.yaml"
    path.write_text(json.dumps(cfg))
    proc = subprocess.Popen([args.binary, "--config", str(path)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            get(http.client.HTTPConnection("127.0.0.1", port, timeout=10), f"/v1/pipelines/{name}/status")
            return proc, port
        except (OSError, AssertionError):
            assert time.monotonic() < deadline and proc.poll() is None, "decoy: no HTTP"
            time.sleep(0.05)


def one_round(args, db, start, n, mode, tmp):
    port = free_port()
    name = f"bench{n}"
    decoy = start_decoy(args, name, n, tmp) if mode == "decoy" else None
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
        if mode != "quiet":
            target = decoy[1] if decoy else port
            loaders = [Load(target, name, args.rate / args.threads, stop) for _ in range(args.threads)]
            for t in loaders:
                t.start()
        t_load = time.monotonic()
        cpu0 = proc_cpu(proc.pid)
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
        cpu = proc_cpu(proc.pid) - cpu0
        stop.set()
        for t in loaders:
            t.join()
        requests = sum(t.done for t in loaders)
        return args.rows / (last - first), requests / (time.monotonic() - t_load), cpu
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        if decoy:
            decoy[0].send_signal(signal.SIGTERM)
            decoy[0].wait(60)


def write_rows(conn, db, rows):
    """Creates db.t (id INT PRIMARY KEY, v VARCHAR(40)) with `rows` rows in 1000-row
    transactions; returns the binlog (file, position) before them."""
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40))")
        cur.execute("SHOW MASTER STATUS")
        start = cur.fetchone()[:2]
        for i in range(0, rows, 1000):
            conn.begin()
            cur.executemany(f"INSERT INTO `{db}`.t VALUES (%s, %s)",
                            [(j, f"row {j}") for j in range(i, min(i + 1000, rows))])
            conn.commit()
    return start


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
    start = write_rows(conn, db, args.rows)
    results = {"quiet": [], "loaded": [], "decoy": []}
    cpu = {"quiet": [], "loaded": [], "decoy": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(args.rounds * 3):
                mode = ("quiet", "loaded", "decoy")[n % 3]
                rows_s, req_s, cpu_s = one_round(args, db, start, n, mode, tmp)
                results[mode].append(rows_s)
                cpu[mode].append(cpu_s)
                print(f"round {n}: {mode:6} {rows_s:10.0f} rows/s  rowcast CPU {cpu_s:6.2f} s"
                      + (f"  {req_s:7.0f} requests/s" if mode != "quiet" else ""), flush=True)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{db}`")
    med = {m: statistics.median(v) for m, v in results.items()}
    quiet = med["quiet"]
    print(f"median rows/s: quiet {quiet:.0f}, loaded {med['loaded']:.0f} "
          f"({100 * (med['loaded'] - quiet) / quiet:+.1f} %), decoy {med['decoy']:.0f} "
          f"({100 * (med['decoy'] - quiet) / quiet:+.1f} %: the load generator's own share)")
    print(f"serving the requests costs the streaming process "
          f"{100 * (med['loaded'] - med['decoy']) / med['decoy']:+.1f} % of its throughput; "
          f"its CPU per row: quiet {1e9 * statistics.median(cpu['quiet']) / args.rows:.0f} ns, "
          f"loaded {1e9 * statistics.median(cpu['loaded']) / args.rows:.0f} ns")


if __name__ == "__main__":
    sys.exit(main())
