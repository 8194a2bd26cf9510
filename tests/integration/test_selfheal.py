"""Self-heal against the real kwok lab: drift is seen from the watch, healed, and backed off.

Every drift here is made with the real ``kubectl`` through
:class:`labkit.drift.DriftInjector`, which writes ``drift_injected`` to the
lab's timeline; the controller answers with ``drift_detected``,
``self_heal_attempt`` and ``healed``. Latencies are read from those events.
Each test owns its apps (own directory in the lab repo, own namespace).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from labkit.drift import DriftInjector
from labkit.events import Event
from labkit.gitops import application as appdef
from labkit.gitops.application import ResourceKey
from labkit.settings import ControllerSettings
from tests.integration.apphelpers import (
    GitApp,
    MakeApp,
    configmap,
    deployment,
    dump,
    eventually,
    service,
)

pytestmark = pytest.mark.cluster
log = logging.getLogger("labkit.tests")

POLL_JITTER_S = ControllerSettings().poll_jitter_s
"""The lab controller's poll jitter, added to every refreshInterval."""


def demo_files(**deploy: Any) -> dict[str, str]:
    """Deployment + Service ``web`` and ConfigMap ``web-config``: what DriftInjector's defaults aim at."""
    return {"app.yaml": dump(deployment(**deploy), service(), configmap(GREETING="hello"))}


def start(app: GitApp, **options: Any) -> None:
    app.commit("demo app", **demo_files())
    app.create(auto_sync=True, **options)
    app.wait(sync="Synced", health="Healthy", timeout_s=60)


