"""Each spec rule refuses a bad spec with file, line, field and what to fix."""

import re

import pytest

from redis_gitops.synth.spec_loader import SpecError, parse_spec

from conftest import without_policy


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "cluster_spec.yaml")
    return [str(p) for p in caught.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_default_spec_is_valid(spec):
    assert spec.redis.replicas == 3 and spec.sentinel.quorum == 2
    assert spec.redis.maxmemory_bytes == int(0.75 * 2**30)


def test_unknown_key_is_refused_with_did_you_mean(spec_text):
    text = edit(spec_text, "  downAfterMilliseconds:", "  downAfterMiliseconds:")
    [problem] = problems_of(text)
    assert problem.startswith(
        f"cluster_spec.yaml:{line_of(text, 'downAfterMiliseconds')}: sentinel.downAfterMiliseconds:"
    )
    assert "did you mean 'downAfterMilliseconds'?" in problem


def test_unknown_top_level_section_lists_known_keys(spec_text):
    [problem] = problems_of(spec_text + "\nzzz: 1\n")
    assert "unknown key 'zzz'" in problem and "redis" in problem


@pytest.mark.parametrize("replicas", [2, 4, 1])
def test_sentinel_count_must_be_odd_and_at_least_3(spec_text, replicas):
    text = edit(spec_text, "  replicas: 3 ", f"  replicas: {replicas} ")
    [problem] = problems_of(text)
    assert f":{line_of(text, f'replicas: {replicas}')}: redis.replicas:" in problem
    assert "odd count of at least 3" in problem


def test_quorum_must_be_a_strict_majority(spec_text):
    text = edit(spec_text, "  quorum: 2 ", "  quorum: 1 ")
    [problem] = problems_of(text)
    assert problem.startswith(f"cluster_spec.yaml:{line_of(text, 'quorum: 1')}: sentinel.quorum:")
    assert "not a strict majority: use 2" in problem


def test_quorum_cannot_exceed_sentinel_count(spec_text):
    [problem] = problems_of(edit(spec_text, "  quorum: 2 ", "  quorum: 4 "))
    assert "sentinel.quorum" in problem and "strict majority" in problem


def test_missing_secret_reference_is_refused(spec_text):
    text = re.sub(r"  sentinelPassword:\n    secretName: redis-auth\n    key: sentinel-password\n", "", spec_text)
    [problem] = problems_of(text)
    assert problem == f"cluster_spec.yaml:{line_of(text, 'auth:')}: auth.sentinelPassword: required but missing: add it"


def test_password_literal_is_refused(spec_text):
    text = edit(spec_text, "    key: redis-password", "    key: redis-password\n    password: hunter2")
    [problem] = problems_of(text)
    assert "auth.redisPassword" in problem and "passwords never go in the spec" in problem


def test_maxmemory_above_80_percent_of_the_limit_is_refused(spec_text):
    text = edit(spec_text, "  maxmemory: auto ", "  maxmemory: 1000Mi ")
    [problem] = problems_of(text)
    assert problem.startswith(f"cluster_spec.yaml:{line_of(text, 'maxmemory: 1000Mi')}: redis.maxmemory:")
    assert "above 80% of the redis memory limit (1Gi)" in problem and "858993459 bytes" in problem


def test_evicting_policy_is_refused_for_a_broker(spec_text):
    [problem] = problems_of(edit(spec_text, "maxmemoryPolicy: noeviction", "maxmemoryPolicy: allkeys-lru"))
    assert "redis.maxmemoryPolicy" in problem and "must use noeviction" in problem


def test_latest_image_tag_is_refused(spec_text):
    [problem] = problems_of(edit(spec_text, 'tag: "8.1.8"', "tag: latest"))
    assert "redis.image.tag" in problem and "not an explicit version" in problem


def test_requests_above_limits_are_refused(spec_text):
    [problem] = problems_of(edit(spec_text, "requests: {cpu: 250m, memory: 1Gi}", "requests: {cpu: '2', memory: 1Gi}"))
    assert "redis.resources" in problem and "requests.cpu (2) is above limits.cpu (1)" in problem


def test_invalid_kubernetes_name_is_refused(spec_text):
    [problem] = problems_of(edit(spec_text, "name: redis ", "name: Redis_Broker "))
    assert problem.startswith("cluster_spec.yaml:5: name:") and "not a valid Kubernetes name" in problem


def test_root_user_ids_are_refused(spec_text):
    [problem] = problems_of(edit(spec_text, "runAsUser: 10001", "runAsUser: 0"))
    assert "security.runAsUser" in problem and "10000 or above" in problem


def test_min_replicas_to_write_needs_enough_replicas(spec_text):
    [problem] = problems_of(edit(spec_text, "minReplicasToWrite: 1 ", "minReplicasToWrite: 3 "))
    assert "redis.minReplicasToWrite" in problem and "at most 2" in problem


def test_persistence_must_hold_dataset_and_rewrite(spec_text):
    [problem] = problems_of(edit(spec_text, "size: 10Gi", "size: 1Gi"))
    assert "persistence.size" in problem and "AOF rewrite" in problem


def test_unsupported_kubernetes_version_is_refused(spec_text):
    [problem] = problems_of(edit(spec_text, 'kubernetesVersion: "1.33"', 'kubernetesVersion: "1.12"'))
    assert "kubernetesVersion" in problem and "use 1.25 to 1.37" in problem


def test_several_problems_are_reported_together(spec_text):
    text = edit(edit(spec_text, "  replicas: 3 ", "  replicas: 4 "), "  downAfterMilliseconds:", "  downAfter:")
    assert len(problems_of(text)) == 2


def test_broken_yaml_names_the_line():
    [problem] = problems_of("name: redis\nredis: [unclosed\n")
    assert problem.startswith("cluster_spec.yaml:") and "not valid YAML" in problem


@pytest.mark.parametrize(
    "old, new, field, rule",
    [
        ("    fsync: everysec ", '    fsync: "no" ', "persistence.aof.fsync", "persistence-aof"),
        (
            "    enabled: true            # AOF",
            "    enabled: false           # AOF",
            "persistence.aof.enabled",
            "persistence-aof",
        ),
        (
            "  podAntiAffinity: required ",
            "  podAntiAffinity: preferred ",
            "scheduling.podAntiAffinity",
            "quorum-anti-affinity",
        ),
    ],
)
def test_what_the_gate_refuses_the_spec_refuses_unless_waived(spec_text, old, new, field, rule):
    """One owner per bound: a value the gate would refuse after rendering is refused here, at its line, and
    the message names the waiver that would allow it."""
    text = edit(spec_text, old, new)
    [problem] = problems_of(text)
    assert f"cluster_spec.yaml:{line_of(text, new.strip().split()[0] + ' ' + new.strip().split()[1])}:" in problem
    assert field.split(".")[-1] in problem and rule in problem


def test_a_waiver_in_the_spec_allows_what_the_gate_would_refuse(spec_text):
    text = edit(without_policy(spec_text), "    fsync: everysec ", '    fsync: "no" ') + (
        "\npolicy:\n  waivers:\n    - rule: persistence-aof\n      kind: ConfigMap\n      name: redis-config\n"
        "      reason: a throw-away test cluster; losing a second of tasks is fine\n"
    )
    assert parse_spec(text).persistence.aof.fsync == "no"


def test_redis_and_sentinel_on_one_port_is_refused(spec_text):
    text = edit(spec_text, "sentinel:\n", "sentinel:\n  port: 6379\n")
    [problem] = problems_of(text)
    assert f"cluster_spec.yaml:{line_of(text, 'port: 6379')}: sentinel.port:" in problem


def test_snake_case_keys_are_refused_as_the_schema_says(spec_text):
    text = edit(spec_text, "  downAfterMilliseconds:", "  down_after_milliseconds:")
    [problem] = problems_of(text)
    assert "down_after_milliseconds" in problem and "downAfterMilliseconds" in problem


def test_a_bad_name_is_quoted_in_the_message(spec_text):
    [problem] = problems_of(edit(spec_text, "namespace: airflow ", "namespace: Airflow "))
    assert "'Airflow'" in problem and "{value" not in problem


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("clusterDomain: cluster.local", "clusterDomain: Cluster_Local", "clusterDomain"),
        ("  namespace: monitoring ", "  namespace: Monitoring ", "monitoring.namespace"),
        ("storageClassName: local-path", "storageClassName: Local Path", "persistence.storageClassName"),
        (
            "  podAntiAffinity: required ",
            "  podAntiAffinity: required\n  priorityClassName: high_priority ",
            "scheduling.priorityClassName",
        ),
    ],
)
def test_kubernetes_names_in_the_spec_are_validated(spec_text, old, new, field):
    text = edit(spec_text, old, new)
    [problem] = problems_of(text)
    assert f": {field}:" in problem and "not a valid Kubernetes name" in problem


