"""Crash test: rowcast is killed with SIGKILL at random moments while a load of mixed
transactions runs (single rows, 1000-row batches, transactions over two tables with updates),
and restarted each time from its position in Kafka. A real read_committed consumer then checks,
per primary key, that no change is lost and that the last message is the row's final state, and
counts duplicates: reported for at_least_once, 0 required for exactly_once. A fencing test runs
two instances of one exactly_once pipeline: the older one must stop, the newer one carry on,
and the consumer must see every change exactly once.

The CI variant is short (3 kills at_least_once, 10 kills exactly_once, >= 8 000 rows). The soak
variant (>= 200 000 rows, 10 kills) runs with RC_CRASH_SOAK=1, or as the ctest test
soak.test_crash (label soak, not in tests/run.sh's default labels):
  RC_CRASH_SOAK=1 python3 -m pytest -q -s tests/integration/test_crash.py"""

import os
import random
import signal
import threading
import time
from collections import Counter

import pytest

from conftest import MARIADB_USER, consume, master_status, mysql_connect, pipeline_config
from test_rest import Api, free_port

SOAK = os.environ.get("RC_CRASH_SOAK") == "1"
MIN_ROWS = 200_000 if SOAK else 8_000


class Load(threading.Thread):
    """Writes until stopped and at least min_rows rows exist; remembers nothing: the tables are
    the truth (every row carries its version, bumped by each update)."""

    def __init__(self, db, min_rows):
        super().__init__(daemon=True)
        self.db, self.min_rows = db, min_rows
        self.stop_asked = threading.Event()
        self.rows = 0
        self.error = None
        self.rng = random.Random(20240501)

    def run(self):
        try:
            conn = mysql_connect(self.db, autocommit=False)
            next_id = {"a": 1, "b": 1}
            with conn.cursor() as cur:
                while not self.stop_asked.is_set() or self.rows < self.min_rows:
                    op = self.rng.random()
                    if op < 0.5:  # a single row
                        cur.execute("INSERT INTO a VALUES (%s, 0, 'single')", (next_id["a"],))
                        next_id["a"] += 1
                        self.rows += 1
                    elif op < 0.7:  # 1000 rows in one transaction
                        first = next_id["a"]
                        cur.executemany("INSERT INTO a VALUES (%s, 0, 'batch')",
                                        [(i,) for i in range(first, first + 1000)])  # fmt: skip
                        next_id["a"] += 1000
                        self.rows += 1000
                    else:  # both tables, inserts and updates
                        cur.execute("INSERT INTO a VALUES (%s, 0, 'multi')", (next_id["a"],))
                        cur.execute("INSERT INTO b VALUES (%s, 0, 'multi')", (next_id["b"],))
                        next_id["a"] += 1
                        next_id["b"] += 1
                        self.rows += 2
                        ids_a = [self.rng.randrange(1, next_id["a"]) for _ in range(5)]
                        ids_b = [self.rng.randrange(1, next_id["b"]) for _ in range(3)]
                        cur.execute("UPDATE a SET ver = ver + 1 WHERE id IN %s", (ids_a,))
                        cur.execute("UPDATE b SET ver = ver + 1 WHERE id IN %s", (ids_b,))
                    conn.commit()
            conn.close()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def kills(delivery):
    return 10 if SOAK or delivery == "exactly_once" else 3


def create_tables(mysql, db):
    with mysql.cursor() as cur:
        for t in ("a", "b"):
            cur.execute(f"CREATE TABLE `{db}`.{t} (id INT PRIMARY KEY, ver INT NOT NULL, "
                        "note VARCHAR(10))")  # fmt: skip


