"""Pipelines created, changed and deleted over REST, kept in pipelines_dir across restarts; a config
directory; SIGTERM within the shutdown grace; the end-to-end latency and drop metrics.

Real binary, real MariaDB and Kafka. Every response is checked against openapi.yaml (test_rest.Api).
"""

import datetime
import json
import os
import re
import signal
import stat
import subprocess
import threading
import time
import uuid

import pytest

from conftest import KAFKA_BROKERS, REPO, consume, last_gtid, master_status
from test_rest import TOKEN, Api, Writer, delivered, free_port, pipeline

DROP_LUA = "function transform(e)\n  if e.after[1].id % 4 == 0 then return ACTION_DROP end\nend\n"


def server_config(tmp_path, port, **extra):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    cfg = {
        "log_level": "info",
        "shutdown_grace": 10,
        "http": {"listen": f"127.0.0.1:{port}", "token_file": str(token_file)},
        "kafka": {"brokers": KAFKA_BROKERS, "rdkafka": {"linger.ms": 5}},
        "pipelines_dir": "state",
        # positions of this test only (kept across its process restarts)
        "state": {"topic": f"it-state-{uuid.uuid4().hex[:12]}", "interval_ms": 200},
    }
    cfg.update(extra)
    return cfg


def serve(rowcast, cfg_or_path, port):
    proc = rowcast.start(cfg_or_path)
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


def metrics_of(api, name):
    m = api.metrics()
    lab = ("pipeline", name)
    return {k[0]: v for k, v in m.items() if lab in k[1] and len(k[1]) == 1}, m


def ids(topic, n, proc):
    return [m.json()["after"][0]["id"] for m in consume(topic, n, process=proc)]


