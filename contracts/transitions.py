"""The changes `plan` may find that the gate (`check --base`) stops unless the spec acknowledges them.

One list for the spec model (`policy.acknowledge[].change` must name one) and for the plan (each finding carries
one of these codes); the docs' table is generated from it.
"""

# code -> what the change is, in a few words (the plan's own text says what it does and what to do)
ACKNOWLEDGEABLE = {
    "volume-claim-template": "a change to the StatefulSet's volumeClaimTemplates (the volume's size, class or mode)",
    "statefulset-identity": "a change to the StatefulSet's selector, serviceName or podManagementPolicy",
    "job-template": "a change to a Job's pod template outside an Argo CD hook",
    "pvc-spec": "a PersistentVolumeClaim shrunk or given another class, mode or volume",
    "service-cluster-ip": "a Service's clusterIP changed (headless or not)",
    "namespace-or-name": "the broker's namespace or name changed: a new, empty broker beside the running one",
    "tls-switch": "TLS turned on or off: every client must switch at the same moment",
    "client-endpoint": "the master name or a port changed: every client must change at the same moment",
    "client-user": "a client's ACL user changed: the old one disappears as the pods roll",
    "database": "Airflow's database number changed: tasks queued in the old one are left behind",
    "persistence-off": "AOF or RDB snapshots turned off",
    "replicas-down": "fewer Redis pods: their volumes stay, unused",
    "backup-removed": "the backup volume pruned with its snapshots",
    "engine-version": "an engine or version the running data cannot follow (an older RDB format)",
    "secret-key-added": "pods read a Secret key they did not read before (Secrets are not in git)",
    "password-switch": "a password changed in one step: old and new pods refuse each other's during the roll",
    "environments-layout": "the rendering moved from dist/ into environment folders: the old Application prunes it",
}
