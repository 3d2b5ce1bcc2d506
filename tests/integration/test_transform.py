"""End-to-end transforms: a Lua and a JS pipeline (the example scripts in deploy/examples)
route by table, drop by content and mask a column; a real consumer checks what reached Kafka.
A broken script stops --check and startup with exit 2, naming file and line."""

import re
import shutil
import socket
import time
import urllib.request
from pathlib import Path

from conftest import consume, master_status, pipeline_config, topic_partitions

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "examples"


def _pipeline(name, db, start, engine, script):
    p = pipeline_config(name, db, start)["pipelines"][0]
    p["transforms"] = [{"engine": engine, "file": script}]
    p["on_error"] = "fail"
    return p


def _write_rows(mysql, db):
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.users (id INT PRIMARY KEY, email VARCHAR(100), "
                    "status VARCHAR(16))")
        cur.execute(f"CREATE TABLE `{db}`.audit_log (id INT PRIMARY KEY, note VARCHAR(100), "
                    "status VARCHAR(16))")
        cur.execute(f"INSERT INTO `{db}`.users VALUES (1, 'alice@example.com', 'live'), "
                    "(2, 'bob@example.com', 'test'), (3, NULL, 'live')")
        cur.execute(f"UPDATE `{db}`.users SET email = 'alice2@example.org' WHERE id = 1")
        cur.execute(f"DELETE FROM `{db}`.users WHERE id = 2")
        cur.execute(f"INSERT INTO `{db}`.audit_log VALUES (1, 'created', 'live'), "
                    "(2, 'ignore me', 'test')")


def _check(db, proc):
    users = [m.json() for m in consume(f"{db}.users", 3, process=proc)]
    assert [(u["action"], (u["after"] or u["before"])[0]["id"]) for u in users] == [
        ("insert", 1), ("insert", 3), ("update", 1)
    ], users
    assert users[0]["after"][0]["email"] == "a***@example.com"
    assert users[1]["after"][0]["email"] is None
    assert users[2]["before"][0]["email"] == "a***@example.com"
    assert users[2]["after"][0]["email"] == "a***@example.org"
    assert all("bob" not in str(u) for u in users), "a dropped row reached Kafka"
    audit = [m.json() for m in consume(f"{db}.audit", 1, process=proc)]
    assert [(a["table"], a["after"][0]["id"], a["after"][0]["note"]) for a in audit] == [
        ("audit_log", 1, "created")
    ], audit
    assert topic_partitions(f"{db}.audit_log") is None, "audit_log was not routed"


def test_lua_and_js_pipelines_route_drop_and_mask(mysql, db, rowcast, tmp_path):
    db_js = db + "_js"
    with mysql.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db_js}` CHARACTER SET utf8mb4")
    try:
        # The Lua script by absolute path, the JS one relative to the config file.
        (tmp_path / "scripts").mkdir()
        shutil.copy(EXAMPLES / "mask.js", tmp_path / "scripts" / "mask.js")
        start = master_status(mysql)
        cfg = pipeline_config("it_xf_lua", db, start)
        cfg["pipelines"] = [
            _pipeline("it_xf_lua", db, start, "lua", str(EXAMPLES / "mask.lua")),
            _pipeline("it_xf_js", db_js, start, "js", "scripts/mask.js"),
        ]
        proc = rowcast.start(cfg)
        _write_rows(mysql, db)
        _write_rows(mysql, db_js)
        _check(db, proc)
        _check(db_js, proc)
        proc.assert_alive()
    finally:
        with mysql.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db_js}`")


def test_script_error_fails_the_pipeline_or_is_skipped(mysql, db, rowcast, tmp_path):
    """on_error: fail stops the pipeline with the script's message (file and line); skip sends
    the other events."""
    (tmp_path / "boom.lua").write_text(
        "function transform(e)\n"
        "  if e.after[1] and e.after[1].v == 2 then error('no twos') end\n"
        "end\n")
    start = master_status(mysql)
    cfg = pipeline_config("it_xf_skip", db, start)
    p = _pipeline("it_xf_skip", db, start, "lua", "boom.lua")
    p["on_error"] = "skip"
    cfg["pipelines"] = [p]
    proc = rowcast.start(cfg)
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v INT)")
        cur.execute(f"INSERT INTO `{db}`.t VALUES (1, 1), (2, 2), (3, 3)")
    msgs = [m.json() for m in consume(f"{db}.t", 2, process=proc)]
    assert [m["after"][0]["id"] for m in msgs] == [1, 3]
    deadline = time.time() + 10
    err = ""
    while time.time() < deadline and "no twos" not in err:
        err = proc.stderr_path.read_text(errors="replace")
        time.sleep(0.2)
    assert re.search(r"boom\.lua:2: no twos", err), err