def test_pipelines_created_over_rest_stream_change_delete_and_come_back(mysql, db, rowcast,
                                                                        tmp_path):
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40))")
    start = master_status(mysql)
    (tmp_path / "drop.lua").write_text(DROP_LUA)
    port = free_port()
    cfg_path = rowcast.write_config(server_config(tmp_path, port))
    proc, api = serve(rowcast, cfg_path, port)

    # no pipelines at all: listed empty, ready
    assert api.call("GET", "/v1/pipelines").json() == []
    assert api.call("GET", "/readyz", check=False).status == 200

    pa = pipeline("pa", db, start)
    pb = pipeline("pb", db, start)
    pb["transforms"] = [{"engine": "lua", "file": "drop.lua"}]  # next to the config file
    for p in (pa, pb):
        r = api.call("POST", "/v1/pipelines", token=TOKEN, body=p)
        assert r.status == 201, r.body
        assert r.headers["location"] == f"/v1/pipelines/{p['name']}"
        got = r.json()
        assert got["name"] == p["name"] and got["config"]["source"]["password"] == "***"
        assert got["config"]["source"]["server_id"] == p["source"]["server_id"]
        # kept as sent, readable by the owner only
        f = tmp_path / "state" / f"{p['name']}.json"
        assert json.loads(f.read_text()) == p
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert sorted(api.call("GET", "/v1/pipelines").json()) == ["pa", "pb"]
    assert api.call("GET", "/v1/pipelines/pb/transform").json() == {
        "source": "config", "transforms": [{"engine": "lua", "file": "drop.lua", "match": {}}]}
    assert not list((tmp_path / "state").glob(".*"))  # no temporary file left

    w = Writer(mysql, db)
    w.tx(10)  # ids 0..29; pb drops the multiples of 4 (8 of them)

    def kept(n):  # rows of 0..n-1 that pb sends
        return [i for i in range(n) if i % 4]

    api.wait("pa", delivered(30), "30 delivered")
    api.wait("pb", lambda st: st["counters"]["events_delivered"] >= len(kept(30)), "22 delivered")

    # metrics: the latency histogram counts every delivered event, drops are counted
    for name, want_delivered, want_dropped in (("pa", 30, 0), ("pb", len(kept(30)), 8)):
        m, _ = metrics_of(api, name)
        assert m["rowcast_events_delivered_total"] == want_delivered, name
        assert m["rowcast_events_dropped_total"] == want_dropped, name
        assert m["rowcast_events_read_total"] == 30, name
        assert m["rowcast_kafka_delivery_errors_total"] == 0, name
        assert m["rowcast_event_latency_seconds_count"] == want_delivered, name
        assert 0 < m["rowcast_event_latency_seconds_sum"] < 60 * want_delivered, name
        # every batch went through pb's script once; pa has none
        scripted = m["rowcast_batches_total"] if name == "pb" else 0
        assert m["rowcast_transform_duration_seconds_count"] == scripted, (name, m)
        assert (m["rowcast_transform_duration_seconds_sum"] > 0) == (name == "pb"), name
    _, allm = metrics_of(api, "pa")
    buckets = sorted(
        (float(dict(k[1])["le"]), v) for k, v in allm.items()
        if k[0] == "rowcast_event_latency_seconds_bucket" and ("pipeline", "pa") in k[1])
    assert buckets[-1] == (float("inf"), 30)
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
    assert [b for b in buckets if b[0] == 60.0][0][1] == 30  # all within a minute

    # pause pa: pb keeps flowing while pa reads nothing
    assert api.call("PUT", "/v1/pipelines/pa/pause", token=TOKEN).status == 202
    api.wait("pa", lambda st: st["state"] == "PAUSED", "PAUSED")
    w.tx(5)  # 45 rows
    api.wait("pb", lambda st: st["counters"]["events_read"] == 45, "pb read 45")
    time.sleep(0.5)
    assert api.status("pa")["counters"]["events_read"] == 30
    assert api.call("PUT", "/v1/pipelines/pa/resume", token=TOKEN).status == 202
    api.wait("pa", delivered(45), "pa caught up")

    # restart pa while rows keep coming: pb is not disturbed, pa misses nothing
    assert api.call("POST", "/v1/pipelines/pa/restart", token=TOKEN).status == 202
    w.tx(5)  # 60 rows
    api.wait("pb", lambda st: st["counters"]["events_read"] == 60, "pb read 60")
    assert api.status("pb")["counters"]["reconnects"] == 0
    api.wait("pa", lambda st: delivered(60)(st) and st["state"] == "RUNNING", "pa 60 delivered")

    # change pb's config: a new topic from the transaction boundary where it stopped on
    pb2 = {**pb, "sink": {**pb["sink"], "topic": "{schema}.{table}.pb2"}}
    r = api.call("PUT", "/v1/pipelines/pb/config", token=TOKEN, body=pb2)
    assert r.status == 202, r.body
    assert json.loads((tmp_path / "state" / "pb.json").read_text()) == pb2
    api.wait("pb", lambda st: st["state"] == "RUNNING" and
             api.call("GET", "/v1/pipelines/pb/config").json()["sink"]["topic"].endswith("pb2"),
             "RUNNING with the new config")
    w.tx(5)  # 75 rows
    api.wait("pa", delivered(75), "pa 75 delivered")
    first = ids(f"{db}.t.pb", 1, proc)  # whatever went to the old topic before the change
    api.wait("pb", lambda st: st["counters"]["events_delivered"] >= 1, "pb delivering again")
    old = ids(f"{db}.t.pb", len(kept(60)), proc)
    assert old == kept(60), old  # everything before the change, once
    new = ids(f"{db}.t.pb2", len(kept(75)) - len(kept(60)), proc)
    assert old + new == kept(75), new  # and after it: no row lost or sent twice
    assert first

    # an empty chain over REST (pa had none: events stay as read), kept until the delete
    r = api.call("PUT", "/v1/pipelines/pa/transform", token=TOKEN, body={"transforms": []})
    assert r.status == 202, r.body
    assert (tmp_path / "state" / "pa.transforms").exists()
    assert api.call("GET", "/v1/pipelines/pa/transform").json() == {"source": "rest",
                                                                    "transforms": []}
    # delete pa: it stops, its state files go, then it is gone; pb still flows
    r = api.call("DELETE", "/v1/pipelines/pa", token=TOKEN)
    assert r.status == 202, r.body
    assert not (tmp_path / "state" / "pa.json").exists()
    assert not (tmp_path / "state" / "pa.transforms").exists()
    deadline = time.monotonic() + 30
    while api.call("GET", "/v1/pipelines/pa").status != 404:
        assert time.monotonic() < deadline, "pa was not removed"
        time.sleep(0.1)
    assert api.call("GET", "/v1/pipelines").json() == ["pb"]
    assert ids(f"{db}.t.pa", 75, proc) == list(range(75))
    w.tx(1)  # 78 rows
    api.wait("pb", lambda st: st["counters"]["events_read"] >= 78 - 60, "pb after the delete")
    m, _ = metrics_of(api, "pb")
    assert m["rowcast_event_latency_seconds_count"] == m["rowcast_events_delivered_total"]

    # SIGTERM: exit 0; a new process brings pb back (from pipelines_dir) and not pa
    assert proc.stop() == 0
    assert "stopped" in (tmp_path / "rowcast-1.stderr").read_text()
    proc2, api2 = serve(rowcast, cfg_path, port)
    assert api2.call("GET", "/v1/pipelines").json() == ["pb"]
    cfg = api2.call("GET", "/v1/pipelines/pb/config").json()
    assert cfg["sink"]["topic"] == "{schema}.{table}.pb2" and cfg["source"]["password"] == "***"
    assert cfg["transforms"] == [{"engine": "lua", "file": "drop.lua", "match": {}}]
    api2.wait("pb", lambda st: st["state"] == "RUNNING", "pb running again after the restart")
    # it goes on from its position stored in Kafka: only the new rows, once
    w.tx(1)  # 81 rows
    st = api2.wait("pb", lambda st: st["counters"]["events_read"] >= 3, "pb reads the new rows")
    time.sleep(1)
    assert api2.status("pb")["counters"]["events_read"] == 3
    assert ids(f"{db}.t.pb2", len(kept(81)) - len(kept(60)), proc2) == kept(81)[len(kept(60)):]
    err2 = (tmp_path / "rowcast-2.stderr").read_text()
    assert "pipeline pb: loaded from" in err2, err2


