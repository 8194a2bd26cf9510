"""The dashboard, its panels and the quiz, driven with fakes: pure widget logic, no kernel, no cluster.

FakeApps records what an AppClient would have written to the Application;
the Git controls commit to a real LabRepo in a tmp dir (the starter content),
and FakeKube fails the test if anything but a watch reaches the cluster.
Fixtures: tests/fixtures/ui/application-*.yaml and timeline-session.jsonl.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import yaml  # noqa: E402

from labkit.apps import AppError  # noqa: E402
from labkit.drift import KINDS  # noqa: E402
from labkit.errors import GitError  # noqa: E402
from labkit.events import Timeline  # noqa: E402
from labkit.git import LabRepo  # noqa: E402
from labkit.gitops.compare import compare  # noqa: E402
from labkit.settings import PROJECT_ROOT  # noqa: E402
from labkit.ui import views  # noqa: E402
from labkit.ui.panel import AppPanel  # noqa: E402
from labkit.ui.quiz import Question, Quiz, QuizError  # noqa: E402
from labkit.ui.widgets import API_VERSION, Dashboard  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ui"
STARTER = PROJECT_ROOT / "repos" / "starter"
TIMELINE = Timeline(FIXTURES / "timeline-session.jsonl")
PNG = b"\x89PNG\r\n\x1a\n"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / f"application-{name}.yaml").read_text())


SYNCED, OUT_OF_SYNC = load("synced"), load("outofsync")


class FakeApps:
    """An AppClient that records requests instead of writing them to the API server."""

    namespace = "labkit"

    def __init__(self, *objs: dict[str, Any]) -> None:
        self.objs = {o["metadata"]["name"]: o for o in objs}
        self.calls: list[tuple[Any, ...]] = []
        self.fail_with: Exception | None = None

    def _record(self, *call: Any) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.calls.append(call)

    def list(self) -> list[Any]:
        return [SimpleNamespace(name=n) for n in sorted(self.objs)]

    def get(self, name: str) -> dict[str, Any]:
        return self.objs[name]

    def sync(self, name: str, **options: Any) -> None:
        self._record("sync", name, options)

    def refresh(self, name: str, hard: bool = False) -> None:
        self._record("refresh", name)

    def set_policy(self, name: str, **policy: Any) -> None:
        self._record("set_policy", name, policy)

    def diff(self, name: str) -> Any:
        self._record("diff", name)
        desired = deployment_manifest(replicas=5)
        live = deployment_manifest(replicas=1)
        live["metadata"]["annotations"] = {"labkit.dev/tracking-id": "demo:apps/Deployment:demo/web"}
        return compare("demo", "c" * 40, [desired], [live], diff_mode="three-way")


class FakeAppsWithRollback(FakeApps):
    def rollback(self, name: str, history_id: int, *, disable_auto_sync: bool = False) -> str:
        self._record("rollback", name, history_id, disable_auto_sync)
        return "a" * 40


class FakeKube:
    """Serves a watch from a queue; any other call means a widget touched the cluster."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.watches: list[tuple[Any, ...]] = []

    def watch(
        self, api_version: str, kind: str, namespace: str | None = None, *, stop: threading.Event, **_: Any
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        self.watches.append((api_version, kind, namespace))
        while not stop.is_set():
            try:
                yield self.events.get(timeout=0.02)
            except queue.Empty:
                continue

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the dashboard called kube.{name}: widgets must not touch the cluster")


class FakeDrift:
    KINDS = ("scale", "image")

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def inject(self, kind: str, /, *, app: str, namespace: str) -> Any:
        self.calls.append((kind, app, namespace))
        declared = kind == "scale"
        return SimpleNamespace(command=f"kubectl {kind} deployment/web -n {namespace}", declared=declared)


def deployment_manifest(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"replicas": replicas},
    }


@pytest.fixture
def repo(tmp_path: Path) -> LabRepo:
    return LabRepo.create(tmp_path / "gitops.git", tmp_path / "gitops-work", STARTER)


def make_panel(repo: Any, obj: dict[str, Any] = SYNCED, apps: FakeApps | None = None, **kw: Any) -> AppPanel:
    return AppPanel(copy.deepcopy(obj), apps or FakeApps(obj), repo, TIMELINE, **kw)


def no_repo() -> Any:
    return SimpleNamespace(work=None)


# -- views: pure HTML from the Application ------------------------------------------------------------