@pytest.mark.parametrize(
    "old, new, says",
    [
        ('kubernetesVersion: "1.33"', "kubernetesVersion: 1.30", 'quote it: "1.30"'),
        ("  replicas: 3 ", "  replicas: true ", "a whole number, not true"),
        ("  quorum: 2 ", "  quorum: two ", "a whole number, not 'two'"),
        # One strictness for every field: a value is taken as YAML typed it (these were converted silently).
        ("  replicas: 3 ", '  replicas: "3" ', "expected a whole number, not the text '3': write it without quotes"),
        ("  failover: false", '  failover: "false"', "expected true or false, not 'false'"),
        ("  failover: false", "  failover: 0", "expected true or false, not 0"),
        ("  maxWriteOutageSeconds: 5", '  maxWriteOutageSeconds: "5"', "expected a number, not the text '5'"),
    ],
)
def test_type_mistakes_say_how_to_fix_them(spec_text, old, new, says):
    text = edit(spec_text, old, new)
    [problem] = problems_of(text)
    assert says in problem, problem


@pytest.mark.parametrize(
    "path, bad",
    [
        (("redis", "replicas"), 4),
        (("redis", "image", "tag"), "latest"),
        (("security", "runAsUser"), 0),
        (("namespace",), "Airflow"),
        (("kubernetesVersion",), "1.20"),
        (("redis", "resources", "limits", "memory"), "1 GB"),
        (("persistence", "storageClassName"), "Local Path"),
    ],
)
def test_the_editor_schema_refuses_what_the_loader_refuses(spec, path, bad):
    """cluster_spec.schema.json carries the loader's validators, so an editor shows the same errors."""
    import json

    import jsonschema
    from ruamel.yaml import YAML

    from conftest import ROOT

    schema = json.loads((ROOT / "cluster_spec.schema.json").read_text())
    doc = YAML(typ="safe").load((ROOT / "cluster_spec.yaml").read_text())
    jsonschema.validate(doc, schema)  # the committed spec passes
    target = doc
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = bad
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_an_image_tag_message_quotes_the_tag(spec_text):
    [problem] = problems_of(edit(spec_text, 'tag: "8.1.8"', "tag: latest"))
    assert "'latest'" in problem and "{tag" not in problem