def test_config_directory_check_and_rest_only_example(rowcast, tmp_path, mysql, db):
    start = master_status(mysql)
    d = tmp_path / "conf.d"
    d.mkdir()
    port = free_port()
    settings = server_config(tmp_path, port)
    settings["pipelines_dir"] = "../state"
    rowcast.write_config(settings, "conf.d/00-settings.yaml")
    rowcast.write_config({"pipelines": [pipeline("d1", db, start)]}, "conf.d/a.yaml")
    rowcast.write_config({"pipelines": [pipeline("d2", db, start), pipeline("d3", db, start)]},
                         "conf.d/b.yml")
    (d / "README.txt").write_text("not a config file\n")
    res = rowcast.run(["--config", str(d), "--check"])
    assert res.returncode == 0, res.stderr
    assert b"configuration is valid (3 pipelines)" in res.stdout
    # a REST-created pipeline kept in pipelines_dir is checked too
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "d4.json").write_text(json.dumps(pipeline("d4", db, start)))
    res = rowcast.run(["--config", str(d), "--check"])
    assert res.returncode == 0 and b"(4 pipelines)" in res.stdout, res
    (tmp_path / "state" / "d5.json").write_text(json.dumps({**pipeline("d5", db, start),
                                                            "queue_batches": 0}))
    res = rowcast.run(["--config", str(d), "--check"])
    assert res.returncode == 2
    assert "state/d5.json:1: queue_batches: expected an integer from 1 to 1024, got \"0\"" in \
        res.stderr.decode(), res.stderr
    (tmp_path / "state" / "d5.json").unlink()
    # an error in any file names it, its line and key
    rowcast.write_config({"pipelines": [{**pipeline("d6", db, start), "batch": {"max_ms": -1}}]},
                         "conf.d/c.yaml")
    res = rowcast.run(["--config", str(d), "--check"])
    assert res.returncode == 2
    assert "conf.d/c.yaml:" in res.stderr.decode() and "batch.max_ms: expected an integer" in \
        res.stderr.decode(), res.stderr
    (d / "c.yaml").unlink()
    # it runs: the directory's pipelines and the kept one
    proc, api = serve(rowcast, d, port)
    assert api.call("GET", "/v1/pipelines").json() == ["d1", "d2", "d3", "d4"]
    for n in ("d1", "d2", "d3", "d4"):
        api.wait(n, lambda st: st["state"] == "RUNNING", "RUNNING")
    # the example that starts with no pipelines is valid as shipped
    env = dict(os.environ, ROWCAST_TOKEN="x" * 20)
    res = rowcast.run(["--config", str(REPO / "deploy/examples/rest-only.yaml"), "--check"],
                      env=env)
    assert res.returncode == 0 and b"(0 pipelines)" in res.stdout, res
    assert not (REPO / "deploy/examples/state").exists()  # --check creates nothing


