"""The Helm chart (helm/rowcast), checked offline with the real helm binary.

helm lint and helm template run with the defaults and with every values file in
helm/rowcast/ci; the rendered manifests are validated strictly against the Kubernetes
schemas that PyPI's kubernetes-validate ships (no network); the rowcast.yaml and scripts
the chart puts in its ConfigMap are fed to the real `rowcast --check`, so a chart that
renders a config rowcast rejects fails here.
"""
import copy
import json
import os
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "rowcast"
VALUES = sorted((CHART / "ci").glob("*.yaml"))
TOOLS = Path(os.environ.get("RC_TOOLS_DIR", Path.home() / ".cache" / "rowcast"))
HELM = os.environ.get("RC_HELM", str(TOOLS / "bin" / "helm"))
ROWCAST = os.environ.get("RC_BINARY", str(REPO / "build" / "test" / "server" / "rowcast"))
K8S_VERSION = "1.30.0"


def helm(*args, check=True):
    r = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def render(values=None, *extra):
    args = ["template", "cdc", str(CHART), "--namespace", "data"]
    if values:
        args += ["-f", str(values)]
    out = helm(*args, *extra).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def values_of(path):
    return yaml.safe_load(path.read_text()) or {}


def test_ci_values_files_exist():
    names = {p.name for p in VALUES}
    assert {"default-values.yaml", "pipelines-values.yaml"} <= names


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.name)
def test_helm_lint_strict(values):
    r = helm("lint", "--strict", str(CHART), "-f", str(values))
    assert "0 chart(s) failed" in r.stdout


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.name)
def test_rendered_manifests_validate_against_kubernetes_schemas(values):
    docs = render(values)
    kinds = sorted(d["kind"] for d in docs)
    assert {"ConfigMap", "Deployment", "Service", "ServiceAccount"} <= set(kinds)
    for d in docs:
        if d["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: checked by hand below
        try:
            kubernetes_validate.validate(d, K8S_VERSION, strict=True)
        except kubernetes_validate.utils.ValidationError as e:
            pytest.fail(f"{d['kind']} {d['metadata']['name']}: {e.message} at {list(e.path)}")


def test_pipelines_values_render_every_optional_part():
    docs = render(CHART / "ci" / "pipelines-values.yaml")
    (sm,) = by_kind(docs, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    assert sm["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}]
    assert sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "cdc"
    (pdb,) = by_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    dashboards = [d for d in by_kind(docs, "ConfigMap") if "grafana_dashboard" in
                  d["metadata"]["labels"]]
    assert len(dashboards) == 1
    json.loads(dashboards[0]["data"]["rowcast.json"])
    assert by_kind(render(CHART / "ci" / "default-values.yaml"), "ServiceMonitor") == []


def test_deployment_probes_security_and_grace():
    docs = render(CHART / "ci" / "pipelines-values.yaml")
    (dep,) = by_kind(docs, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    cfg = yaml.safe_load(by_kind(docs, "ConfigMap")[0]["data"]["rowcast.yaml"])
    # Kubernetes must leave rowcast its whole shutdown grace before it kills the pod.
    assert cfg["shutdown_grace"] == 45
    assert pod["terminationGracePeriodSeconds"] == 55
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"]["type"] == "Recreate"


def test_secrets_come_only_from_existing_secrets():
    docs = render(CHART / "ci" / "pipelines-values.yaml")
    (dep,) = by_kind(docs, "Deployment")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"] if "valueFrom" in e}
    plain = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    assert plain == {"ROWCAST_PIPELINES__SHOP__SOURCE__HEARTBEAT": "2"}
    assert env["SHOP_MYSQL_PASSWORD"] == {"name": "shop-mysql", "key": "password"}
    assert env["KAFKA_PASSWORD"] == {"name": "kafka-rowcast", "key": "password"}
    assert env["ROWCAST_HTTP_TOKEN"] == {"name": "rowcast-api", "key": "token"}
    cm = by_kind(docs, "ConfigMap")[0]["data"]["rowcast.yaml"]
    assert "${SHOP_MYSQL_PASSWORD}" in cm and "${KAFKA_PASSWORD}" in cm
    assert "${ROWCAST_HTTP_TOKEN}" in cm


@pytest.mark.parametrize("setting", [
    "pipelines[0].source.password=hunter2",
    "kafka.rdkafka.sasl\\.password=hunter2",
    "pipelines[0].name=bad name",
    "replicaCount=two",
    "config.logLevel=loud",
    "servicemonitor.enabled=true",
])
def test_schema_rejects_bad_values(setting):
    base = ["template", "cdc", str(CHART), "-f", str(CHART / "ci" / "pipelines-values.yaml")]
    r = helm(*base, "--set", setting, check=False)
    assert r.returncode != 0, f"--set {setting} was accepted"
    assert "values don't meet the specifications of the schema" in r.stderr


def test_changed_script_rolls_the_pods():
    def checksum(*extra):
        docs = render(CHART / "ci" / "pipelines-values.yaml", *extra)
        (dep,) = by_kind(docs, "Deployment")
        return dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    a = checksum()
    assert a == checksum()
    assert a != checksum("--set-string", "scripts.route\\.js=function transform(e) {}")


def write_mounted_config(docs, values, root):
    """Lays out /etc/rowcast as the pod sees it: the projected volume's items."""
    (dep,) = by_kind(docs, "Deployment")
    cms = {d["metadata"]["name"]: d for d in by_kind(docs, "ConfigMap")}
    (vol,) = [v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "config"]
    for src in vol["projected"]["sources"]:
        if "configMap" in src:
            data = cms[src["configMap"]["name"]]["data"]
            for item in src["configMap"]["items"]:
                p = root / item["path"]
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(data[item["key"]])
        else:
            for item in src["secret"]["items"]:
                p = root / item["path"]
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text("secret-from-" + src["secret"]["name"] + "\n")
    env = dict(os.environ)
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    for e in c.get("env") or []:
        env[e["name"]] = e.get("value", "secret-value")
    return root / "rowcast.yaml", env


@pytest.mark.parametrize("values", VALUES, ids=lambda p: p.name)
def test_rendered_config_passes_rowcast_check(values, tmp_path):
    docs = render(values)
    cfg, env = write_mounted_config(docs, values_of(values), tmp_path)
    r = subprocess.run([ROWCAST, "--config", str(cfg), "--check"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"rowcast --check rejected the chart's config:\n{r.stderr}"
    rendered = yaml.safe_load(cfg.read_text())
    assert [p["name"] for p in rendered["pipelines"]] == [
        p["name"] for p in values_of(values).get("pipelines", [])]


def test_rowcast_check_catches_a_bad_pipeline_in_values(tmp_path):
    """The check above can fail: a pipeline rowcast rejects makes rowcast --check exit 2."""
    v = values_of(CHART / "ci" / "pipelines-values.yaml")
    bad = copy.deepcopy(v)
    bad["pipelines"][0]["source"]["port"] = 70000
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(bad))
    docs = render(f)
    cfg, env = write_mounted_config(docs, bad, tmp_path / "etc")
    r = subprocess.run([ROWCAST, "--config", str(cfg), "--check"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "pipelines[0].source.port" in r.stderr


def test_dashboard_uses_only_metrics_rowcast_exports():
    dash = json.loads((CHART / "dashboards" / "rowcast.json").read_text())
    used = set()
    for panel in dash["panels"]:
        for t in panel["targets"]:
            used |= set(re.findall(r"\browcast_[a-z_]+", t["expr"]))
    used = {re.sub(r"_(bucket|sum|count)$", "", m) for m in used}
    src = "".join(p.read_text() for p in (REPO / "server" / "http").glob("*.c"))
    exported = set(re.findall(r"\browcast_[a-z_]+", src))
    assert used, "the dashboard queries no metric"
    assert used <= exported, f"not exported by rowcast: {sorted(used - exported)}"