def next_event(app: GitApp, kind: str, since_ns: int, timeout_s: float = 15.0) -> Event:
    """The first ``kind`` event of ``app`` at or after ``since_ns`` (waits for it; says what came instead)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = app.timeline.read(app=app.name, kind=kind, since_ns=since_ns)
        if found:
            return found[0]
        time.sleep(0.05)
    came = [(round((e.ts_ns - since_ns) / 1e9, 2), e.kind, e.data.get("trigger")) for e in app.events()]
    raise AssertionError(f"no {kind} of {app.name} within {timeout_s} s; its events: {came[-25:]}")


def seconds(later: Event, earlier: Event) -> float:
    return (later.ts_ns - earlier.ts_ns) / 1e9


def deploy_key(app: GitApp, name: str = "web") -> ResourceKey:
    return ResourceKey("apps", "Deployment", app.namespace, name)


def cm_key(app: GitApp, name: str = "web-config") -> ResourceKey:
    return ResourceKey("", "ConfigMap", app.namespace, name)


def container(app: GitApp, name: str = "web") -> dict[str, Any]:
    live = app.live("Deployment", name, "apps/v1") or {}
    return dict(live["spec"]["template"]["spec"]["containers"][0])


def replicas_in_git(app: GitApp) -> bool:
    return (app.live("Deployment", "web", "apps/v1") or {})["spec"]["replicas"] == 2


def greeting_in_git(app: GitApp) -> bool:
    return (app.live("ConfigMap", "web-config") or {}).get("data", {}).get("GREETING") == "hello"


def image_in_git(app: GitApp) -> bool:
    return container(app)["image"] == "nginx:1.27"


def config_exists(app: GitApp) -> bool:
    return app.live("ConfigMap", "web-config") is not None


# drift kind -> (key of the object it changes, the path the diff must name, "is it as Git says?")
DECLARED: dict[str, tuple[Callable[[GitApp], ResourceKey], str | None, Callable[[GitApp], bool]]] = {
    "scale": (deploy_key, "spec.replicas", replicas_in_git),
    "edit": (cm_key, "data.GREETING", greeting_in_git),
    "set_image": (deploy_key, "spec.template.spec.containers[0].image", image_in_git),
    "delete": (cm_key, None, config_exists),
}


@pytest.mark.parametrize("kind", list(DECLARED))
def test_with_self_heal_a_declared_drift_is_seen_from_the_watch_and_healed(
    make_app: MakeApp, drift: DriftInjector, kind: str
) -> None:
    app = make_app("heal")
    start(app, self_heal=True)
    key_of, path, as_in_git = DECLARED[kind]
    mark = time.time_ns()
    drift.inject(kind, app=app.name, namespace=app.namespace)
    injected = next_event(app, "drift_injected", mark)
    detected = next_event(app, "drift_detected", mark)
    healed = next_event(app, "healed", mark)
    latency = seconds(detected, injected)
    log.info(
        "%s: detected %.3f s, healed %.3f s after kubectl returned", kind, latency, seconds(healed, injected)
    )
    # Git is polled every 30 s (plus jitter): well under a second can only be the watch.
    assert latency < 1.0, f"{kind} seen {latency:.2f} s after kubectl: not from the watch"
    key = str(key_of(app))
    assert detected.data["resources"] == [key]
    if path is not None:
        assert path in detected.data["paths"][key]
    assert healed.data["resources"] == [key]
    assert as_in_git(app)
    assert app.wait(sync="Synced", timeout_s=10)["status"]["sync"]["status"] == "Synced"


@pytest.mark.parametrize("kind", ["scale", "edit", "set_image"])
def test_with_self_heal_off_the_drift_stays_and_the_app_names_the_resource_and_field(
    make_app: MakeApp, drift: DriftInjector, kind: str
) -> None:
    app = make_app("heal")
    start(app, self_heal=False)
    key_of, path, as_in_git = DECLARED[kind]
    key = key_of(app)
    mark = time.time_ns()
    drift.inject(kind, app=app.name, namespace=app.namespace)
    detected = next_event(app, "drift_detected", mark)
    assert detected.data["self_heal"] is False and detected.data["resources"] == [str(key)]
    status = app.wait(sync="OutOfSync", timeout_s=10)["status"]
    [entry] = [r for r in status["resources"] if (r["kind"], r["name"]) == (key.kind, key.name)]
    assert entry["status"] == "OutOfSync"
    diff = app.apps.diff(app.name).get(key)
    assert diff is not None and path in diff.diff.changed_paths, diff
    assert path in detected.data["paths"][str(key)]
    time.sleep(2.0)  # self-heal's first attempt would come at once: nothing may happen
    assert not as_in_git(app), "self-heal is off: the drift must stay"
    assert not app.timeline.read(app=app.name, kind="self_heal_attempt", since_ns=mark)
    assert app.status()["sync"]["status"] == "OutOfSync"


# Which diff mode catches which drift (True = the app goes OutOfSync). Each drift hits its own
# object, so one app shows them all. Git declares replicas, image and data; it leaves labels,
# env and the Service type out. The last row is labkit's three-way merging lists by index (not
# by name, as kubectl's strategic merge does): an env var added next to ones Git declares makes
# the list longer, which three-way reports and server-side (SSA keeps kubectl's entry) does not.
MODES = ("server-side", "three-way")
CATCHES: dict[str, tuple[str, str, dict[str, bool]]] = {
    # drift: (kind, object, {mode: caught})
    "scale": ("Deployment", "scaled", {"server-side": True, "three-way": True}),
    "set_image": ("Deployment", "imaged", {"server-side": True, "three-way": True}),
    "edit": ("ConfigMap", "edited", {"server-side": True, "three-way": True}),
    "delete": ("ConfigMap", "deleted", {"server-side": True, "three-way": True}),
    "add_label": ("Deployment", "labelled", {"server-side": False, "three-way": False}),
    "set_env": ("Deployment", "env-undeclared", {"server-side": False, "three-way": False}),
    "patch_service_type": ("Service", "web", {"server-side": False, "three-way": False}),
    "set_env next to declared env": ("Deployment", "env-declared", {"server-side": False, "three-way": True}),
}


def kind_and_name(resource: str) -> str:
    """ "apps/Deployment ns/web" (a ResourceKey as the timeline writes it) -> "Deployment/web"."""
    group_kind, namespaced = resource.split()
    return f"{group_kind.split('/')[-1]}/{namespaced.split('/')[-1]}"


def _matrix_app(app: GitApp, mode: str) -> None:
    deployments = [deployment(n, replicas=1) for n in ("scaled", "imaged", "labelled", "env-undeclared")]
    declared_env = deployment("env-declared", replicas=1)
    declared_env["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "MODE", "value": "prod"}]
    maps = [configmap("edited", GREETING="hello"), configmap("deleted")]
    app.commit("one object per drift", **{"app.yaml": dump(*deployments, declared_env, service(), *maps)})
    app.create(auto_sync=True, diff_mode=mode)
    app.wait(sync="Synced", health="Healthy", timeout_s=90)


def _inject_all(drift: DriftInjector, app: GitApp) -> None:
    ns, name = app.namespace, app.name
    drift.scale(ns, "scaled", 3, app=name)
    drift.set_image(ns, "imaged", "imaged", "nginx:1.28", app=name)
    drift.edit(ns, "configmap", "edited", "data.GREETING", "hot-fixed", app=name)
    drift.delete(ns, "configmap", "deleted", app=name)
    drift.add_label(ns, "deployment", "labelled", "hotfix", "true", app=name)
    drift.set_env(ns, "env-undeclared", "env-undeclared", "DEBUG", "1", app=name)
    drift.patch_service_type(ns, "web", "NodePort", app=name)
    drift.set_env(ns, "env-declared", "env-declared", "DEBUG", "1", app=name)


@pytest.mark.parametrize("app_mode", MODES)
def test_which_diff_mode_catches_which_drift(make_app: MakeApp, drift: DriftInjector, app_mode: str) -> None:
    app = make_app("modes")
    _matrix_app(app, app_mode)
    mark = time.time_ns()
    _inject_all(drift, app)

    def expected(mode: str) -> set[str]:
        return {f"{kind}/{obj}" for kind, obj, caught in CATCHES.values() if caught[mode]}

    def out_of_sync() -> set[str]:
        resources = app.status().get("resources") or []
        return {f"{r['kind']}/{r['name']}" for r in resources if r["status"] == "OutOfSync"}

    # The controller compares with the app's own spec.diffMode, from watch events.
    eventually(
        lambda: out_of_sync() == expected(app_mode), 15, f"exactly {sorted(expected(app_mode))} OutOfSync"
    )
    events = app.timeline.read(app=app.name, kind="drift_detected", since_ns=mark)
    assert {kind_and_name(r) for e in events for r in e.data["resources"]} == expected(app_mode)
    # `labkit app diff --mode` recomputes either way on the same live objects.
    for mode in MODES:
        comparison = app.apps.diff(app.name, mode=mode)
        found = {f"{s.key.kind}/{s.key.name}" for s in comparison.resources if not s.diff.synced}
        assert found == expected(mode), f"diff mode {mode}"
    assert out_of_sync() == expected(app_mode), "nothing undeclared was noticed later either"


def test_an_untracked_object_is_never_pruned_by_a_pruning_self_healing_app(
    make_app: MakeApp, drift: DriftInjector
) -> None:
    app = make_app("heal")
    app.commit("demo app", **demo_files(), **{"extra.yaml": dump(configmap("extra"))})
    app.create(auto_sync=True, self_heal=True, prune=True)
    app.wait(sync="Synced", health="Healthy", timeout_s=60)
    mark = time.time_ns()
    drift.add_untracked(app.namespace, "ConfigMap", "hand-made", app=app.name)
    drift.delete(app.namespace, "configmap", "web-config", app=app.name)  # a self-heal with prune on
    next_event(app, "healed", mark)
    sha = app.commit("drop extra", **{"extra.yaml": None})  # a sync that prunes
    app.wait(sync="Synced", revision=sha, timeout_s=30)
    eventually(lambda: app.live("ConfigMap", "extra") is None, 15, "extra pruned")
    assert app.live("ConfigMap", "hand-made") is not None
    names = {r["name"] for r in app.status()["resources"]}
    assert "hand-made" not in names and "web-config" in names
    touched = [
        e.data["resource"] for e in app.timeline.read(app=app.name, kind="resource_applied", since_ns=mark)
    ]
    assert touched and not [r for r in touched if r.endswith("/hand-made")]


def test_self_heal_backs_off_0_2_6_s_while_the_same_resource_keeps_drifting(
    make_app: MakeApp, drift: DriftInjector
) -> None:
    app = make_app("heal")
    start(app, self_heal=True)
    first = time.time_ns()
    for replicas in (5, 6, 7):
        mark = time.time_ns()
        drift.scale(app.namespace, "web", replicas, app=app.name)  # re-drift right after each heal
        next_event(app, "healed", mark, timeout_s=20)
    injected = app.timeline.read(app=app.name, kind="drift_injected", since_ns=first)
    attempts = app.timeline.read(app=app.name, kind="self_heal_attempt", since_ns=first)
    detected = app.timeline.read(app=app.name, kind="drift_detected", since_ns=first)
    assert [a.data["attempt"] for a in attempts] == [1, 2, 3]
    gaps = [
        seconds(attempts[0], injected[0]),
        seconds(attempts[1], attempts[0]),
        seconds(attempts[2], attempts[1]),
    ]
    log.info("self-heal attempts spaced %s s", [round(g, 2) for g in gaps])
    assert gaps[0] < 1.0
    assert 1.9 <= gaps[1] <= 3.0
    assert 5.9 <= gaps[2] <= 7.0
    # The pauses are the backoff, not slow detection: each drift was seen long before its attempt.
    assert seconds(attempts[2], detected[2]) > 4.0
    assert [h.data["attempts"] for h in app.timeline.read(app=app.name, kind="healed", since_ns=first)] == [
        1,
        2,
        3,
    ]


def _create_interval_app(app: GitApp, interval_s: int) -> None:
    app.commit("demo app", **demo_files())
    obj = appdef.application_manifest(
        app.name,
        app.repo.url,
        app.path,
        app.namespace,
        auto_sync=True,
        self_heal=True,
        sync_options=("CreateNamespace=true",),
        refresh_interval=f"{interval_s}s",
    )
    obj["metadata"]["annotations"] = {"labkit.dev/drift-detection": "interval"}
    assert app.kube.apply(obj, field_manager="labkit-cli").ok
    app.wait(sync="Synced", health="Healthy", timeout_s=60)


def test_a_flux_style_app_corrects_drift_only_at_its_interval_while_argo_style_reacts_at_once(
    make_app: MakeApp, drift: DriftInjector
) -> None:
    interval_s = 3
    flux, argo = make_app("flux"), make_app("argo")
    _create_interval_app(flux, interval_s)
    start(argo, self_heal=True)
    # Drift the Flux-style app right after one of its interval runs: the next one is a full interval away.
    poll = next_event(flux, "refresh_started", time.time_ns(), timeout_s=interval_s + POLL_JITTER_S + 5)
    assert poll.data["trigger"] == "poll"
    drift.scale(flux.namespace, "web", 5, app=flux.name)
    drift.scale(argo.namespace, "web", 5, app=argo.name)
    latency, found = {}, {}
    for app in (flux, argo):
        injected = next_event(app, "drift_injected", poll.ts_ns)
        found[app.name] = next_event(app, "drift_detected", poll.ts_ns, interval_s + POLL_JITTER_S + 5)
        next_event(app, "healed", poll.ts_ns, timeout_s=10)
        latency[app.name] = seconds(found[app.name], injected)
    log.info("drift detected: interval mode %.2f s, watch %.2f s", latency[flux.name], latency[argo.name])
    assert latency[argo.name] < 1.0
    assert interval_s - 1.0 <= latency[flux.name] <= interval_s + POLL_JITTER_S + 1.0
    [run] = flux.timeline.read(app=flux.name, kind="refresh_started", since_ns=poll.ts_ns + 1)[:1]
    assert run.data["trigger"] == "poll" and run.ts_ns <= found[flux.name].ts_ns, "the interval run found it"
    assert replicas_in_git(flux) and replicas_in_git(argo)