def test_sigterm_ends_the_transaction_and_flushes_within_the_grace(mysql, db, rowcast, tmp_path):
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40))")
    start = master_status(mysql)
    port = free_port()
    cfg = server_config(tmp_path, port, shutdown_grace=60)
    cfg["pipelines"] = [pipeline("ps", db, start)]  # 4-event batches, a one-batch queue
    proc, api = serve(rowcast, cfg, port)
    api.wait("ps", lambda st: st["state"] == "RUNNING", "RUNNING")
    w = Writer(mysql, db)
    w.tx(1, rows=20000)
    api.wait("ps", lambda st: st["counters"]["events_read"] > 0, "reading", 30, every=0.002)
    t0 = time.monotonic()
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(70) == 0, proc.describe()
    took = time.monotonic() - t0
    err = (tmp_path / "rowcast-1.stderr").read_text()
    assert "pipeline ps: 20000 events read, 20000 delivered, 0 failed, 1 transactions" in err, err
    # the whole transaction, once: SIGTERM waited for its end instead of cutting it
    assert ids(f"{db}.t.ps", 20000, proc) == list(range(20000))
    assert took < 60, took


def test_sigterm_past_the_grace_exits_non_zero_naming_the_pipeline(mysql, db, rowcast, tmp_path):
    """Kafka that never acknowledges what was sent: the process gives up at the grace, exits 1
    and names the pipeline and why. (Deterministic: a grace too short for a long transaction
    depended on how fast the machine was.)"""
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40))")
    start = master_status(mysql)
    port = free_port()
    cfg = server_config(tmp_path, port, shutdown_grace=2)
    # Kafka is there (the pipeline reads its stored position first) but never acknowledges the
    # data: the topic does not exist, the broker does not create topics and neither does
    # rowcast here, so the messages wait for it until they time out.
    p = pipeline("px", db, start)
    p["sink"]["create_topics"] = False
    cfg["pipelines"] = [p]
    proc, api = serve(rowcast, cfg, port)
    Writer(mysql, db).tx(2)
    api.wait("px", lambda st: st["counters"]["events_produced"] == 6, "6 produced")
    t0 = time.monotonic()
    proc.proc.send_signal(signal.SIGTERM)
    try:
        status = proc.proc.wait(15)
    except subprocess.TimeoutExpired:
        pytest.fail("rowcast did not exit after the grace\n" + proc.describe())
    took = time.monotonic() - t0
    rowcast.procs.remove(proc)  # its non-zero exit is the point
    err = (tmp_path / "rowcast-1.stderr").read_text()
    assert status == 1, err
    assert 1.5 < took < 6, took
    assert "shutdown grace of 2 s exceeded; not finished: px (6 events not acknowledged by " \
        "Kafka)" in err, err


def test_sigterm_right_after_rest_changes_still_stops_everything(mysql, db, rowcast, tmp_path):
    """A restart, a config change and a delete still running when SIGTERM arrives: the process
    waits for them, stops whatever they started again, and exits 0."""
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40))")
    start = master_status(mysql)
    port = free_port()
    proc, api = serve(rowcast, server_config(tmp_path, port), port)
    ps = {n: pipeline(n, db, start) for n in ("r1", "r2", "r3")}
    for p in ps.values():
        assert api.call("POST", "/v1/pipelines", token=TOKEN, body=p).status == 201
    Writer(mysql, db).tx(3)
    for n in ps:
        api.wait(n, delivered(9), "9 delivered")
    assert api.call("POST", "/v1/pipelines/r1/restart", token=TOKEN).status == 202
    body = {**ps["r2"], "queue_batches": 2}
    assert api.call("PUT", "/v1/pipelines/r2/config", token=TOKEN, body=body).status == 202
    assert api.call("DELETE", "/v1/pipelines/r3", token=TOKEN).status == 202
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(20) == 0, proc.describe()
    err = (tmp_path / "rowcast-1.stderr").read_text()
    for n in ("r1", "r2"):  # each got its shutdown stop after the request's helper was done
        assert re.search(rf"\[main\] pipeline {n}: \d+ events read, \d+ delivered, 0 failed", err), err
    assert "pipeline r3: deleted" in err, err
    assert "exceeded" not in err, err
    # what the delete removed stays removed, the change is kept
    assert sorted(f.name for f in (tmp_path / "state").iterdir()) == ["r1.json", "r2.json"]
    assert json.loads((tmp_path / "state" / "r2.json").read_text())["queue_batches"] == 2


