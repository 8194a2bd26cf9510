"""History and rollback against the real kwok lab: Argo CD's way (history) and the Git way (revert).

Every successful sync adds one ``status.history`` entry; ``AppClient.rollback``
syncs the revision of an entry (refused while auto-sync is on, as in Argo
CD) and leaves the app OutOfSync against HEAD; ``LabRepo.revert`` makes a
new commit that auto-sync then follows. Both are timed from the timeline.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest

from labkit.apps import AppError
from labkit.events import Event
from labkit.gitops import application as appdef
from tests.integration.apphelpers import GitApp, configmap, dump, eventually

pytestmark = pytest.mark.cluster
GITAPP_PREFIX = "rb"
"""Names this module's apps (the ``gitapp`` fixture in conftest.py)."""
log = logging.getLogger("labkit.tests")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def release(app: GitApp, version: str) -> str:
    """Commit the app at ``version`` (one ConfigMap saying so); return the sha."""
    return app.commit(f"release {version}", **{"app.yaml": dump(configmap("web-config", VERSION=version))})


def live_version(app: GitApp) -> str | None:
    return ((app.live("ConfigMap", "web-config") or {}).get("data") or {}).get("VERSION")


def history(app: GitApp) -> list[dict[str, Any]]:
    return list(app.status().get("history") or [])


def first(
    app: GitApp, kind: str, since_ns: int, revision: str, timeout_s: float = 30.0, **data: Any
) -> Event:
    """The first ``kind`` event of the app for ``revision`` (and ``data``) since ``since_ns``."""

    def find() -> list[Event]:
        return [
            e
            for e in app.timeline.read(app=app.name, kind=kind, since_ns=since_ns)
            if e.revision == revision and all(e.data.get(k) == v for k, v in data.items())
        ]

    return eventually(find, timeout_s, f"{kind} of {revision[:7]}")[0]  # type: ignore[no-any-return]


def test_every_successful_sync_adds_a_history_entry_trimmed_to_the_revision_history_limit(
    gitapp: GitApp,
) -> None:
    shas = [release(gitapp, "v0")]
    obj = appdef.application_manifest(
        gitapp.name,
        gitapp.repo.url,
        gitapp.path,
        gitapp.namespace,
        auto_sync=True,
        sync_options=("CreateNamespace=true",),
    )
    obj["spec"]["revisionHistoryLimit"] = 3
    assert gitapp.kube.apply(obj, field_manager="labkit-cli").ok
    gitapp.wait(sync="Synced", revision=shas[0], timeout_s=60)
    assert [h["revision"] for h in history(gitapp)] == shas
    for version in ("v1", "v2", "v3", "v4"):
        shas.append(release(gitapp, version))
        gitapp.wait(sync="Synced", revision=shas[-1], timeout_s=30)
        eventually(lambda: history(gitapp)[-1]["revision"] == shas[-1], 10, "history entry")
    entries = history(gitapp)
    assert [h["revision"] for h in entries] == shas[-3:], "trimmed to the newest 3"
    assert [h["id"] for h in entries] == [2, 3, 4], "ids keep counting after trimming"
    for entry in entries:
        assert ISO.match(entry["deployedAt"]) and ISO.match(entry["deployStartedAt"])
        assert entry["deployStartedAt"] <= entry["deployedAt"]
        assert entry["source"]["path"] == gitapp.path
    succeeded = [e.revision for e in gitapp.events("sync_finished") if e.data["phase"] == "Succeeded"]
    assert succeeded == shas, "one successful sync per revision, each recorded"


def test_rollback_is_refused_while_auto_sync_is_on(gitapp: GitApp) -> None:
    release(gitapp, "v1")
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", timeout_s=60)
    with pytest.raises(AppError, match="rollback cannot be initiated when auto-sync is enabled"):
        gitapp.apps.rollback(gitapp.name, 0)
    assert gitapp.apps.get(gitapp.name).get("operation") is None
    assert len(history(gitapp)) == 1


def test_rollback_with_disable_auto_sync_goes_back_and_stays_out_of_sync_with_head(gitapp: GitApp) -> None:
    v1 = release(gitapp, "v1")
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", revision=v1, timeout_s=60)
    v2 = release(gitapp, "v2")
    gitapp.wait(sync="Synced", revision=v2, timeout_s=30)
    [entry] = [h for h in history(gitapp) if h["revision"] == v1]
    requested = time.time_ns()
    assert gitapp.apps.rollback(gitapp.name, entry["id"], disable_auto_sync=True) == v1
    finished = first(gitapp, "sync_finished", requested, v1, phase="Succeeded")
    started = first(gitapp, "sync_started", requested, v1)
    log.info("rollback request -> synced: %.2f s", (finished.ts_ns - requested) / 1e9)
    assert started.data["automated"] is False
    assert (finished.ts_ns - requested) / 1e9 < 10.0
    assert live_version(gitapp) == "v1"
    status = gitapp.wait(sync="OutOfSync", timeout_s=10)["status"]
    assert status["sync"]["revision"] == v2, f"compared with HEAD v2 {v2} (v1 {v1}): {status}"
    assert status["operationState"]["syncResult"]["revision"] == v1
    assert history(gitapp)[-1]["revision"] == v1
    summary = next(s for s in gitapp.apps.list() if s.name == gitapp.name)
    assert summary.auto_sync is False, "auto-sync stays off after a rollback"
    time.sleep(2.0)  # with auto-sync on, the agent would sync v2 again at once
    assert live_version(gitapp) == "v1" and gitapp.status()["sync"]["status"] == "OutOfSync"


def test_git_revert_makes_a_new_commit_and_auto_sync_follows_it(gitapp: GitApp) -> None:
    v1 = release(gitapp, "v1")
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", revision=v1, timeout_s=60)
    v2 = release(gitapp, "v2")
    gitapp.wait(sync="Synced", revision=v2, timeout_s=30)
    assert live_version(gitapp) == "v2"
    since = time.time_ns()
    reverted = gitapp.repo.revert(v2)
    assert reverted not in (v1, v2) and gitapp.repo.head() == reverted
    assert gitapp.repo.commit_info(reverted).subject.startswith("Revert")
    pushed = eventually(
        lambda: [e for e in gitapp.timeline.read(kind="pushed", since_ns=since) if e.revision == reverted],
        10,
        "the hook's pushed event",
    )[0]
    detected = first(gitapp, "revision_detected", since, reverted)
    finished = first(gitapp, "sync_finished", since, reverted, phase="Succeeded")
    gitapp.wait(sync="Synced", revision=reverted, timeout_s=30)
    log.info(
        "git revert: pushed -> detected %.2f s, -> synced %.2f s",
        (detected.ts_ns - pushed.ts_ns) / 1e9,
        (finished.ts_ns - pushed.ts_ns) / 1e9,
    )
    assert (finished.ts_ns - pushed.ts_ns) / 1e9 < 5.0
    assert live_version(gitapp) == "v1"
    assert [h["revision"] for h in history(gitapp)] == [v1, v2, reverted], "history only grows"