def test_app_view_reads_status_spec_and_policy_like_argocd_app_get() -> None:
    view = views.AppView.from_manifest(OUT_OF_SYNC)
    assert (view.name, view.sync, view.health, view.revision[:7]) == (
        "demo",
        "OutOfSync",
        "Progressing",
        "ccccccc",
    )
    assert (view.path, view.dest_namespace) == ("apps/demo", "demo")
    assert (view.auto_sync, view.self_heal, view.prune) == (False, False, False)
    assert view.operation_requested and view.operation == {}
    assert [r.name for r in view.resources] == ["web-config", "web", "<old>"]
    synced = views.AppView.from_manifest(SYNCED)
    assert (synced.auto_sync, synced.self_heal, synced.prune) == (True, False, True)


def test_app_view_treats_automated_enabled_false_as_auto_sync_off() -> None:
    obj = copy.deepcopy(SYNCED)
    obj["spec"]["syncPolicy"]["automated"]["enabled"] = False
    assert views.AppView.from_manifest(obj).auto_sync is False


def test_html_shows_sync_health_revision_and_escapes_what_the_cluster_says() -> None:
    view = views.AppView.from_manifest(OUT_OF_SYNC)
    header = views.header_html(view)
    assert "OutOfSync" in header and "Progressing" in header and "<code>ccccccc</code>" in header
    table = views.resources_html(view)
    assert table.count("<tr>") == 4  # the head and three resources
    assert "&lt;old&gt;" in table and "<old>" not in table
    assert "not in Git any more: prune to delete" in table
    assert "ComparisonError" in views.conditions_html(view)
    assert views.conditions_html(views.AppView.from_manifest(SYNCED)) == ""


def test_operation_html_says_waiting_then_how_the_last_sync_ended() -> None:
    assert "waiting for the controller" in views.operation_html(views.AppView.from_manifest(OUT_OF_SYNC))
    done = views.operation_html(views.AppView.from_manifest(SYNCED))
    assert "Succeeded" in done and "successfully synced" in done and "automated policy" in done
    empty = copy.deepcopy(OUT_OF_SYNC)
    del empty["operation"]
    assert views.operation_html(views.AppView.from_manifest(empty)) == "<i>no sync yet</i>"


def test_history_options_list_the_newest_sync_first() -> None:
    options = views.history_options(views.AppView.from_manifest(SYNCED))
    assert [value for _, value in options] == [1, 0]
    assert options[0][0].startswith("#1  bbbbbbb  deployed 2026-09-21T14:13:48Z")


def test_diff_text_prints_one_unified_diff_per_differing_resource() -> None:
    text = views.diff_text(FakeApps().diff("demo"))
    assert text.startswith("===== apps/Deployment demo/web (changed) =====")
    assert "-  replicas: 1" in text and "+  replicas: 5" in text
    same = compare("demo", "c" * 40, [deployment_manifest(2)], [])
    assert "missing" in views.diff_text(same)


def test_diff_text_says_when_the_cluster_equals_git() -> None:
    assert (
        views.diff_text(compare("demo", "c" * 40, [], []))
        == "no differences: the cluster equals Git at ccccccc"
    )


def test_git_deployment_reads_replicas_and_image_from_the_clone() -> None:
    found = views.git_deployment(STARTER, "apps/demo", "web")
    assert found == views.GitDeployment("apps/demo/deployment.yaml", 2, ("nginx:1.27",))
    assert views.git_deployment(STARTER, "apps/demo-kustomize/overlays/staging", "web") is None
    assert views.git_deployment(STARTER, "apps/no-such-path", "web") is None


# -- a panel: every control writes to the Application or to Git ------------------------------------


def test_clicking_sync_asks_the_controller_through_the_application_only() -> None:
    apps = FakeApps(SYNCED)
    panel = make_panel(no_repo(), apps=apps)
    panel.sync_button.click()
    assert apps.calls == [("sync", "demo", {})]
    assert "sync requested" in panel.message.value


def test_clicking_refresh_and_diff_call_the_app_client() -> None:
    apps = FakeApps(SYNCED)
    panel = make_panel(no_repo(), apps=apps)
    panel.refresh_button.click()
    panel.diff_button.click()
    assert apps.calls == [("refresh", "demo"), ("diff", "demo")]
    [output] = panel.diff_output.outputs
    assert "+  replicas: 5" in output["text"]


def test_an_action_that_fails_shows_the_error_and_its_next_step() -> None:
    apps = FakeApps(SYNCED)
    apps.fail_with = AppError("Application 'demo' not found", hint="list them with `labkit app list`")
    panel = make_panel(no_repo(), apps=apps)
    panel.sync_button.click()
    assert "not found" in panel.message.value and "next step: list them with" in panel.message.value