def test_a_script_that_never_finishes_loading_blocks_no_other_request(mysql, db, rowcast,
                                                                     tmp_path):
    """Building a pipeline runs its scripts' top-level code on a job thread, not on the HTTP
    loop, under transform_budget_ms: while one loops, the API keeps answering, and the build
    fails with the budget's message instead of hanging a thread for ever."""
    (tmp_path / "forever.lua").write_text("while true do end\nfunction transform(e) end\n")
    start = master_status(mysql)
    port = free_port()
    proc, api = serve(rowcast, server_config(tmp_path, port), port)
    p = pipeline("stuck", db, start)
    p["transforms"] = [{"engine": "lua", "file": "forever.lua"}]
    p["transform_budget_ms"] = 2000
    import http.client
    import threading
    res = {}

    def post():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request("POST", "/v1/pipelines", body=json.dumps(p),
                     headers={"Authorization": f"Bearer {TOKEN}",
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        res["status"], res["body"] = r.status, r.read()
        conn.close()

    t0 = time.monotonic()
    th = threading.Thread(target=post)
    th.start()
    time.sleep(0.2)
    for _ in range(20):  # answered while the script loops
        assert api.call("GET", "/v1/pipelines").json() == []
        assert api.call("GET", "/metrics").status == 200
    assert th.is_alive()
    th.join(15)
    assert not th.is_alive() and time.monotonic() - t0 < 10
    assert res["status"] == 400, res
    assert b"forever.lua:1: the time budget of 2000 ms" in res["body"], res
    ok = pipeline("fine", db, start)
    assert api.call("POST", "/v1/pipelines", token=TOKEN, body=ok).status == 201
    api.wait("fine", lambda st: st["state"] == "RUNNING", "RUNNING")
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(20) == 0, proc.describe()
    err = (tmp_path / "rowcast-1.stderr").read_text()
    assert "threads still running" not in err, err
    assert re.search(r"pipeline fine: \d+ events read", err), err


def test_seek_a_stopped_pipeline_and_read_again_from_there(mysql, db, rowcast, tmp_path):
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40))")
    start = master_status(mysql)
    port = free_port()
    proc, api = serve(rowcast, server_config(tmp_path, port), port)
    assert api.call("POST", "/v1/pipelines", token=TOKEN, body=pipeline("sk", db, start)).status \
        == 201
    w = Writer(mysql, db)
    w.tx(5)  # ids 0..14
    middle = master_status(mysql)  # the boundary after the fifth transaction
    w.tx(5)  # ids 15..29
    api.wait("sk", delivered(30), "30 delivered")
    at = api.call("GET", "/v1/pipelines/sk/position").json()
    assert at["file"] == start[0] and at["pos"] > middle[1], at
    assert api.call("PUT", "/v1/pipelines/sk/stop", token=TOKEN).status == 202
    api.wait("sk", lambda st: st["state"] == "STOPPED", "STOPPED")
    r = api.call("PATCH", "/v1/pipelines/sk/position", token=TOKEN,
                 body={"file": middle[0], "pos": middle[1]})
    assert r.status == 200, r.body
    assert r.json() == {"file": middle[0], "pos": middle[1], "gtid": ""}
    assert api.status("sk")["position"]["pos"] == middle[1]
    assert api.call("POST", "/v1/pipelines/sk/restart", token=TOKEN).status == 202
    st = api.wait("sk", delivered(45), "the last 15 rows again")
    assert st["counters"]["events_read"] == 45, st
    assert ids(f"{db}.t.sk", 45, proc) == list(range(30)) + list(range(15, 30))


def test_seek_by_gtid_and_by_time_over_the_stored_position(mysql, db, rowcast, tmp_path):
    """PATCH .../position with {"start": ...} takes every form of source.start. The executed
    GTID set is learned anew where the seek lands, so the stored position describes it."""
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40))")
    start = master_status(mysql)
    port = free_port()
    proc, api = serve(rowcast, server_config(tmp_path, port), port)
    assert api.call("POST", "/v1/pipelines", token=TOKEN, body=pipeline("sg", db, start)).status \
        == 201
    w = Writer(mysql, db)
    w.tx(5)  # ids 0..14
    fifth = last_gtid(mysql)
    time.sleep(1.2)  # binlog times are whole seconds
    middle = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.2)
    w.tx(5)  # ids 15..29
    tenth = last_gtid(mysql)
    api.wait("sg", delivered(30), "30 delivered")

    def stop():
        assert api.call("PUT", "/v1/pipelines/sg/stop", token=TOKEN).status == 202
        return api.wait("sg", lambda st: st["state"] == "STOPPED", "STOPPED")

    def again(body, total):
        r = api.call("PATCH", "/v1/pipelines/sg/position", token=TOKEN, body=body)
        assert r.status == 200, r.body
        assert r.json() is None  # known once the pipeline has read a transaction there
        assert api.call("POST", "/v1/pipelines/sg/restart", token=TOKEN).status == 202
        return api.wait("sg", delivered(total), f"{total} delivered")

    stop()
    again({"start": f"gtid:{fifth}"}, 45)  # after the fifth transaction
    st = stop()
    assert st["checkpoint"]["gtid_set"] == tenth, st["checkpoint"]
    again({"start": f"timestamp:{middle}"}, 60)  # the transactions after the pause
    assert ids(f"{db}.t.sg", 60, proc) == list(range(30)) + list(range(15, 30)) * 2

    for body, field in (({"start": "gtid:nonsense"}, "start"), ({"file": "x-bin.000001"}, "pos"),
                        ({"pos": 4}, "file"), ({"start": "earliest", "file": "x", "pos": 4}, "start")):
        r = api.call("PATCH", "/v1/pipelines/sg/position", token=TOKEN, body=body)
        assert r.status == 400, (body, r.body)
        assert r.json()["field"] == field, (body, r.body)