def check_topics(mysql, db, proc):
    """Compares every change of the tables with what a read_committed consumer sees. Returns
    (row changes, messages, lost, duplicates); a lost change fails the test."""
    expected = {}  # the truth: every (id, version) each table went through
    with mysql.cursor() as cur:
        for t in ("a", "b"):
            cur.execute(f"SELECT id, ver FROM `{db}`.{t}")
            expected[t] = dict(cur.fetchall())
    total = sum(v + 1 for rows in expected.values() for v in rows.values())
    lost = dups = seen_total = 0
    for t in ("a", "b"):
        want = sum(v + 1 for v in expected[t].values())
        msgs = consume(f"{db}.{t}", want, timeout=300, settle=3.0, process=proc)
        seen = Counter()
        last = {}
        for m in msgs:
            e = m.json()
            row = e["after"][0]
            seen[(row["id"], row["ver"])] += 1
            last[row["id"]] = row["ver"]  # messages are in offset order (one partition)
        wanted = {(i, v) for i, top in expected[t].items() for v in range(top + 1)}
        missing = wanted - set(seen)
        assert not missing, f"{t}: {len(missing)} changes lost, e.g. {sorted(missing)[:10]}"
        assert not set(seen) - wanted, f"{t}: changes that never happened"
        stale = {i: (v, expected[t][i]) for i, v in last.items() if v != expected[t][i]}
        assert not stale, f"{t}: last message is not the final row for {list(stale.items())[:5]}"
        lost += len(missing)
        dups += sum(n - 1 for n in seen.values())
        seen_total += len(msgs)
    return total, seen_total, lost, dups


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
def test_sigkill_during_load_loses_nothing(mysql, db, rowcast, delivery):
    create_tables(mysql, db)
    cfg = pipeline_config("it_crash", db, master_status(mysql), delivery=delivery)
    cfg["state"]["interval_ms"] = 100
    load = Load(db, MIN_ROWS)
    t0 = time.monotonic()
    proc = rowcast.start(cfg)
    load.start()
    rng = random.Random(7)
    n_kills = kills(delivery)
    for i in range(n_kills):
        time.sleep(rng.uniform(1.0, 4.0 if SOAK else 3.0))
        # the soak spreads its kills over the whole load, not only its first seconds
        while SOAK and load.rows < MIN_ROWS * (i + rng.random()) / n_kills and load.is_alive():
            time.sleep(0.2)
        proc.assert_alive()
        proc.proc.send_signal(signal.SIGKILL)
        proc.proc.wait()
        rowcast.procs.remove(proc)  # killed on purpose: no clean exit to check
        proc = rowcast.start(cfg)
    load.stop_asked.set()
    load.join(600)
    assert load.error is None, f"the load failed: {load.error!r}"
    total, seen_total, lost, dups = check_topics(mysql, db, proc)
    print(f"\ncrash test ({delivery}): {n_kills} SIGKILLs, {load.rows} rows inserted, {total} "
          f"row changes, {seen_total} messages, {lost} lost, {dups} duplicates, "
          f"{time.monotonic() - t0:.0f} s")  # fmt: skip
    if delivery == "exactly_once":
        assert dups == 0, f"exactly_once: {dups} duplicates for a read_committed consumer"


