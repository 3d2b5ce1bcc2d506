"""Fixtures for the integration tests: the real rowcast binary against a real MariaDB and a
real Kafka, both started by tests/services/*.sh (tests/run.sh does it and exports RC_*).

Every test gets its own database and starts rowcast at an explicit binlog position read just
before its writes, with `include` limited to that database, so tests never see each other's
rows. Expected messages are built from the values the test wrote and compared field by field.
"""

import datetime
import decimal
import itertools
import json
import os
import re
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pymysql
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

REPO = Path(__file__).resolve().parents[2]

MARIADB_HOST = os.environ.get("RC_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("RC_MARIADB_PORT", "13306"))
MARIADB_USER = os.environ.get("RC_MARIADB_USER", "rowcast")
MARIADB_PASSWORD = os.environ.get("RC_MARIADB_PASSWORD", "rowcast")
MARIADB_ROOT_PASSWORD = os.environ.get("RC_MARIADB_ROOT_PASSWORD", "root")
KAFKA_BROKERS = os.environ.get("RC_KAFKA_BROKERS", "127.0.0.1:19092")

STOP_TIMEOUT_S = 30
_server_ids = itertools.count(100_000 + (os.getpid() % 10_000) * 100)


# --------------------------------------------------------------------------- reporting


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report so fixtures can tell at teardown whether the test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _test_failed(request):
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


# --------------------------------------------------------------------------- MariaDB


def mysql_connect(database=None, autocommit=True):
    """A root connection over TCP (utf8mb4, server time zone UTC)."""
    return pymysql.connect(
        host=MARIADB_HOST,
        port=MARIADB_PORT,
        user="root",
        password=MARIADB_ROOT_PASSWORD,
        database=database,
        charset="utf8mb4",
        autocommit=autocommit,
        connect_timeout=10,
    )


@pytest.fixture(scope="session")
def _mariadb_up():
    try:
        conn = mysql_connect()
    except pymysql.err.OperationalError as e:
        pytest.fail(
            f"MariaDB is not reachable at {MARIADB_HOST}:{MARIADB_PORT} ({e}); "
            "run the tests with tests/run.sh or start tests/services/mariadb.sh",
            pytrace=False,
        )
    conn.close()


@pytest.fixture
def mysql(_mariadb_up):
    """A PyMySQL root connection (autocommit on; use begin()/commit() for transactions)."""
    conn = mysql_connect()
    yield conn
    conn.close()


@pytest.fixture
def db(mysql, request):
    """A fresh database for this test, dropped afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:30]
    name = f"it_{stem}_{uuid.uuid4().hex[:8]}"
    with mysql.cursor() as cur:
        cur.execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    yield name
    with mysql.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def master_status(conn):
    """(File, Position) of the binlog's current end."""
    with conn.cursor() as cur:
        cur.execute("SHOW MASTER STATUS")
        row = cur.fetchone()
    assert row, "SHOW MASTER STATUS returned nothing: is log_bin on?"
    return row[0], int(row[1])


def last_gtid(conn):
    """The GTID of the last transaction this session committed."""
    with conn.cursor() as cur:
        cur.execute("SELECT @@last_gtid")
        return cur.fetchone()[0]


def server_id(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT @@server_id")
        return int(cur.fetchone()[0])


# --------------------------------------------------------------------------- rowcast


def _yaml_scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v), ensure_ascii=False)  # a JSON string is a YAML double-quoted one


def to_yaml(obj, indent=0):
    """Block-style YAML for plain dicts, lists and scalars (readable configs, no PyYAML)."""
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, dict):
                lines.append(f"{pad}{k}: {{}}")
            elif isinstance(v, list):
                lines.append(f"{pad}{k}: []")
            else:
                lines.append(f"{pad}{k}: {_yaml_scalar(v)}")
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                body = to_yaml(v, indent + 2).splitlines()
                lines.append(f"{pad}- {body[0].lstrip()}")
                lines.extend(body[1:])
            else:
                lines.append(f"{pad}- {_yaml_scalar(v)}")
    else:
        lines.append(pad + _yaml_scalar(obj))
    return "\n".join(lines)


