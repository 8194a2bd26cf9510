"""labkit.course: the notebooks' helpers and checkpoints, plus static checks of the notebooks themselves."""

from __future__ import annotations

import json
import math
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from labkit import course
from labkit.errors import LabkitError
from labkit.events import Event, Timeline
from labkit.git import CommitInfo, LabRepo
from labkit.gitops.compare import compare
from labkit.settings import PROJECT_ROOT

STARTER = PROJECT_ROOT / "repos" / "starter"
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "timeline"
NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
T0 = 1_790_000_000_000_000_000
S = 1_000_000_000


def ev(t_s: float, kind: str, app: str | None = "demo", actor: str = "controller", **data: Any) -> Event:
    return Event(T0 + int(t_s * S), actor, kind, app, data.pop("revision", None), data)


# -- checkpoints -------------------------------------------------------------------------------


ALL_CHECKS = [c for checks in course.CHECKPOINTS.values() for c in checks] + list(course.QUESTIONS)


def test_every_notebook_but_the_interview_prep_has_a_checkpoint_of_at_least_two_questions() -> None:
    assert sorted(course.CHECKPOINTS) == [f"{i:02d}" for i in (*range(1, 10), 11, 12)]
    assert all(len(checks) >= 2 for checks in course.CHECKPOINTS.values())


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.prompt[:40])
def test_every_question_has_a_valid_answer_and_an_explanation(check: course.Check) -> None:
    assert len(check.choices) >= 2
    assert 0 <= check.answer_index < len(check.choices)
    assert len(set(check.choices)) == len(check.choices), "duplicate choices"
    assert check.explanation.strip()


def test_no_prompt_is_asked_twice() -> None:
    prompts = [c.prompt for c in ALL_CHECKS]
    assert len(prompts) == len(set(prompts))


def test_the_bank_covers_the_one_breath_answer_and_every_follow_up_question() -> None:
    assert set(course.TOPICS) == {c.topic for c in course.QUESTIONS}
    for topic in course.TOPICS:
        assert len(course.questions_on(topic)) >= 2, topic


def test_questions_on_an_unknown_topic_names_the_known_ones() -> None:
    with pytest.raises(LabkitError, match="no questions on 'gossip'") as info:
        course.questions_on("gossip")
    assert "polling" in info.value.hint


def test_answers_markdown_is_collapsed_and_names_each_right_answer() -> None:
    checks = course.CHECKPOINTS["08"]
    text = course.answers_markdown(checks)
    assert text.startswith("<details>") and text.rstrip().endswith("</details>")
    for check in checks:
        assert check.choices[check.answer_index] in text


def test_quiz_builds_the_widget_and_answers_with_feedback() -> None:
    quiz = course.checkpoint("05", seed="ana")
    assert len(quiz.questions) == len(course.CHECKPOINTS["05"])
    check = course.CHECKPOINTS["05"][0]
    right = quiz.questions[0].choices.index(check.choices[check.answer_index])
    assert quiz.answer(0, right) is True
    assert quiz.score == 1


# -- tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    n: int


def test_show_table_takes_dataclasses_or_mappings_and_orders_columns() -> None:
    df = course.show_table([Row("a", 1), Row("b", 2)], ["n", "name"])
    assert list(df.columns) == ["n", "name"] and df["name"].tolist() == ["a", "b"]
    empty = course.show_table([], ["x", "y"])
    assert list(empty.columns) == ["x", "y"] and empty.empty


def test_commits_table_answers_who_when_why_and_which_files() -> None:
    when = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    commit = CommitInfo("a" * 40, "aaaaaaa", "Ana", "ana@example.com", when, "Scale web\n\nbody", ("x.yaml",))
    row = course.commits_table([commit]).iloc[0]
    assert row["sha"] == "aaaaaaa" and row["author"] == "Ana <ana@example.com>"
    assert row["why (message)"] == "Scale web" and row["files"] == "x.yaml"
    assert row["when"] == "2026-11-26 09:30:00"


