"""The failover check: the preStop hook's safe hand-over, run from the smoke Job while a writer and a reader
go through the pool, to measure what clients see and to prove that no acknowledged write is lost.

There is one hand-over implementation, `contracts/pod_scripts/prestop-redis.sh` (the pods' preStop hook); this
check runs that very script against the live master (it needs only `sh` and `redis-cli`), so every rolling
update is proven by what the smoke Job measures. The script's timestamped log gives the phase times.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import redis

from redis_gitops.contracts import pod_scripts
from redis_gitops.contracts.defaults import DEFAULT_HANDOVER_TIMEOUT_SECONDS, DEFAULT_MAX_WRITE_OUTAGE_SECONDS
from redis_gitops.contracts.events import (
    FAILOVER_ASKED,
    HANDED_OVER,
    SENTINELS_AGREE,
    WRITES_PAUSED,
    first,
    script_events,
)
from redis_gitops.contracts.paths import REDIS_PASSWORD_FILE, SENTINEL_PASSWORD_FILE, TLS_CA_FILE
from redis_gitops.contracts.pod_env import PodScriptEnv
from redis_gitops.runtime.client import Address, BrokerSettings, RedisPool, direct_client
from redis_gitops.runtime.client import address_text as _addr
from redis_gitops.runtime.writer import Reader, Writer, lost_writes

LOAD_BEFORE_SECONDS = 0.5
LOAD_AFTER_SECONDS = 1.0
# The preStop hook, shipped as package data beside runtime/ (the smoke image installs both packages).
PRESTOP_SCRIPT = pod_scripts.FOLDER / "prestop-redis.sh"


class HandoverError(Exception):
    pass


@dataclass
class FailoverReport:
    old_master: str
    new_master: str | None = None
    sentinel_asked: str | None = None
    paused_ms: float | None = None  # writes paused on the old master (CLIENT PAUSE .. UNPAUSE)
    promotion_ms: float | None = None  # from the pause to the asked Sentinel naming a new master
    agreement_ms: float | None = None  # from the pause to every Sentinel naming the new master
    rejoin_ms: float | None = None  # from the pause to the old master replicating from the new one (link up)
    full_resyncs: int | None = None  # full syncs the new master served: 0 when every replica resumed partially
    write_outage_ms: float | None = None  # longest time the pool writer went without an acknowledged write
    acknowledged_writes: int = 0
    lost_writes: int = 0
    writer_errors: dict[str, int] = field(default_factory=dict)
    reads: int = 0
    reader_errors: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def metrics(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "problems"}

    def summary(self) -> str:
        if self.new_master is None:
            return f"no hand-over from {self.old_master}: " + "; ".join(self.problems)
        text = (
            f"{self.old_master} -> {self.new_master} via Sentinel {self.sentinel_asked}: Sentinels agreed after "
            f"{_ms(self.agreement_ms)}, write outage {_ms(self.write_outage_ms)}, "
            f"{self.lost_writes} of {self.acknowledged_writes} acknowledged writes lost, "
            f"{sum(self.writer_errors.values())} writer and {sum(self.reader_errors.values())} reader errors, "
            f"old master a replica again after {_ms(self.rejoin_ms)}"
        )
        return text + ("" if self.ok else "; PROBLEMS: " + "; ".join(self.problems))


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1000:.2f} s"


def _wait(condition: Callable[[], bool], deadline: float, what: str, step: float = 0.05) -> None:
    while True:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() >= deadline:
            raise HandoverError(what)
        time.sleep(step)


class FailoverCheck:
    def __init__(
        self,
        settings: BrokerSettings,
        sentinels: tuple[Address, ...],
        master_name: str,
        timeout: float = DEFAULT_HANDOVER_TIMEOUT_SECONDS,
        max_write_outage_seconds: float = DEFAULT_MAX_WRITE_OUTAGE_SECONDS,
    ):
        self.settings, self.sentinels, self.master_name = settings, sentinels, master_name
        self.timeout, self.max_write_outage = timeout, max_write_outage_seconds
        self._clients: dict[tuple[Address, str | None], redis.Redis] = {}

    def _client(self, address: Address, password: str | None) -> redis.Redis:
        if (address, password) not in self._clients:
            # Commands here wait on the paused master: allow longer than the clients' socket timeout.
            self._clients[address, password] = direct_client(
                address, password, max(self.settings.socket_timeout, 2.0), self.settings.tls_ca_file
            )
        return self._clients[address, password]

    def _sentinel(self, address: Address) -> redis.Redis:
        return self._client(address, self.settings.sentinel_password)

    def _master_given_to_clients(self, sentinel: Address) -> Address | None:
        """SENTINEL MASTER's address, as redis-py and kombu read it; None while this Sentinel still runs the
        failover (its get-master-addr-by-name already names the promoted replica, its MASTER does not)."""
        state = self._sentinel(sentinel).sentinel_master(self.master_name)
        if "failover_in_progress" in str(state.get("flags", "")):
            return None
        return state["ip"], int(state["port"])

    def run(self) -> FailoverReport:
        pool = RedisPool(self.settings)
        key = f"redis-gitops:smoke:failover:{uuid.uuid4().hex}"
        try:
            old = pool.master_address()
            report = FailoverReport(old_master=_addr(old))
            with pool.get_connection() as master_client, pool.get_connection(read_only=True) as replica_client:
                writer, reader = Writer(master_client, key), Reader(replica_client, key)
                writer.start()
                reader.start()
                try:
                    time.sleep(LOAD_BEFORE_SECONDS)
                    self._hand_over(old, report)
                    time.sleep(LOAD_AFTER_SECONDS)
                except HandoverError as err:
                    report.problems.append(str(err))
                except (redis.RedisError, OSError) as err:
                    report.problems.append(f"hand-over interrupted: {type(err).__name__}: {err}")
                finally:
                    wlog, rlog = writer.stop(), reader.stop()
                report.acknowledged_writes, report.writer_errors = len(wlog.acknowledged), dict(wlog.errors)
                report.reads, report.reader_errors = len(rlog.acknowledged), dict(rlog.errors)
                report.write_outage_ms = round(wlog.longest_gap_seconds * 1000, 1)
                stored = master_client.lrange(key, 0, -1)
                master_client.delete(key)
            self._judge(report, lost_writes(wlog, stored))
            return report
        finally:
            pool.close()
            for client in self._clients.values():
                client.close()

    def _judge(self, report: FailoverReport, lost: list[int]) -> None:
        report.lost_writes = len(lost)
        if lost:
            report.problems.append(f"{len(lost)} acknowledged writes lost (first: {lost[:5]})")
        if report.writer_errors:
            report.problems.append(f"writes through the pool failed: {report.writer_errors}")
        if report.reader_errors:
            report.problems.append(f"reads through the pool failed: {report.reader_errors}")
        if report.write_outage_ms is not None and report.write_outage_ms > self.max_write_outage * 1000:
            report.problems.append(
                f"write outage {_ms(report.write_outage_ms)} exceeds the {self.max_write_outage:g} s budget"
            )

    def prestop_env(self, old: Address, secrets_dir: str) -> dict[str, str]:
        """The pod scripts' environment (contracts/pod_scripts/lib.sh) as the master's own pod would have it;
        secrets_dir holds the password files, and over TLS the CA in its tls/ (see _run_prestop)."""
        env = PodScriptEnv(
            self_host=old[0],
            local_host=old[0],
            peer_hosts=tuple(host for host, _ in self.sentinels),
            redis_port=old[1],
            sentinel_port=self.sentinels[0][1],
            master_name=self.master_name,
            secrets_dir=secrets_dir,
            handover_timeout_seconds=int(self.timeout),
            tls_dir=os.path.join(secrets_dir, "tls") if self.settings.tls_ca_file else None,
        )
        return {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), **env.variables()}

    def _run_prestop(self, old: Address) -> subprocess.CompletedProcess:
        """The preStop script reads passwords from files, as in the pod: write them to a private temporary
        folder (in the Job, its in-memory /tmp) for the run's duration."""
        with tempfile.TemporaryDirectory(prefix="redis-gitops-secrets-") as secrets_dir:
            for name, value in (
                (REDIS_PASSWORD_FILE, self.settings.password),
                (SENTINEL_PASSWORD_FILE, self.settings.sentinel_password),
            ):
                fd = os.open(os.path.join(secrets_dir, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(value or "")
            if self.settings.tls_ca_file:  # lib.sh's rcli reads $TLS_DIR/ca.crt
                os.mkdir(os.path.join(secrets_dir, "tls"), 0o700)
                shutil.copyfile(self.settings.tls_ca_file, os.path.join(secrets_dir, "tls", TLS_CA_FILE))
            return subprocess.run(
                ["sh", str(PRESTOP_SCRIPT)],
                env=self.prestop_env(old, secrets_dir),
                capture_output=True,
                text=True,
                timeout=self.timeout + 15,
            )

    def _hand_over(self, old: Address, report: FailoverReport) -> None:
        deadline = time.monotonic() + self.timeout
        master = self._client(old, self.settings.password)
        run = self._run_prestop(old)
        events = script_events(run.stderr)
        handed, asked = first(events, HANDED_OVER), first(events, FAILOVER_ASKED)
        if run.returncode != 0 or handed is None:
            said = [line.partition(" ")[2] for line in run.stderr.strip().splitlines() if " event=" not in line][
                -2:
            ] or ["no output"]
            raise HandoverError(f"hand-over from {_addr(old)} failed (exit {run.returncode}): {'; '.join(said)}")
        paused_at = [e for e in events if e.name == WRITES_PAUSED and e.time <= handed.time][-1].time
        report.sentinel_asked = asked.fields.get("sentinel") if asked else None
        new = (handed.fields["new"], old[1])
        report.new_master = _addr(new)
        report.paused_ms = report.promotion_ms = _between(paused_at, handed.time)
        agreed = first(events, SENTINELS_AGREE)
        if agreed is not None:
            report.agreement_ms = _between(paused_at, agreed.time)
        start = time.monotonic() - (datetime.now(UTC) - paused_at).total_seconds()  # the pause, in our clock
        syncs_before = int(self._client(new, self.settings.password).info("stats")["sync_full"])
        _wait(
            lambda: all(self._master_given_to_clients(s) == new for s in self.sentinels),
            deadline,
            f"Sentinels did not all give clients {report.new_master} within {self.timeout:.0f} s",
        )

        def rejoined() -> bool:
            i = master.info("replication")
            return i.get("role") == "slave" and i.get("master_link_status") == "up"

        _wait(rejoined, deadline, f"old master {_addr(old)} did not sync from {report.new_master}")
        report.rejoin_ms = _since(start)
        report.full_resyncs = int(self._client(new, self.settings.password).info("stats")["sync_full"]) - syncs_before


def _between(a: datetime, b: datetime) -> float:
    return round((b - a).total_seconds() * 1000, 1)


def _since(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)
