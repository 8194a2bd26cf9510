"""Helpers the notebooks call that are not lab actions: tables, waits, experiment files, checkpoints.

The notebooks in ``notebooks/`` stay thin: a cell is one or two calls. When a
cell would need a loop, a comprehension or a ``try``, the code lives here
instead, with a unit test in ``tests/unit/test_course.py``. Most helpers only
read (an Application's status, the timeline, a checkout). The few that act do
so the way a learner would: :func:`replace_in_file` and :func:`commit_files`
commit through :class:`labkit.git.LabRepo`, :func:`drift_tour` runs the lab's
drift injector (real ``kubectl``), and :class:`Autoscaler` writes
``spec.replicas`` through the API server like an HPA.

The interview checkpoints are data (:class:`Check`): one short set per
notebook in :data:`CHECKPOINTS` and the follow-up bank for notebook 10 in
:data:`QUESTIONS`. :func:`quiz` turns a set into the ``Quiz`` widget of
:mod:`labkit.ui.quiz`, imported only then, so this module stays light.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.errors import LabkitError
from labkit.events import Event, Timeline

if TYPE_CHECKING:
    import pandas as pd

    from labkit.git import CommitInfo, LabRepo

Manifest = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Check:
    """One self-check question: the prompt, the choices, which one is right and why."""

    prompt: str
    choices: tuple[str, ...]
    answer_index: int
    explanation: str
    topic: str = ""
    """For notebook 10's bank: which follow-up question (a key of :data:`TOPICS`) it belongs to."""


# -- checkpoints -------------------------------------------------------------------------------


def quiz(checks: Iterable[Check]) -> Any:
    """A ``labkit.ui.widgets.Quiz`` for these checks: pick an answer, get feedback and the why."""
    from labkit.ui import Question, Quiz

    questions = [Question(c.prompt, list(c.choices), c.answer_index, c.explanation) for c in checks]
    return Quiz(questions=questions)


def checkpoint(notebook: str) -> Any:
    """The interview checkpoint quiz of one notebook ("01" ... "09")."""
    return quiz(CHECKPOINTS[notebook])


def questions_on(topic: str) -> tuple[Check, ...]:
    """The notebook 10 questions about one follow-up topic (a key of :data:`TOPICS`)."""
    if topic not in TOPICS:
        raise LabkitError(f"no questions on {topic!r}", hint=f"topics: {', '.join(TOPICS)}")
    return tuple(c for c in QUESTIONS if c.topic == topic)


def answers_markdown(checks: Iterable[Check]) -> str:
    """The answers as a collapsed Markdown block, for readers whose viewer shows no widgets."""
    lines = ["<details><summary><b>Answers</b> (try the quiz first)</summary>", ""]
    for i, c in enumerate(checks, start=1):
        lines.append(f"{i}. *{c.prompt}* — **{c.choices[c.answer_index]}** {c.explanation}")
    return "\n".join([*lines, "", "</details>"])


# -- tables ------------------------------------------------------------------------------------


def show_table(rows: Iterable[Any], columns: list[str] | None = None) -> pd.DataFrame:
    """A DataFrame from dataclasses, mappings or tuples (``columns`` picks and orders them)."""
    import pandas as pd

    records = [dataclasses.asdict(r) if dataclasses.is_dataclass(r) else r for r in rows]  # type: ignore[arg-type]
    frame = pd.DataFrame(records)
    if columns is not None:
        frame = frame.reindex(columns=columns)
    return frame


def commits_table(commits: Iterable[CommitInfo]) -> pd.DataFrame:
    """The audit trail: one row per commit with who, when, why and which files."""
    rows = [
        {
            "sha": c.short,
            "author": f"{c.author} <{c.email}>",
            "when": c.time.strftime("%Y-%m-%d %H:%M:%S"),
            "why (message)": c.subject,
            "files": ", ".join(c.files),
        }
        for c in commits
    ]
    return show_table(rows, ["sha", "author", "when", "why (message)", "files"])


def repo_tree(root: Path | str, max_depth: int = 6) -> str:
    """The folders and files of a checkout as an indented tree (``.git`` left out)."""
    root = Path(root)
    lines = [f"{root.name}/"]

    def walk(folder: Path, depth: int) -> None:
        entries = sorted(
            (p for p in folder.iterdir() if p.name != ".git"), key=lambda p: (p.is_file(), p.name)
        )
        for entry in entries:
            lines.append("    " * depth + entry.name + ("/" if entry.is_dir() else ""))
            if entry.is_dir() and depth < max_depth:
                walk(entry, depth + 1)

    walk(root, 1)
    return "\n".join(lines)