def test_dead_letter_sends_failed_events_with_the_error_in_headers(mysql, db, rowcast, tmp_path):
    """on_error: dead_letter: the failed event reaches the dead-letter topic unchanged, with
    the error, the script and its own topic as headers; the others reach their topic."""
    (tmp_path / "picky.js").write_text(
        "function transform(e) {\n"
        "  if (e.after[0] && e.after[0].v === 2) throw new Error('no twos');\n"
        "  e.after[0].seen = true;\n"
        "}\n")
    start = master_status(mysql)
    cfg = pipeline_config("it_xf_dlq", db, start)
    with socket.socket() as sock:  # a free port for /metrics
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg["http"] = {"listen": f"127.0.0.1:{port}"}
    p = _pipeline("it_xf_dlq", db, start, "js", "picky.js")
    p["on_error"] = "dead_letter"
    p["dead_letter_topic"] = db + ".{pipeline}.dlq"
    cfg["pipelines"] = [p]
    proc = rowcast.start(cfg)
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v INT)")
        cur.execute(f"INSERT INTO `{db}`.t VALUES (1, 1), (2, 2), (3, 3)")
    msgs = [m.json() for m in consume(f"{db}.t", 2, process=proc)]
    assert [(m["after"][0]["id"], m["after"][0]["seen"]) for m in msgs] == [(1, True), (3, True)]
    dead = consume(f"{db}.it_xf_dlq.dlq", 1, process=proc)
    ev = dead[0].json()
    assert ev["after"] == [{"id": 2, "v": 2}], ev  # as it entered the script
    headers = dict(dead[0].headers)
    assert re.search(rb"picky\.js:2: Error: no twos", headers["rowcast.error"]), headers
    assert headers["rowcast.transform"].endswith(b"picky.js"), headers
    assert headers["rowcast.topic"] == f"{db}.t".encode(), headers
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    assert re.search(rb'rowcast_events_dead_lettered_total\{pipeline="it_xf_dlq"\} 1\b', metrics), \
        metrics
    proc.assert_alive()


def test_js_endless_loop_is_stopped_by_the_time_budget(mysql, db, rowcast, tmp_path):
    """duktape cannot interrupt a script by itself: the rewritten script checks the budget in
    its loops, so the looping event is skipped and the pipeline goes on."""
    (tmp_path / "spin.js").write_text(
        "function transform(e) {\n"
        "  var r = e.after[0];\n"
        "  while (r && r.v === 2) { try { for (;;) {} } catch (x) {} }\n"
        "}\n")
    start = master_status(mysql)
    cfg = pipeline_config("it_xf_spin", db, start)
    p = _pipeline("it_xf_spin", db, start, "js", "spin.js")
    p["on_error"] = "skip"
    p["transform_budget_ms"] = 200
    cfg["pipelines"] = [p]
    proc = rowcast.start(cfg)
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v INT)")
        cur.execute(f"INSERT INTO `{db}`.t VALUES (1, 1), (2, 2), (3, 3)")
    msgs = [m.json() for m in consume(f"{db}.t", 2, process=proc)]
    assert [m["after"][0]["id"] for m in msgs] == [1, 3]
    deadline = time.time() + 10
    err = ""
    while time.time() < deadline and "time budget" not in err:
        err = proc.stderr_path.read_text(errors="replace")
        time.sleep(0.2)
    assert re.search(r"spin\.js:3: Error: the time budget of 200 ms per batch ran out", err), err
    proc.assert_alive()


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
@pytest.mark.parametrize(
    "engine,text,want",
    [
        ("lua", "function transform(e)\n  return e +\nend\n", r"bad\.lua:3: unexpected symbol"),
        ("js", "var transform = function (e) {\n  return e => e;\n};\n",
         r"bad\.js:2: SyntaxError.*duktape runs ES5\.1: use function\(e\)\{\}"),
        ("lua", "function transform(e)\n  return io.open('/etc/passwd')\nend\nio.write('x')\n",
         r"bad\.lua:4: attempt to index global 'io'"),
        ("js", "var x = require('fs');\nfunction transform(e) {}\n",
         r"bad\.js:1: ReferenceError: identifier 'require' undefined"),
    ],
    ids=["lua-syntax", "js-arrow", "lua-io", "js-require"],
)
def test_broken_script_exits_2_naming_file_and_line(rowcast, tmp_path, engine, text, want, check):
    script = tmp_path / f"bad.{engine}"
    script.write_text(text)
    cfg = pipeline_config("it_xf_bad", "it_xf_bad_db", ("mariadb-bin.000001", 4))
    cfg["pipelines"][0]["transforms"] = [{"engine": engine, "file": script.name}]
    path = rowcast.write_config(cfg, "bad.yaml")
    res = rowcast.run(["--config", str(path)] + (["--check"] if check else []), timeout=30)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 2, f"exit status {res.returncode}, stderr:\n{err}"
    assert re.search(want, err), err
    assert "pipeline it_xf_bad: transforms[0]:" in err, err


