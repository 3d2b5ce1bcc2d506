"""How rowcast reaches the source: over the Unix socket, and over TLS with the server's
certificate verified against the test CA (tests/services/mariadb.sh makes it, and a user,
rowcast_tls, that the server only lets in over TLS)."""

import os
import subprocess
import time
from pathlib import Path

from conftest import REPO, consume, master_status, pipeline_config

SERVICES = Path(os.environ.get("RC_SERVICES_DIR", REPO / "build/services"))
SOCKET = SERVICES / "mariadb/mariadbd.sock"
CA = SERVICES / "mariadb/tls/ca.pem"


def _rows(mysql, db, table, n):
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.`{table}` (id INT PRIMARY KEY, v VARCHAR(20))")
        for i in range(1, n + 1):
            cur.execute(f"INSERT INTO `{db}`.`{table}` VALUES (%s, %s)", (i, f"v{i}"))


def _wait_for(path, text, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in path.read_text(errors="replace"):
            return True
        time.sleep(0.2)
    return False


def test_unix_socket(mysql, db, rowcast):
    pos = master_status(mysql)
    cfg = pipeline_config("it_socket", db, pos)
    src = cfg["pipelines"][0]["source"]
    src["socket"] = str(SOCKET)
    proc = rowcast.start(cfg)
    _rows(mysql, db, "t", 3)
    msgs = consume(f"{db}.t", 3, process=proc)
    assert [m.json()["after"][0]["id"] for m in msgs] == [1, 2, 3]
    assert str(SOCKET) in proc.stderr_path.read_text()  # it says where it streams from


def test_tls_verify_identity_with_the_server_ca(mysql, db, rowcast):
    pos = master_status(mysql)
    cfg = pipeline_config("it_tls", db, pos)
    src = cfg["pipelines"][0]["source"]
    src["user"] = "rowcast_tls"
    src["tls"] = {"mode": "verify_identity", "ca": str(CA)}
    proc = rowcast.start(cfg)
    _rows(mysql, db, "t", 2)
    msgs = consume(f"{db}.t", 2, process=proc)
    assert [m.json()["after"][0]["v"] for m in msgs] == ["v1", "v2"]


def test_tls_required_user_is_refused_without_tls(mysql, db, rowcast):
    cfg = pipeline_config("it_notls", db, master_status(mysql))
    cfg["pipelines"][0]["source"]["user"] = "rowcast_tls"
    proc = rowcast.start(cfg)
    assert _wait_for(proc.stderr_path, "Access denied"), proc.describe()
    assert "reconnecting" in proc.stderr_path.read_text()  # retried, not crashed
    proc.assert_alive()


def test_tls_with_a_foreign_ca_is_refused(mysql, db, rowcast, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=not the server's CA", "-keyout", str(tmp_path / "k.pem"),
         "-out", str(other_ca)],
        check=True, capture_output=True,
    )  # fmt: skip
    cfg = pipeline_config("it_badca", db, master_status(mysql))
    src = cfg["pipelines"][0]["source"]
    src["user"] = "rowcast_tls"
    src["tls"] = {"mode": "verify_ca", "ca": str(other_ca)}
    proc = rowcast.start(cfg)
    assert _wait_for(proc.stderr_path, "cannot connect to 127.0.0.1"), proc.describe()
    text = proc.stderr_path.read_text()
    assert "certificate" in text.lower() or "tls" in text.lower(), text
    proc.assert_alive()