def test_repo_tree_lists_folders_before_files_and_leaves_out_git(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "apps" / "demo").mkdir(parents=True)
    (tmp_path / "apps" / "demo" / "d.yaml").write_text("")
    (tmp_path / "README.md").write_text("")
    lines = course.repo_tree(tmp_path).splitlines()
    assert lines[1:] == ["    apps/", "        demo/", "            d.yaml", "    README.md"]


def test_who_changed_names_programs_and_times_from_managed_fields() -> None:
    obj = {
        "metadata": {
            "managedFields": [
                {"manager": "kubectl-scale", "operation": "Update", "time": "T1", "fieldsV1": {"f:spec": {}}},
                {"manager": "labkit", "operation": "Apply", "time": "T0", "fieldsV1": {"f:metadata": {}}},
            ]
        }
    }
    df = course.who_changed(obj)
    assert df["manager"].tolist() == ["kubectl-scale", "labkit"]
    assert df["fields it owns (top level)"].tolist() == ["spec", "metadata"]
    assert course.who_changed(None).empty


APP = {
    "spec": {"syncPolicy": {"automated": {"enabled": True}}},
    "status": {
        "sync": {"status": "OutOfSync", "revision": "b" * 40},
        "health": {"status": "Healthy"},
        "operationState": {"phase": "Succeeded", "syncResult": {"revision": "a" * 40}},
        "conditions": [{"type": "ComparisonError", "message": "path 'x' does not exist"}],
        "resources": [
            {
                "kind": "Deployment",
                "name": "web",
                "namespace": "demo",
                "status": "Synced",
                "health": {"status": "Healthy"},
            }
        ],
        "history": [{"id": 0, "revision": "a" * 40, "deployedAt": "T", "initiatedBy": {"username": "me"}}],
    },
}


def test_app_status_separates_the_compared_revision_from_the_last_synced_one() -> None:
    assert course.app_status(APP) == {
        "sync": "OutOfSync",
        "health": "Healthy",
        "revision": "bbbbbbb",
        "last operation": "Succeeded",
        "last synced revision": "aaaaaaa",
        "auto-sync": "on",
    }
    assert (
        course.app_status({"spec": {"syncPolicy": {"automated": {"enabled": False}}}})["auto-sync"] == "off"
    )
    assert course.app_status({})["sync"] == "Unknown"


def test_conditions_resources_and_history_come_from_the_status() -> None:
    assert course.conditions(APP)["type"].tolist() == ["ComparisonError"]
    assert course.conditions({}).empty
    assert course.resources_table(APP).iloc[0].tolist() == ["Deployment", "web", "demo", "Synced", "Healthy"]
    assert course.history_table(APP).iloc[0].tolist() == [0, "aaaaaaa", "T", "me"]


def test_history_id_is_the_newest_entry_that_deployed_the_revision() -> None:
    app = {
        "status": {
            "history": [
                {"id": 0, "revision": "a" * 40},
                {"id": 1, "revision": "b" * 40},
                {"id": 2, "revision": "a" * 40},
            ]
        }
    }
    assert course.history_id(app, "aaaaaaa") == 2 and course.history_id(app, "b" * 40) == 1
    with pytest.raises(LabkitError, match="ccccccc was never deployed"):
        course.history_id(app, "c" * 40)


def test_diff_table_lists_each_resource_with_the_fields_that_differ() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n"},
        "data": {"k": "git"},
    }
    live = json.loads(json.dumps(desired))
    live["data"]["k"] = "hand"
    live["metadata"]["annotations"] = {"labkit.dev/tracking-id": "demo:/ConfigMap:n/c"}
    desired["metadata"]["annotations"] = {"labkit.dev/tracking-id": "demo:/ConfigMap:n/c"}
    comparison = compare("demo", "a" * 40, [desired], [live], diff_mode="three-way")
    row = course.diff_table(comparison).iloc[0]
    assert row.tolist() == ["ConfigMap n/c", "OutOfSync", "changed", "data.k"]


def test_latency_table_reports_count_and_percentiles_leaving_out_missing_values() -> None:
    df = course.latency_table({"fast": [0.1, 0.3, math.nan], "none": []})
    fast, none = df.iloc[0], df.iloc[1]
    assert fast["count"] == 2 and fast["p50 (s)"] == 0.2 and fast["max (s)"] == 0.3
    assert none["count"] == 0 and math.isnan(none["p50 (s)"])