def pipeline_config(name, db, start, **overrides):
    """The config of one pipeline reading database `db` from binlog position `start`."""
    file_, pos = start
    cfg = {
        "log_level": "info",
        "http": {"listen": ""},
        "kafka": {"brokers": KAFKA_BROKERS, "rdkafka": {"linger.ms": 5}},
        # A state topic per config: a test's start position is never overridden by a position
        # an earlier run of the same pipeline name stored (tests/integration/test_state.py
        # shares topics on purpose).
        "state": {"topic": f"it-state-{uuid.uuid4().hex[:12]}", "interval_ms": 200},
        "pipelines": [
            {
                "name": name,
                "source": {
                    "host": MARIADB_HOST,
                    "port": MARIADB_PORT,
                    "user": MARIADB_USER,
                    "password": MARIADB_PASSWORD,
                    "server_id": next(_server_ids),
                    "include": [re.escape(db) + r"\..*"],
                    "start": f"file:{file_}:{pos}",
                },
                "sink": {"format": "json", "topic": "{schema}.{table}", "create_topics": True},
                "batch": {"max_events": 1000, "max_ms": 20},
            }
        ],
    }
    for k, v in overrides.items():
        cfg["pipelines"][0][k] = v
    return cfg


def rowcast_binary():
    path = os.environ.get("RC_BINARY") or str(REPO / "build/test/server/rowcast")
    if not os.access(path, os.X_OK):
        pytest.fail(f"rowcast binary {path} is missing (RC_BINARY; ctest sets it)", pytrace=False)
    return path


def tail(path, lines=200):
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"


@dataclass
class RowcastProcess:
    """One running `rowcast --config FILE`; stderr and stdout go to files next to the config."""

    config_path: Path
    proc: subprocess.Popen
    stderr_path: Path
    stdout_path: Path
    started: float = field(default_factory=time.time)

    def describe(self):
        state = "running" if self.proc.poll() is None else f"exited {self.proc.returncode}"
        return (
            f"rowcast ({state}) --config {self.config_path}\n"
            f"--- config ---\n{self.config_path.read_text()}\n"
            f"--- stderr (tail) ---\n{tail(self.stderr_path)}\n"
            f"--- stdout (tail) ---\n{tail(self.stdout_path, 50)}"
        )

    def assert_alive(self):
        if self.proc.poll() is not None:
            pytest.fail(
                f"rowcast exited early with status {self.proc.returncode}\n{self.describe()}",
                pytrace=False,
            )

    def stop(self):
        """SIGTERM; rowcast must exit 0 within STOP_TIMEOUT_S. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(
                    f"rowcast did not exit within {STOP_TIMEOUT_S}s of SIGTERM\n{self.describe()}"
                )
        return self.proc.returncode


class Rowcast:
    """Writes configs into tmp_path and runs the binary; every started process is stopped with
    SIGTERM at teardown and must exit 0."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.binary = rowcast_binary()
        self.procs = []
        self._n = 0

    def write_config(self, cfg, name=None):
        self._n += 1
        path = self.tmp_path / (name or f"rowcast-{self._n}.yaml")
        path.write_text(cfg if isinstance(cfg, str) else to_yaml(cfg) + "\n")
        return path

    def start(self, cfg, *args):
        path = cfg if isinstance(cfg, Path) else self.write_config(cfg)
        n = len(self.procs) + 1
        stderr_path = self.tmp_path / f"rowcast-{n}.stderr"
        stdout_path = self.tmp_path / f"rowcast-{n}.stdout"
        with open(stderr_path, "wb") as err, open(stdout_path, "wb") as out:
            proc = subprocess.Popen(
                [self.binary, "--config", str(path), *args],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                cwd=self.tmp_path,
            )
        rc = RowcastProcess(path, proc, stderr_path, stdout_path)
        self.procs.append(rc)
        return rc

    def run(self, args, timeout=30, env=None):
        """Run to completion (for --check and bad configs); returns CompletedProcess."""
        try:
            return subprocess.run(
                [self.binary, *args],
                capture_output=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                cwd=self.tmp_path,
                env=env,
            )
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"rowcast {' '.join(args)} did not exit within {timeout}s: {e}")


@pytest.fixture
def rowcast(tmp_path, request):
    rc = Rowcast(tmp_path)
    yield rc
    failed = _test_failed(request)
    problems = []
    for p in rc.procs:
        try:
            status = p.stop()
        except AssertionError as e:
            problems.append(str(e))
            continue
        if status != 0:
            problems.append(f"rowcast exited with status {status} after SIGTERM\n{p.describe()}")
        elif failed:
            print(p.describe())  # shown with the failed test's report
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