def test_exactly_once_second_instance_fences_the_first(mysql, db, rowcast):
    """The same pipeline started twice (same config, as a second deployment would): the
    second one's init_transactions fences the first, which fails with a clear reason at its
    next commit; the second carries on alone, and nothing is lost or doubled."""
    create_tables(mysql, db)
    cfg = pipeline_config("it_fence", db, master_status(mysql), delivery="exactly_once")
    cfg["state"]["interval_ms"] = 100
    load = Load(db, MIN_ROWS // 2)
    first = rowcast.start(cfg)
    load.start()
    time.sleep(3)
    first.assert_alive()
    second = rowcast.start(cfg)
    deadline = time.monotonic() + 60
    while "pipeline it_fence failed:" not in first.stderr_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the first instance was never fenced\n" + \
            first.describe()  # fmt: skip
        time.sleep(0.2)
    log = first.stderr_path.read_text(errors="replace")
    assert "pipeline it_fence failed: pipeline it_fence: fenced: another rowcast instance" in log
    assert "transactional.id rowcast-it_fence" in log
    time.sleep(2)
    load.stop_asked.set()
    load.join(600)
    assert load.error is None, f"the load failed: {load.error!r}"
    total, seen_total, lost, dups = check_topics(mysql, db, second)
    print(f"\nfencing test: {load.rows} rows inserted, {total} row changes, {seen_total} "
          f"messages, {lost} lost, {dups} duplicates")  # fmt: skip
    assert dups == 0, f"{dups} duplicates for a read_committed consumer"
    second.assert_alive()
    assert "failed" not in second.stderr_path.read_text(errors="replace"), second.describe()


def test_exactly_once_commits_inside_a_stream_of_large_transactions(mysql, db, rowcast):
    """Regression: a full batch ends inside a transaction, and the worker can commit only where
    a batch ends with one. With back-to-back transactions larger than a batch (and no idle
    moment) the Kafka transaction never ended until the load stopped; now the reader ends a
    batch at a commit every state.interval_ms, so read_committed consumers see rows while the
    load runs."""
    create_tables(mysql, db)
    cfg = pipeline_config("it_large", db, master_status(mysql), delivery="exactly_once",
                          batch={"max_events": 1000, "max_ms": 10000})  # fmt: skip
    cfg["state"]["interval_ms"] = 200
    port = free_port()
    cfg["http"]["listen"] = f"127.0.0.1:{port}"
    stop = threading.Event()
    written = []

    def load():
        conn = mysql_connect(db, autocommit=False)
        n = 1
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.executemany("INSERT INTO a VALUES (%s, 0, 'large')",
                                [(i,) for i in range(n, n + 1500)])  # fmt: skip
                conn.commit()
                n += 1500
        conn.close()
        written.append(n - 1)

    proc = rowcast.start(cfg)
    t = threading.Thread(target=load, daemon=True)
    t.start()
    time.sleep(2)
    try:
        # while the load still runs
        seen_early = consume(f"{db}.a", 1, timeout=8, settle=0.0, process=proc)
        assert t.is_alive()
    finally:
        stop.set()
        t.join(60)
    assert seen_early
    msgs = consume(f"{db}.a", written[0], timeout=120, settle=2.0, process=proc)
    ids = Counter(m.json()["after"][0]["id"] for m in msgs)
    assert len(ids) == written[0] and max(ids.values()) == 1, "lost or doubled rows"
    # the Kafka transactions, as /metrics counts them (parsed by prometheus_client)
    m = Api(port).metrics()
    lab = (("pipeline", "it_large"),)
    assert m[("rowcast_kafka_transactions_committed_total", lab)] >= 2  # some during the load
    assert m[("rowcast_kafka_transactions_aborted_total", lab)] == 0
    assert m[("rowcast_events_delivered_total", lab)] == written[0]


def test_exactly_once_reconnect_inside_a_transaction_sends_it_once(mysql, db, rowcast):
    """Regression: when the source connection drops inside a transaction that spans several
    batches, the reader starts that transaction again from its beginning, while the worker
    already has its first batches in the open Kafka transaction; they were sent twice. Now the
    reader skips the events the worker has. The replication connection is killed on the server
    while a transaction of 100 000 wide rows (about 40 MB of binlog, more than socket buffers
    hold) streams."""
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.w (id INT PRIMARY KEY, pad VARCHAR(500) NOT NULL)")
        cur.execute(f"CREATE TABLE `{db}`.b (id INT PRIMARY KEY)")
    cfg = pipeline_config("it_reconnect", db, master_status(mysql), delivery="exactly_once",
                          batch={"max_events": 500, "max_ms": 20})  # fmt: skip
    cfg["state"]["interval_ms"] = 200
    proc = rowcast.start(cfg)
    rows = 100_000
    with mysql.cursor() as cur:
        cur.execute(f"INSERT INTO `{db}`.b VALUES (1)")
        consume(f"{db}.b", 1, timeout=60, settle=0.0, process=proc)  # the pipeline is streaming
        cur.execute(f"USE `{db}`")  # seq_1_to_N (the sequence engine) needs a database
        cur.execute(f"INSERT INTO w SELECT seq, REPEAT('x', 400) FROM seq_1_to_{rows}")
        kills = 0
        for _ in range(3):
            time.sleep(0.3)
            cur.execute("SELECT id FROM information_schema.processlist "
                        "WHERE user = %s AND command LIKE 'Binlog Dump%%'", (MARIADB_USER,))  # fmt: skip
            for (tid,) in cur.fetchall():
                try:
                    cur.execute(f"KILL {int(tid)}")
                    kills += 1
                except Exception:  # noqa: BLE001 - it may have ended meanwhile
                    pass
    assert kills > 0, "no replication connection to kill"
    msgs = consume(f"{db}.w", rows, timeout=300, settle=3.0, process=proc)
    ids = Counter(m.json()["after"][0]["id"] for m in msgs)
    doubled = sum(n - 1 for n in ids.values())
    assert len(ids) == rows, f"{rows - len(ids)} rows lost"
    assert doubled == 0, f"{doubled} rows doubled for a read_committed consumer"
    log = proc.stderr_path.read_text(errors="replace")
    assert "reconnected inside a transaction; its first" in log, "no kill landed inside it"


def test_exactly_once_refused_message_aborts_and_is_sent_again(mysql, db, rowcast):
    """A message the broker refuses inside a Kafka transaction (larger than its topic's
    max.message.bytes) makes the transaction abortable: rowcast aborts it and sends the whole
    group again from the last committed position, 5 times, then fails the pipeline with the
    broker's reason. Nothing of the aborted attempts reaches a read_committed consumer. Once the
    topic accepts the message, a restart over REST sends the group again and every row of it
    arrives exactly once, the earlier ones not again."""
    from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                       NewTopic)

    from conftest import KAFKA_BROKERS

    create_tables(mysql, db)
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.big (id INT PRIMARY KEY, pad MEDIUMTEXT NOT NULL)")
    admin = AdminClient({"bootstrap.servers": KAFKA_BROKERS})
    big_topic = f"{db}.big"
    fs = admin.create_topics([NewTopic(big_topic, 1, 1, config={"max.message.bytes": "4096"})])
    fs[big_topic].result(30)
    cfg = pipeline_config("it_abort", db, master_status(mysql), delivery="exactly_once")
    cfg["state"]["interval_ms"] = 100
    port = free_port()
    cfg["http"]["listen"] = f"127.0.0.1:{port}"
    api = Api(port)
    lab = (("pipeline", "it_abort"),)
    proc = rowcast.start(cfg)
    conn = mysql_connect(db, autocommit=False)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO a VALUES (%s, 0, 'first')", [(i,) for i in range(1, 11)])
        conn.commit()
        consume(f"{db}.a", 10, timeout=60, settle=0.0, process=proc)
        # random text: compression cannot bring it under the topic's limit
        pad = random.Random(5).randbytes(12_000).hex()
        cur.executemany("INSERT INTO a VALUES (%s, 0, 'refused')", [(i,) for i in range(11, 16)])
        cur.execute("INSERT INTO big VALUES (1, %s)", (pad,))
        conn.commit()
    st = api.wait("it_abort", lambda st: st["state"] == "FAILED", "FAILED", timeout=120)
    assert "a Kafka transaction was aborted and sent again 5 times and failed each time; " \
        "last error: " in st["reason"] and "Message size too large" in st["reason"], st
    log = proc.stderr_path.read_text(errors="replace")
    for attempt in range(1, 6):
        assert f"batches again (attempt {attempt} of 5)" in log, f"attempt {attempt}\n{log[-3000:]}"
    m = api.metrics()
    # the first attempt and the 5 resends each ended with an abort
    assert m[("rowcast_kafka_transactions_aborted_total", lab)] == 6
    assert m[("rowcast_events_delivered_total", lab)] == 10
    # a read_committed consumer sees the first transaction once and nothing of the refused one
    msgs = consume(f"{db}.a", 10, timeout=30, settle=3.0, process=proc)
    assert sorted(m.json()["after"][0]["id"] for m in msgs) == list(range(1, 11))

    # the topic now takes the message: a restart sends the group again, once
    entry = ConfigEntry("max.message.bytes", "1048576",
                        incremental_operation=AlterConfigOpType.SET)  # fmt: skip
    res = ConfigResource(ConfigResource.Type.TOPIC, big_topic, incremental_configs=[entry])
    admin.incremental_alter_configs([res])[res].result(30)
    time.sleep(1)  # the broker applies topic config changes asynchronously
    r = api.call("POST", "/v1/pipelines/it_abort/restart")
    assert r.status == 202, r.body
    api.wait("it_abort", lambda st: st["state"] == "RUNNING", "RUNNING again", timeout=120)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO a VALUES (16, 0, 'after')")
        conn.commit()
    conn.close()
    msgs = consume(f"{db}.a", 16, timeout=60, settle=3.0, process=proc)
    ids = Counter(m.json()["after"][0]["id"] for m in msgs)
    assert sorted(ids) == list(range(1, 17)) and max(ids.values()) == 1, ids
    big = consume(big_topic, 1, timeout=30, settle=2.0, process=proc)
    assert len(big) == 1 and big[0].json()["after"][0]["pad"] == pad
    proc.assert_alive()
