"""The local cluster's monitoring, as the rendered manifests describe it: per pod the `exporter-auth` init
container's script and both exporter containers (Debian's redis_exporter) with their rendered environment, and
a real Prometheus that scrapes them with the labels the ServiceMonitor gives (and the Prometheus Operator
adds) and evaluates the rendered alert rules.

Only what cannot be the same on loopback is changed: 127.0.0.1 becomes the pod's address, absolute paths move
under the pod's folder.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from redis_gitops.devcluster.local_cluster import LocalCluster


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 3) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.read().decode()


class LocalMonitoring:
    def __init__(
        self,
        cluster: LocalCluster,
        statefulset: dict,
        service_monitor: dict,
        rule_groups: list[dict],
        scrape_interval: str = "1s",
    ):
        self.cluster, self.sts, self.sm = cluster, statefulset, service_monitor
        self.rule_groups, self.interval = rule_groups, scrape_interval
        self.base = cluster.base / "monitoring"
        self.procs: list[subprocess.Popen] = []
        self.targets: list[dict[str, Any]] = []  # {"url", "labels", "address"} per exporter
        self.prometheus_url = ""

    # -- exporters -------------------------------------------------------------------------------------------
    def _containers(self, group: str) -> dict[str, dict]:
        return {c["name"]: c for c in self.sts["spec"]["template"]["spec"].get(group, [])}

    def _local(self, value: str, host: str, pod_dir: Path) -> str:
        value = value.replace("127.0.0.1", host)
        return str(pod_dir) + value if value.startswith("/") else value

    def start_exporters(self) -> None:
        init = self._containers("initContainers")["exporter-auth"]
        containers = self._containers("containers")
        endpoints = {e["port"]: e for e in self.sm["spec"]["endpoints"]}
        namespace, service = self.sts["metadata"]["namespace"], self.sts["spec"]["serviceName"]
        for node in self.cluster.state.nodes:
            pod, pod_dir = f"{self.sts['metadata']['name']}-{node.ordinal}", self.base / f"pod-{node.ordinal}"
            for mount in init["volumeMounts"]:
                (pod_dir / mount["mountPath"].lstrip("/")).mkdir(parents=True, exist_ok=True)
            if self.cluster.state.tls_dir and not (pod_dir / "tls").exists():  # the certificate Secret's mount
                (pod_dir / "tls").symlink_to(self.cluster.state.tls_dir)
            env = {k: self._local(v, node.host, pod_dir) for k, v in _env(init).items()}
            env["SECRETS_DIR"] = str(self.cluster.base / "secrets")  # the local cluster's Secrets
            run = subprocess.run(
                ["sh", str(self.cluster.base / "scripts" / init["command"][1].rsplit("/", 1)[1])],
                env={"PATH": "/usr/bin:/bin", **env},
                capture_output=True,
                text=True,
                timeout=10,
            )
            if run.returncode != 0:
                raise RuntimeError(f"exporter-auth failed for {pod}: {run.stderr}")
            for name, c in containers.items():
                if not name.endswith("exporter"):
                    continue
                [port] = c["ports"]
                env = {k: self._local(v, node.host, pod_dir) for k, v in _env(c).items()}
                env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"] = f"{node.host}:{port['containerPort']}"
                log = open(pod_dir / f"{name}.log", "ab")
                self.procs.append(
                    subprocess.Popen(
                        ["prometheus-redis-exporter", *c.get("args", [])],
                        env={"PATH": "/usr/bin:/bin", **env},
                        stdout=log,
                        stderr=log,
                    )
                )
                log.close()
                # The labels the Prometheus Operator gives a ServiceMonitor target, then the endpoint's relabelings.
                address = f"{node.host}:{port['containerPort']}"
                labels = {
                    "namespace": namespace,
                    "service": service,
                    "pod": pod,
                    "container": name,
                    "endpoint": port["name"],
                    "job": service,
                    "instance": address,
                }
                for r in endpoints[port["name"]].get("relabelings", []):
                    if (
                        r.get("action", "replace").lower() == "replace"
                        and "replacement" in r
                        and "sourceLabels" not in r
                    ):
                        labels[r["targetLabel"]] = r["replacement"]
                self.targets.append(
                    {
                        "url": f"http://{address}{endpoints[port['name']].get('path', '/metrics')}",
                        "labels": labels,
                        "address": address,
                    }
                )

    def scrape(self, deadline: float = 20.0) -> list[tuple[dict, str]]:
        """Each target's labels and its metrics once it reports redis_up 1 (or the last answer at the deadline)."""
        out, end = [], time.monotonic() + deadline
        for target in self.targets:
            text = ""
            while time.monotonic() < end:
                try:
                    text = _get(target["url"])
                    if "\nredis_up 1" in "\n" + text:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            out.append((target["labels"], text))
        return out

    # -- Prometheus ------------------------------------------------------------------------------------------
    def start_prometheus(self) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is missing: apt-get install -y prometheus")
        self.base.mkdir(parents=True, exist_ok=True)
        rules = self.base / "rules.yaml"
        with rules.open("w") as f:
            YAML(typ="safe").dump({"groups": self.rule_groups}, f)
        config = {
            "global": {
                "scrape_interval": self.interval,
                "evaluation_interval": self.interval,
                "scrape_timeout": self.interval,
            },
            "rule_files": [str(rules)],
            "scrape_configs": [
                {
                    "job_name": "redis-gitops",
                    "honor_labels": True,
                    "static_configs": [{"targets": [t["address"]], "labels": t["labels"]} for t in self.targets],
                }
            ],
        }
        # `job` from the labels: honor_labels keeps the target's own labels over Prometheus's defaults.
        (self.base / "prometheus.yml").write_text(json.dumps(config))
        host = self.cluster.state.nodes[0].host
        port = _free_port(host)
        self.prometheus_url = f"http://{host}:{port}"
        log = open(self.base / "prometheus.log", "ab")
        self.procs.append(
            subprocess.Popen(
                [
                    binary,
                    f"--config.file={self.base / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.base / 'tsdb'}",
                    f"--web.listen-address={host}:{port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=log,
            )
        )
        log.close()
        end = time.monotonic() + 30
        while True:
            try:
                if "Ready" in _get(f"{self.prometheus_url}/-/ready"):
                    return
            except OSError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"Prometheus did not become ready: see {self.base / 'prometheus.log'}")
            time.sleep(0.2)

    def query(self, expr: str) -> list[dict]:
        reply = json.loads(_get(f"{self.prometheus_url}/api/v1/query?query={urllib.parse.quote(expr)}"))
        return reply["data"]["result"]

    def alerts(self) -> list[dict]:
        """Pending and firing alerts, as Prometheus evaluates the rules."""
        return json.loads(_get(f"{self.prometheus_url}/api/v1/alerts"))["data"]["alerts"]

    def wait_for(self, check, timeout: float, what: str):
        end = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > end:
                raise AssertionError(
                    f"{what} within {timeout:.0f} s; alerts: "
                    f"{[(a['labels']['alertname'], a['state']) for a in self.alerts()]}"
                )
            time.sleep(0.25)

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()

    def __enter__(self) -> LocalMonitoring:
        try:
            self.start_exporters()
            self.start_prometheus()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