def who_changed(obj: Manifest | None) -> pd.DataFrame:
    """What the cluster itself knows about who wrote an object: its ``managedFields``.

    A field manager is a program name (``kubectl``, ``kubectl-client-side-apply``,
    ``labkit``...), a timestamp and the fields it owns — no person and no reason.
    """
    entries = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    rows = [
        {
            "manager": e.get("manager", ""),
            "operation": e.get("operation", ""),
            "time": e.get("time", ""),
            "fields it owns (top level)": ", ".join(
                sorted(k.removeprefix("f:") for k in (e.get("fieldsV1") or {}) if k.startswith("f:"))
            ),
        }
        for e in entries
    ]
    return show_table(rows, ["manager", "operation", "time", "fields it owns (top level)"])


def conditions(app_obj: Manifest) -> pd.DataFrame:
    """The Application's conditions (what is wrong, in words), empty when all is well."""
    rows = (app_obj.get("status") or {}).get("conditions") or []
    return show_table(rows, ["type", "message", "lastTransitionTime"])


def app_status(app_obj: Manifest) -> dict[str, str]:
    """Sync status, health, the revision compared with, and what the last operation did."""
    status = app_obj.get("status") or {}
    return {
        "sync": (status.get("sync") or {}).get("status", "Unknown"),
        "health": (status.get("health") or {}).get("status", "Unknown"),
        "revision": str((status.get("sync") or {}).get("revision", ""))[:7],
        "last operation": (status.get("operationState") or {}).get("phase", ""),
        "last synced revision": str(
            ((status.get("operationState") or {}).get("syncResult") or {}).get("revision", "")
        )[:7],
        "auto-sync": "on" if _auto_sync(app_obj) else "off",
    }


def _auto_sync(app_obj: Manifest) -> bool:
    automated = ((app_obj.get("spec") or {}).get("syncPolicy") or {}).get("automated")
    return automated is not None and automated.get("enabled", True) is not False


def resources_table(app_obj: Manifest) -> pd.DataFrame:
    """``status.resources``: each object of the app with its sync status and health."""
    rows = [
        {
            "kind": r.get("kind", ""),
            "name": r.get("name", ""),
            "namespace": r.get("namespace", ""),
            "sync": r.get("status", ""),
            "health": (r.get("health") or {}).get("status", ""),
        }
        for r in (app_obj.get("status") or {}).get("resources") or []
    ]
    return show_table(rows, ["kind", "name", "namespace", "sync", "health"])


def history_table(app_obj: Manifest) -> pd.DataFrame:
    """``status.history``: the deployments this Application made, oldest first, with their ids."""
    rows = [
        {
            "id": h.get("id"),
            "revision": str(h.get("revision", ""))[:7],
            "deployedAt": h.get("deployedAt", ""),
            "initiated by": (h.get("initiatedBy") or {}).get("username", ""),
        }
        for h in (app_obj.get("status") or {}).get("history") or []
    ]
    return show_table(rows, ["id", "revision", "deployedAt", "initiated by"])


def diff_table(comparison: Any) -> pd.DataFrame:
    """One row per resource of a ``Comparison``: in sync or not, and which fields differ."""
    rows = [
        {
            "resource": str(r.key),
            "sync": r.status.value,
            "reason": r.diff.reason,
            "fields that differ": ", ".join(r.diff.changed_paths),
        }
        for r in comparison.resources
    ]
    return show_table(rows, ["resource", "sync", "reason", "fields that differ"])


def latency_table(columns: Mapping[str, Any]) -> pd.DataFrame:
    """count, p50, p95 and max for each named series of latencies in seconds (NaN left out)."""
    import pandas as pd

    rows = []
    for name, values in columns.items():
        series = pd.to_numeric(pd.Series(list(values), dtype=float), errors="coerce").dropna()
        rows.append(
            {
                "path": name,
                "count": int(series.size),
                "p50 (s)": round(float(series.quantile(0.5)), 2) if series.size else float("nan"),
                "p95 (s)": round(float(series.quantile(0.95)), 2) if series.size else float("nan"),
                "max (s)": round(float(series.max()), 2) if series.size else float("nan"),
            }
        )
    return show_table(rows, ["path", "count", "p50 (s)", "p95 (s)", "max (s)"])


