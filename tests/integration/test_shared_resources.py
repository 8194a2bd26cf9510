"""Two Applications on one set of objects (notebook 09's badly structured repo), on the real kwok lab.

Both apps render the same path into the same namespace, so each object can
carry only one of their tracking ids. The app that does not own an object
shows it as missing (OutOfSync) and gets a ``SharedResourceWarning`` naming
both apps, as Argo CD does; the warning goes once the other app lets go.
"""

from __future__ import annotations

import pytest

from labkit.gitops import status as st
from labkit.gitops.application import TRACKING_ANNOTATION, ResourceKey
from tests.integration.apphelpers import GitApp, MakeApp, configmap, dump, eventually

pytestmark = pytest.mark.cluster


def shared_warning(app: GitApp, text: str, timeout_s: float = 20.0) -> str:
    """The app's SharedResourceWarning once it contains ``text``."""

    def find() -> list[str]:
        return [
            c["message"]
            for c in app.status().get("conditions") or []
            if c["type"] == st.SHARED_RESOURCE_WARNING and text in c["message"]
        ]

    return str(eventually(find, timeout_s, f"a SharedResourceWarning with {text!r} on {app.name}")[0])


def resource(app: GitApp, name: str) -> dict[str, object]:
    [entry] = [r for r in app.status().get("resources") or [] if r["name"] == name]
    return dict(entry)


def first_owns_both(make_app: MakeApp) -> tuple[GitApp, GitApp]:
    """Two manual apps on one path and namespace; the first is synced and owns both ConfigMaps."""
    first = make_app("shared")
    second = make_app("shared", path=first.path, namespace=first.namespace)
    sha = first.commit(
        "redis for two teams", **{"redis.yaml": dump(configmap("redis-config"), configmap("redis-extra"))}
    )
    first.create()
    first.wait(sync="OutOfSync", revision=sha, timeout_s=30)
    first.apps.sync(first.name)
    first.wait(sync="Synced", revision=sha, timeout_s=30)
    second.create()
    return first, second


def test_two_apps_that_claim_the_same_objects_both_get_a_shared_resource_warning(make_app: MakeApp) -> None:
    first, second = first_owns_both(make_app)
    message = shared_warning(second, f"part of applications {second.name} and {first.name}")
    assert "(and 1 more object)" in message, "both ConfigMaps belong to the first app"
    second.apps.sync(second.name, resources=[ResourceKey("", "ConfigMap", first.namespace, "redis-extra")])
    extra = f"ConfigMap {first.namespace}/redis-extra is part of applications {first.name} and {second.name}"
    assert shared_warning(first, extra) == extra
    config = (
        f"ConfigMap {first.namespace}/redis-config is part of applications {second.name} and {first.name}"
    )
    assert shared_warning(second, config) == config
    # The status stays honest: to the app that lost an object, it is missing.
    first.wait(sync="OutOfSync", timeout_s=20)
    assert resource(first, "redis-extra")["status"] == "OutOfSync"
    assert resource(first, "redis-extra")["health"] == {"status": "Missing"}
    assert resource(first, "redis-config")["status"] == "Synced"


def test_the_warning_clears_once_the_other_app_lets_go_of_the_objects(make_app: MakeApp) -> None:
    first, second = first_owns_both(make_app)
    shared_warning(second, f"part of applications {second.name} and {first.name}")
    first.apps.delete(first.name, cascade=True)  # the objects go with it
    eventually(lambda: not second.conditions(), 20, f"no condition left on {second.name}")
    assert resource(second, "redis-config")["health"] == {"status": "Missing"}
    second.apps.sync(second.name)
    second.wait(sync="Synced", timeout_s=30)
    assert second.conditions() == []
    live = second.live("ConfigMap", "redis-config") or {}
    assert live["metadata"]["annotations"][TRACKING_ANNOTATION].startswith(f"{second.name}:")
