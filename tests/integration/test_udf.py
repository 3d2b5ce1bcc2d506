"""UDFs end to end: a Lua and a JS pipeline run the scrub examples (deploy/examples) with the
example plugin loaded from the config's `udfs:` list; a real consumer checks that both engines
sent the same pseudonyms. Bad plugins stop --check and startup with exit 2 naming the file."""

import hashlib
import os
import re
import shutil
from pathlib import Path

from conftest import consume, master_status, pipeline_config

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "examples"
PLUGIN = os.environ.get("RC_UDF_EXAMPLE", "build/test/udf/rowcast_udf_example.so")
BAD_VERSION = os.environ.get("RC_UDF_BAD_VERSION", "build/test/tests/udf_test_bad_version.so")


def _pipeline(name, db, start, engine, script):
    p = pipeline_config(name, db, start)["pipelines"][0]
    p["transforms"] = [{"engine": engine, "file": script}]
    return p


def _write_rows(mysql, db):
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.people (id INT PRIMARY KEY, name VARCHAR(100), "
                    "email VARCHAR(100), card VARCHAR(32))")
        cur.execute(f"INSERT INTO `{db}`.people VALUES "
                    "(1, 'Alice Martin', 'alice@example.com', '4111-1111-1111-1234'), "
                    "(2, 'Zoë Ødegård', NULL, NULL)")
        cur.execute(f"UPDATE `{db}`.people SET email = 'alice@example.org' WHERE id = 1")


def _rows(db, proc):
    msgs = [m.json() for m in consume(f"{db}.people", 3, process=proc)]
    assert [(m["action"], (m["after"] or m["before"])[0]["id"]) for m in msgs] == [
        ("insert", 1), ("insert", 2), ("update", 1)], msgs
    return msgs


def _same_classes(a, b):
    assert len(a) == len(b), (a, b)
    for x, y in zip(a, b):
        if x.isascii() and x.isalpha():
            assert y.isascii() and y.isalpha() and x.isupper() == y.isupper(), (a, b)
        elif x.isdigit():
            assert y.isdigit(), (a, b)
        elif x.isascii():
            assert x == y, (a, b)
        else:
            assert "\u00e0" <= y <= "\u00ff" and y != "\u00f7", (a, b)


def test_lua_and_js_pipelines_scrub_with_udfs_and_a_plugin(mysql, db, rowcast, tmp_path):
    db_js = db + "_js"
    with mysql.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db_js}` CHARACTER SET utf8mb4")
    try:
        shutil.copy(PLUGIN, tmp_path / "rowcast_udf_example.so")
        start = master_status(mysql)
        cfg = pipeline_config("it_udf_lua", db, start)
        cfg["udfs"] = ["rowcast_udf_example.so"]  # relative to the config file
        cfg["pipelines"] = [
            _pipeline("it_udf_lua", db, start, "lua", str(EXAMPLES / "scrub.lua")),
            _pipeline("it_udf_js", db_js, start, "js", str(EXAMPLES / "scrub.js")),
        ]
        proc = rowcast.start(cfg)
        _write_rows(mysql, db)
        _write_rows(mysql, db_js)
        lua, js = _rows(db, proc), _rows(db_js, proc)
        for m in lua + js:
            for r in m["before"] + m["after"]:
                if r["id"] == 1:
                    _same_classes("Alice Martin", r["name"])
                    assert r["name"] != "Alice Martin"
                    assert r["email"] in ("a****@example.com", "a****@example.org"), r
                    plain = "alice@" + r["email"].split("@")[1]
                    assert r["email_sha256"] == hashlib.sha256(plain.encode()).hexdigest()
                    assert r["card"] == "XXXX-XXXX-XXXX-1234"
                else:
                    _same_classes("Zoë Ødegård", r["name"])
                    assert r["email"] is None and r["card"] is None
                    assert r["email_sha256"] is None  # UDFs give NULL back for NULL
        # deterministic and the same C function behind both engines: identical pseudonyms
        names = {(m["after"][0]["id"], m["after"][0]["name"]) for m in lua + js}
        assert len(names) == 2, names
        for a, b in zip(lua, js):
            assert a["after"] == b["after"] and a["before"] == b["before"]
        proc.assert_alive()
    finally:
        with mysql.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db_js}`")


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
@pytest.mark.parametrize("which", ["missing", "bad_version"])
def test_bad_plugin_exits_2_naming_the_file(rowcast, tmp_path, which, check):
    plugin = "nope.so" if which == "missing" else str(Path(BAD_VERSION).resolve())
    cfg = pipeline_config("it_udf_bad", "it_udf_bad_db", ("mariadb-bin.000001", 4))
    cfg["udfs"] = [plugin]
    path = rowcast.write_config(cfg, "bad.yaml")
    res = rowcast.run(["--config", str(path)] + (["--check"] if check else []), timeout=30)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 2, f"exit status {res.returncode}, stderr:\n{err}"
    want = (r"udfs\[0\]: .*nope\.so: cannot load the UDF plugin: No such file" if which == "missing"
            else r"udfs\[0\]: .*udf_test_bad_version\.so: the plugin was built for UDF ABI "
                 r"version 42, this rowcast speaks version 1")
    assert re.search(want, err), err


def test_help_udfs_lists_builtins_and_the_configs_plugins(rowcast, tmp_path):
    res = rowcast.run(["--help-udfs"])
    out = res.stdout.decode()
    assert res.returncode == 0
    for name in ["obf_string", "tObfString", "mask_email", "sha256", "hmac_sha256",
                 "base64_encode", "base64_decode", "json_encode", "json_decode", "now_us",
                 "format_time", "uuid"]:
        assert re.search(rf"^{name}\(.*\) -> \w+: ", out, re.M), (name, out)
    assert "mask_digits" not in out
    cfg = pipeline_config("it_udf_help", "it_udf_help_db", ("mariadb-bin.000001", 4))
    cfg["udfs"] = [str(Path(PLUGIN).resolve())]
    path = rowcast.write_config(cfg, "help.yaml")
    res = rowcast.run(["--config", str(path), "--help-udfs"])
    out = res.stdout.decode()
    assert res.returncode == 0, res.stderr
    assert re.search(r"^mask_digits\(s \[, keep_last\]\) -> string: .*\[.*rowcast_udf_example\.so\]$",
                     out, re.M), out


@pytest.mark.parametrize("script", ["scrub.lua", "scrub.js"])
def test_transform_test_loads_plugins_with_udf(rowcast, tmp_path, script):
    import json

    event = tmp_path / "event.json"
    event.write_text('{"schema": "shop", "table": "people", "action": "insert", "before": [],'
                     ' "after": [{"id": 1, "name": "Ann", "email": "ann@example.com",'
                     ' "card": "4111111111111234"}], "meta": {}, "kafka": {"topic": "shop.people",'
                     ' "key": {"id": 1}, "headers": {}}}')
    res = rowcast.run(["transform-test", "--udf", str(Path(PLUGIN).resolve()), "--script",
                       str(EXAMPLES / script), "--event", str(event)])
    assert res.returncode == 0, res.stderr
    row = json.loads(res.stdout.decode().splitlines()[0])["value"]["after"][0]
    assert row["card"] == "XXXXXXXXXXXX1234" and row["email"] == "a**@example.com"
    res = rowcast.run(["transform-test", "--udf", str(tmp_path / "missing.so"), "--script",
                       str(EXAMPLES / script), "--event", str(event)])
    assert res.returncode == 2
    assert b"missing.so: cannot load the UDF plugin" in res.stderr