def lab_numbers(timeline: Timeline | Iterable[Event]) -> pd.DataFrame:
    """The latencies this lab has measured so far, one row per path (count, p50, p95, max in seconds).

    Commit → synced by how the agent learnt of the commit (webhook or poll), drift → detected and
    → healed, and commit → applied by the push pipeline. Empty rows mean "not measured yet".
    """
    from labkit import metrics
    from labkit.ui.plots import commit_modes

    events = list(timeline)
    modes = commit_modes(events)
    drift = metrics.drift_latencies(events)
    push = metrics.pipeline_latencies(events)
    return latency_table(
        {
            "commit → synced, webhook": modes[modes["mode"] == "webhook"]["synced_s"],
            "commit → synced, poll": modes[modes["mode"] == "poll"]["synced_s"],
            "commit → applied, push pipeline": push["applied_s"],
            "drift → detected by the agent": drift.get("detected_s", []),
            "drift → healed by self-heal": drift.get("healed_s", []),
        }
    )


def attempt(action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``action`` and return its result; if labkit refuses, print why (and the hint) and return None."""
    try:
        return action(*args, **kwargs)
    except LabkitError as e:
        print(f"refused: {e.message}")
        if e.hint:
            print(f"hint: {e.hint}")
        return None


# -- committing like a learner -----------------------------------------------------------------


def replace_in_file(
    repo: LabRepo,
    relpath: str,
    old: str,
    new: str,
    message: str,
    *,
    author: tuple[str, str] | None = None,
) -> str:
    """Edit one file of the working clone (``old`` -> ``new``, exactly once), commit and push."""
    text = (repo.work / relpath).read_text()
    if text.count(old) != 1:
        raise LabkitError(
            f"{relpath} contains {old!r} {text.count(old)} times, not once",
            hint="pick a longer piece of text that appears exactly once",
        )
    return repo.commit_and_push(message, {relpath: text.replace(old, new)}, author=author)


def commit_files(repo: LabRepo, message: str, files: Mapping[str, str | None], **kw: Any) -> str:
    """Commit several files (path -> YAML text, None deletes) in one commit; return the sha."""
    return repo.commit_and_push(message, dict(files), **kw)


# -- waiting for the timeline ---------------------------------------------------------------------


def now_ns() -> int:
    """The wall clock in nanoseconds, as the timeline stamps events (mark a moment, then wait after it)."""
    return time.time_ns()


def wait_for_event(
    timeline: Timeline,
    kinds: str | Iterable[str],
    *,
    app: str | None = None,
    revision: str | None = None,
    since_ns: int | None = None,
    timeout_s: float = 30.0,
    poll_s: float = 0.1,
) -> Event:
    """The first timeline event of one of ``kinds`` (for ``app``/``revision``) at or after ``since_ns``.

    Raises a LabkitError naming what it waited for when nothing comes within ``timeout_s``.
    """
    wanted = {kinds} if isinstance(kinds, str) else set(kinds)
    deadline = time.monotonic() + timeout_s
    while True:
        for event in timeline.read(app=app, since_ns=since_ns):
            if event.kind in wanted and (revision is None or event.revision == revision):
                return event
        if time.monotonic() >= deadline:
            what = "/".join(sorted(wanted)) + " event" + (f" of {app}" if app else "")
            raise LabkitError(
                f"no {what} within {timeout_s:g} s",
                hint="look at the controller log and `labkit timeline`",
            )
        time.sleep(poll_s)


def apply_order(timeline: Timeline | Iterable[Event], app: str) -> pd.DataFrame:
    """The objects the latest sync of ``app`` touched, in order, with seconds since it started."""
    events = sorted((e for e in timeline if e.app == app), key=lambda e: e.ts_ns)
    starts = [e for e in events if e.kind == "sync_started" and not e.data.get("dry_run")]
    if not starts:
        return show_table([], ["t (s)", "resource", "result", "message"])
    t0 = starts[-1].ts_ns
    rows = [
        {
            "t (s)": round((e.ts_ns - t0) / 1e9, 2),
            "resource": e.data.get("resource", ""),
            "result": e.data.get("code", ""),
            "message": e.data.get("message", ""),
        }
        for e in events
        if e.kind == "resource_applied" and e.ts_ns >= t0
    ]
    return show_table(rows, ["t (s)", "resource", "result", "message"])


def drift_tour(
    lab: Any, kinds: Iterable[str], app: str, namespace: str, settle_s: float = 4.0
) -> pd.DataFrame:
    """Make each kind of drift in turn (real kubectl) and record whether the agent noticed it.

    Meant for an app with self-heal off, so that nothing but the drift itself
    changes: after each drift the agent noticed, a manual sync puts Git's
    version back, so the next one starts from a clean app (and no self-heal
    backoff builds up). Returns one row per drift: what changed, whether Git
    declares that field, and seconds until the agent reported it (NaN: never).
    """
    from labkit import metrics

    since = now_ns()
    for kind in kinds:
        mark = now_ns()
        drift = lab.drift.inject(kind, app=app, namespace=namespace)
        # A watch event arrives in milliseconds; an undeclared change gets a short look only.
        wait_s = settle_s if drift.declared else min(settle_s, 1.0)
        try:
            wait_for_event(lab.timeline, "drift_detected", app=app, since_ns=mark, timeout_s=wait_s)
        except LabkitError:
            continue  # not noticed: nothing to put back
        lab.apps.sync(app)
        lab.apps.wait(app, sync="Synced", timeout_s=30)
    table = metrics.drift_latencies(lab.timeline.read(since_ns=since))
    keep = [c for c in ("drift", "target", "field", "declared", "detected_s") if c in table]
    return table[keep]


def commit_replicas(
    lab: Any,
    path: str,
    deployment: str,
    counts: Iterable[int],
    *,
    apps: Iterable[str] = (),
    pipeline: bool = False,
    timeout_s: float = 30.0,
) -> list[str]:
    """Commit ``replicas: n`` for each n in turn; after each, wait for ``apps`` to sync it
    (and for the push pipeline's run, with ``pipeline``). Returns the commit shas."""
    shas = []
    for n in counts:
        sha = lab.repo.set_replicas(path, deployment, n)
        for app in apps:
            lab.apps.wait(app, revision=sha, timeout_s=timeout_s)
        if pipeline:
            kinds = ("pipeline_applied", "pipeline_failed")
            wait_for_event(lab.timeline, kinds, revision=sha, timeout_s=timeout_s)
        print(f"{sha[:7]}  replicas: {n}  -> done")
        shas.append(sha)
    return shas


ACTIVITY_KINDS = ("sync_started", "self_heal_attempt", "drift_detected", "healed")


def activity(timeline: Timeline | Iterable[Event], apps: Iterable[str]) -> pd.DataFrame:
    """How often each app synced, tried to self-heal, saw drift and healed (one row per app)."""
    names = list(apps)
    counts = {name: dict.fromkeys(ACTIVITY_KINDS, 0) for name in names}
    for event in timeline:
        if event.app in counts and event.kind in ACTIVITY_KINDS:
            counts[event.app][event.kind] += 1
    return show_table([{"app": name, **counts[name]} for name in names], ["app", *ACTIVITY_KINDS])


def heal_attempts(timeline: Timeline | Iterable[Event], app: str) -> pd.DataFrame:
    """Self-heal attempts of ``app`` in order: seconds since the first, attempt number, wait before it."""
    attempts = sorted(
        (e for e in timeline if e.app == app and e.kind == "self_heal_attempt"), key=lambda e: e.ts_ns
    )
    rows, previous = [], None
    for e in attempts:
        t0 = attempts[0].ts_ns
        rows.append(
            {
                "t (s)": round((e.ts_ns - t0) / 1e9, 2),
                "attempt": e.data.get("attempt"),
                "waited since the previous one (s)": round((e.ts_ns - previous) / 1e9, 2)
                if previous
                else None,
            }
        )
        previous = e.ts_ns
    return show_table(rows, ["t (s)", "attempt", "waited since the previous one (s)"])


# -- a stand-in for an autoscaler -----------------------------------------------------------------


class Autoscaler:
    """A tiny stand-in for an HPA: keeps a Deployment at ``replicas``, whatever Git says.

    Like a real autoscaler it writes ``spec.replicas`` through the API server;
    unlike one it reacts within ``poll_s`` instead of every 15 s, so a fight
    with self-heal shows its backoff within seconds. Each change it makes is
    a ``drift_injected`` event (actor ``autoscaler``) on the timeline.
    """

    def __init__(
        self, kube: Any, timeline: Timeline, namespace: str, deployment: str, replicas: int, *, app: str
    ) -> None:
        self.kube, self.timeline = kube, timeline
        self.namespace, self.deployment, self.replicas, self.app = namespace, deployment, replicas, app
        self.poll_s = 0.05
        self.changes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_lab(cls, lab: Any, namespace: str, deployment: str, replicas: int, *, app: str) -> Autoscaler:
        from labkit.kube import Kube

        return cls(Kube(lab.kubeconfig, lab.context), lab.timeline, namespace, deployment, replicas, app=app)

    def step(self) -> bool:
        """Look once; scale back to ``replicas`` if someone changed it. True when it scaled."""
        live = self.kube.get("apps/v1", "Deployment", self.deployment, self.namespace)
        if live is None or (live.get("spec") or {}).get("replicas") == self.replicas:
            return False
        self.kube.patch(
            "apps/v1", "Deployment", self.deployment, self.namespace, {"spec": {"replicas": self.replicas}}
        )
        self.changes += 1
        self.timeline.append(
            "autoscaler",
            "drift_injected",
            app=self.app,
            drift="autoscaler",
            namespace=self.namespace,
            target=f"deployment/{self.deployment}",
            field="spec.replicas",
            declared=True,
            command=f"(autoscaler) replicas -> {self.replicas}",
        )
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            # The API server was busy: look again next time, as a controller would.
            with contextlib.suppress(LabkitError):
                self.step()
            self._stop.wait(self.poll_s)

    def __enter__(self) -> Autoscaler:
        self._thread = threading.Thread(target=self._run, name="autoscaler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


# -- files for the experiments --------------------------------------------------------------------


def unreachable_kubeconfig(kubeconfig: Path | str, dest: Path | str) -> Path:
    """A copy of ``kubeconfig`` whose servers point at a closed port: CI cut off from the cluster."""
    import yaml

    config = yaml.safe_load(Path(kubeconfig).read_text())
    for cluster in config.get("clusters") or []:
        cluster.setdefault("cluster", {})["server"] = "https://127.0.0.1:9"
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(config, sort_keys=False))
    dest.chmod(0o600)
    return dest


def _yaml(*objects: Manifest) -> str:
    import yaml

    return yaml.safe_dump_all(list(objects), sort_keys=False)


def _deployment(name: str, image: str, annotations: Mapping[str, str] | None = None) -> Manifest:
    meta: Manifest = {"name": name, "labels": {"app": name}}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def _job(name: str, annotations: Mapping[str, str] | None = None) -> Manifest:
    meta: Manifest = {"name": name}
    if annotations:
        meta["annotations"] = dict(annotations)
    container = {"name": name, "image": "busybox:1.36", "command": ["sh", "-c", f"echo {name} done"]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
        },
    }


def ordering_files(path: str, *, ordered: bool) -> dict[str, str]:
    """An app whose parts must start in order: a schema migration, a database, then the web tier.

    Without ``ordered`` the files say nothing about order, so the agent uses
    its default (kind, then name: ``api`` before ``db``, the migration Job
    last). With it, the migration is a PreSync hook and the database is in
    wave -1, ahead of the api in wave 0.
    """
    hook = {"labkit.dev/hook": "PreSync"} if ordered else None
    early = {"labkit.dev/sync-wave": "-1"} if ordered else None
    late = {"labkit.dev/sync-wave": "0"} if ordered else None
    return {
        f"{path}/migrate-job.yaml": _yaml(_job("migrate-schema", hook)),
        f"{path}/db.yaml": _yaml(_deployment("db", "postgres:16", early)),
        f"{path}/api.yaml": _yaml(_deployment("api", "nginx:1.27", late)),
    }


# -- the questions -------------------------------------------------------------------------------
# Written for this lab; each explanation says why, in terms of what the notebook showed.

C = Check

CHECKPOINTS: dict[str, tuple[Check, ...]] = {
    "01": (
        C(
            "Which of the lab's parts holds the record of what should be running?",
            ("etcd of the cluster", "the Git repository's main branch", "the controller's memory", "kubectl"),
            1,
            "The cluster stores what runs now; Git stores what was decided, and the agent makes the two "
            "agree.",
        ),
        C(
            "What does the pull agent need to do its job?",
            (
                "SSH access to every node",
                "read access to Git and a credential for the API server",
                "write access to Git",
                "the learner's laptop to stay on",
            ),
            1,
            "It reads the repository and talks only to the API server; it never pushes to Git.",
        ),
    ),
    "02": (
        C(
            "After several `kubectl` changes, what can the cluster tell you about them?",
            (
                "who made each change and why",
                "the current values and which program (field manager) last wrote each field, with a time",
                "the full list of earlier values",
                "nothing at all",
            ),
            1,
            "managedFields name a program such as `kubectl`, not a person, and carry no reason; "
            "older values are gone.",
        ),
        C(
            "What does Git add that `kubectl apply` from a laptop does not?",
            (
                "faster deployments",
                "an author, a time, a message and a diff for every change, and a way back",
                "automatic load balancing",
                "encryption of manifests",
            ),
            1,
            "Each commit is an audit record; `git log` and `git revert` answer who/when/why and undo it.",
        ),
    ),
    "03": (
        C(
            "Which three things does an Application tie together?",
            (
                "a Docker image, a node and a port",
                "a repository + path (+ revision), a destination cluster + namespace, and a sync policy",
                "a Helm chart, a values file and a secret",
                "a user, a role and a namespace",
            ),
            1,
            "Source, destination and how to sync: the same three blocks as Argo CD's Application spec.",
        ),
        C(
            "An Application points at a path that does not exist. What happens?",
            (
                "the controller crashes",
                "everything in the namespace is deleted",
                "the Application shows a ComparisonError condition and nothing is applied",
                "the path is created automatically",
            ),
            2,
            "Bad input becomes a condition on the Application; the agent keeps running and tries again on "
            "the next refresh.",
        ),
        C(
            "In which order does one commit travel?",
            (
                "sync, push, webhook, healthy",
                "push, webhook, revision detected, sync started, resources applied, sync finished, healthy",
                "webhook, push, healthy, sync",
                "push, healthy, sync",
            ),
            1,
            "The timeline of the notebook showed exactly this chain, each step with a timestamp.",
        ),
    ),
    "04": (
        C(
            "In the push model, where do the cluster credentials live?",
            (
                "only inside the cluster",
                "in the CI system that runs the pipeline",
                "in the Git repository",
                "nowhere, push needs none",
            ),
            1,
            "CI must reach the API server, so it holds a powerful kubeconfig; in the pull model the agent "
            "inside (or beside) the cluster holds it and CI needs none.",
        ),
        C(
            "Someone runs `kubectl scale` after the pipeline deployed. What does the push pipeline do?",
            (
                "reverts it at once",
                "nothing: it only acts when a commit arrives",
                "alerts the author",
                "fails",
            ),
            1,
            "Push is fire-and-forget. Only a pull agent keeps comparing the cluster with Git.",
        ),
        C(
            "The API server is down while a commit is pushed. What happens next?",
            (
                "both models apply the commit when the cluster is back",
                "the push run fails and stays failed; the pull agent catches up once the cluster is back",
                "the pull agent loses the commit",
                "Git rejects the push",
            ),
            1,
            "The pull agent compares again and again; a failed CI job stays failed until someone reruns it.",
        ),
    ),
    "05": (
        C(
            "Auto-sync is on and the sync of commit X failed. Will the agent try X again by itself?",
            (
                "yes, every 5 seconds forever",
                "no, not unless a retry policy is set; a new commit or a manual sync is needed",
                "yes, once per poll",
                "only if self-heal is on",
            ),
            1,
            "Auto-sync acts once per revision, as in Argo CD; `syncPolicy.retry` adds backoff retries.",
        ),
        C(
            "Why can it take about three minutes for Argo CD to notice a commit?",
            (
                "Git is slow",
                "without a webhook it polls every 120 s plus up to 60 s of jitter",
                "the scheduler waits for nodes",
                "kubectl caches the manifests",
            ),
            1,
            "A webhook turns the wait into about a second, as the two distributions in this notebook showed.",
        ),
        C(
            "Auto-sync is off and you push a commit. What does the Application show?",
            ("Synced", "OutOfSync until someone syncs", "Degraded", "nothing changes at all"),
            1,
            "The agent still notices and compares; it only waits for a person to press sync.",
        ),
    ),
    "06": (
        C(
            "Someone adds a label by hand that Git does not declare. Does the agent notice?",
            (
                "yes, in both diff modes",
                "no: neither diff mode compares fields Git leaves out",
                "only with self-heal on",
                "only in three-way mode",
            ),
            1,
            "Both modes compare what Git declares; the hand-made label survives until Git says something "
            "about that field.",
        ),
        C(
            "Self-heal is off and someone scales a Deployment by hand. What happens?",
            (
                "it is reverted at once",
                "the app turns OutOfSync and stays so until a sync",
                "the Deployment is deleted",
                "the agent pushes the change to Git",
            ),
            1,
            "Drift is detected (watch event) and shown, but only self-heal acts on it.",
        ),
        C(
            "How does drift detection differ between Argo CD and Flux?",
            (
                "they are the same",
                "Argo CD watches managed objects and sees drift in about a second; Flux corrects only on its "
                "interval",
                "Flux watches; Argo CD polls",
                "neither detects drift",
            ),
            1,
            "The interval-mode app in this notebook waited for its refreshInterval before healing.",
        ),
    ),
    "07": (
        C(
            "The sync of `replicas: 5` finished. Is the app Healthy at that moment?",
            (
                "yes, a finished sync means healthy",
                "not yet: it is Progressing until the new pods are ready",
                "no, it is Degraded",
                "health is not tracked",
            ),
            1,
            "Sync means the API server accepted the objects; health follows the Deployment's ready replicas.",
        ),
        C(
            "Who creates the three extra pods?",
            (
                "the GitOps agent",
                "the Deployment and ReplicaSet controllers in kube-controller-manager, then the scheduler",
                "the Git server",
                "kubectl",
            ),
            1,
            "The agent only changes `spec.replicas`; Kubernetes' own controllers do the rest.",
        ),
    ),
    "08": (
        C(
            "Why is a history rollback refused while auto-sync is on?",
            (
                "it needs admin rights",
                "auto-sync would put Git's HEAD straight back, undoing the rollback",
                "history is deleted by auto-sync",
                "it is never refused",
            ),
            1,
            "Two sources of truth cannot win at once; labkit and Argo CD refuse instead of fighting.",
        ),
        C(
            "After a history rollback with auto-sync switched off, what does the app show?",
            ("Synced", "OutOfSync: the cluster runs an older revision than Git's HEAD", "Missing", "Unknown"),
            1,
            "The cluster now differs from Git on purpose; fix Git (revert) and turn auto-sync back on.",
        ),
        C(
            "Which way back keeps Git the single source of truth?",
            ("history rollback", "`git revert` and push", "`kubectl rollout undo`", "deleting the app"),
            1,
            "A revert is a new commit: audited, reviewed and picked up by auto-sync like any other change.",
        ),
    ),
    "09": (
        C(
            "A teammate hot-fixes an image with kubectl; auto-sync is on, self-heal off. What happens at "
            "the next unrelated commit?",
            (
                "the hotfix stays forever",
                "the sync re-applies Git's image and the hotfix silently disappears",
                "the sync fails",
                "Git is updated with the hotfix",
            ),
            1,
            "Whatever is not in Git is temporary; put the fix in Git.",
        ),
        C(
            "Two Applications deploy the same objects into the same namespace. What do you see?",
            (
                "they share them peacefully",
                "they take the objects from each other, and status and history stop making sense",
                "the second one is rejected by Kubernetes",
                "the objects are duplicated",
            ),
            1,
            "Each object should belong to exactly one Application; give each app its own path and namespace.",
        ),
        C(
            "A database migration Job must finish before the new Deployment starts. What do you use?",
            (
                "a bigger sync wave number on the Job",
                "a PreSync hook on the Job",
                "two commits, five minutes apart",
                "a PostSync hook",
            ),
            1,
            "PreSync hooks run, and must succeed, before anything else of the sync is applied.",
        ),
    ),
}
"""The interview checkpoint at the end of notebooks 01-09."""

TOPICS: dict[str, str] = {
    "one-breath": "The one-breath answer",
    "polling": "Why is polling slow, and what do webhooks change?",
    "undeclared": "Why does a kubectl edit of a field Git does not declare go unnoticed?",
    "autoscaler": "What do self-heal and an autoscaler do to each other?",
    "rollback": "Why does rollback switch auto-sync off?",
    "waves": "What are sync waves and hooks for?",
    "credentials": "What does the pull model mean for credentials and security?",
}
"""The follow-up questions a good interviewer asks, keyed for :func:`questions_on`."""

QUESTIONS: tuple[Check, ...] = (
    C(
        "Which sentence is the best short definition of GitOps with Argo CD?",
        (
            "CI runs kubectl apply after every merge",
            "Git holds the desired state; an agent in the cluster pulls it, applies it and keeps the "
            "cluster equal to it",
            "developers SSH into nodes from Git hooks",
            "Git stores container images",
        ),
        1,
        "Declarative state in Git, pulled and continuously reconciled by an agent.",
        "one-breath",
    ),
    C(
        "What does 'continuously reconciled' add to 'deployed from Git'?",
        (
            "nothing",
            "manual changes are detected (and, with self-heal, undone), so Git stays true over time",
            "faster image pulls",
            "automatic scaling",
        ),
        1,
        "Deploying once is CI; comparing forever is what makes Git the truth.",
        "one-breath",
    ),
    C(
        "Without a webhook, how long can a commit wait before Argo CD sees it?",
        ("under a second", "up to about 3 minutes (120 s poll + up to 60 s jitter)", "an hour", "forever"),
        1,
        "The default `timeout.reconciliation` is 120 s, plus jitter so that thousands of apps do not "
        "poll at the same moment.",
        "polling",
    ),
    C(
        "What does a Git webhook change?",
        (
            "it replaces the agent",
            "the Git server tells the agent right after a push, so it refreshes in about a second",
            "it makes syncs skip the diff",
            "it pushes manifests into the cluster",
        ),
        1,
        "Polling stays as the safety net for lost webhooks; the webhook only triggers an earlier refresh.",
        "polling",
    ),
    C(
        "A webhook arrives but one Application does not refresh. A likely cause?",
        (
            "the cluster is full",
            "the app's repoURL is spelled differently from the repository URL in the webhook",
            "self-heal is off",
            "the app has too many resources",
        ),
        1,
        "Webhooks are matched to apps by URL; notebook 05 used exactly that to make a poll-only app.",
        "polling",
    ),
    C(
        "Someone runs `kubectl label deploy web hotfix=true`; Git declares no such label. Does Argo CD "
        "report OutOfSync?",
        (
            "yes",
            "no: the diff compares only fields Git declares (or declared at the last apply)",
            "only with server-side diff",
            "only after a hard refresh",
        ),
        1,
        "Fields nobody declared are invisible to the comparison; declare them in Git to own them.",
        "undeclared",
    ),
    C(
        "How do you make such a field visible to the agent?",
        (
            "turn on self-heal",
            "declare the field in Git, so it becomes part of the desired state",
            "restart the controller",
            "delete the object",
        ),
        1,
        "Once Git says `hotfix` must not be there (or has a value), the diff sees any change to it.",
        "undeclared",
    ),
    C(
        "Git says `replicas: 2`, self-heal is on, and an HPA scales to 6. What happens?",
        (
            "they agree",
            "they fight: self-heal resets 2, the HPA sets 6 again, over and over (with backoff)",
            "the HPA is deleted",
            "Git is updated to 6",
        ),
        1,
        "Two controllers own one field. The notebook's backoff timeline showed the growing pauses.",
        "autoscaler",
    ),
    C(
        "What is the usual fix?",
        (
            "turn off the HPA",
            "drop `replicas` from the manifest in Git (or ignore that field) so the HPA owns it",
            "set replicas to 0",
            "run two Argo CD instances",
        ),
        1,
        "Give each field one owner: Git for the template, the autoscaler for the count.",
        "autoscaler",
    ),
    C(
        "Why does `argocd app rollback` require auto-sync to be off?",
        (
            "for performance",
            "auto-sync would immediately sync Git's HEAD again and undo the rollback",
            "rollback deletes history",
            "it does not",
        ),
        1,
        "A rollback deploys an older revision than HEAD; with auto-sync on, HEAD would win within seconds.",
        "rollback",
    ),
    C(
        "After a rollback, why does auto-sync stay off?",
        (
            "it is a bug",
            "turning it back on would roll forward to HEAD; someone must first fix Git (e.g. git revert)",
            "the history limit was reached",
            "the Application was recreated",
        ),
        1,
        "The rollback is an emergency brake; the durable fix is a commit.",
        "rollback",
    ),
    C(
        "What do sync waves do?",
        (
            "slow down syncs on purpose",
            "order resources: lower waves are applied and must be healthy before higher ones",
            "split an app across clusters",
            "retry failed syncs",
        ),
        1,
        "E.g. ConfigMaps and Secrets in wave -1 before the Deployment in wave 0.",
        "waves",
    ),
    C(
        "What is a PreSync hook for?",
        (
            "to run a Job (such as a schema migration) that must succeed before the app is updated",
            "to delete old pods",
            "to notify Slack after a sync",
            "to skip the diff",
        ),
        0,
        "If the hook fails, the sync stops before anything else changes; PostSync suits smoke tests.",
        "waves",
    ),
    C(
        "In the pull model, which component needs write access to the cluster?",
        (
            "the CI system",
            "only the agent running in (or next to) the cluster",
            "every developer",
            "the Git server",
        ),
        1,
        "CI builds images and commits; it holds no kubeconfig, so a leaked CI secret cannot reach the "
        "cluster.",
        "credentials",
    ),
    C(
        "What must the pull agent be able to reach?",
        (
            "inbound connections from the internet",
            "outbound: the Git server (read-only) and its own API server",
            "every developer laptop",
            "the CI runners",
        ),
        1,
        "No inbound port on the cluster is needed for deployments; the agent reaches out to Git.",
        "credentials",
    ),
)
"""Notebook 10's bank: the follow-up questions, several per topic."""

del C


__all__ = [
    "CHECKPOINTS",
    "QUESTIONS",
    "TOPICS",
    "Check",
    "ACTIVITY_KINDS",
    "Autoscaler",
    "activity",
    "answers_markdown",
    "apply_order",
    "app_status",
    "attempt",
    "checkpoint",
    "commit_files",
    "commit_replicas",
    "commits_table",
    "conditions",
    "diff_table",
    "drift_tour",
    "heal_attempts",
    "history_table",
    "lab_numbers",
    "latency_table",
    "now_ns",
    "ordering_files",
    "questions_on",
    "quiz",
    "replace_in_file",
    "repo_tree",
    "resources_table",
    "show_table",
    "unreachable_kubeconfig",
    "wait_for_event",
    "who_changed",
]