# --------------------------------------------------------------------------- Kafka


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list = None  # [(name, bytes)] in the order Kafka returned them

    def json(self):
        try:
            return json.loads(self.value)
        except ValueError as e:
            raise AssertionError(f"{self.topic}@{self.offset}: value is not JSON ({e}): {self.value!r}")


def _consumer():
    return Consumer(
        {
            "bootstrap.servers": KAFKA_BROKERS,
            "group.id": f"rowcast-it-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "allow.auto.create.topics": False,
        }
    )


def topic_partitions(topic, timeout=5.0):
    """The partition ids of `topic`, or None when it does not exist."""
    c = _consumer()
    try:
        md = c.list_topics(topic, timeout=timeout)
    finally:
        c.close()
    t = md.topics.get(topic)
    if t is None or t.error is not None or not t.partitions:
        return None
    return sorted(t.partitions)


def consume(topic, count, timeout=60.0, settle=2.0, process=None):
    """Read `topic` from the beginning until `count` messages arrived, then `settle` seconds
    more so that extra (duplicate) messages show up too. Waits for the topic to exist, since
    rowcast creates it. Fails early when `process` (a RowcastProcess) has exited."""
    deadline = time.monotonic() + timeout

    def give_up(what):
        msg = f"{topic}: {what}"
        if process is not None:
            msg += "\n" + process.describe()
        pytest.fail(msg, pytrace=False)

    while True:
        parts = topic_partitions(topic)
        if parts:
            break
        if process is not None and process.proc.poll() is not None:
            give_up(f"topic never appeared; rowcast exited with status {process.proc.returncode}")
        if time.monotonic() > deadline:
            give_up(f"topic did not appear within {timeout:.0f}s")
        time.sleep(0.2)

    c = _consumer()
    msgs = []
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        settle_until = None
        while True:
            now = time.monotonic()
            if len(msgs) >= count and settle_until is None:
                settle_until = now + settle
            if settle_until is not None and now >= settle_until:
                break
            if settle_until is None and now > deadline:
                give_up(f"got {len(msgs)} of {count} messages within {timeout:.0f}s")
            if settle_until is None and process is not None and process.proc.poll() is not None:
                # Whatever it produced is in Kafka already; one last read, then give up.
                for m in c.consume(num_messages=count, timeout=2.0):
                    if not m.error():
                        msgs.append(Message(m.topic(), m.partition(), m.offset(), m.key(), m.value(),
                                            m.headers() or []))
                if len(msgs) < count:
                    give_up(
                        f"rowcast exited with status {process.proc.returncode} after "
                        f"{len(msgs)} of {count} messages"
                    )
                continue
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    give_up(f"consumer error: {m.error()}")
                msgs.append(
                    Message(m.topic(), m.partition(), m.offset(), m.key(), m.value(),
                            m.headers() or [])
                )
    finally:
        c.close()
    msgs.sort(key=lambda m: (m.partition, m.offset))
    return msgs


# --------------------------------------------------------------------------- expected values


def json_value(sql_type, v):
    """What rowcast must print for value `v` (as written or as PyMySQL reads it) of a column
    declared `sql_type`: integers as numbers, DECIMAL a string with the column's scale, DATE
    YYYY-MM-DD, DATETIME(n) ISO with T and exactly n fraction digits, TIMESTAMP(n) the same
    in UTC with Z, strings as they are (CHAR without its padding), NULL null."""
    if v is None:
        return None
    t = sql_type.lower()
    base = re.match(r"[a-z]+", t).group(0)
    args = [int(x) for x in re.findall(r"\d+", t.split(")")[0])] if "(" in t else []
    if base in ("tinyint", "smallint", "mediumint", "int", "integer", "bigint"):
        assert isinstance(v, int)
        return v
    if base == "decimal":
        scale = args[1] if len(args) > 1 else 0
        return f"{decimal.Decimal(v):.{scale}f}"
    if base == "date":
        assert isinstance(v, datetime.date)
        return v.isoformat()
    if base in ("datetime", "timestamp"):
        fsp = args[0] if args else 0
        if isinstance(v, str):
            v = datetime.datetime.fromisoformat(v)
        s = v.strftime("%Y-%m-%dT%H:%M:%S")
        if fsp:
            s += "." + f"{v.microsecond:06d}"[:fsp]
        return s + ("Z" if base == "timestamp" else "")
    if base == "char":
        return v.rstrip(" ")
    if base in ("varchar", "text"):
        return v
    raise AssertionError(f"json_value: no rule for {sql_type}")