def test_toggles_show_the_policy_and_write_only_what_the_learner_changes() -> None:
    apps = FakeApps(SYNCED)
    panel = make_panel(no_repo(), apps=apps)
    assert (panel.auto_sync.value, panel.self_heal.value, panel.prune.value) == (True, False, True)
    assert apps.calls == []  # showing the policy wrote nothing
    panel.self_heal.value = True
    panel.auto_sync.value = False
    assert apps.calls == [
        ("set_policy", "demo", {"self_heal": True}),
        ("set_policy", "demo", {"auto_sync": False}),
    ]


def test_self_heal_and_prune_are_disabled_while_auto_sync_is_off() -> None:
    panel = make_panel(no_repo(), OUT_OF_SYNC)
    assert panel.self_heal.disabled and panel.prune.disabled
    panel.update(SYNCED)
    assert not panel.self_heal.disabled and not panel.prune.disabled


def test_a_refused_policy_change_puts_the_checkbox_back() -> None:
    apps = FakeApps(SYNCED)
    panel = make_panel(no_repo(), apps=apps)
    apps.fail_with = AppError("Application 'demo' not found")
    panel.prune.value = False
    assert panel.prune.value is True and "not found" in panel.message.value


def test_rollback_is_hidden_without_support_and_rolls_back_to_the_chosen_history_entry() -> None:
    assert make_panel(no_repo()).rollback_box.layout.display == "none"
    apps = FakeAppsWithRollback(SYNCED)
    panel = make_panel(no_repo(), apps=apps)
    assert panel.rollback_box.layout.display is None
    assert panel.rollback_choice.value == 1  # the newest entry comes first
    panel.rollback_choice.value = 0
    panel.rollback_button.click()
    assert apps.calls == [("rollback", "demo", 0, True)]  # auto-sync off, or it would roll forward again
    assert "auto-sync is now off" in panel.message.value


def test_inject_drift_is_hidden_without_an_injector_and_targets_the_apps_namespace() -> None:
    without = make_panel(no_repo())
    assert without.drift_box.layout.display == "none"
    assert without.drift_choice.options == KINDS  # the injector's own list when it gives none
    drift = FakeDrift()
    panel = make_panel(no_repo(), drift=drift)
    assert panel.drift_box.layout.display is None and panel.drift_choice.options == ("scale", "image")
    panel.drift_button.click()
    assert drift.calls == [("scale", "demo", "demo")]
    assert "ran kubectl scale deployment/web -n demo: the cluster now differs" in panel.message.value
    panel.drift_choice.value = "image"
    panel.drift_button.click()
    assert "Git does not declare that field, so the agent will not notice" in panel.message.value


def test_replicas_slider_commits_and_pushes_to_git_and_touches_nothing_else(repo: LabRepo) -> None:
    apps = FakeApps(SYNCED)
    panel = make_panel(repo, apps=apps)
    assert panel.replicas.value == 2 and not panel.replicas.disabled  # what Git says, not the cluster
    before = repo.head()
    panel.replicas.value = 5
    [commit, _] = repo.log(2)
    assert commit.subject == "Scale web to 5 replicas" and commit.sha != before
    assert "replicas: 5" in (repo.work / "apps/demo/deployment.yaml").read_text()
    assert apps.calls == []  # no sync, no patch: the agent follows Git on its own
    assert f"committed and pushed {commit.short}" in panel.message.value
    assert panel.git_controls.git is not None and panel.git_controls.git.replicas == 5


def test_image_dropdown_commits_the_new_image_to_git(repo: LabRepo) -> None:
    panel = make_panel(repo)
    assert panel.image.value == "nginx:1.27"
    panel.image.value = "nginx:1.28"
    assert repo.log(1)[0].subject == "Set web image to nginx:1.28"


def test_git_controls_are_disabled_where_there_is_no_plain_deployment(repo: LabRepo) -> None:
    obj = copy.deepcopy(SYNCED)
    obj["spec"]["source"]["path"] = "apps/demo-kustomize/overlays/staging"
    panel = make_panel(repo, obj)
    assert panel.replicas.disabled and panel.image.disabled
    assert "no Deployment 'web'" in panel.replicas.tooltip


def test_a_commit_git_refuses_puts_the_slider_back_and_says_why() -> None:
    def refuse(*_: Any) -> str:
        raise GitError("git failed: git push --quiet origin main", hint="run `git pull --rebase`, then retry")

    repo = SimpleNamespace(work=STARTER, set_replicas=refuse)
    panel = make_panel(repo)
    panel.replicas.value = 7
    assert "git failed" in panel.message.value and "git pull --rebase" in panel.message.value
    assert panel.replicas.value == 2  # back to what Git holds


