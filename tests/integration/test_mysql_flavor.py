"""The MySQL flavor of the source over the network: rowcast streams from a MySQL 8.4 replication
primary (tests/integration/fake_mysql.py, serving binlog files built from real MySQL fixture
files), learns the executed GTID set from PREVIOUS_GTIDS, stores it, and resumes with
COM_BINLOG_DUMP_GTID; 8.4 tagged GTIDs; the purged-GTID error; a refused login. The real binary
and the real Kafka; the primary is the only stand-in (no MySQL server is available here)."""

import json
import time
import uuid
from pathlib import Path

import pytest

from conftest import KAFKA_BROKERS, consume
from fake_mysql import FakePrimary, GtidSet, build_file, gtid_of, split_transactions
from test_state import state_records, wait_log

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "binlog"
INVISIBLE = FIXTURES / "rust_mysql_common" / "binlog-invisible-columns.000001"
TAGGED = FIXTURES / "rust_mysql_common" / "binlog_transaction_with_GTID_TAG.000001"
SID = "97c7af02-4c50-11ec-acd8-681842034964"
USER, PASSWORD = "repl", "s3cret"


@pytest.fixture
def primary():
    p = FakePrimary(user=USER, password=PASSWORD, server_id=7).start()
    yield p
    p.stop()


def config(primary, name, start="earliest", password=PASSWORD):
    prefix = f"it_my_{uuid.uuid4().hex[:8]}"
    cfg = {
        "log_level": "info",
        "http": {"listen": ""},
        "kafka": {"brokers": KAFKA_BROKERS, "rdkafka": {"linger.ms": 5}},
        "state": {"topic": f"it-state-{uuid.uuid4().hex[:12]}", "interval_ms": 200},
        "pipelines": [{
            "name": name,
            "source": {"host": "127.0.0.1", "port": primary.port, "user": USER,
                       "password": password, "server_id": 4242, "start": start,
                       # a heartbeat a second, but a loaded machine (CI) may stall the
                       # primary's thread for longer than the default 3 s of silence: a
                       # reconnect would add dump commands the tests do not expect
                       "heartbeat": 1, "read_timeout": 30},
            "sink": {"format": "json", "topic": prefix + ".{schema}.{table}",
                     "create_topics": True},
            "batch": {"max_events": 1000, "max_ms": 20},
        }],
    }  # fmt: skip
    return cfg, f"{prefix}.mysql.t1", cfg["state"]["topic"]


def two_files(n_second):
    """binlog.000001 with the fixture's first three transactions (two DDL, one insert) and a
    rotate; binlog.000002 whose PREVIOUS_GTIDS holds those three, with the next n_second."""
    fde, txs = split_transactions(INVISIBLE.read_bytes())
    assert [gtid_of(t[0]) for t in txs] == [f"{SID}:{n}" for n in range(1, 6)]
    first = build_file(fde, GtidSet(), txs[:3], 7, next_file="binlog.000002")
    second = build_file(fde, GtidSet(f"{SID}:1-3"), txs[3:3 + n_second], 7)
    return [("binlog.000001", first), ("binlog.000002", second)]


def decoded(rowcast, tmp_path, files):
    """What `rowcast decode` prints for the files, without the fields of the moment."""
    paths = []
    for name, data in files:
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    r = rowcast.run(["decode", *paths])
    assert r.returncode == 0, r.stderr.decode()
    return [strip(json.loads(line)) for line in r.stdout.decode().splitlines()]


def strip(ev):
    ev["meta"].pop("timestamp", None)
    ev["meta"].pop("pipeline", None)
    return ev


def last_state(topic, name):
    recs = [v for k, v in state_records(topic) if k == name]
    assert recs, f"no state record for {name} in {topic}"
    return recs[-1]


def dump_after(primary, n, timeout=20.0):
    """The dump command the primary received after its first n: rowcast logs "streaming from"
    once the command is sent, which can be before the primary's thread has read it."""
    deadline = time.monotonic() + timeout
    while len(primary.dumps) <= n:
        assert time.monotonic() < deadline, "the primary received no dump command"
        time.sleep(0.05)
    return primary.dumps[-1]