SAMPLE_EVENT = """{"schema": "shop", "table": "users", "action": "update",
 "before": [{"id": 1, "email": "alice@example.com", "status": "live"}],
 "after": [{"id": 1, "email": "alice2@example.org", "status": "live",
            "big": 18446744073709551615, "n": null}],
 "meta": {"pipeline": "shop", "timestamp": 1700000000000000, "gtid": null},
 "kafka": {"topic": "shop.users", "key": {"id": 1}, "headers": {}}}"""


@pytest.mark.parametrize("script", ["mask.lua", "mask.js"])
def test_transform_test_dry_run_prints_the_messages(rowcast, tmp_path, script):
    import json

    event = tmp_path / "event.json"
    event.write_text(SAMPLE_EVENT)
    res = rowcast.run(["transform-test", "--script", str(EXAMPLES / script), "--event",
                       str(event)])
    err = res.stderr.decode()
    assert res.returncode == 0, err
    lines = res.stdout.decode().splitlines()
    assert len(lines) == 1, lines
    msg = json.loads(lines[0])
    assert msg["topic"] == "shop.users" and msg["key"] == {"id": 1}
    assert msg["value"]["before"][0]["email"] == "a***@example.com"
    assert msg["value"]["after"][0] == {"id": 1, "email": "a***@example.org", "status": "live",
                                        "big": 18446744073709551615, "n": None}
    assert "1 event in, 1 message out" in err

    event.write_text(SAMPLE_EVENT.replace('"live"', '"test"'))
    res = rowcast.run(["transform-test", "--script", str(EXAMPLES / script), "--event",
                       str(event)])
    assert res.returncode == 0 and res.stdout == b"", res.stderr
    assert b"0 messages out (dropped)" in res.stderr


def test_transform_test_reports_script_errors(rowcast, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(SAMPLE_EVENT)
    bad = tmp_path / "route.js"
    bad.write_text("function transform(e) {\n  e.kafka.topic = 'no/slashes';\n}\n")
    res = rowcast.run(["transform-test", "--script", str(bad), "--event", str(event)])
    assert res.returncode == 1, res.stderr
    assert b"is not a valid Kafka topic name" in res.stderr
    bad.write_text("function transform(e) {\n  return e.;\n}\n")
    res = rowcast.run(["transform-test", "--script", str(bad), "--event", str(event)])
    assert res.returncode == 2 and b"route.js:2: SyntaxError" in res.stderr, res.stderr
    event.write_text("[1, 2")
    res = rowcast.run(["transform-test", "--script", str(EXAMPLES / "mask.lua"), "--event",
                       str(event)])
    assert res.returncode == 2 and b"cannot read it as one JSON object" in res.stderr