def test_transform_replaced_live_and_kept_across_a_restart(mysql, db, rowcast, tmp_path):
    """PUT .../transform while rows stream: a prefix of the events (in binlog order) went through
    the old script, the rest through the new one, none lost or twice; the per-table metrics
    match; a bad script is refused and the running one stays; a restart keeps the new one."""
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40))")
        cur.execute(f"CREATE TABLE `{db}`.u (id INT PRIMARY KEY, v VARCHAR(40))")
    start = master_status(mysql)
    port = free_port()
    cfg = server_config(tmp_path, port)
    px = pipeline("px", db, start)  # a config-file pipeline, no transforms configured
    cfg["pipelines"] = [px]
    cfg_path = rowcast.write_config(cfg)
    proc, api = serve(rowcast, cfg_path, port)
    topic_a, topic_b = f"{db}.routed_a", f"{db}.routed_b"
    script_a = {"transforms": [{"engine": "lua", "script":
                                f'function transform(e)\n  e.kafka.topic = "{topic_a}"\nend\n'}]}
    # the new one: another engine, drops table u, masks v, routes to B
    script_b = {"transforms": [
        {"engine": "lua", "match": {"table": "u"},
         "script": "function transform(e) return ACTION_DROP end"},
        {"engine": "js", "script":
         "function transform(e) {\n  e.after[0].v = 'masked';\n"
         f"  e.kafka.topic = '{topic_b}';\n}}\n"}]}
    path = "/v1/pipelines/px/transform"
    r = api.call("PUT", path, token=TOKEN, body=script_a)
    assert r.status == 202, r.body
    assert r.json()["name"] == "px"
    api.wait("px", lambda st: st["state"] == "RUNNING", "RUNNING")

    # the binlog order of the events: t rows, and every fifth one a u row, each its own tx
    seq = []
    stop = threading.Event()
    marks = {}

    def write():
        i = 0
        with mysql.cursor() as cur:
            while not stop.is_set():
                cur.execute(f"INSERT INTO `{db}`.t VALUES (%s, %s)", (i, f"t{i}"))
                seq.append(("t", i))
                if i % 5 == 0:
                    cur.execute(f"INSERT INTO `{db}`.u VALUES (%s, %s)", (i, f"u{i}"))
                    seq.append(("u", i))
                i += 1
                time.sleep(0.004)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        api.wait("px", delivered(40), "40 delivered under script A")
        r = api.call("PUT", path, token=TOKEN, body=script_b)
        assert r.status == 202, r.body
        marks["after_put"] = len(seq)  # every event from here on was written after the swap
        deadline = time.monotonic() + 30
        while len(seq) < marks["after_put"] + 60:
            assert time.monotonic() < deadline, "the writer stalled"
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join()
    n = len(seq)
    st = api.wait("px", lambda st: st["counters"]["events_read"] == n and
                  st["counters"]["events_delivered"] + (st["counters"]["events_read"] -
                                                        st["counters"]["events_produced"]) >= n,
                  "every event read and delivered or dropped")
    got_a = consume(topic_a, 40, process=proc)
    cut = len(got_a)
    want_b = [x for x in seq[cut:] if x[0] == "t"]
    got_b = consume(topic_b, len(want_b), process=proc)
    # A: a prefix of the binlog order, as written; B: every t row after it, masked; u dropped
    assert [(m.json()["table"], m.json()["after"][0]["id"]) for m in got_a] == seq[:cut]
    assert all(m.json()["after"][0]["v"] == f"{m.json()['table']}{m.json()['after'][0]['id']}"
               for m in got_a)
    assert [("t", m.json()["after"][0]["id"]) for m in got_b] == want_b
    assert all(m.json()["after"][0]["v"] == "masked" for m in got_b)
    assert cut <= marks["after_put"], (cut, marks)  # nothing written after the PUT went to A
    dropped = sum(1 for x in seq[cut:] if x[0] == "u")
    assert dropped >= 5  # every fifth row after the swap
    assert st["counters"]["events_delivered"] == n - dropped

    # metrics (parsed by prometheus_client): per table and action, VM memory, checkpoint age
    m, allm = metrics_of(api, "px")
    assert m["rowcast_events_dropped_total"] == dropped
    assert m["rowcast_transform_vm_memory_bytes"] > 0
    api.wait("px", lambda st: st["checkpoint"] is not None, "a checkpoint written")
    _, allm = metrics_of(api, "px")
    age = allm[("rowcast_checkpoint_age_seconds", (("pipeline", "px"),))]
    assert 0 <= age < 30, age

    def per_table(metric, table):
        return allm.get((metric, (("action", "insert"), ("pipeline", "px"),
                                  ("table", f"{db}.{table}"))))

    n_t = sum(1 for x in seq if x[0] == "t")
    assert per_table("rowcast_table_events_read_total", "t") == n_t
    assert per_table("rowcast_table_events_read_total", "u") == n - n_t
    assert per_table("rowcast_table_events_produced_total", "t") == n_t
    assert per_table("rowcast_table_events_produced_total", "u") == n - n_t - dropped
    assert per_table("rowcast_table_events_dropped_total", "u") == dropped
    assert per_table("rowcast_table_events_dropped_total", "t") == 0

    # refused: the running script stays (checked below by the rows after the restart)
    def bad(body, status, needle, field=None, token=TOKEN, name="px"):
        r = api.call("PUT", f"/v1/pipelines/{name}/transform", token=token, body=body)
        assert r.status == status, r.body
        assert needle in r.json()["error"], r.body
        if field is not None:
            assert r.json().get("field") == field, r.body
        return r.json()

    syntax = {"transforms": [{"engine": "lua", "script": "function transform(e)\n  x = = 1\nend"}]}
    e = bad(syntax, 422, "pipeline px: transforms[0]: transforms[0]:2:", "transforms[0].script")
    assert e["line"] == 2, e
    e = bad({"transforms": [script_a["transforms"][0],
                            {"engine": "js", "script": "var x = 1;\n\nfunction transform(e) {"}]},
            422, "transforms[1]:", "transforms[1].script")
    assert e["line"] >= 3, e
    bad({"transforms": [{"engine": "lua", "script": "x = 1"}]}, 422,
        "must define a function transform", "transforms[0].script")
    bad({"transforms": [{"engine": "lua", "script": "while true do end"}]}, 422,
        "time budget", "transforms[0].script")
    bad({"transforms": [{"engine": "lua", "file": "a.lua", "script": ""}]}, 400,
        "transforms[0].file: unknown key", "transforms[0].file")
    bad({"transforms": [{"engine": "python", "script": ""}]}, 400, "engine", "transforms[0].engine")
    bad({"scripts": []}, 400, "unknown key 'scripts'", "scripts")
    bad(b"{\"transforms\": [", 400, "not a JSON object", "")
    bad(None, 400, "the request body is empty", "")
    bad(script_b, 401, "Bearer", token=None)
    bad(script_b, 403, "wrong", token=TOKEN + "x")
    bad(script_b, 404, "no such pipeline: nope", name="nope")
    r = api.call("DELETE", path, token=TOKEN)
    assert r.status == 405 and r.headers["allow"] == "GET, PUT", r.body

    def shown(body):  # GET .../transform: the entries with match always present
        return {"source": "rest", "transforms": [
            {"match": {}, **t} for t in body["transforms"]]}

    assert api.call("GET", path).json() == shown(script_b)
    assert json.loads((tmp_path / "state" / "px.transforms").read_text()) == script_b
    assert not (tmp_path / "state" / "px.json").exists()  # the config itself is the file's

    # a restart keeps script B: new rows are masked on B, u rows dropped
    assert proc.stop() == 0
    proc2, api2 = serve(rowcast, cfg_path, port)
    api2.wait("px", lambda st: st["state"] == "RUNNING", "px running after the restart")
    with mysql.cursor() as cur:
        for i in range(100000, 100005):
            cur.execute(f"INSERT INTO `{db}`.t VALUES (%s, %s)", (i, f"t{i}"))
            cur.execute(f"INSERT INTO `{db}`.u VALUES (%s, %s)", (i, f"u{i}"))
    got = consume(topic_b, len(got_b) + 5, process=proc2)
    assert [m.json()["after"][0]["id"] for m in got[len(got_b):]] == list(range(100000, 100005))
    assert all(m.json()["after"][0]["v"] == "masked" for m in got)
    assert len(consume(topic_a, cut, process=proc2)) == cut  # nothing more went to A
    err2 = (tmp_path / "rowcast-2.stderr").read_text()
    assert "pipeline px: 2 transform(s) from" in err2, err2
    assert api2.call("GET", path).json() == shown(script_b)
    m2, _ = metrics_of(api2, "px")
    assert m2["rowcast_events_dropped_total"] == 5

    # a new config drops the REST scripts: its own transforms (none) hold, now and later
    r = api2.call("PUT", "/v1/pipelines/px/config", token=TOKEN, body=px)
    assert r.status == 202, r.body
    assert not (tmp_path / "state" / "px.transforms").exists()
    assert api2.call("GET", path).json() == {"source": "config", "transforms": []}
    api2.wait("px", lambda st: st["state"] == "RUNNING" and st["counters"]["events_read"] == 0,
              "running with the new config")
    with mysql.cursor() as cur:
        cur.execute(f"INSERT INTO `{db}`.u VALUES (%s, %s)", (200000, "plain"))
    plain = consume(f"{db}.u.px", 1, process=proc2)
    assert [(m.json()["after"][0]["id"], m.json()["after"][0]["v"]) for m in plain] == [
        (200000, "plain")]