class Table:
    """A test table: its columns (name, SQL type) in order and its primary key columns."""

    def __init__(self, db, name, columns, pk=()):
        self.db, self.name, self.columns, self.pk = db, name, list(columns), list(pk)
        self.types = dict(self.columns)

    @property
    def topic(self):
        return f"{self.db}.{self.name}"

    def create_sql(self):
        cols = ",\n  ".join(f"`{c}` {t}" for c, t in self.columns)
        pk = f",\n  PRIMARY KEY ({', '.join(f'`{c}`' for c in self.pk)})" if self.pk else ""
        return f"CREATE TABLE `{self.db}`.`{self.name}` (\n  {cols}{pk}\n) CHARACTER SET utf8mb4"

    def json_row(self, row):
        """A full row {column: python value} as rowcast must print it, in column order."""
        assert set(row) == set(self.types), f"row must name every column: {sorted(row)}"
        return {c: json_value(t, row[c]) for c, t in self.columns}

    def key(self, row):
        return {c: json_value(self.types[c], row[c]) for c, _ in self.columns if c in self.pk}

    def insert(self, cur, row):
        cols = ", ".join(f"`{c}`" for c in row)
        marks = ", ".join(["%s"] * len(row))
        cur.execute(
            f"INSERT INTO `{self.db}`.`{self.name}` ({cols}) VALUES ({marks})", list(row.values())
        )

    def _where(self, row):
        cols = self.pk or [c for c, _ in self.columns]
        clause = " AND ".join(f"`{c}` <=> %s" for c in cols)
        return clause, [row[c] for c in cols]

    def update(self, cur, row, **changes):
        sets = ", ".join(f"`{c}` = %s" for c in changes)
        where, params = self._where(row)
        n = cur.execute(
            f"UPDATE `{self.db}`.`{self.name}` SET {sets} WHERE {where}",
            list(changes.values()) + params,
        )
        assert n == 1, f"update of {row} matched {n} rows"

    def delete(self, cur, row):
        where, params = self._where(row)
        n = cur.execute(f"DELETE FROM `{self.db}`.`{self.name}` WHERE {where}", params)
        assert n == 1, f"delete of {row} matched {n} rows"

    def select_all(self, conn):
        """The table's rows as rowcast must print them (checks the test's own model)."""
        order = ", ".join(f"`{c}`" for c in (self.pk or [self.columns[0][0]]))
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM `{self.db}`.`{self.name}` ORDER BY {order}")
            names = [d[0] for d in cur.description]
            return [
                {c: json_value(self.types[c], v) for c, v in zip(names, r)} for r in cur.fetchall()
            ]


@dataclass
class Expected:
    """One message rowcast must produce."""

    table: Table
    action: str
    before: dict = None  # full rows as python values
    after: dict = None
    gtid: str = None  # filled in at commit


class ChangeLog:
    """Applies changes through a connection and records the messages they must produce."""

    def __init__(self, conn):
        self.conn = conn
        self.expected = []
        self._open = []  # expected entries of the transaction not yet committed
        self._in_tx = False

    def insert(self, table, row):
        with self.conn.cursor() as cur:
            table.insert(cur, row)
        self._add(Expected(table, "insert", after=dict(row)))

    def update(self, table, row, **changes):
        with self.conn.cursor() as cur:
            table.update(cur, row, **changes)
        new = dict(row, **changes)
        self._add(Expected(table, "update", before=dict(row), after=new))
        return new

    def delete(self, table, row):
        with self.conn.cursor() as cur:
            table.delete(cur, row)
        self._add(Expected(table, "delete", before=dict(row)))

    def expect(self, e):
        """Record a change the test made itself (inside begin() ... commit())."""
        assert self._in_tx
        self._open.append(e)

    def _add(self, e):
        self._open.append(e)
        if not self._in_tx:  # autocommit: the statement was its own transaction
            self._committed()

    def begin(self):
        assert not self._open and not self._in_tx
        self.conn.begin()
        self._in_tx = True

    def commit(self):
        self.conn.commit()
        self._in_tx = False
        self._committed()

    def _committed(self):
        gtid = last_gtid(self.conn)
        for e in self._open:
            e.gtid = gtid
        self.expected.extend(self._open)
        self._open = []

    def for_topic(self, topic):
        return [e for e in self.expected if e.table.topic == topic]