def test_attempt_returns_the_result_or_prints_the_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    assert course.attempt(lambda x: x * 2, 21) == 42

    def refuse() -> None:
        raise LabkitError("rollback cannot be initiated when auto-sync is enabled", hint="turn it off")

    assert course.attempt(refuse) is None
    out = capsys.readouterr().out
    assert "refused: rollback cannot be initiated" in out and "hint: turn it off" in out


def test_attempt_lets_bugs_through() -> None:
    with pytest.raises(ZeroDivisionError):
        course.attempt(lambda: 1 / 0)


# -- the timeline ------------------------------------------------------------------------------


def test_wait_for_event_returns_the_first_matching_event_after_a_moment(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "t.jsonl")
    timeline.append("controller", "healed", app="other", ts_ns=T0 + 2 * S)
    timeline.append("controller", "healed", app="demo", ts_ns=T0)
    timeline.append("controller", "healed", app="demo", ts_ns=T0 + 3 * S)
    found = course.wait_for_event(timeline, "healed", app="demo", since_ns=T0 + S, timeout_s=1)
    assert found.ts_ns == T0 + 3 * S
    kinds = ["pipeline_applied", "pipeline_failed"]
    timeline.append("pipeline", "pipeline_failed", revision="r1", ts_ns=T0)
    assert course.wait_for_event(timeline, kinds, revision="r1").kind == "pipeline_failed"


def test_wait_for_event_gives_up_naming_what_it_waited_for(tmp_path: Path) -> None:
    with pytest.raises(LabkitError, match="no healed event of demo within 0.2 s"):
        course.wait_for_event(Timeline(tmp_path / "t.jsonl"), "healed", app="demo", timeout_s=0.2)


def test_apply_order_shows_the_latest_real_sync_of_one_app_in_order() -> None:
    events = [
        ev(0, "sync_started"),
        ev(0.1, "resource_applied", resource="old"),
        ev(10, "sync_started", dry_run=True),
        ev(20, "sync_started"),
        ev(20.5, "resource_applied", resource="ConfigMap n/c", code="Synced", message="created"),
        ev(22, "resource_applied", resource="apps/Deployment n/web", code="Synced", message="created"),
        ev(22, "resource_applied", app="other", resource="not mine"),
    ]
    df = course.apply_order(events, "demo")
    assert df["resource"].tolist() == ["ConfigMap n/c", "apps/Deployment n/web"]
    assert df["t (s)"].tolist() == [0.5, 2.0]
    assert course.apply_order([], "demo").empty


def test_heal_attempts_show_the_growing_wait_between_attempts() -> None:
    events = [ev(t, "self_heal_attempt", attempt=n) for t, n in ((0, 1), (2, 2), (8, 3))]
    df = course.heal_attempts([*events, ev(1, "self_heal_attempt", app="other", attempt=1)], "demo")
    assert df["attempt"].tolist() == [1, 2, 3]
    assert df["waited since the previous one (s)"].tolist()[1:] == [2.0, 6.0]


def test_activity_counts_syncs_heals_and_drift_per_app() -> None:
    events = [
        ev(0, "sync_started"),
        ev(1, "sync_started"),
        ev(2, "self_heal_attempt", app="b"),
        ev(3, "pushed"),
    ]
    df = course.activity(events, ["demo", "b"])
    assert df.set_index("app").loc["demo", "sync_started"] == 2
    assert df.set_index("app").loc["b", "self_heal_attempt"] == 1


def test_lab_numbers_summarise_every_measured_path_and_say_when_nothing_was_measured() -> None:
    events = list(Timeline(FIXTURES / "commit-flow.jsonl")) + list(Timeline(FIXTURES / "drift-heal.jsonl"))
    df = course.lab_numbers(events).set_index("path")
    assert df.loc["drift → detected by the agent", "count"] > 0
    assert df.loc["commit → synced, webhook", "count"] + df.loc["commit → synced, poll", "count"] > 0
    assert (course.lab_numbers([])["count"] == 0).all()


