"""Which clients of the broker a change reaches, in what order relative to the broker, and which changes cut
every client off at once (those become findings the gate stops at)."""

from __future__ import annotations

from redis_gitops.plan.facts import BrokerFacts
from redis_gitops.plan.model import ClientChange, Finding, ObjectChange, Verdict

ANY_ORDER = "any order: the broker does not depend on it"


def airflow(base: BrokerFacts, head: BrokerFacts) -> tuple[ClientChange | None, list[Finding]]:
    changed = sorted(k for k in set(base.airflow) | set(head.airflow) if base.airflow.get(k) != head.airflow.get(k))
    if not changed:
        return None, []
    findings = []
    order = "Airflow's next deploy (its Helm release with dist/airflow/helm-values.yaml): " + ANY_ORDER
    sentinels = "url --sentinels"
    confirm = "config.celery_broker_transport_options.confirm_replicas"
    if int(head.airflow.get(confirm) or 0) > int(base.airflow.get(confirm) or 0):
        order = (
            "after the broker: Airflow's publishes are confirmed by the replicas once the rolled pods grant its "
            "user WAIT (until then they go unconfirmed, as before: no error either way)"
        )
    if sentinels in changed:
        grown = len(head.airflow.get(sentinels, "").split(",")) > len(base.airflow.get(sentinels, "").split(","))
        order = (
            "after the broker: deploy Airflow once the new pods are Ready (a Sentinel it lists that does not "
            "answer yet only costs a lookup timeout)"
            if grown
            else "before the broker: deploy Airflow first, so it stops listing the pods being removed"
        )
    if "url --username" in changed:
        findings.append(
            Finding(
                "client-user",
                "Airflow's ACL user",
                f"{base.airflow.get('url --username')} -> {head.airflow.get('url --username')}",
                Verdict.DISRUPTIVE,
                "the broker's pods roll to the new user and drop the old one: Airflow's workers and scheduler get "
                "WRONGPASS/NOPERM from the first rolled pod that is master until Airflow is deployed with the new "
                "user; publishes fail (tasks marked failed) in between",
                "Two merges: first add the new user beside the old one (a second Airflow user is not expressible "
                "yet: keep the name and rotate the password instead), deploy Airflow with it, then remove the old.",
            )
        )
    if "url --db" in changed:
        findings.append(
            Finding(
                "database",
                "Airflow's database",
                f"{base.airflow.get('url --db')} -> {head.airflow.get('url --db')}",
                Verdict.DISRUPTIVE,
                "Airflow's workers consume the new database only: tasks queued in the old one are never run "
                "(the scheduler re-queues them after [scheduler] task_queued_timeout, 10 minutes by default)",
                "Pause the DAGs (or wait until the queues are empty: `LLEN` of each queue is 0, KEDA's trigger "
                "reads it), then deploy Airflow with the new database.",
                data_loss_risk=True,
            )
        )
    disruptive = bool(findings) or base.tls != head.tls or _endpoint(base) != _endpoint(head)
    return ClientChange("airflow", tuple(changed), order, disruptive), findings


def _endpoint(f: BrokerFacts) -> tuple:
    return f.master_name, f.redis_port, f.sentinel_port


def endpoints(base: BrokerFacts, head: BrokerFacts) -> list[Finding]:
    """TLS, ports and the master name: every client (Airflow, KEDA, the exporters, the smoke Job) at once."""
    out = []
    if base.tls != head.tls:
        out.append(
            Finding(
                "tls-switch",
                "tls.enabled",
                f"{base.tls} -> {head.tls}",
                Verdict.DISRUPTIVE,
                "every pod rolls to "
                + ("TLS only (no plain port)" if head.tls else "plain connections only")
                + ": from the first rolled pod, clients still on the other protocol cannot reach it, and from the "
                "master's hand-over none of Airflow's publishes or consumes succeed until Airflow is deployed "
                "with the new settings",
                "Deploy both sides in one maintenance window: pause the DAGs, sync the broker, deploy Airflow "
                "(and KEDA's objects, which sync with the broker), unpause. No roll keeps every client connected: "
                "each server announces one port and its links speak one protocol, so TLS pods and plain pods cannot "
                "reach each other's announced ports mid-roll (docs/operate/tls.md, 'Turning TLS on or off').",
            )
        )
    if _endpoint(base) != _endpoint(head):
        what = [
            f"{label} {a} -> {b}"
            for label, a, b in zip(
                ("master name", "Redis port", "Sentinel port"), _endpoint(base), _endpoint(head), strict=True
            )
            if a != b
        ]
        out.append(
            Finding(
                "client-endpoint",
                "sentinel.masterName / ports",
                "; ".join(what),
                Verdict.DISRUPTIVE,
                "the pods roll to the new name or ports: clients still asking the Sentinels for the old name, or "
                "dialling the old ports, are cut off until they are deployed with the new ones; a port's "
                "NetworkPolicy admits only the new one from the sync on, so pods still on the old one are cut off "
                "from clients and from each other until they roll",
                "Deploy both sides in one maintenance window (pause the DAGs, sync, deploy Airflow, unpause).",
            )
        )
    return out


def others(objects: list[ObjectChange], roll_fields: tuple[str, ...]) -> list[ClientChange]:
    """KEDA's objects, the exporters (sidecars and their ServiceMonitor), the smoke Job."""
    out = []
    keda = [o for o in objects if o.kind in ("ScaledObject", "TriggerAuthentication")]
    if keda:
        out.append(
            ClientChange(
                "keda", tuple(f"{o.kind}/{o.name} {o.action}" for o in keda), "synced with the broker, in place"
            )
        )
    exporter = [f for f in roll_fields if ".containers.exporter" in f or ".containers.sentinel-exporter" in f]
    exporter += [f"ServiceMonitor/{o.name} {o.action}" for o in objects if o.kind == "ServiceMonitor"]
    if exporter:
        out.append(ClientChange("exporter", tuple(exporter), "with the pods: the exporters are sidecars"))
    smoke = [o for o in objects if o.kind == "Job" and "smoke" in o.name]
    if smoke:
        out.append(
            ClientChange(
                "smoke", tuple(f"Job/{o.name} {o.action}" for o in smoke), "after the sync (Argo CD's PostSync hook)"
            )
        )
    return out
