"""The real Flux on the lab: source-controller and kustomize-controller reading the lab's Git over HTTP.

Flux (built from its Go modules, run out of cluster by ``lab.flux.up()``) is
brought up once for this module and taken down at the end, which deletes every
Flux object first. Each test makes its own GitRepository and Kustomization in
``flux-system`` (named after the test) that deploy into a namespace of its own
(``targetNamespace``), and files of its own under ``apps/<name>`` of the lab's
repository; everything is deleted afterwards. The cases are the ones in the
issue: Ready for ``apps/demo``, a pushed commit applied after a reconcile
request (the post-receive hook's, and ``labkit flux reconcile``'s), ``prune``,
a ``kubectl scale`` reverted at the next interval, and a wrong path and a wrong
URL reported as Ready=False with Flux's reason. Times are logged, not asserted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from labkit import githttp
from labkit.errors import KubeError
from labkit.flux import objects
from labkit.kube import Kube
from tests.conftest import TEST_NAMESPACE_LABEL
from tests.integration.apphelpers import configmap, deployment, dump, new_name

if TYPE_CHECKING:
    from labkit.flux import Flux
    from labkit.lab import Lab

pytestmark = [pytest.mark.cluster, pytest.mark.flux, pytest.mark.timeout(600)]
log = logging.getLogger("labkit.tests")
NS = "flux-system"


@pytest.fixture(scope="module")
def flux(lab: Lab) -> Iterator[Flux]:
    lab.flux.up(progress=log.info)
    yield lab.flux
    lab.flux.down(progress=log.info)


@pytest.fixture
def kube(lab: Lab) -> Iterator[Kube]:
    with lab.kube() as k:
        yield k


@pytest.fixture
def deploy(lab: Lab, flux: Flux, kube: Kube) -> Iterator[Callable[..., str]]:
    """``deploy(path, name=…, url=…, **kustomization_spec)``: a GitRepository + Kustomization into a new
    namespace (called ``name``, new by default); the name.

    Afterwards the Kustomization (and with ``prune`` what it applied), the GitRepository, the
    namespace and the test's files in the repository are deleted.
    """
    made: list[str] = []

    def make(path: str, *, name: str | None = None, url: str | None = None, **spec: Any) -> str:
        name = name or new_name("fx")
        kube.ensure_namespace(name, labels={TEST_NAMESPACE_LABEL: "true"})
        made.append(name)
        for obj in flux_objects(name, path, url or githttp.url(lab.state_dir), **spec):
            result = kube.apply(obj)
            assert result.ok, result.message
        return name

    yield make
    for name in made:
        for api, kind in objects.KINDS.values():
            kube.delete(api, kind, name, NS)
        kube.wait_for(
            lambda n=name: all(kube.get(a, k, n, NS) is None for a, k in objects.KINDS.values()),
            30,
            f"Flux objects {name} to be deleted",
        )
        kube.delete("v1", "Namespace", name, propagation="Background")
        files = sorted((lab.repo.work / "apps" / name).glob("*.yaml"))
        if files:
            gone = {f"apps/{name}/{f.name}": None for f in files}
            lab.repo.commit_and_push(f"test cleanup: remove apps/{name}", gone)


def flux_objects(name: str, path: str, url: str, **spec: Any) -> list[dict[str, Any]]:
    """A GitRepository for ``url`` and a Kustomization of ``path`` into namespace ``name``."""
    git_interval = spec.pop("git_interval", "10m")
    return [
        {
            "apiVersion": objects.SOURCE_API,
            "kind": "GitRepository",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"interval": git_interval, "url": url, "ref": {"branch": "main"}, "timeout": "20s"},
        },
        {
            "apiVersion": objects.KUSTOMIZE_API,
            "kind": "Kustomization",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "interval": "10m",
                "path": f"./{path}",
                "prune": True,
                "targetNamespace": name,
                "sourceRef": {"kind": "GitRepository", "name": name},
                **spec,
            },
        },
    ]


def ready(kube: Kube, kind: str, name: str, timeout_s: float = 60) -> dict[str, Any]:
    """Wait until the Flux object's Ready condition is True; the object (its row in the failure)."""
    api, k = objects.kind_of(kind)
    seen: dict[str, Any] = {}

    def is_ready() -> bool:
        seen["obj"] = kube.get(api, k, name, NS) or {}
        return objects.row(seen["obj"]).ready == "True"

    try:
        kube.wait_for(is_ready, timeout_s, f"{k} {name} to be Ready")
    except KubeError as e:
        raise AssertionError(f"{e}: {objects.row(seen.get('obj') or {})}") from e
    return dict(seen["obj"])


def replicas(kube: Kube, namespace: str, name: str = "web") -> int | None:
    live = kube.get("apps/v1", "Deployment", name, namespace)
    return None if live is None else int(live["spec"]["replicas"])


def wait_replicas(kube: Kube, namespace: str, want: int, timeout_s: float) -> float:
    """Seconds until the Deployment web has ``want`` replicas."""
    start = time.monotonic()
    kube.wait_for(
        lambda: replicas(kube, namespace) == want, timeout_s, f"web in {namespace} at {want} replicas"
    )
    return time.monotonic() - start


def test_gitrepository_and_kustomization_for_apps_demo_reach_ready(
    flux: Flux, kube: Kube, deploy: Any
) -> None:
    name = deploy("apps/demo")
    source = ready(kube, "gitrepository", name)
    applied = ready(kube, "kustomization", name)
    assert source["status"]["artifact"]["revision"].startswith("main@sha1:")
    assert applied["status"]["lastAppliedRevision"] == source["status"]["artifact"]["revision"]
    assert replicas(kube, name) == 2
    assert kube.get("v1", "ConfigMap", "web-config", name) and kube.get("v1", "Service", "web", name)
    rows = {(r.kind, r.name): r for r in flux.get(namespace=NS)}
    assert rows[("Kustomization", name)].ready == "True"
    assert rows[("GitRepository", name)].reason == "Succeeded"


