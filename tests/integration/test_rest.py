"""REST API (/v1) and /metrics of the real binary with two pipelines against MariaDB and Kafka.

Every response is checked against server/http/openapi.yaml: its status code must be documented
for the endpoint and method, and its JSON body must validate against the documented schema.
"""

import json
import re
import socket
import threading
import time
import uuid
import urllib.parse
import http.client

import pytest
import yaml
from jsonschema import Draft202012Validator
from prometheus_client.parser import text_string_to_metric_families
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conftest import (
    KAFKA_BROKERS,
    MARIADB_HOST,
    MARIADB_PASSWORD,
    MARIADB_PORT,
    MARIADB_USER,
    REPO,
    _server_ids,
    consume,
    master_status,
)

SPEC_URI = "urn:rowcast:openapi"
SPEC = yaml.safe_load((REPO / "server/http/openapi.yaml").read_text())
REGISTRY = Registry().with_resource(SPEC_URI, Resource(contents=SPEC, specification=DRAFT202012))
TOKEN = "t0ken-" + "x" * 20
BIG_TX = 30000  # rows; takes the reader long enough that a pause arrives inside


def _pointer(*parts):
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _template(path):
    """The OpenAPI path template that `path` (without query) matches."""
    for t in SPEC["paths"]:
        pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(t)) + "$"
        if re.match(pattern, path):
            return t
    return None


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Api:
    def __init__(self, port):
        self.port = port
        self.checked = set()  # (template, method, status) seen, for the coverage check

    def call(self, method, path, token=None, auth=None, check=True, body=None):
        """body: bytes/str sent as is, anything else as JSON."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if auth is not None:
            headers["Authorization"] = auth
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        conn.close()
        if check:
            self.validate(method, path, resp)
        return resp

    def validate(self, method, path, resp):
        where = f"{method} {path} -> {resp.status} {resp.body[:300]!r}"
        bare = urllib.parse.urlsplit(path).path
        t = _template(bare)
        ctype = resp.headers.get("content-type", "").split(";")[0].strip()
        if t is None or method.lower() not in SPEC["paths"][t]:
            # Not in the API: must be a JSON 404 / 405 error.
            assert resp.status in (404, 405), where
            assert ctype == "application/json" and isinstance(resp.json().get("error"), str), where
            return
        responses = SPEC["paths"][t][method.lower()]["responses"]
        assert str(resp.status) in responses, f"{where}: status not documented in openapi.yaml"
        r = responses[str(resp.status)]
        ptr = _pointer("paths", t, method.lower(), "responses", str(resp.status))
        if "$ref" in r:
            ptr = r["$ref"].lstrip("#/")
            r = SPEC["components"]["responses"][ptr.split("/")[-1]]
        if "content" not in r:  # documented without a body (413 from h2o)
            self.checked.add((t, method.lower(), resp.status))
            return
        assert ctype in r["content"], f"{where}: content type {ctype!r} not documented"
        self.checked.add((t, method.lower(), resp.status))
        if ctype != "application/json":
            return
        schema = {"$ref": f"{SPEC_URI}#/{ptr}/content/{_pointer(ctype)}/schema"}
        Draft202012Validator(schema, registry=REGISTRY).validate(resp.json())

    def status(self, name):
        return self.call("GET", f"/v1/pipelines/{name}/status").json()

    def wait(self, name, cond, what, timeout=60, every=0.1):
        deadline = time.monotonic() + timeout
        while True:
            st = self.status(name)
            if cond(st):
                return st
            if time.monotonic() > deadline:
                pytest.fail(f"pipeline {name}: {what} not reached within {timeout}s: {st}")
            time.sleep(every)

    def metrics(self):
        r = self.call("GET", "/metrics")
        assert r.status == 200
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        out = {}
        for fam in text_string_to_metric_families(r.body.decode()):
            for s in fam.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pipeline(name, db, start):
    return {
        "name": name,
        "source": {
            "host": MARIADB_HOST,
            "port": MARIADB_PORT,
            "user": MARIADB_USER,
            "password": MARIADB_PASSWORD,
            "server_id": next(_server_ids),
            "include": [re.escape(db) + r"\..*"],
            "start": f"file:{start[0]}:{start[1]}",
        },
        "sink": {"format": "json", "topic": "{schema}.{table}." + name, "create_topics": True},
        "batch": {"max_events": 4, "max_ms": 20},  # small batches: transactions span batches
        "queue_batches": 1,
    }


def start_server(rowcast, tmp_path, pipelines):
    port = free_port()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    cfg = {
        "log_level": "info",
        "shutdown_grace": 10,
        "http": {"listen": f"127.0.0.1:{port}", "token_file": str(token_file)},
        "kafka": {"brokers": KAFKA_BROKERS, "rdkafka": {"linger.ms": 5}},
        # a fresh state topic: the pipelines start where the test says, not where a pipeline
        # of the same name in an earlier run stopped
        "state": {"topic": f"it-state-{uuid.uuid4().hex[:12]}", "interval_ms": 200},
        "pipelines": pipelines,
    }
    proc = rowcast.start(cfg)
    api = Api(port)
    deadline = time.monotonic() + 20
    while True:
        try:
            api.call("GET", "/v1/info")
            return proc, api
        except OSError:
            if proc.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("rowcast did not serve HTTP\n" + proc.describe())
            time.sleep(0.1)


class Writer:
    """Inserts transactions of `rows` rows into `db`.t; ids are consecutive from 0."""

    def __init__(self, conn, db):
        self.conn, self.db, self.next_id, self.txs = conn, db, 0, 0

    def tx(self, n=1, rows=3):
        with self.conn.cursor() as cur:
            for _ in range(n):
                self.conn.begin()
                ids = range(self.next_id, self.next_id + rows)
                cur.executemany(f"INSERT INTO `{self.db}`.t (id, v) VALUES (%s, %s)",
                                [(i, f"row {i}") for i in ids])
                self.next_id += rows
                self.conn.commit()
                self.txs += 1


def delivered(n):
    return lambda st: st["counters"]["events_delivered"] >= n


def check_topic(topic, n, process):
    """The topic holds rows 0..n-1 exactly once, in order."""
    msgs = consume(topic, n, process=process)
    ids = [m.json()["after"][0]["id"] for m in msgs]
    assert ids == list(range(n)), f"{topic}: ids {ids[:10]}... ({len(ids)}), expected 0..{n - 1}"


def test_two_pipelines_pause_resume_restart_stop(mysql, db, rowcast, tmp_path):
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40))")
    start = master_status(mysql)
    proc, api = start_server(rowcast, tmp_path, [pipeline("pa", db, start), pipeline("pb", db, start)])
    w = Writer(mysql, db)

    # both flow
    w.tx(10)
    api.wait("pa", delivered(30), "30 delivered")
    api.wait("pb", delivered(30), "30 delivered")
    listed = api.call("GET", "/v1/pipelines").json()
    assert listed == ["pa", "pb"]
    expanded = api.call("GET", "/v1/pipelines?expand=status").json()
    assert sorted(expanded) == ["pa", "pb"] and expanded["pa"]["status"]["state"] == "RUNNING"

    # pause pa; pb keeps flowing while pa reads nothing
    r = api.call("PUT", "/v1/pipelines/pa/pause", token=TOKEN)
    assert r.status == 202 and r.json()["pause_requested"] is True
    api.wait("pa", lambda st: st["state"] == "PAUSED", "PAUSED")
    r = api.call("PUT", "/v1/pipelines/pa/pause", token=TOKEN)
    assert r.status == 409 and "already paused" in r.json()["error"]
    assert api.call("GET", "/readyz", check=False).status == 200  # paused on purpose is ready
    w.tx(10)
    api.wait("pb", delivered(60), "60 delivered")
    time.sleep(1)
    st = api.status("pa")
    assert st["state"] == "PAUSED" and st["counters"]["events_read"] == 30, st
    m = api.metrics()
    assert m[("rowcast_events_read_total", (("pipeline", "pa"),))] == 30
    assert m[("rowcast_events_read_total", (("pipeline", "pb"),))] == 60
    assert m[("rowcast_pipeline_state", (("pipeline", "pa"), ("state", "PAUSED")))] == 1
    assert m[("rowcast_pipeline_state", (("pipeline", "pa"), ("state", "RUNNING")))] == 0

    # resume: pa catches up
    r = api.call("PUT", "/v1/pipelines/pa/resume", token=TOKEN)
    assert r.status == 202
    r = api.call("PUT", "/v1/pipelines/pa/resume", token=TOKEN)
    assert r.status == 409 and "not paused" in r.json()["error"]
    api.wait("pa", delivered(60), "60 delivered after resume")

    # pause and restart arriving in the middle of a large transaction: the reader ends the
    # transaction first (a one-batch queue of 4 events keeps it inside for a while), so nothing
    # is lost or read twice
    before = w.next_id
    w.tx(1, rows=BIG_TX)
    inside = api.wait("pa", lambda st: st["counters"]["events_read"] > before, "reading", 30, every=0.002)
    assert api.call("PUT", "/v1/pipelines/pa/pause", token=TOKEN).status == 202
    assert inside["counters"]["events_read"] < w.next_id, f"too fast to test: {inside}"
    st = api.wait("pa", lambda st: st["state"] == "PAUSED", "PAUSED after a large transaction")
    assert st["counters"]["events_read"] == w.next_id, "paused inside a transaction"
    assert st["position"]["pos"] > start[1], st
    assert api.call("PUT", "/v1/pipelines/pa/resume", token=TOKEN).status == 202
    before = w.next_id
    w.tx(1, rows=BIG_TX)
    api.wait("pa", lambda st: st["counters"]["events_read"] > before, "reading", 30, every=0.002)
    r = api.call("POST", "/v1/pipelines/pa/restart", token=TOKEN)
    assert r.status == 202
    r = api.call("POST", "/v1/pipelines/pa/restart", token=TOKEN)
    assert r.status in (202, 409)  # 409 while the first restart is still running
    if r.status == 409:
        assert "in progress" in r.json()["error"]
    total = w.next_id
    for name in ("pa", "pb"):
        st = api.wait(name, lambda st: st["counters"]["events_delivered"] >= total and
                      st["state"] == "RUNNING", f"{total} delivered")
        assert st["counters"]["events_read"] == total, st
        assert st["counters"]["events_failed"] == 0, st
        assert st["counters"]["transactions"] >= w.txs, st
        assert st["position"]["file"] == start[0] and st["position"]["pos"] > start[1], st
        assert st["lag_seconds"] is not None and st["lag_seconds"] < 60, st
    # metrics agree with the status and with what was written
    m = api.metrics()
    for name in ("pa", "pb"):
        lab = (("pipeline", name),)
        for c in ("events_read", "events_produced", "events_delivered"):
            assert m[(f"rowcast_{c}_total", lab)] == total, (c, name)
        assert m[("rowcast_events_failed_total", lab)] == 0
        assert m[("rowcast_transactions_total", lab)] >= w.txs
        assert m[("rowcast_binlog_read_bytes_total", lab)] > 0
        assert 0 < m[("rowcast_batches_total", lab)] <= total
        assert m[("rowcast_source_reconnects_total", lab)] == 0
        assert m[("rowcast_kafka_retries_total", lab)] == 0  # a local broker: no request resent
        assert ("rowcast_queue_batches", lab) in m
        assert 0 <= m[("rowcast_source_lag_seconds", lab)] < 60
        assert m[("rowcast_pipeline_state", lab + (("state", "RUNNING"),))] == 1
        # per table and action: every row an insert into t, none dropped (no scripts)
        tl = (("action", "insert"), ("pipeline", name), ("table", f"{db}.t"))
        assert m[("rowcast_table_events_read_total", tl)] == total, name
        assert m[("rowcast_table_events_produced_total", tl)] == total, name
        assert m[("rowcast_table_events_dropped_total", tl)] == 0, name
        assert [k for k in m if k[0].startswith("rowcast_table_") and
                ("pipeline", name) in k[1] and k[1] != tl] == [], name
        assert m[("rowcast_transform_vm_memory_bytes", lab)] == 0, name
    assert any(k[0] == "rowcast_build_info" and dict(k[1]).get("version") for k in m)
    for name in ("pa", "pb"):  # positions are written every 200 ms once delivered
        api.wait(name, lambda st: st["checkpoint"] is not None, "a checkpoint")
    m = api.metrics()
    for name in ("pa", "pb"):
        assert 0 <= m[("rowcast_checkpoint_age_seconds", (("pipeline", name),))] < 60, name

    # stop pa: pb still flows; stopped pipelines only restart
    r = api.call("PUT", "/v1/pipelines/pa/stop", token=TOKEN)
    assert r.status == 202
    api.wait("pa", lambda st: st["state"] == "STOPPED", "STOPPED")
    for verb, path in (("PUT", "stop"), ("PUT", "pause"), ("PUT", "resume")):
        r = api.call(verb, f"/v1/pipelines/pa/{path}", token=TOKEN)
        assert r.status == 409 and "pa" in r.json()["error"], (path, r.body)
    w.tx(2)
    total = w.next_id
    api.wait("pb", delivered(total), f"{total} delivered")
    assert api.status("pa")["counters"]["events_read"] == total - 6
    assert api.call("GET", "/readyz", check=False).status == 503

    # restart a stopped pipeline: it continues from its last transaction boundary
    assert api.call("POST", "/v1/pipelines/pa/restart", token=TOKEN).status == 202
    st = api.wait("pa", lambda st: st["state"] == "RUNNING" and delivered(total)(st),
                  f"RUNNING with {total} delivered after restart from STOPPED")
    assert st["counters"]["events_read"] == total, st

    # every row once, in order, on both topics
    check_topic(f"{db}.t.pb", total, proc)
    check_topic(f"{db}.t.pa", total, proc)

    # the rest of the read-only endpoints
    p = api.call("GET", "/v1/pipelines/pb").json()
    assert p["name"] == "pb" and p["config"]["source"]["password"] == "***"
    assert api.call("GET", "/v1/pipelines/pb/config").json()["name"] == "pb"
    info = api.call("GET", "/v1/info").json()
    assert info["version"] and info["libraries"]["h2o"] == "2.2.5"


def test_rest_errors_auth_and_secrets(mysql, db, rowcast, tmp_path):
    start = master_status(mysql)
    pc = pipeline("pc", db, start)
    proc, api = start_server(rowcast, tmp_path, [pc])
    api.wait("pc", lambda st: st["state"] == "RUNNING", "RUNNING")

    def err(method, path, status, needle, **kw):
        r = api.call(method, path, **kw)
        assert r.status == status, (method, path, r.status, r.body)
        assert needle in r.json()["error"], (method, path, r.body)
        return r

    # 404: unknown endpoints and pipelines (after authentication for mutating calls)
    err("GET", "/v1/nope", 404, "no such endpoint: /v1/nope")
    err("GET", "/v1/pipelines/pc/nope", 404, "no such endpoint")
    err("GET", "/v1/pipelines/nope", 404, "no such pipeline: nope")
    err("GET", "/v1/pipelines/nope/status", 404, "no such pipeline: nope")
    err("GET", "/v1/pipelines/nope/config", 404, "no such pipeline: nope")
    for verb, path in (("PUT", "pause"), ("PUT", "resume"), ("PUT", "stop"), ("POST", "restart")):
        err(verb, f"/v1/pipelines/nope/{path}", 404, "no such pipeline: nope", token=TOKEN)
        # 401 without or with a non-bearer header, 403 with a wrong token; nothing changes
        r = err(verb, f"/v1/pipelines/pc/{path}", 401, "Bearer")
        assert r.headers["www-authenticate"].startswith("Bearer")
        err(verb, f"/v1/pipelines/pc/{path}", 401, "Bearer", auth="Basic cm93Y2FzdDp4")
        err(verb, f"/v1/pipelines/pc/{path}", 403, "wrong", token=TOKEN + "x")
        err(verb, f"/v1/pipelines/pc/{path}", 403, "wrong", token=TOKEN[:-1])
    assert api.status("pc")["state"] == "RUNNING"

    # 405 with Allow
    for verb, path, allow in (
        ("POST", "/v1/info", "GET"),
        ("PUT", "/v1/pipelines", "GET, POST"),
        ("POST", "/v1/pipelines/pc", "GET, DELETE"),
        ("PUT", "/v1/pipelines/pc/status", "GET"),
        ("POST", "/v1/pipelines/pc/config", "GET, PUT"),
        ("GET", "/v1/pipelines/pc/pause", "PUT"),
        ("POST", "/v1/pipelines/pc/resume", "PUT"),
        ("GET", "/v1/pipelines/pc/stop", "PUT"),
        ("PUT", "/v1/pipelines/pc/restart", "POST"),
        ("POST", "/metrics", "GET"),
    ):
        r = err(verb, path, 405, f"use {allow}")
        assert r.headers["allow"] == allow, (verb, path, r.headers)

    # 409: resume of a running pipeline
    err("PUT", "/v1/pipelines/pc/resume", 409, "pipeline pc is not paused (state RUNNING)",
        token=TOKEN)

    # the config comes back as JSON with the password masked and no secret anywhere
    for path in ("/v1/pipelines/pc/config", "/v1/pipelines/pc"):
        r = api.call("GET", path)
        assert r.status == 200
        assert b'"password":"***"' in r.body
        assert f'"password":"{MARIADB_PASSWORD}"'.encode() not in r.body
        assert TOKEN.encode() not in r.body
    cfg = api.call("GET", "/v1/pipelines/pc/config").json()
    assert cfg["source"]["password"] == "***"
    assert cfg["source"]["server_id"] == pc["source"]["server_id"]
    assert cfg["source"]["include"] == pc["source"]["include"]
    assert cfg["batch"] == {"max_events": 4, "max_ms": 20}
    assert cfg["sink"]["topic"] == "{schema}.{table}.pc"

    # creating, changing and deleting pipelines: every 4xx, each naming the field at fault
    pd = pipeline("pd", db, start)

    def bad(method, path, body, status, needle, field=None, **kw):
        r = err(method, path, status, needle, token=TOKEN, body=body, **kw)
        if field is not None:
            assert r.json().get("field") == field, (method, path, r.body)
        return r

    for method, path in (("POST", "/v1/pipelines"), ("PUT", "/v1/pipelines/pc/config"),
                         ("DELETE", "/v1/pipelines/pc")):
        body = pd if method == "POST" else pc if method == "PUT" else None
        r = err(method, path, 401, "Bearer", body=body)
        assert r.headers["www-authenticate"].startswith("Bearer")
        err(method, path, 403, "wrong", token=TOKEN + "x", body=body)
    for path, cfg in (("/v1/pipelines", pd), ("/v1/pipelines/pc/config", pc)):
        m = "POST" if path == "/v1/pipelines" else "PUT"
        bad(m, path, None, 400, "the request body is empty", "")
        bad(m, path, b'{"name": "pd", "source": ', 400, "invalid JSON", "")
        bad(m, path, b"name: pd\nsource: {user: u, server_id: 9}\n", 400, "invalid JSON", "")
        bad(m, path, b"[1]", 400, "expected a JSON object at the top level, got a list", "")
        bad(m, path, {**cfg, "source": {**cfg["source"], "port": "x"}}, 400,
            'request body:1: source.port: expected an integer from 1 to 65535, got "x"',
            "source.port")
        bad(m, path, {**cfg, "sinks": {}}, 400, "sinks: unknown key (known: name, source", "sinks")
        bad(m, path, {**cfg, "source": {**cfg["source"], "user": "${HOME}"}}, 400,
            "source.user: ${NAME} references are only allowed in secret keys", "source.user")
        bad(m, path, {k: v for k, v in cfg.items() if k != "source"}, 400,
            "source: required key is missing", "source")
        bad(m, path, {**cfg, "transforms": [{"engine": "lua", "file": "nope.lua"}]}, 400,
            "transforms[0]", "transforms")
    bad("POST", "/v1/pipelines", {**pd, "name": "a b"}, 400, "name: expected 1 to 64 characters",
        "name")
    bad("PUT", "/v1/pipelines/pc/config", {**pc, "name": "pz"}, 400,
        'name: "pz" differs from the pipeline in the path (pc)', "name")
    # 409: the name exists; the server_id is taken on the same source (not on another one)
    bad("POST", "/v1/pipelines", {**pd, "name": "pc"}, 409, "pipeline pc already exists", "name")
    taken = {**pd, "source": {**pd["source"], "server_id": pc["source"]["server_id"]}}
    bad("POST", "/v1/pipelines", taken, 409,
        f"source.server_id: {pc['source']['server_id']} is already used by pipeline pc on the "
        "same source", "source.server_id")
    # a pipeline of the config file is deleted by editing the file
    bad("DELETE", "/v1/pipelines/pc", None, 409, "pipeline pc is defined in the config file")
    # 404 and 405 for the new methods
    bad("PUT", "/v1/pipelines/nope/config", pc, 404, "no such pipeline: nope")
    bad("DELETE", "/v1/pipelines/nope", None, 404, "no such pipeline: nope")
    err("PATCH", "/v1/pipelines/pc/config", 405, "use GET, PUT")
    # seek: only a stopped pipeline, a valid file and pos
    at = api.call("GET", "/v1/pipelines/pc/position").json()
    assert at is None or at["file"] == start[0]
    seek = {"file": start[0], "pos": start[1]}
    err("PATCH", "/v1/pipelines/pc/position", 401, "Bearer", body=seek)
    err("PATCH", "/v1/pipelines/pc/position", 403, "wrong", token=TOKEN + "x", body=seek)
    bad("PATCH", "/v1/pipelines/nope/position", seek, 404, "no such pipeline: nope")
    bad("PATCH", "/v1/pipelines/pc/position", seek, 409,
        "pipeline pc is RUNNING: stop it before moving its position")
    bad("PATCH", "/v1/pipelines/pc/position", {"file": "a/b", "pos": 4}, 400,
        'file: expected a binlog file name (1 to 255 characters, no directory), got "a/b"', "file")
    bad("PATCH", "/v1/pipelines/pc/position", {"file": "x", "pos": 3}, 400,
        "pos: expected an integer from 4 to 4294967295, got \"3\"", "pos")
    bad("PATCH", "/v1/pipelines/pc/position", {"file": "x"}, 400, "pos: required key is missing",
        "pos")
    bad("PATCH", "/v1/pipelines/pc/position", None, 400, "the request body is empty", "")
    err("DELETE", "/v1/pipelines/pc/position", 405, "use GET, PATCH")
    # PUT .../transform (the live swap itself: test_rest_pipelines): token, pipeline, body, script
    xf = {"transforms": [{"engine": "lua", "script": "function transform(e) end"}]}
    err("PUT", "/v1/pipelines/pc/transform", 401, "Bearer", body=xf)
    err("PUT", "/v1/pipelines/pc/transform", 403, "wrong", token=TOKEN + "x", body=xf)
    bad("PUT", "/v1/pipelines/nope/transform", xf, 404, "no such pipeline: nope")
    bad("PUT", "/v1/pipelines/pc/transform", {"transforms": 1}, 400,
        "request body: transforms: required, a list", "transforms")
    bad("PUT", "/v1/pipelines/pc/transform", {"transforms": [{"engine": "lua", "script": 1}]},
        400, "transforms[0].script: required, the script's text as a string",
        "transforms[0].script")
    r = bad("PUT", "/v1/pipelines/pc/transform",
            {"transforms": [{"engine": "js", "script": "function transform(e) {\n  return (;\n}"}]},
            422, "pipeline pc: transforms[0]: transforms[0]:2:", "transforms[0].script")
    assert r.json()["line"] == 2, r.body
    err("POST", "/v1/pipelines/pc/transform", 405, "use GET, PUT")
    assert api.call("GET", "/v1/pipelines/pc/transform").json() == {"source": "config",
                                                                    "transforms": []}
    err("GET", "/v1/pipelines/nope/transform", 404, "no such pipeline: nope")
    # 413: bodies are small; h2o refuses more than 1 MiB before rowcast sees it
    # (a raw socket: h2o answers on the Content-Length and closes while a client still sends)
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as s:
        s.sendall(b"POST /v1/pipelines HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                  + TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 2097152\r\n\r\n{" + b" " * 1000)
        head = s.recv(200)
    assert head.startswith(b"HTTP/1.1 413"), head
    # nothing of the above changed anything
    assert api.call("GET", "/v1/pipelines").json() == ["pc"]
    assert api.status("pc")["state"] == "RUNNING"
    assert api.call("GET", "/v1/pipelines/pc/config").json()["source"]["server_id"] == \
        pc["source"]["server_id"]
    # a valid change of a config-file pipeline is accepted (here without a pipelines_dir)
    r = api.call("PUT", "/v1/pipelines/pc/config", token=TOKEN, body={**pc, "queue_batches": 3})
    assert r.status == 202, r.body
    # the change happens in the background (stop, last position written, start): wait for it
    deadline = time.monotonic() + 60
    while api.call("GET", "/v1/pipelines/pc/config").json()["queue_batches"] != 3:
        assert time.monotonic() < deadline, "the config change did not take effect"
        time.sleep(0.1)
    api.wait("pc", lambda st: st["state"] == "RUNNING", "RUNNING after the change")

    # GET endpoints stay open with a token configured; every documented (path, method) answered
    api.call("GET", "/v1/pipelines?expand=status")
    api.call("GET", "/metrics")
    api.call("POST", "/v1/transform/test", token=TOKEN,
             body={"engine": "lua", "script": "function transform(e) end", "event": TT_EVENT})
    documented = {(t, m) for t, ops in SPEC["paths"].items() for m in ops if m != "parameters"}
    seen = {(t, m) for t, m, _ in api.checked}
    assert documented <= seen, f"not exercised: {sorted(documented - seen)}"


def test_status_shows_executed_gtid_set_and_checkpoint(mysql, db, rowcast, tmp_path):
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v INT)")
    proc, api = start_server(rowcast, tmp_path, [pipeline("gtidstat", db, master_status(mysql))])
    st = api.status("gtidstat")
    assert st["checkpoint"] is None or st["checkpoint"]["pipeline"] == "gtidstat"
    with mysql.cursor() as cur:
        for i in range(5):
            cur.execute(f"INSERT INTO `{db}`.t VALUES (%s, %s)", (i, i))
        cur.execute("SELECT @@gtid_binlog_pos, @@server_id")
        gtid_pos, sid = cur.fetchone()
    check_topic(f"{db}.t.gtidstat", 5, proc)
    st = api.wait(
        "gtidstat",
        lambda s: s["checkpoint"] is not None and s["checkpoint"]["gtid_set"] == gtid_pos,
        f"a checkpoint at {gtid_pos}",
    )
    assert st["executed_gtid_set"] == gtid_pos
    cp = st["checkpoint"]
    assert cp["flavor"] == "mariadb" and cp["server_id"] == sid and cp["format"] == 1
    assert (cp["binlog_file"], cp["binlog_pos"]) == master_status(mysql)


TT_EVENT = {
    "schema": "shop", "table": "users", "op": "insert",
    "after": [{"id": 1, "email": "a@b.c"}],
    "kafka": {"topic": "shop.users", "key": "1"},
}


def test_transform_test_dry_runs_scripts(mysql, db, rowcast, tmp_path):
    proc, api = start_server(rowcast, tmp_path, [])
    path = "/v1/transform/test"

    def tt(engine, script, status=200, token=TOKEN, **extra):
        body = {"engine": engine, "script": script, "event": TT_EVENT, **extra}
        r = api.call("POST", path, token=token, body=body)
        assert r.status == status, r.body
        return r.json()

    # modify, drop, fan out: the messages transform-test would print
    lua = tt("lua", "function transform(e) e.after[1].email = 'x' end")
    assert lua == {"action": "send", "events": [{"topic": "shop.users", "key": "1", "value": {
        "schema": "shop", "table": "users", "op": "insert", "after": [{"id": 1, "email": "x"}]}}]}
    js = tt("js", "function transform(e) { e.after[0].email = 'x'; return e; }")
    assert js == lua
    assert tt("js", "function transform(e) { return ACTION_DROP; }") == \
        {"action": "drop", "events": []}
    assert tt("lua", "function transform(e) return ACTION_DROP end")["action"] == "drop"
    fan = tt("lua", "function transform(e)\n local b = copy(e)\n b.kafka.topic = 'audit'\n"
                    " b.kafka.key = nil\n return {e, b}\nend")
    assert [(m["topic"], m["key"]) for m in fan["events"]] == [("shop.users", "1"), ("audit", None)]
    fan = tt("js", "function transform(e) { var b = JSON.parse(JSON.stringify(e));\n"
                   " b.kafka.topic = 'audit'; return [e, b]; }")
    assert [m["topic"] for m in fan["events"]] == ["shop.users", "audit"]

    # errors name the line, without a file
    err = tt("lua", "x = 1\n\nfunction transform(e) e.x = end", 422)["error"]
    assert err.startswith("script:3:") and "pipeline" not in err, err
    err = tt("js", "function transform(e) {\n  throw new Error('boom');\n}", 422)["error"]
    assert "script:2: Error: boom" in err and "pipeline" not in err, err
    err = tt("lua", "local y = 2", 422)["error"]
    assert "must define a function transform" in err, err

    # endless loops, in transform and at the top level, end with the budget; the loop answers
    for engine, script, budget in (("lua", "function transform(e) while true do end end", None),
                                   ("js", "function transform(e) { for (;;) {} }", 300),
                                   ("lua", "\nwhile true do end", 300),
                                   ("js", "\nfor (;;) {}", 300)):
        extra = {} if budget is None else {"budget_ms": budget}
        body = {"engine": engine, "script": script, "event": TT_EVENT, **extra}
        t0 = time.monotonic()
        result = {}
        th = threading.Thread(target=lambda: result.update(r=api.call(
            "POST", path, token=TOKEN, body=body)))
        th.start()
        while th.is_alive():
            r = api.call("GET", "/healthz", check=False)
            assert r.status == 200
            time.sleep(0.05)
        th.join()
        assert time.monotonic() - t0 < 5, (engine, script)
        assert result["r"].status == 422, result["r"].body
        assert "time budget" in result["r"].json()["error"], result["r"].body

    # 400s name the field
    def bad(body, field, status=400):
        r = api.call("POST", path, token=TOKEN, body=body)
        assert r.status == status, (body, r.body)
        assert r.json()["field"] == field, (body, r.body)

    ok = {"engine": "lua", "script": "function transform(e) end", "event": TT_EVENT}
    bad({k: v for k, v in ok.items() if k != "engine"}, "engine")
    bad({**ok, "engine": "python"}, "engine")
    bad({k: v for k, v in ok.items() if k != "script"}, "script")
    bad({**ok, "script": 5}, "script")
    bad({k: v for k, v in ok.items() if k != "event"}, "event")
    bad({**ok, "event": [1]}, "event")
    bad({**ok, "budget_ms": 0}, "budget_ms")
    bad({**ok, "budget_ms": "9"}, "budget_ms")
    bad({**ok, "udfs": []}, "udfs")
    bad("{not json", "")
    bad("[]", "")
    r = api.call("POST", path, token=TOKEN, body="")
    assert r.status == 400
    # 413 past 1 MiB (a raw socket: h2o answers on the Content-Length and closes)
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as s:
        s.sendall(b"POST /v1/transform/test HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                  + TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 2097152\r\n\r\n{" + b" " * 1000)
        head = s.recv(200)
    assert head.startswith(b"HTTP/1.1 413"), head
    # budget_ms that is not a number (once crashed the UBSan build)
    bad({**ok, "budget_ms": "x"}, "budget_ms")
    bad({**ok, "budget_ms": None}, "budget_ms")
    bad({**ok, "budget_ms": -1}, "budget_ms")
    # it runs user code: the token is needed when one is set
    r = api.call("POST", path, body=ok)
    assert r.status == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert api.call("POST", path, token=TOKEN + "x", body=ok).status == 403
    r = api.call("GET", path)
    assert r.status == 405 and r.headers["allow"] == "POST"
    proc.assert_alive()
