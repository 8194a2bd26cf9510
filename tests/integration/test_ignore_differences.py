"""ignoreDifferences ends the fight between self-heal and an autoscaler, in labkit's agent and in Argo CD.

The autoscaler stand-in holds Deployment web at 5 replicas the way an HPA
does: whenever it sees another number it runs ``kubectl scale`` (through
:class:`labkit.drift.DriftInjector`, so each scale is on the timeline). Git
says 2. With self-heal on, the agent scales back to 2 and the autoscaler
scales up again: a fight. ``spec.ignoreDifferences`` on ``/spec/replicas``
with the sync option ``RespectIgnoreDifferences=true`` ends it: the app stays
Synced at 5 replicas, and a drift of any other field (``kubectl set image``)
is still healed, without touching the replicas.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from labkit.drift import DriftInjector
from labkit.kube import Kube
from tests.integration.apphelpers import GitApp, deployment, dump, eventually
from tests.integration.argohelpers import app_status, application, kubectl_apply, wait_app

if TYPE_CHECKING:
    from labkit.argocd import ArgoCD
    from labkit.lab import Lab

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]
GITAPP_PREFIX = "ignore"
HPA_REPLICAS = 5
IGNORE_REPLICAS = [{"group": "apps", "kind": "Deployment", "name": "web", "jsonPointers": ["/spec/replicas"]}]
RESPECT = ["CreateNamespace=true", "RespectIgnoreDifferences=true"]


class Autoscaler:
    """Holds a Deployment at ``replicas`` like an HPA: ``kubectl scale`` whenever it drifts away."""

    def __init__(self, lab: Lab, drift: DriftInjector, namespace: str, app: str | None) -> None:
        self.lab, self.drift, self.namespace, self.app = lab, drift, namespace, app
        self.scales = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="autoscaler", daemon=True)

    def __enter__(self) -> Autoscaler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with self.lab.kube() as kube:
            while not self._stop.wait(0.3):
                live = kube.get("apps/v1", "Deployment", "web", self.namespace)
                if live is not None and live["spec"]["replicas"] != HPA_REPLICAS:
                    self.drift.scale(self.namespace, "web", HPA_REPLICAS, app=self.app)
                    self.scales += 1


def web_spec(live: dict[str, Any] | None) -> tuple[int, str]:
    assert live is not None
    return live["spec"]["replicas"], live["spec"]["template"]["spec"]["containers"][0]["image"]


def heals(app: GitApp) -> int:
    return len(app.events("self_heal_attempt"))


def test_self_heal_fights_an_autoscaler_until_ignore_differences_ends_it(
    lab: Lab, gitapp: GitApp, drift: DriftInjector
) -> None:
    gitapp.commit("web", **{"web.yaml": dump(deployment(replicas=2))})
    gitapp.create(auto_sync=True, self_heal=True)
    gitapp.wait(sync="Synced", health="Healthy", timeout_s=60)
    live = lambda: gitapp.live("Deployment", "web", "apps/v1")  # noqa: E731
    with Autoscaler(lab, drift, gitapp.namespace, gitapp.name) as hpa:
        eventually(
            lambda: heals(gitapp) >= 2 and hpa.scales >= 2, 60, "self-heal and the autoscaler fighting"
        )

        patch = {"spec": {"ignoreDifferences": IGNORE_REPLICAS, "syncPolicy": {"syncOptions": RESPECT}}}
        gitapp.kube.patch("labkit.dev/v1alpha1", "Application", gitapp.name, "labkit", patch)
        eventually(lambda: web_spec(live())[0] == HPA_REPLICAS, 60, "the autoscaler's 5 replicas")
        gitapp.wait(sync="Synced", health="Healthy", timeout_s=60)
        heals_then, scales_then = heals(gitapp), hpa.scales
        for _ in range(30):  # 6 s with the fight over: Synced at 5, nobody scales
            assert gitapp.status()["sync"]["status"] == "Synced"
            assert web_spec(live())[0] == HPA_REPLICAS
            time.sleep(0.2)
        assert (heals(gitapp), hpa.scales) == (heals_then, scales_then)

        drift.set_image(gitapp.namespace, "web", "web", "nginx:1.28", app=gitapp.name)
        eventually(lambda: web_spec(live()) == (HPA_REPLICAS, "nginx:1.27"), 90, "the image healed, 5 kept")
        gitapp.wait(sync="Synced", timeout_s=30)
        assert hpa.scales == scales_then, "RespectIgnoreDifferences: the heal left the replicas alone"


# -- the same with the real Argo CD ------------------------------------------------


@pytest.mark.argocd
@pytest.mark.timeout(600)
def test_argocd_with_ignore_differences_leaves_the_autoscaler_alone_and_still_heals_an_image(
    lab: Lab, argocd: ArgoCD, argo_app: tuple[str, Kube], drift: DriftInjector, tmp_path: Path
) -> None:
    name, kube = argo_app
    lab.repo.commit_and_push(f"{name}: web", {f"apps/{name}/web.yaml": dump(deployment(replicas=2))})
    app = application(name, f"apps/{name}", lab)
    app["spec"]["ignoreDifferences"] = IGNORE_REPLICAS
    app["spec"]["syncPolicy"]["syncOptions"] = RESPECT
    kubectl_apply(lab, app, tmp_path)
    wait_app(kube, name)
    live = lambda: kube.get("apps/v1", "Deployment", "web", name)  # noqa: E731
    with Autoscaler(lab, drift, name, None) as hpa:
        eventually(lambda: web_spec(live())[0] == HPA_REPLICAS, 30, "the autoscaler's 5 replicas")
        wait_app(kube, name)
        scales_then = hpa.scales
        for _ in range(30):  # 6 s: Synced at 5, nobody scales
            assert (app_status(kube, name).get("sync") or {}).get("status") == "Synced"
            assert web_spec(live())[0] == HPA_REPLICAS
            time.sleep(0.2)
        assert hpa.scales == scales_then

        drift.set_image(name, "web", "web", "nginx:1.28")
        eventually(lambda: web_spec(live()) == (HPA_REPLICAS, "nginx:1.27"), 90, "the image healed, 5 kept")
        wait_app(kube, name)
        assert hpa.scales == scales_then, "RespectIgnoreDifferences: the heal left the replicas alone"