def test_a_push_is_applied_after_the_hooks_reconcile_request(lab: Lab, kube: Kube, deploy: Any) -> None:
    # Both intervals are 10 min: only the post-receive hook's request can bring the commit in time.
    name = new_name("fx")
    lab.repo.commit_and_push(f"add {name}", {f"apps/{name}/app.yaml": dump(deployment(replicas=1))})
    deploy(f"apps/{name}", name=name)
    ready(kube, "kustomization", name)
    start = time.monotonic()
    sha = lab.repo.commit_and_push("scale to 3", {f"apps/{name}/app.yaml": dump(deployment(replicas=3))})
    pushed = time.monotonic() - start
    applied = wait_replicas(kube, name, 3, timeout_s=30) + pushed
    log.info(
        "flux: commit -> applied through the hook's reconcile request: %.1f s (push %.1f s)", applied, pushed
    )
    api, kind = objects.kind_of("kustomization")
    applied_revision = lambda: objects.row(kube.get(api, kind, name, NS) or {}).revision  # noqa: E731
    kube.wait_for(lambda: applied_revision() == f"main@sha1:{sha}", 10, f"lastAppliedRevision {sha[:8]}")


def test_labkit_flux_reconcile_brings_a_commit_in_and_says_which(
    lab: Lab, flux: Flux, kube: Kube, deploy: Any
) -> None:
    name = new_name("fx")
    lab.repo.commit_and_push(f"add {name}", {f"apps/{name}/app.yaml": dump(deployment(replicas=1))})
    deploy(f"apps/{name}", name=name)
    ready(kube, "kustomization", name)
    sha = lab.repo.commit_and_push("scale to 4", {f"apps/{name}/app.yaml": dump(deployment(replicas=4))})
    start = time.monotonic()
    row = flux.reconcile("kustomization", name, NS, with_source=True, progress=log.info)
    log.info("flux: labkit flux reconcile --with-source returned in %.1f s", time.monotonic() - start)
    assert (row.ready, row.revision) == ("True", f"main@sha1:{sha}")
    assert objects.success_message(row) == f"applied revision main@sha1:{sha}"
    assert replicas(kube, name) == 4, "applied by the time reconcile returns"


def test_prune_removes_the_objects_of_a_deleted_file(lab: Lab, flux: Flux, kube: Kube, deploy: Any) -> None:
    name = new_name("fx")
    files = {f"apps/{name}/app.yaml": dump(deployment()), f"apps/{name}/config.yaml": dump(configmap())}
    lab.repo.commit_and_push(f"add {name}", files)
    deploy(f"apps/{name}", name=name)
    ready(kube, "kustomization", name)
    assert kube.get("v1", "ConfigMap", "web-config", name) is not None
    lab.repo.commit_and_push("drop the config", {f"apps/{name}/config.yaml": None})
    flux.reconcile("kustomization", name, NS, with_source=True, progress=log.info)
    kube.wait_for(lambda: kube.get("v1", "ConfigMap", "web-config", name) is None, 15, "web-config pruned")
    assert replicas(kube, name) == 2, "the other file's objects stay"


def test_a_kubectl_scale_is_reverted_at_the_next_interval(lab: Lab, kube: Kube, deploy: Any) -> None:
    from labkit.drift import DriftInjector

    name = new_name("fx")
    lab.repo.commit_and_push(f"add {name}", {f"apps/{name}/app.yaml": dump(deployment(replicas=2))})
    deploy(f"apps/{name}", name=name, interval="10s")
    ready(kube, "kustomization", name)
    DriftInjector(lab.kubeconfig, lab.timeline, echo=log.info, context=lab.context).scale(name, "web", 5)
    assert replicas(kube, name) == 5
    reverted = wait_replicas(kube, name, 2, timeout_s=40)
    log.info("flux: kubectl scale -> reverted on the 10 s interval: %.1f s", reverted)


def test_a_wrong_path_is_ready_false_with_flux_reason_and_changes_nothing(
    flux: Flux, kube: Kube, deploy: Any
) -> None:
    name = deploy("apps/no-such-dir")
    ready(kube, "gitrepository", name)
    row = flux.reconcile("kustomization", name, NS, progress=log.info)
    assert (row.ready, row.reason) == ("False", "ArtifactFailed"), row
    assert "kustomization path not found" in row.message
    assert next(r for r in flux.get("kustomization", NS) if r.name == name) == row
    assert kube.list("apps/v1", "Deployment", name) == []
    assert [c["metadata"]["name"] for c in kube.list("v1", "ConfigMap", name)] in ([], ["kube-root-ca.crt"])


def test_a_wrong_url_is_ready_false_with_flux_reason(lab: Lab, flux: Flux, kube: Kube, deploy: Any) -> None:
    wrong = githttp.url(lab.state_dir).replace("gitops.git", "no-such-repo.git")
    name = deploy("apps/demo", url=wrong)
    api, kind = objects.kind_of("gitrepository")
    failed = lambda: objects.row(kube.get(api, kind, name, NS) or {})  # noqa: E731
    kube.wait_for(
        lambda: failed().ready == "False" and failed().reason != "", 60, "Ready=False with a reason"
    )
    row = next(r for r in flux.get("gitrepository", NS) if r.name == name)
    assert (row.ready, row.reason) == ("False", "GitOperationFailed"), row
    assert "no-such-repo" in row.message
    assert kube.list("apps/v1", "Deployment", name) == []
