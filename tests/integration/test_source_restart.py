"""The source server goes away mid-stream and comes back: rowcast reconnects with back-off
and resumes at the last transaction boundary, so every row arrives and none twice. Uses a
private MariaDB (tests/services/mariadb.sh in tmp_path, on its own port) that the test can
stop and start without disturbing the shared one."""

import os
import socket
import subprocess
import time

import pymysql

from conftest import REPO, consume, pipeline_config

SCRIPT = REPO / "tests/services/mariadb.sh"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateMariaDB:
    def __init__(self, tmp_path):
        self.port = _free_port()
        self.env = dict(os.environ, RC_SERVICES_DIR=str(tmp_path / "svc"),
                        RC_MARIADB_PORT=str(self.port))  # fmt: skip

    def run(self, action):
        proc = subprocess.run(["bash", str(SCRIPT), action], env=self.env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, f"mariadb.sh {action}: {proc.stdout}\n{proc.stderr}"

    def connect(self):
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="root",
                               autocommit=True)


def test_source_restart_resumes_without_loss_or_duplicates(rowcast, tmp_path):
    db = PrivateMariaDB(tmp_path)
    db.run("start")
    try:
        conn = db.connect()
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE rs")
            cur.execute("CREATE TABLE rs.t (id INT PRIMARY KEY, v VARCHAR(20))")
            cur.execute("SHOW MASTER STATUS")
            file_, pos = cur.fetchone()[:2]
        cfg = pipeline_config("it_restart", "rs", (file_, pos))
        cfg["pipelines"][0]["source"].update({"port": db.port, "heartbeat": 1})
        # A distinct topic per run: the database name is the same in every run.
        topic = f"rs-{db.port}-{int(time.time())}.t"
        cfg["pipelines"][0]["sink"]["topic"] = topic.replace(".t", ".{table}")
        proc = rowcast.start(cfg)

        with conn.cursor() as cur:
            for i in range(1, 51):
                cur.execute("INSERT INTO rs.t VALUES (%s, %s)", (i, f"before-{i}"))
            cur.execute("BEGIN")
            for i in range(51, 301):
                cur.execute("INSERT INTO rs.t VALUES (%s, %s)", (i, f"tx-{i}"))
            cur.execute("COMMIT")
        first = consume(topic, 300, process=proc, settle=0.5)
        assert len(first) == 300
        conn.close()

        db.run("stop")
        time.sleep(1.5)  # rowcast notices and starts retrying
        db.run("start")
        conn = db.connect()
        with conn.cursor() as cur:
            for i in range(301, 401):
                cur.execute("INSERT INTO rs.t VALUES (%s, %s)", (i, f"after-{i}"))
            cur.execute("UPDATE rs.t SET v = 'changed' WHERE id <= 10")
            cur.execute("DELETE FROM rs.t WHERE id > 390")
        conn.close()

        msgs = consume(topic, 300 + 100 + 10 + 10, process=proc, timeout=90)
        events = [m.json() for m in msgs]
        inserts = [e["after"][0]["id"] for e in events if e["action"] == "insert"]
        assert inserts == list(range(1, 401)), "every insert once, in order"
        assert sum(e["action"] == "update" for e in events) == 10
        assert sorted(e["before"][0]["id"] for e in events if e["action"] == "delete") == list(
            range(391, 401)
        )
        log = proc.stderr_path.read_text()
        assert "reconnecting" in log and log.count("streaming from") >= 2, log
    finally:
        db.run("stop")
