"""Positions kept in Kafka: a stopped and restarted rowcast resumes exactly where it stopped,
the state topic is compacted with one partition, pipelines never take each other's records,
every source.start form seeks where it says, and a purged position stops the pipeline with a
sentence instead of skipping. The real binary, the real MariaDB, the real Kafka."""

import json
import re
import time
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from conftest import KAFKA_BROKERS, consume, master_status, mysql_connect, pipeline_config

from test_source_restart import PrivateMariaDB


def wait_log(proc, pattern, timeout=30.0):
    """Waits until rowcast's stderr matches `pattern`; returns the match."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, proc.stderr_path.read_text())
        if m:
            return m
        proc.assert_alive()
        time.sleep(0.1)
    pytest.fail(f"no log line matching {pattern!r} within {timeout}s\n{proc.describe()}",
                pytrace=False)  # fmt: skip


def state_records(topic, timeout=20.0):
    """Every record of the state topic as (key, value dict or None), in offset order."""
    c = Consumer({"bootstrap.servers": KAFKA_BROKERS, "group.id": f"it-{uuid.uuid4().hex}",
                  "enable.auto.commit": False, "enable.partition.eof": True})  # fmt: skip
    out = []
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        if hi <= lo:
            return out
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    break
                raise AssertionError(m.error())
            key = m.key().decode() if m.key() is not None else None
            try:
                value = json.loads(m.value()) if m.value() is not None else None
            except ValueError:
                value = m.value()  # a stranger's record
            out.append((key, value))
    finally:
        c.close()
    return out


def insert_rows(conn, db, ids, table="t"):
    with conn.cursor() as cur:
        for i in ids:
            cur.execute(f"INSERT INTO `{db}`.`{table}` VALUES (%s, %s)", (i, f"v{i}"))


def ids_of(msgs):
    return [m.json()["after"][0]["id"] for m in msgs]


@pytest.fixture
def table(mysql, db):
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(20))")
    return f"{db}.t"


@pytest.mark.parametrize("partitions", [1, 3])
def test_stop_and_restart_delivers_every_row_exactly_once(mysql, db, table, rowcast, partitions):
    """With 3 partitions delivery reports come back out of order across partitions."""
    start = master_status(mysql)
    cfg = pipeline_config("it_state_resume", db, start)
    cfg["pipelines"][0]["sink"]["topic_partitions"] = partitions
    cfg["pipelines"][0]["batch"] = {"max_events": 7, "max_ms": 5}  # many tickets
    state_topic = cfg["state"]["topic"]
    proc = rowcast.start(cfg)
    insert_rows(mysql, db, range(1, 101))
    assert sorted(ids_of(consume(table, 100, process=proc, settle=0.5))) == list(range(1, 101))
    assert proc.stop() == 0

    # The clean stop wrote the last position: the GTID of the last insert, file and position.
    recs = [v for k, v in state_records(state_topic) if k == "it_state_resume"]
    assert recs, "no state record after a clean stop"
    last = recs[-1]
    with mysql.cursor() as cur:
        cur.execute("SELECT @@gtid_binlog_pos")
        binlog_pos = cur.fetchone()[0]
    assert last["format"] == 1 and last["flavor"] == "mariadb"
    assert last["pipeline"] == "it_state_resume"
    assert last["gtid_set"] == binlog_pos, (last, binlog_pos)
    assert last["binlog_file"] == master_status(mysql)[0]
    assert last["binlog_pos"] == master_status(mysql)[1]
    assert last["server_id"] == 1 and last["commit_ts"] > 0

    # Rows written while rowcast is down arrive after the restart; none of the first 100 again.
    insert_rows(mysql, db, range(101, 201))
    with mysql.cursor() as cur:
        cur.execute(f"UPDATE `{db}`.t SET v = 'x' WHERE id <= 5")
    proc2 = rowcast.start(cfg)
    wait_log(proc2, r"resuming from its stored position")
    insert_rows(mysql, db, range(201, 251))
    msgs = consume(table, 255, process=proc2, settle=2.0)
    events = [m.json() for m in msgs]
    inserts = [e["after"][0]["id"] for e in events if e["action"] == "insert"]
    if partitions == 1:
        assert inserts == list(range(1, 251)), "every insert exactly once, in order"
    assert sorted(inserts) == list(range(1, 251)), "every insert exactly once"
    assert sum(e["action"] == "update" for e in events) == 5


def test_state_topic_is_compacted_with_one_partition(mysql, db, table, rowcast):
    cfg = pipeline_config("it_state_topic", db, master_status(mysql))
    topic = cfg["state"]["topic"]
    proc = rowcast.start(cfg)
    insert_rows(mysql, db, [1])
    consume(table, 1, process=proc, settle=0.5)
    admin = AdminClient({"bootstrap.servers": KAFKA_BROKERS})
    md = admin.list_topics(topic, timeout=10)
    assert len(md.topics[topic].partitions) == 1
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([res])[res].result(timeout=10)
    assert configs["cleanup.policy"].value == "compact"


def test_pipelines_never_read_each_others_state(mysql, rowcast):
    dbs = [f"it_state_iso_{n}_{uuid.uuid4().hex[:6]}" for n in ("a", "b")]
    with mysql.cursor() as cur:
        for d in dbs:
            cur.execute(f"CREATE DATABASE `{d}`")
            cur.execute(f"CREATE TABLE `{d}`.t (id INT PRIMARY KEY, v VARCHAR(20))")
    try:
        start = master_status(mysql)
        state_topic = f"it-state-shared-{uuid.uuid4().hex[:8]}"
        cfg_a = pipeline_config("it_iso_a", dbs[0], start)
        cfg_b = pipeline_config("it_iso_b", dbs[1], start)
        both = dict(cfg_a, pipelines=cfg_a["pipelines"] + cfg_b["pipelines"])
        for c in (cfg_a, cfg_b, both):
            c["state"] = {"topic": state_topic, "interval_ms": 200}
        proc = rowcast.start(both)
        insert_rows(mysql, dbs[0], range(1, 11))
        insert_rows(mysql, dbs[1], range(1, 11))
        consume(f"{dbs[0]}.t", 10, process=proc, settle=0.5)
        consume(f"{dbs[1]}.t", 10, process=proc, settle=0.5)
        assert proc.stop() == 0

        # a's rows written while nothing runs, then b alone moves past them and writes last.
        insert_rows(mysql, dbs[0], range(11, 21))
        proc_b = rowcast.start(cfg_b)
        wait_log(proc_b, r"resuming from its stored position")
        insert_rows(mysql, dbs[1], range(11, 21))
        consume(f"{dbs[1]}.t", 20, process=proc_b, settle=1.0)
        assert proc_b.stop() == 0
        # and a stranger's record, not even JSON, comes last in the topic
        p = Producer({"bootstrap.servers": KAFKA_BROKERS})
        p.produce(state_topic, key=b"it_iso_c", value=b"not json", partition=0)
        p.flush(10)
        keys = [k for k, _ in state_records(state_topic)]
        assert keys[-2:] == ["it_iso_b", "it_iso_c"] or keys[-1] == "it_iso_c", keys

        proc_a = rowcast.start(cfg_a)
        wait_log(proc_a, r"pipeline it_iso_a: resuming from its stored position")
        msgs = consume(f"{dbs[0]}.t", 20, process=proc_a, settle=2.0)
        assert ids_of(msgs) == list(range(1, 21)), "a resumed from its own record"
    finally:
        with mysql.cursor() as cur:
            for d in dbs:
                cur.execute(f"DROP DATABASE IF EXISTS `{d}`")


def test_start_gtid_begins_after_the_set(mysql, db, table, rowcast):
    insert_rows(mysql, db, [1, 2])
    with mysql.cursor() as cur:
        cur.execute("SELECT @@gtid_binlog_pos")
        after_two = cur.fetchone()[0]
    insert_rows(mysql, db, [3, 4])
    cfg = pipeline_config("it_seek_gtid", db, ("unused", 4))
    cfg["pipelines"][0]["source"]["start"] = f"gtid:{after_two}"
    proc = rowcast.start(cfg)
    insert_rows(mysql, db, [5])
    assert ids_of(consume(table, 3, process=proc, settle=1.5)) == [3, 4, 5]


def test_start_file_begins_at_the_position(mysql, db, table, rowcast):
    insert_rows(mysql, db, [1, 2])
    file_, pos = master_status(mysql)
    insert_rows(mysql, db, [3])
    cfg = pipeline_config("it_seek_file", db, (file_, pos))
    proc = rowcast.start(cfg)
    assert ids_of(consume(table, 1, process=proc, settle=1.5)) == [3]


def test_start_timestamp_begins_at_the_first_transaction_at_or_after_it(
    mysql, db, table, rowcast
):
    insert_rows(mysql, db, [1, 2])
    time.sleep(1.2)
    t = int(time.time()) + 1
    while time.time() < t:  # the next transaction commits in a later second than 1 and 2
        time.sleep(0.05)
    insert_rows(mysql, db, [3, 4])
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    cfg = pipeline_config("it_seek_time", db, ("unused", 4))
    cfg["pipelines"][0]["source"]["start"] = f"timestamp:{stamp}"
    proc = rowcast.start(cfg)
    assert ids_of(consume(table, 2, process=proc, settle=1.5)) == [3, 4]
    # a time in the future starts at the end: only what is written afterwards arrives
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    cfg2 = pipeline_config("it_seek_time_future", db, ("unused", 4))
    cfg2["pipelines"][0]["source"]["start"] = f"timestamp:{future}"
    cfg2["pipelines"][0]["sink"]["topic"] = "future-{schema}.{table}"
    proc2 = rowcast.start(cfg2)
    wait_log(proc2, r"streaming from")
    insert_rows(mysql, db, [5])
    assert ids_of(consume(f"future-{table}", 1, process=proc2, settle=1.5)) == [5]


def test_start_latest_skips_what_was_there(mysql, db, table, rowcast):
    insert_rows(mysql, db, [1, 2])
    cfg = pipeline_config("it_seek_latest", db, ("unused", 4))
    cfg["pipelines"][0]["source"]["start"] = "latest"
    proc = rowcast.start(cfg)
    wait_log(proc, r"streaming from")
    insert_rows(mysql, db, [3])
    assert ids_of(consume(table, 1, process=proc, settle=1.5)) == [3]


def test_purged_position_fails_the_pipeline_with_a_sentence(rowcast, tmp_path):
    db = PrivateMariaDB(tmp_path)
    db.run("start")
    try:
        conn = db.connect()
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE pg")
            cur.execute("CREATE TABLE pg.t (id INT PRIMARY KEY, v VARCHAR(20))")
            cur.execute("SHOW MASTER STATUS")
            old_file, old_pos = cur.fetchone()[:2]
            cur.execute("INSERT INTO pg.t VALUES (1, 'a')")
            cur.execute("SELECT @@gtid_binlog_pos")
            old_gtid = cur.fetchone()[0]
            cur.execute("INSERT INTO pg.t VALUES (2, 'b')")
            cur.execute("FLUSH BINARY LOGS")
            cur.execute("INSERT INTO pg.t VALUES (3, 'c')")
            cur.execute("SHOW MASTER STATUS")
            new_file = cur.fetchone()[0]
            # MariaDB keeps a file until its binlog checkpoint is written: retry until it is gone
            deadline = time.monotonic() + 30
            while True:
                cur.execute(f"PURGE BINARY LOGS TO '{new_file}'")
                cur.execute("SHOW BINARY LOGS")
                if [r[0] for r in cur.fetchall()] == [new_file]:
                    break
                assert time.monotonic() < deadline, "PURGE BINARY LOGS did not remove the old file"
                time.sleep(0.2)
        conn.close()
        for name, start, expect in [
            ("it_purged_file", f"file:{old_file}:{old_pos}",
             rf"no longer has binlog file {re.escape(old_file)} .*it was purged.*To recover"),
            ("it_purged_gtid", f"gtid:{old_gtid}",
             r"no longer has the transactions of GTID domain 0 after sequence number \d+ up to "
             r"0-1-\d+.*purged. To recover"),
        ]:  # fmt: skip
            cfg = pipeline_config(name, "pg", ("unused", 4))
            cfg["pipelines"][0]["source"].update({"port": db.port, "start": start})
            proc = rowcast.start(cfg)
            m = wait_log(proc, rf"pipeline {name} failed: (.*)")
            assert re.search(expect, m.group(1)), m.group(1)
            assert "streaming from" not in proc.stderr_path.read_text()
            assert proc.stop() == 0
    finally:
        db.run("stop")


def test_state_topic_with_several_partitions_is_refused(mysql, db, table, rowcast):
    from confluent_kafka.admin import NewTopic

    cfg = pipeline_config("it_state_parts", db, master_status(mysql))
    topic = cfg["state"]["topic"]
    admin = AdminClient({"bootstrap.servers": KAFKA_BROKERS})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(
        timeout=20
    )
    proc = rowcast.start(cfg)
    m = wait_log(proc, r"pipeline it_state_parts failed: (.*)")
    assert f"the state topic {topic} has 3 partitions; it needs exactly 1" in m.group(1)
    assert proc.stop() == 0


def test_restart_with_a_transform_that_drops_and_fans_out(mysql, db, table, rowcast, tmp_path):
    """Tickets count the messages actually produced: a script drops ids divisible by 3 and sends
    ids divisible by 5 twice (to two topics); after a clean stop and a restart every expected
    message is there exactly once."""
    (tmp_path / "fan.lua").write_text(
        "function transform(e)\n"
        "  local id = (e.after[1] or e.before[1]).id\n"
        "  if id % 3 == 0 then return ACTION_DROP end\n"
        "  if id % 5 == 0 then\n"
        "    local c = copy(e)\n"
        "    c.kafka.topic = e.kafka.topic .. '.fan'\n"
        "    return {e, c}\n"
        "  end\n"
        "end\n"
    )
    cfg = pipeline_config("it_state_fan", db, master_status(mysql))
    cfg["pipelines"][0]["transforms"] = [{"engine": "lua", "file": "fan.lua"}]
    cfg["pipelines"][0]["batch"] = {"max_events": 10, "max_ms": 5}

    def expect(ids):
        kept = [i for i in ids if i % 3]
        return kept, [i for i in kept if i % 5 == 0]

    proc = rowcast.start(cfg)
    with mysql.cursor() as cur:  # transactions of 7 rows: boundaries fall inside batches
        for first in range(1, 141, 7):
            cur.execute("BEGIN")
            for i in range(first, first + 7):
                cur.execute(f"INSERT INTO `{db}`.t VALUES (%s, 'a')", (i,))
            cur.execute("COMMIT")
    kept, fanned = expect(range(1, 141))
    consume(table, len(kept), process=proc, settle=0.5)
    assert proc.stop() == 0
    insert_rows(mysql, db, range(141, 161))
    proc = rowcast.start(cfg)
    wait_log(proc, r"resuming from its stored position")
    kept, fanned = expect(range(1, 161))
    assert ids_of(consume(table, len(kept), process=proc, settle=2.0)) == kept
    assert ids_of(consume(table + ".fan", len(fanned), process=proc, settle=0.5)) == fanned
