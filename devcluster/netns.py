"""Kubernetes-like pods for the fault suite: each pod in its own network namespace with its own address on a
bridge, the cluster's real ports, and the headless Service's DNS names resolvable in every namespace through
/etc/netns/<ns>/hosts, so `announce-hostnames` and `resolve-hostnames` run as in the cluster. Clients run in a
namespace of their own. Everything is created with a unique tag and removed again; nothing outside it is
addressed. Needs root and iproute2 (`ip netns`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from redis_gitops.devcluster.local_cluster import LocalCluster, Node

HOSTS_ROOT = Path("/etc/netns")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def unusable_reason() -> str | None:
    """Why `ip netns exec` cannot run here, or None. It makes `/` a slave mount in a new mount namespace, which
    needs `/` to be a mount point: a chroot's root is not (the fresh-machine root of ../shared/tools is a chroot),
    a machine's or a container's is."""
    if os.geteuid() != 0:
        return "the network-namespace harness needs root (ip netns)"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "unchanged", "mount", "--make-rslave", "/"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"`ip netns exec` cannot run here: / is not a mount point (a chroot?): {probe.stderr.strip()}"
    return None


class PodNetwork:
    """A bridge in the test's namespace, a namespace per pod plus one for clients, veth pairs, hosts files."""

    def __init__(self, tag: str, names: list[str], fqdns: list[str], octet: int):
        self.tag, self.fqdns = tag, fqdns
        self.prefix = f"10.{octet}.0"
        self.bridge = f"{tag}br"
        self.namespaces = [f"{tag}-{n}" for n in names]
        self.addresses = {ns: f"{self.prefix}.{i + 1}" for i, ns in enumerate(self.namespaces)}

    def veth(self, ns: str) -> str:
        return f"{self.tag}v{self.namespaces.index(ns)}"

    def create(self) -> None:
        self.remove()
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.prefix}.254/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for ns in self.namespaces:
            ip("netns", "add", ns)
            ip("link", "add", self.veth(ns), "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("link", "set", self.veth(ns), "master", self.bridge, "up")
            ip("-n", ns, "addr", "add", f"{self.addresses[ns]}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")
        self.write_hosts()

    def write_hosts(self) -> None:
        """The headless Service's names; rewritten in place, so running processes see a changed address."""
        pods = [ns for ns in self.namespaces if not ns.endswith("-client")]
        lines = ["127.0.0.1 localhost"] + [
            f"{self.addresses[ns]} {fqdn} {fqdn.split('.')[0]}" for ns, fqdn in zip(pods, self.fqdns, strict=True)
        ]
        for ns in self.namespaces:
            folder = HOSTS_ROOT / ns
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / "hosts", "w") as f:  # same inode: the bind mount of a running process follows
                f.write("\n".join(lines) + "\n")

    def cut(self, ns: str) -> None:
        ip("link", "set", self.veth(ns), "down")

    def heal(self, ns: str) -> None:
        ip("link", "set", self.veth(ns), "up")

    def readdress(self, ns: str, octet_last: int) -> None:
        """Give a pod a new address (the same DNS name), as a rescheduled pod gets."""
        old = self.addresses[ns]
        self.addresses[ns] = f"{self.prefix}.{octet_last}"
        ip("-n", ns, "addr", "del", f"{old}/24", "dev", "eth0")  # first: deleting a primary drops secondaries
        ip("-n", ns, "addr", "add", f"{self.addresses[ns]}/24", "dev", "eth0")
        self.write_hosts()

    def remove(self) -> None:
        for ns in self.namespaces:
            ip("netns", "del", ns, check=False)
            ip("link", "del", self.veth(ns), check=False)
            folder = HOSTS_ROOT / ns
            if (folder / "hosts").exists():
                (folder / "hosts").unlink()
            if folder.exists():
                folder.rmdir()
        ip("link", "del", self.bridge, check=False)


class NetnsCluster(LocalCluster):
    """dist/'s cluster as three pods in network namespaces; tests reach pods by address from the bridge."""

    def __init__(self, spec, dist: Path, base_dir: Path, tag: str, octet: int):
        super().__init__(spec, dist, base_dir)
        self.hosts = self.names.pod_fqdns  # what every pod announces and resolves
        pod_names = [f"pod{i}" for i in range(spec.redis.replicas)]
        self.network = PodNetwork(tag, [*pod_names, "client"], self.hosts, octet)
        self.client_ns = self.network.namespaces[-1]

    def namespace(self, ordinal: int) -> str:
        return self.network.namespaces[ordinal]

    def up(self, timeout: float = 30.0):
        reason = unusable_reason()
        if reason:
            raise RuntimeError(reason)
        self.network.create()
        return super().up(timeout)

    def down(self) -> None:
        try:
            super().down()
        finally:
            self.network.remove()

    def _busy_ports(self) -> list[str]:
        return []  # fresh namespaces: every port is free

    def command(self, node: Node, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespace(node.ordinal), *argv]

    def address(self, ordinal: int) -> str:
        return self.network.addresses[self.namespace(ordinal)]

    def env(self, node: Node, role: str) -> dict[str, str]:
        env = super().env(node, role)
        env.update(SELF_HOST=node.host, PEER_HOSTS=" ".join(self.hosts), LOCAL_HOST="127.0.0.1")
        env.pop("BIND_ADDRESS")  # listen on every address, as in the pod
        return env

    def client(self, ns: str, key: str, seconds: float, out: Path) -> subprocess.Popen:
        """A writer (faults.load) in namespace `ns`, through the Sentinels it can reach, for `seconds`."""
        s = self.state
        args = [
            sys.executable,
            "-m",
            "redis_gitops.faults.load",
            "--key",
            key,
            "--seconds",
            str(seconds),
            "--out",
            str(out),
            "--sentinels",
            ",".join(f"{h}:{s.sentinel_port}" for h in self.hosts),
            "--master-name",
            s.master_name,
            "--password-file",
            s.password_file,
            "--sentinel-password-file",
            s.sentinel_password_file,
        ]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )


def read_load(path: Path) -> dict:
    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return json.loads(path.read_text())