def test_streams_stores_the_gtid_set_and_resumes_by_it(primary, rowcast, tmp_path):
    primary.set_files(two_files(1))
    cfg, topic, state_topic = config(primary, "it_mysql_resume")
    proc = rowcast.start(cfg)
    msgs = consume(topic, 2, process=proc)
    want = decoded(rowcast, tmp_path, primary.files())
    assert [strip(m.json()) for m in msgs] == want
    assert [m.json()["meta"]["gtid"] for m in msgs] == [f"{SID}:3", f"{SID}:4"]
    # the binlog was read by file and position: the executed set came from PREVIOUS_GTIDS
    assert primary.dumps[-1]["command"] == "COM_BINLOG_DUMP"
    assert (primary.dumps[-1]["file"], primary.dumps[-1]["pos"]) == ("binlog.000001", 4)
    assert proc.stop() == 0
    rec = last_state(state_topic, "it_mysql_resume")
    assert rec["flavor"] == "mysql"
    assert rec["server_uuid"] == primary.server_uuid and rec["server_id"] == 7
    assert GtidSet(rec["gtid_set"]) == GtidSet(f"{SID}:1-4")
    assert (rec["binlog_file"], rec["binlog_pos"]) == ("binlog.000002", len(primary.files()[1][1]))

    # the primary writes one more transaction; rowcast resumes after the stored GTID set
    primary.set_files(two_files(2))
    proc = rowcast.start(cfg)
    msgs = consume(topic, 3, process=proc)
    want = decoded(rowcast, tmp_path, primary.files())
    assert [strip(m.json()) for m in msgs] == want  # nothing twice, nothing missing
    assert msgs[2].json()["action"] == "update"
    gtid_dumps = [d for d in primary.dumps if d["command"] == "COM_BINLOG_DUMP_GTID"]
    assert gtid_dumps and GtidSet(gtid_dumps[-1]["gtid_set"]) == GtidSet(f"{SID}:1-4")
    assert proc.stop() == 0
    assert GtidSet(last_state(state_topic, "it_mysql_resume")["gtid_set"]) == GtidSet(f"{SID}:1-5")
    assert primary.unknown_queries == []


def test_a_dropped_connection_is_resumed_without_loss_or_repeat(primary, rowcast):
    primary.set_files(two_files(1))
    cfg, topic, _ = config(primary, "it_mysql_drop")
    proc = rowcast.start(cfg)
    consume(topic, 2, process=proc)
    n_dumps = len(primary.dumps)
    primary.kick()
    primary.set_files(two_files(2))
    msgs = consume(topic, 3, process=proc)
    assert [m.json()["meta"]["gtid"] for m in msgs] == [f"{SID}:{n}" for n in (3, 4, 5)]
    again = primary.dumps[n_dumps:]
    assert again, "rowcast did not reconnect"
    # after a commit it knows the file position: it goes on from there
    assert (again[-1]["command"], again[-1]["file"]) == ("COM_BINLOG_DUMP", "binlog.000002")
    assert again[-1]["pos"] == len(two_files(1)[1][1])
    assert proc.stop() == 0


def test_file_start_takes_the_set_before_it_from_previous_gtids(primary, rowcast):
    primary.set_files(two_files(1))
    cfg, topic, state_topic = config(primary, "it_mysql_file", start="file:binlog.000002:4")
    proc = rowcast.start(cfg)
    wait_log(proc, rf"the executed GTID set at binlog\.000002:4 is \[{SID}:1-3\]")
    msgs = consume(topic, 1, process=proc)
    assert [m.json()["meta"]["gtid"] for m in msgs] == [f"{SID}:4"]
    assert proc.stop() == 0
    assert GtidSet(last_state(state_topic, "it_mysql_file")["gtid_set"]) == GtidSet(f"{SID}:1-4")


def test_timestamp_start_finds_the_transaction_and_the_set_before_it(primary, rowcast):
    primary.set_files(two_files(2))
    # between the commits of :3 (1637667166) and :4 (1637667198), which opens binlog.000002
    cfg, topic, state_topic = config(primary, "it_mysql_ts", start="timestamp:2021-11-23T11:33:10Z")
    proc = rowcast.start(cfg)
    msgs = consume(topic, 2, process=proc)
    assert [m.json()["meta"]["gtid"] for m in msgs] == [f"{SID}:4", f"{SID}:5"]
    wait_log(proc, rf"the executed GTID set at binlog\.000002:\d+ is \[{SID}:1-3\]")
    assert proc.stop() == 0
    assert GtidSet(last_state(state_topic, "it_mysql_ts")["gtid_set"]) == GtidSet(f"{SID}:1-5")


