"""The kwokctl config: localhost binding, a full set of Stages, and the lab's pod delay."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from labkit.cluster import images, stages
from labkit.errors import BackendError
from labkit.settings import ClusterSettings

PORTS = {"kubeApiserverPort": 21001, "etcdPort": 21002}


def docs(cluster: ClusterSettings) -> list[dict]:  # type: ignore[type-arg]
    return list(yaml.safe_load_all(stages.render_config(cluster, PORTS)))


def by_name(cluster: ClusterSettings) -> dict[str, dict]:  # type: ignore[type-arg]
    return {d["metadata"]["name"]: d for d in docs(cluster)[1:]}


def test_the_config_binds_to_localhost_and_keeps_node_leases() -> None:
    config = docs(ClusterSettings())[0]
    assert config["kind"] == "KwokctlConfiguration"
    assert config["options"]["bindAddress"] == "127.0.0.1"
    assert config["options"]["kubeApiserverPort"] == 21001
    assert config["options"]["nodeLeaseDurationSeconds"] == stages.NODE_LEASE_SECONDS


def test_node_stages_ship_with_the_pod_stages_because_any_stage_replaces_all_defaults() -> None:
    names = set(by_name(ClusterSettings()))
    assert names == {
        "node-initialize",
        "node-heartbeat-with-lease",
        "pod-ready",
        "pod-complete",
        "pod-delete",
        "pod-image-pull-failed",
        "pod-image-pull-backoff",
    }


def test_pod_ready_waits_the_labs_delay_and_jitter() -> None:
    ready = by_name(ClusterSettings(pod_ready_delay_ms=700, pod_ready_jitter_ms=1900))["pod-ready"]
    assert ready["spec"]["delay"] == {"durationMilliseconds": 700, "jitterDurationMilliseconds": 1900}
    assert "delay" not in by_name(ClusterSettings())["pod-delete"]["spec"]


def _match(stage: dict) -> list[dict]:  # type: ignore[type-arg]
    return stage["spec"]["selector"]["matchExpressions"]  # type: ignore[no-any-return]


def test_pods_with_an_image_outside_the_catalogue_fail_to_pull_and_are_never_made_ready() -> None:
    named = by_name(ClusterSettings())
    key = stages.unknown_image_key(images.known_images())
    assert {"key": key, "operator": "NotIn", "values": ["true"]} in _match(named["pod-ready"])
    assert {"key": key, "operator": "In", "values": ["true"]} in _match(named["pod-image-pull-failed"])
    failed = named["pod-image-pull-failed"]["spec"]["next"]["statusTemplate"]
    assert "reason: ErrImagePull" in failed and "phase: Pending" in failed
    assert '"nginx:1.27"' in failed and "KNOWN_IMAGES" not in failed


def test_an_image_pull_failure_backs_off_once_and_then_stays() -> None:
    named = by_name(ClusterSettings(pod_ready_delay_ms=300, pod_ready_jitter_ms=600))
    failed, backoff = named["pod-image-pull-failed"], named["pod-image-pull-backoff"]
    waiting = ".status.containerStatuses.[].state.waiting.reason"
    not_yet = {"key": waiting, "operator": "NotIn", "values": ["ErrImagePull", "ImagePullBackOff"]}
    assert not_yet in _match(failed)
    assert {"key": waiting, "operator": "In", "values": ["ErrImagePull"]} in _match(backoff)
    template = backoff["spec"]["next"]["statusTemplate"]
    assert "reason: ImagePullBackOff" in template
    assert 'printf "Back-off pulling image \\"%s\\"" .image' in template
    assert backoff["spec"]["delay"] == {"durationMilliseconds": 300, "jitterDurationMilliseconds": 600}


def test_the_unknown_image_key_is_jq_over_the_containers_images() -> None:
    key = stages.unknown_image_key(["nginx:1.27", "busybox"])
    assert key == '[.spec.containers[].image] - ["nginx:1.27", "busybox"] | length > 0'


def test_extra_images_of_a_lab_join_the_catalogue_in_every_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_EXTRA_IMAGES", "myapp:1.0, myapp:1.1")
    named = by_name(ClusterSettings())
    assert '"myapp:1.1"' in _match(named["pod-ready"])[-1]["key"]
    assert '"myapp:1.0"' in named["pod-image-pull-backoff"]["spec"]["next"]["statusTemplate"]


def test_pod_complete_only_moves_job_pods() -> None:
    match = by_name(ClusterSettings())["pod-complete"]["spec"]["selector"]["matchExpressions"]
    assert {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]} in match


def test_a_jitter_below_the_delay_is_refused_with_the_variables_to_fix() -> None:
    with pytest.raises(BackendError) as e:
        stages.stages(ClusterSettings(pod_ready_delay_ms=3000, pod_ready_jitter_ms=1000))
    assert "LABKIT_POD_READY_JITTER_MS" in e.value.hint


def test_the_delay_is_settable_per_lab_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_POD_READY_DELAY_MS", "250")
    monkeypatch.setenv("LABKIT_POD_READY_JITTER_MS", "500")
    assert (ClusterSettings().pod_ready_delay_ms, ClusterSettings().pod_ready_jitter_ms) == (250, 500)


def _kwok_stage_dir() -> Path | None:
    go = shutil.which("go")
    if go is None:
        return None
    cache = subprocess.run(
        [go, "env", "GOMODCACHE"], capture_output=True, text=True, check=True
    ).stdout.strip()
    path = Path(cache) / "sigs.k8s.io" / "kwok@v0.8.0" / "kustomize" / "stage"
    return path if path.is_dir() else None


@pytest.mark.parametrize(
    ("ours", "upstream"),
    [
        ("node-initialize", "node/fast/node-initialize.yaml"),
        ("node-heartbeat-with-lease", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml"),
        ("pod-ready", "pod/fast/pod-ready.yaml"),
        ("pod-complete", "pod/fast/pod-complete.yaml"),
        ("pod-delete", "pod/fast/pod-delete.yaml"),
    ],
)
def test_stages_match_kwoks_own_apart_from_the_pod_delay(ours: str, upstream: str) -> None:
    stage_dir = _kwok_stage_dir()
    if stage_dir is None:
        pytest.skip("kwok v0.8.0 is not in the Go module cache (run `labkit toolchain ensure` with Go)")
    theirs = yaml.safe_load((stage_dir / upstream).read_text())
    mine = by_name(ClusterSettings())[ours]
    if ours == "pod-ready":
        mine["spec"].pop("delay")
        unknown = mine["spec"]["selector"]["matchExpressions"].pop()
        assert unknown["key"] == stages.unknown_image_key(images.known_images())
    assert mine == theirs