def _compact(raw):
    """True when `raw` is valid JSON with no whitespace outside its strings (however the
    strings escape their characters)."""
    text = raw.decode("utf-8")
    json.loads(text)
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    return not re.search(r"\s", outside)


def assert_same_json(actual, expected, where):
    """Equality that also tells 1 from 1.0 and "1" from 1, and checks object key order."""
    assert type(actual) is type(expected), (
        f"{where}: {actual!r} ({type(actual).__name__}) != {expected!r} ({type(expected).__name__})"
    )
    if isinstance(expected, dict):
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for k in expected:
            assert_same_json(actual[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{where}: {len(actual)} items != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same_json(a, e, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


@dataclass
class Position:
    """What the test knows about where its changes are in the binlog."""

    pipeline: str
    binlog_file: str
    start_pos: int
    end_pos: int
    server_id: int
    t0: float  # wall clock before the first write
    t1: float  # wall clock after the last commit


def check_messages(msgs, expected, pos):
    """Every message equals the expected one at the same place: topic, key, value (action,
    before/after rows with every column and type), and meta; order is binlog order."""
    assert len(msgs) == len(expected), (
        f"{len(msgs)} messages, expected {len(expected)}: first values "
        f"{[m.value[:200] for m in msgs[:5]]}"
    )
    last_pos = {}
    for i, (m, e) in enumerate(zip(msgs, expected)):
        where = f"message {i} ({m.topic}@{m.partition}:{m.offset}, expected {e.action})"
        assert m.topic == e.table.topic, f"{where}: topic {m.topic}"
        # key: the primary-key columns in column order, compact; none without a primary key
        if e.table.pk:
            assert m.key is not None, f"{where}: no key"
            assert _compact(m.key), f"{where}: key is not compact JSON: {m.key!r}"
            row = e.after if e.after is not None else e.before
            assert_same_json(json.loads(m.key), e.table.key(row), f"{where} key")
        else:
            assert m.key is None, f"{where}: table has no primary key but key is {m.key!r}"
        # value
        assert _compact(m.value), f"{where}: value is not compact JSON: {m.value[:300]!r}"
        v = m.json()
        assert sorted(v) == sorted(["schema", "table", "action", "before", "after", "meta"]), (
            f"{where}: fields {list(v)}"
        )
        assert v["schema"] == e.table.db and v["table"] == e.table.name, f"{where}: {v}"
        assert v["action"] == e.action, f"{where}: action {v['action']}"
        before = [e.table.json_row(e.before)] if e.before is not None else []
        after = [e.table.json_row(e.after)] if e.after is not None else []
        assert_same_json(v["before"], before, f"{where} before")
        assert_same_json(v["after"], after, f"{where} after")
        meta = v["meta"]
        assert sorted(meta) == sorted(
            ["pipeline", "timestamp", "gtid", "binlog_file", "binlog_pos", "server_id", "commit_ts"]
        ), f"{where}: meta fields {list(meta)}"
        assert meta["pipeline"] == pos.pipeline, f"{where}: meta.pipeline {meta['pipeline']}"
        assert meta["gtid"] == e.gtid, f"{where}: meta.gtid {meta['gtid']} != {e.gtid}"
        assert meta["binlog_file"] == pos.binlog_file, f"{where}: {meta['binlog_file']}"
        bp = meta["binlog_pos"]
        assert type(bp) is int and pos.start_pos <= bp <= pos.end_pos, (
            f"{where}: meta.binlog_pos {bp} outside [{pos.start_pos}, {pos.end_pos}]"
        )
        assert bp >= last_pos.get(m.topic, 0), f"{where}: binlog_pos went back"
        last_pos[m.topic] = bp
        assert meta["server_id"] == pos.server_id, f"{where}: meta.server_id {meta['server_id']}"
        ts = meta["commit_ts"]
        assert type(ts) is int and pos.t0 - 2 <= ts <= pos.t1 + 2, f"{where}: commit_ts {ts}"
        us = meta["timestamp"]
        assert type(us) is int and (pos.t0 - 5) * 1e6 <= us <= (time.time() + 5) * 1e6, (
            f"{where}: meta.timestamp {us} is not µs since the epoch around now"
        )