def test_update_shows_the_new_status_measures_its_latency_and_asks_for_a_new_plot() -> None:
    panel = make_panel(no_repo(), clock=lambda: 10.0)
    assert panel.update(OUT_OF_SYNC, received_at=9.9) is True
    assert "OutOfSync" in panel.header.value and "ComparisonError" in panel.conditions.value
    assert panel.last_update_latency_s == pytest.approx(0.1)
    assert panel.update(OUT_OF_SYNC) is False  # nothing the plot shows changed
    assert panel.last_update_latency_s == 0.0 and len(panel.update_latencies) == 3


def test_render_plot_draws_the_swimlane_of_the_apps_revision() -> None:
    panel = make_panel(no_repo())
    panel.render_plot()
    assert bytes(panel.plot.value).startswith(PNG)


# -- the dashboard ---------------------------------------------------------------------------------


def other_app(name: str) -> dict[str, Any]:
    obj = copy.deepcopy(SYNCED)
    obj["metadata"]["name"] = name
    return obj


def test_dashboard_builds_one_panel_per_application_and_follows_added_and_deleted() -> None:
    board = Dashboard(FakeApps(SYNCED, other_app("redis")), no_repo(), TIMELINE, kube=FakeKube(), start=False)
    assert list(board.panels) == ["demo", "redis"]
    assert len(board.widget.children) == 4  # title, status line, two panels
    board.handle("ADDED", other_app("guestbook"))
    board.handle("DELETED", {"metadata": {"name": "redis"}})
    assert list(board.panels) == ["demo", "guestbook"]
    assert board.panels["guestbook"].widget in board.widget.children
    board.handle("MODIFIED", OUT_OF_SYNC)
    assert board.panels["demo"].view.sync == "OutOfSync"


def test_dashboard_without_applications_says_so() -> None:
    board = Dashboard(FakeApps(), no_repo(), TIMELINE, kube=FakeKube(), start=False)
    assert "no Applications yet" in board.status.value


def test_dashboard_displays_as_its_widget() -> None:
    board = Dashboard(FakeApps(SYNCED), no_repo(), TIMELINE, kube=FakeKube(), start=False)
    bundle = board._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == board.widget.model_id


def wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_dashboard_watch_thread_updates_the_panel_within_250_ms_and_stops_on_close() -> None:
    kube = FakeKube()
    with Dashboard(FakeApps(SYNCED), no_repo(), TIMELINE, kube=kube, plot_interval_s=0.05) as board:
        panel = board.panels["demo"]
        wait_for(lambda: bytes(panel.plot.value).startswith(PNG))  # the plot thread drew the swimlane
        kube.events.put(("MODIFIED", OUT_OF_SYNC))
        wait_for(lambda: "OutOfSync" in panel.header.value)
        assert panel.last_update_latency_s is not None and panel.last_update_latency_s <= 0.25
        assert kube.watches == [(API_VERSION, "Application", "labkit")]
        threads = list(board._threads)
    assert API_VERSION == "labkit.dev/v1alpha1"
    assert threads and not any(t.is_alive() for t in threads)


# -- the quiz --------------------------------------------------------------------------------------

QUESTIONS = [
    Question(
        "Where does the desired state of the cluster live in GitOps?",
        ("In the cluster's etcd", "In Git", "In the CI server"),
        1,
        "Git is the single source of truth; the agent makes the cluster match it.",
    ),
    Question(
        "Self-heal is off and someone runs kubectl scale. What does the agent do?",
        ["Reverts it at once", "Marks the app OutOfSync and leaves it"],
        1,
        "Without self-heal the agent reports drift but only a sync (manual or a new commit) repairs it.",
    ),
]


def test_quiz_says_right_or_wrong_with_the_explanation() -> None:
    quiz = Quiz(QUESTIONS)
    quiz.buttons[0][1].click()
    assert "Right." in quiz.feedback[0].value and "single source of truth" in quiz.feedback[0].value
    assert quiz.buttons[0][1].button_style == "success"
    assert quiz.answer(1, 0) is False
    assert "Not quite" in quiz.feedback[1].value and "Marks the app OutOfSync" in quiz.feedback[1].value
    assert quiz.buttons[1][0].button_style == "danger"


def test_quiz_score_counts_first_tries_only() -> None:
    quiz = Quiz(QUESTIONS)
    quiz.answer(0, 0)
    quiz.answer(0, 1)  # right, but at the second try
    quiz.answer(1, 1)
    assert (quiz.score, quiz.answered) == (1, 2)
    assert "Score: 1 / 2" in quiz.score_label.value


def test_quiz_refuses_malformed_questions_and_unknown_answers() -> None:
    with pytest.raises(QuizError, match="answer_index 3"):
        Question("?", ("a", "b"), 3, "")
    with pytest.raises(QuizError, match="at least two choices"):
        Question("?", ("a",), 0, "")
    with pytest.raises(QuizError, match="no choice 5"):
        Quiz(QUESTIONS).answer(0, 5)