def test_a_literal_password_says_passwords_never_go_in_the_spec(spec_text):
    """A new user's first try: the password itself where a Secret reference belongs."""
    text = edit(
        spec_text,
        "  redisPassword:\n    secretName: redis-auth\n    key: redis-password\n",
        '  redisPassword: "S3cret"\n',
    )
    [problem] = problems_of(text)
    assert problem.startswith(
        f"cluster_spec.yaml:{line_of(text, 'S3cret')}: auth.redisPassword: passwords never go in the spec"
    ), problem
    assert "S3cret" not in problem


def test_a_misindented_key_is_named_at_its_own_line_in_plain_words(spec_text):
    text = edit(
        spec_text,
        "  sentinelPassword:\n    secretName: redis-auth\n",
        "  sentinelPassword:\n     secretName: redis-auth\n",
    )
    [problem] = problems_of(text)
    first = line_of(text, "     secretName: redis-auth")
    assert problem == (
        f"cluster_spec.yaml:{first}: <root>: lines {first} and {first + 1} are keys of one section "
        "but start in different columns (6 and 5): align them"
    )


def test_a_tab_in_the_indentation_is_named(spec_text):
    text = edit(spec_text, "  replicas: 3 ", "\treplicas: 3 ")
    [problem] = problems_of(text)
    assert "a tab character: YAML indents with spaces only" in problem