def test_transform_swap_waits_for_the_end_of_a_transaction(mysql, db, rowcast, tmp_path):
    """Transactions of 6 row events stream in batches of 4 (every batch but a few ends inside a
    transaction) while PUT .../transform replaces the script: every transaction went wholly
    through one script, the old one for a prefix of the transactions, the new one after."""
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, tx INT)")
    start = master_status(mysql)
    port = free_port()
    cfg = server_config(tmp_path, port)
    cfg["pipelines"] = [pipeline("pw", db, start)]
    proc, api = serve(rowcast, rowcast.write_config(cfg), port)

    def routing(topic):
        return {"transforms": [{"engine": "lua", "script":
                                f'function transform(e)\n  e.kafka.topic = "{topic}"\nend\n'}]}

    topic_a, topic_b = f"{db}.swap_a", f"{db}.swap_b"
    path = "/v1/pipelines/pw/transform"
    assert api.call("PUT", path, token=TOKEN, body=routing(topic_a)).status == 202
    api.wait("pw", lambda st: st["state"] == "RUNNING", "RUNNING")
    stop = threading.Event()
    txs = []

    def write():
        with mysql.cursor() as cur:
            while not stop.is_set():
                k = len(txs)
                cur.execute("BEGIN")
                for j in range(6):
                    cur.execute(f"INSERT INTO `{db}`.t VALUES (%s, %s)", (k * 6 + j, k))
                cur.execute("COMMIT")
                txs.append(k)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        api.wait("pw", delivered(60), "60 delivered under script A")
        # several swaps: each one may land on a batch that starts inside a transaction
        for i in range(6):
            topic = topic_b if i % 2 == 0 else topic_a
            assert api.call("PUT", path, token=TOKEN, body=routing(topic)).status == 202
            time.sleep(0.3)
        n0 = len(txs)
        deadline = time.monotonic() + 30
        while len(txs) < n0 + 10:
            assert time.monotonic() < deadline, "the writer stalled"
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join()
    n = len(txs) * 6
    api.wait("pw", lambda st: st["counters"]["events_delivered"] == n, f"{n} delivered")
    got_a = [m.json()["after"][0] for m in consume(topic_a, 1, settle=3.0, process=proc)]
    got_b = [m.json()["after"][0] for m in consume(topic_b, 1, settle=3.0, process=proc)]
    assert sorted(r["id"] for r in got_a + got_b) == list(range(n))  # none lost or twice
    topic_of = {}
    for topic, rows in (("a", got_a), ("b", got_b)):
        for r in rows:
            topic_of.setdefault(r["tx"], set()).add(topic)
    split = {tx: t for tx, t in topic_of.items() if len(t) > 1}
    assert not split, f"transactions that went through two scripts: {sorted(split)[:10]}"
    assert proc.stop() == 0
