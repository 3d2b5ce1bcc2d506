"""schemathesis (PyPI) against server/http/openapi.yaml and the live server: generated requests
for every operation, valid and invalid, alone and chained through the OpenAPI links (create a
pipeline, then pause, change, restart, delete it ...). No response may be a 5xx, every status,
content type and body must be the documented one, and the server must still be up and stop
cleanly afterwards."""

import subprocess
import sys

from conftest import REPO, master_status
from test_rest import TOKEN, free_port, pipeline
from test_rest_pipelines import serve, server_config

BUDGET_S = 60


def test_schemathesis_finds_no_5xx_and_no_undocumented_response(mysql, db, rowcast, tmp_path):
    port = free_port()
    cfg = server_config(tmp_path, port)
    cfg["pipelines"] = [pipeline("fixed", db, master_status(mysql))]
    proc, api = serve(rowcast, cfg, port)
    res = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", str(REPO / "server/http/openapi.yaml"),
         "--url", f"http://127.0.0.1:{port}", "--header", f"Authorization: Bearer {TOKEN}",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
         "response_schema_conformance",
         "--max-time", str(BUDGET_S), "--workers", "1", "--no-color", "--seed", "7",
         "--generation-database", "none", "--request-timeout", "10"],
        capture_output=True, text=True, timeout=BUDGET_S + 240, cwd=tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:] + "\n" + proc.describe()
    assert " passed" in out and " failed" not in out.split("SUMMARY")[-1], out[-3000:]
    proc.assert_alive()
    # still serving, the file pipeline untouched by name
    assert "fixed" in api.call("GET", "/v1/pipelines").json()
    err = (tmp_path / "rowcast-1.stderr").read_text()
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]