def test_latest_start_knows_the_whole_set(primary, rowcast):
    primary.set_files(two_files(1))
    cfg, topic, state_topic = config(primary, "it_mysql_latest", start="latest")
    proc = rowcast.start(cfg)
    wait_log(proc, r"streaming from 127\.0\.0\.1:\d+ \(8\.4\.3\)")
    primary.set_files(two_files(2))
    msgs = consume(topic, 1, process=proc)
    assert [m.json()["meta"]["gtid"] for m in msgs] == [f"{SID}:5"]
    assert proc.stop() == 0
    assert GtidSet(last_state(state_topic, "it_mysql_latest")["gtid_set"]) == GtidSet(f"{SID}:1-5")


def test_tagged_gtids_of_mysql_8_4(primary, rowcast, tmp_path):
    fde, txs = split_transactions(TAGGED.read_bytes())
    tag_sid = "55778904-0299-11f1-b1b8-4ef0c4956feb"
    assert [gtid_of(t[0]) for t in txs] == [f"{tag_sid}:mytag:3"]
    prev = GtidSet(f"{tag_sid}:1-13,{tag_sid}:mytag:1-2")
    primary.set_files([("binlog.000009", build_file(fde, prev, txs, 7))])
    # this server wrote no column names into the binlog: rowcast asks information_schema
    primary.columns[("test", "orders")] = ["id", "qty", "total"]
    primary.keys[("test", "orders")] = ["id"]
    cfg, _, state_topic = config(primary, "it_mysql_tag")
    cfg["pipelines"][0]["sink"]["topic"] = cfg["pipelines"][0]["sink"]["topic"].replace(
        "{schema}.{table}", "orders")
    topic = cfg["pipelines"][0]["sink"]["topic"]
    proc = rowcast.start(cfg)
    msgs = consume(topic, 1, process=proc)
    want = decoded(rowcast, tmp_path, primary.files())  # offline: col_1, col_2, ...
    want[0]["after"] = [{"id": 3, "qty": 100, "total": "250.00"}]
    assert [strip(m.json()) for m in msgs] == want
    assert msgs[0].json()["meta"]["gtid"] == f"{tag_sid}:mytag:3"
    assert msgs[0].key == b'{"id":3}'  # the primary key from information_schema too
    assert proc.stop() == 0
    want = GtidSet(f"{tag_sid}:1-13,{tag_sid}:mytag:1-3")
    assert GtidSet(last_state(state_topic, "it_mysql_tag")["gtid_set"]) == want
    # resumed by the tagged set, in the tagged wire format
    n_dumps = len(primary.dumps)
    proc = rowcast.start(cfg)
    wait_log(proc, r"streaming from .* after GTID state")
    dump = dump_after(primary, n_dumps)
    assert dump["command"] == "COM_BINLOG_DUMP_GTID"
    assert GtidSet(dump["gtid_set"]) == want
    assert proc.stop() == 0


def test_purged_gtids_stop_the_pipeline_with_a_sentence(primary, rowcast):
    primary.set_files(two_files(2))
    primary.gtid_purged = f"{SID}:1-3"
    cfg, _, _ = config(primary, "it_mysql_purged", start=f"gtid:{SID}:1-2")
    proc = rowcast.start(cfg)
    m = wait_log(proc, r"pipeline it_mysql_purged failed: (.*)")
    assert f"has purged transactions the pipeline has not read: {SID}:3" in m.group(1)
    assert not [d for d in primary.dumps if d["file"] != "binlog.000001" or d["pos"] != 4
                or d["command"] == "COM_BINLOG_DUMP_GTID"], "it streamed after all"


def test_a_refused_login_names_the_host_and_user(primary, rowcast):
    primary.set_files(two_files(1))
    cfg, _, _ = config(primary, "it_mysql_login", password="wrong")
    proc = rowcast.start(cfg)
    m = wait_log(proc, r"cannot connect to 127\.0\.0\.1:(\d+) as 'repl': ([^\n]*)")
    assert int(m.group(1)) == primary.port
    assert "Access denied for user 'repl'" in m.group(2)
    assert primary.logins and not any(ok for _, ok in primary.logins)