# -- committing and files ----------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> LabRepo:
    return LabRepo.create(tmp_path / "gitops.git", tmp_path / "gitops-work", STARTER)


def test_replace_in_file_commits_one_edit_with_its_author_and_reason(repo: LabRepo) -> None:
    sha = course.replace_in_file(
        repo,
        "apps/demo/deployment.yaml",
        "replicas: 2",
        "replicas: 4",
        "Scale for INC-1",
        author=("Ana", "a@x"),
    )
    commit = repo.commit_info(sha)
    assert (commit.author, commit.subject, commit.files) == (
        "Ana",
        "Scale for INC-1",
        ("apps/demo/deployment.yaml",),
    )
    assert "replicas: 4" in (repo.work / "apps/demo/deployment.yaml").read_text()


def test_replace_in_file_refuses_text_that_is_not_there_exactly_once(repo: LabRepo) -> None:
    with pytest.raises(LabkitError, match="0 times"):
        course.replace_in_file(repo, "apps/demo/deployment.yaml", "replicas: 7", "replicas: 8", "x")
    with pytest.raises(LabkitError, match="3 times"):
        course.replace_in_file(repo, "apps/demo/deployment.yaml", "app: web", "app: api", "x")


def test_ordering_files_add_a_presync_hook_and_waves_only_when_ordered(repo: LabRepo) -> None:
    naive = course.ordering_files("apps/shop", ordered=False)
    ordered = course.ordering_files("apps/shop", ordered=True)
    assert (
        sorted(naive)
        == sorted(ordered)
        == ["apps/shop/api.yaml", "apps/shop/db.yaml", "apps/shop/migrate-job.yaml"]
    )
    notes = {p: (yaml.safe_load(t)["metadata"].get("annotations") or {}) for p, t in ordered.items()}
    assert notes["apps/shop/migrate-job.yaml"] == {"labkit.dev/hook": "PreSync"}
    assert (
        notes["apps/shop/db.yaml"]["labkit.dev/sync-wave"]
        < notes["apps/shop/api.yaml"]["labkit.dev/sync-wave"]
    )
    assert all("annotations" not in yaml.safe_load(t)["metadata"] for t in naive.values())
    sha = course.commit_files(repo, "shop", ordered)
    assert set(repo.commit_info(sha).files) == set(ordered)


def test_unreachable_kubeconfig_points_every_cluster_at_a_closed_port_and_is_private(tmp_path: Path) -> None:
    source = tmp_path / "kubeconfig"
    source.write_text(
        yaml.safe_dump({"clusters": [{"name": "a", "cluster": {"server": "https://127.0.0.1:6443"}}]})
    )
    dest = course.unreachable_kubeconfig(source, tmp_path / "ci" / "cut-off")
    assert yaml.safe_load(dest.read_text())["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:9"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert "6443" in source.read_text()


# -- things that drive a lab, with fakes ---------------------------------------------------------


class FakeKube:
    def __init__(self, replicas: int) -> None:
        self.replicas = replicas
        self.patches: list[Any] = []

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        return {"spec": {"replicas": self.replicas}}

    def patch(self, api_version: str, kind: str, name: str, namespace: str | None, patch: Any) -> Any:
        self.patches.append(patch)
        self.replicas = patch["spec"]["replicas"]
        return {}


def test_the_autoscaler_stand_in_scales_back_only_when_someone_changed_replicas(tmp_path: Path) -> None:
    kube, timeline = FakeKube(replicas=2), Timeline(tmp_path / "t.jsonl")
    hpa = course.Autoscaler(kube, timeline, "demo", "web", 4, app="demo")
    assert hpa.step() is True and kube.patches == [{"spec": {"replicas": 4}}]
    assert hpa.step() is False and hpa.changes == 1
    (event,) = timeline.read(kind="drift_injected")
    assert (event.actor, event.app, event.data["field"]) == ("autoscaler", "demo", "spec.replicas")


@dataclass
class FakeDrift:
    timeline: Timeline
    declared_kinds: tuple[str, ...] = ("scale",)

    def inject(self, kind: str, *, app: str, namespace: str) -> Any:
        declared = kind in self.declared_kinds
        self.timeline.append(
            "drift",
            "drift_injected",
            app=app,
            drift=kind,
            target="deployment/web",
            field="f",
            declared=declared,
        )
        if declared:
            self.timeline.append("controller", "drift_detected", app=app)
        return type("Drift", (), {"declared": declared})()


@dataclass
class FakeApps:
    calls: list[tuple[str, str]] = field(default_factory=list)

    def sync(self, name: str) -> None:
        self.calls.append(("sync", name))

    def wait(self, name: str, **kw: Any) -> None:
        self.calls.append(("wait", name))


@dataclass
class FakeLab:
    timeline: Timeline
    drift: FakeDrift
    apps: FakeApps


def test_drift_tour_reports_what_the_agent_noticed_and_syncs_back_only_those(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "t.jsonl")
    lab = FakeLab(timeline, FakeDrift(timeline), FakeApps())
    df = course.drift_tour(lab, ["scale", "add_label"], "demo", "demo", settle_s=0.1)
    assert df["drift"].tolist() == ["scale", "add_label"]
    assert df["declared"].tolist() == [True, False]
    assert not math.isnan(df["detected_s"].iloc[0]) and math.isnan(df["detected_s"].iloc[1])
    assert lab.apps.calls == [("sync", "demo"), ("wait", "demo")]


# -- the notebooks themselves ------------------------------------------------------------------


def test_there_are_twelve_numbered_notebooks() -> None:
    assert [p.name[:3] for p in NOTEBOOKS] == [f"{i:02d}-" for i in range(1, 13)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_has_objectives_summary_exercises_and_a_checkpoint(path: Path) -> None:
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for heading in ("What you will be able to do", "## Summary", "## Exercises", "checkpoint"):
        assert heading.lower() in text.lower(), f"{path.name} lacks {heading!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_is_thin_resets_first_and_cleans_up_last(path: Path) -> None:
    nb = json.loads(path.read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert "labkit.Lab.up()" in code[0] and "lab.reset()" in code[1]
    assert "lab.reset()" in code[-1]
    for source in code:
        if is_file_cell(source):
            continue  # a manifest the learner writes: as long as the YAML is, and no Python in it
        assert len(source.splitlines()) <= 10, source
        assert not re.search(r"^\s*(for|while|def|class|try|if)\b", source, re.MULTILINE), source


def is_file_cell(source: str) -> bool:
    """A cell that only writes a file: ``%%writefile``, or ``%%bash`` with one ``cat > F <<EOF`` heredoc."""
    lines = source.strip().splitlines()
    if lines and lines[0].startswith("%%writefile "):
        return True
    return len(lines) >= 3 and lines[0] == "%%bash" and "<<EOF" in lines[1] and lines[-1] == "EOF"


def test_a_file_cell_is_a_writefile_or_a_single_heredoc() -> None:
    assert is_file_cell("%%writefile app.yaml\nkind: Application\n")
    assert is_file_cell("%%bash\ncat > $F <<EOF\nkind: Application\nEOF")
    assert not is_file_cell("%%bash\ncat > $F <<EOF\nkind: Application\nEOF\nrm -rf /tmp/x")
    assert not is_file_cell("x = 1\ny = 2")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_collapsed_answers_in_each_notebook_match_the_question_bank(path: Path) -> None:
    nb = json.loads(path.read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    key = path.name[:2]
    sets = (
        [course.CHECKPOINTS[key]]
        if key in course.CHECKPOINTS
        else [course.questions_on(t) for t in course.TOPICS]
    )
    for checks in sets:
        assert course.answers_markdown(checks) in text, f"{path.name}: regenerate its answers block"


def test_the_dashboard_notebook_has_objectives_resets_first_and_cleans_up_last() -> None:
    nb = json.loads((PROJECT_ROOT / "notebooks" / "dashboard.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "what you will be able to do" in text.lower() and "## exercises" in text.lower()
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert "labkit.Lab.up()" in code[0] and "lab.reset()" in code[1]
    assert "board.close()" in code[-1] and "lab.reset()" in code[-1]
