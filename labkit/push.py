"""The push pipeline: a CI-style job that applies each pushed commit with cluster-admin credentials.

This is the model GitOps replaces, run for real so the two can be compared on
the same commit. When ``<state_dir>/pipeline/enabled`` exists, the Git
server's post-receive hook (:mod:`labkit.hook`) starts
``python -m labkit.push run --state-dir DIR --revision SHA`` detached. The run
exports the commit, renders each configured path (:mod:`labkit.gitops.render`)
and runs ``kubectl apply -f`` with the kubeconfig the pipeline holds: the
credentials live outside the cluster, with CI. It tracks nothing afterwards:
no drift detection, no prune, and no retry — a run that fails (API server
down, bad manifest) is simply lost until the next push.

Every run appends ``pipeline_started`` then ``pipeline_applied`` or
``pipeline_failed`` (actor ``pipeline``, app ``push:<namespace>``) to the
timeline and writes ``pipeline/runs/<UTC time>-<sha7>.log`` (plus a ``.json``
record and the rendered ``.<namespace>.yaml`` it applied). ``labkit pipeline``
and ``labkit.lab`` drive :class:`PushPipeline`.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import yaml

from labkit.errors import CommandError, LabkitError
from labkit.events import Clock, Timeline
from labkit.git import export_tree
from labkit.gitops.application import TRACKING_ANNOTATION, Manifest
from labkit.gitops.render import render
from labkit.proc import Runner, run

ACTOR = "pipeline"
KUBECTL_TIMEOUT_S = 120.0
"""How long one kubectl command of a run may take, in seconds."""
_VERBS = ("get", "create", "apply")
NOT_RETRIED = (
    "not retried: this commit reaches the cluster only with the next push (or `labkit pipeline run`)"
)


class PipelineError(LabkitError):
    """The push pipeline is not configured, or its configuration cannot be read."""


@dataclass(frozen=True)
class Target:
    """One directory of the repository and the namespace the pipeline applies it to."""

    path: str
    namespace: str


@dataclass(frozen=True)
class PipelineRun:
    """One run of the pipeline, as recorded beside its log."""

    revision: str
    ok: bool
    started_at: datetime
    finished_at: datetime | None
    """None while the run is going on (or when it was killed)."""
    log_path: Path
    error: str | None = None
    objects: int = 0
    """How many objects the run applied."""

    @property
    def duration_s(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()

    def to_json(self) -> str:
        when = (self.started_at, self.finished_at)
        started, finished = (t.isoformat() if t else None for t in when)
        record = {"revision": self.revision, "ok": self.ok, "started_at": started, "finished_at": finished}
        return json.dumps({**record, "error": self.error, "objects": self.objects}, indent=1)

    @classmethod
    def from_json(cls, text: str, log_path: Path) -> PipelineRun:
        r = json.loads(text)
        finished = datetime.fromisoformat(r["finished_at"]) if r.get("finished_at") else None
        started = datetime.fromisoformat(r["started_at"])
        return cls(r["revision"], bool(r["ok"]), started, finished, log_path, r.get("error"), r["objects"])


def strip_tracking(obj: Manifest) -> Manifest:
    """A copy without labkit's tracking annotation: the push model tracks nothing it applied."""
    meta = dict(obj.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != TRACKING_ANNOTATION}
    meta.pop("annotations", None)
    return {**obj, "metadata": {**meta, **({"annotations": annotations} if annotations else {})}}


def _stamp(ns: int) -> str:
    t = datetime.fromtimestamp(ns / 1e9, UTC)
    return t.strftime("%Y%m%dT%H%M%S") + f".{t.microsecond // 1000:03d}Z"


class _RunLog:
    """The per-run log: each line stamped with the seconds since the run started."""

    def __init__(self, f: IO[str], start_ns: int, clock: Clock) -> None:
        self._f, self._start, self._clock = f, start_ns, clock

    def __call__(self, text: str) -> None:
        elapsed = (self._clock() - self._start) / 1e9
        for line in text.rstrip("\n").splitlines() or [""]:
            self._f.write(f"{elapsed:7.2f}s  {line}\n")
        self._f.flush()


class PushPipeline:
    """The lab's push pipeline: its switch, its config, its runs (all under ``<state_dir>/pipeline``)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        runner: Runner = run,
        clock: Clock = time.time_ns,
        kubectl: str | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.dir = self.state_dir / "pipeline"
        self.runs_dir = self.dir / "runs"
        self.runner, self.clock = runner, clock
        self.kubectl = kubectl or str(Path(sys.executable).parent / "kubectl")
        self.timeline = Timeline(self.state_dir / "timeline.jsonl", clock)

    # -- switch and config -------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return (self.dir / "enabled").exists()

    def enable(self, targets: Sequence[Target], kubeconfig: Path, context: str | None = None) -> None:
        """Hand the pipeline its targets and cluster-admin kubeconfig; the hook then runs it on every push."""
        if not targets:
            raise PipelineError(
                "the pipeline needs at least one target", hint="e.g. Target('apps/demo', 'demo-push')"
            )
        kubeconfig = Path(kubeconfig).resolve()
        if not kubeconfig.is_file():
            raise PipelineError(f"no kubeconfig at {kubeconfig}", hint="run `labkit up` first")
        self.dir.mkdir(parents=True, exist_ok=True)
        config = {"targets": [{"path": t.path, "namespace": t.namespace} for t in targets]}
        path = self.dir / "config.json"
        # 0600: it names the credentials CI holds, like a CI secret store.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({**config, "kubeconfig": str(kubeconfig), "context": context}, f, indent=1)
        (self.dir / "enabled").touch()

    def disable(self) -> None:
        """Stop running on pushes (the config and the run logs stay)."""
        (self.dir / "enabled").unlink(missing_ok=True)

    def config(self) -> tuple[list[Target], list[str]]:
        """The targets, and the kubectl flags naming the credentials, from ``config.json``."""
        path = self.dir / "config.json"
        try:
            raw = json.loads(path.read_text())
            targets = [Target(str(t["path"]), str(t["namespace"])) for t in raw["targets"]]
            context = ["--context", str(raw["context"])] if raw.get("context") else []
            return targets, ["--kubeconfig", str(raw["kubeconfig"]), *context]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise PipelineError(
                f"cannot read the pipeline config {path}: {e}", hint="run `labkit pipeline enable` first"
            ) from e

    # -- runs ----------------------------------------------------------------------

    def run(self, revision: str) -> PipelineRun:
        """Apply commit ``revision`` (a full sha, as the hook passes) once; never raises, never retries."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():  # one run at a time, like a CI concurrency group
            start = self.clock()
            log_path = self.runs_dir / f"{_stamp(start)}-{revision[:7]}.log"
            started_at = datetime.fromtimestamp(start / 1e9, UTC)
            record = PipelineRun(revision, False, started_at, None, log_path)
            log_path.with_suffix(".json").write_text(record.to_json())
            with log_path.open("w") as f:
                record = self._run_logged(record, start, _RunLog(f, start, self.clock))
            log_path.with_suffix(".json").write_text(record.to_json())
            return record

    def _app_name(self) -> str:
        try:
            return "push:" + ",".join(t.namespace for t in self.config()[0])
        except PipelineError:
            return "push"

    def _run_logged(self, record: PipelineRun, start: int, log: _RunLog) -> PipelineRun:
        revision, app, objects = record.revision, self._app_name(), 0
        self.timeline.append(ACTOR, "pipeline_started", app=app, revision=revision, log=str(record.log_path))
        log(f"labkit push pipeline: revision {revision}")
        try:
            targets, credentials = self.config()
            log(f"credentials: {shlex.join(credentials)} (cluster-admin, held by CI outside the cluster)")
            with tempfile.TemporaryDirectory(prefix="labkit-push-") as tmp:
                bare = self.state_dir / "repos" / "gitops.git"
                sha = export_tree(bare, revision, "", Path(tmp))
                log(f"checked out {sha} from {bare}")
                for target in targets:
                    objects += self._apply(target, Path(tmp), sha, credentials, record.log_path, log)
        except Exception as e:  # a CI job fails whole, whatever broke; the lab keeps going
            error = _one_line(e)
            if isinstance(e, CommandError):
                log(e.output)
            log(f"FAILED: {error}")
            if not isinstance(e, LabkitError):
                log(traceback.format_exc())
            log(NOT_RETRIED)
            finished = self._finish("pipeline_failed", app, revision, start, error=error)
            return PipelineRun(revision, False, record.started_at, finished, record.log_path, error)
        log(f"applied {objects} objects")
        finished = self._finish("pipeline_applied", app, revision, start, objects=objects)
        return PipelineRun(revision, True, record.started_at, finished, record.log_path, None, objects)

    def _apply(
        self, target: Target, root: Path, sha: str, credentials: list[str], log_path: Path, log: _RunLog
    ) -> int:
        """Render one target, create its namespace if missing, ``kubectl apply`` it; return the count."""
        objects = render(
            root / target.path,
            app="push",
            dest_namespace=target.namespace,
            kubectl=self.kubectl,
            runner=self.runner,
            display_path=target.path,
            revision=sha,
        )
        rendered = log_path.with_suffix(f".{target.namespace}.yaml")
        rendered.write_text(yaml.safe_dump_all([strip_tracking(o) for o in objects], sort_keys=False))
        log(f"rendered {len(objects)} objects from {target.path} into {rendered.name}")
        kubectl = [self.kubectl, *credentials, "--request-timeout=30s"]
        found = self._kubectl(
            log, [*kubectl, "get", "namespace", target.namespace, "--ignore-not-found", "-o", "name"]
        )
        if not found.strip():
            self._kubectl(log, [*kubectl, "create", "namespace", target.namespace])
        self._kubectl(log, [*kubectl, "apply", "-f", str(rendered), "-n", target.namespace])
        return len(objects)

    def _kubectl(self, log: _RunLog, argv: list[str]) -> str:
        log(f"$ {shlex.join(argv)}")
        result = self.runner(argv, timeout=KUBECTL_TIMEOUT_S)
        if result.stdout.strip():
            log(result.stdout)
        return result.stdout

    def _finish(self, kind: str, app: str, revision: str, start: int, **data: Any) -> datetime:
        end = self.clock()
        duration_s = round((end - start) / 1e9, 3)
        self.timeline.append(
            ACTOR, kind, app=app, revision=revision, ts_ns=end, duration_s=duration_s, **data
        )
        return datetime.fromtimestamp(end / 1e9, UTC)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with (self.dir / "lock").open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def runs(self) -> list[PipelineRun]:
        """Every recorded run, oldest first."""
        found = []
        for record in sorted(self.runs_dir.glob("*.json")):
            try:
                found.append(PipelineRun.from_json(record.read_text(), record.with_suffix(".log")))
            except (OSError, ValueError, KeyError):
                continue  # a record being rewritten this instant; it shows up next time
        return found

    def logs(self, n: int = 1) -> str:
        """The logs of the last ``n`` runs, oldest first ("" before the first run)."""
        paths = sorted(self.runs_dir.glob("*.log"))[-n:] if n > 0 else []
        return "\n".join(f"==> {p} <==\n{p.read_text()}" for p in paths)


def _one_line(e: BaseException) -> str:
    """What broke, in one line for the timeline: kubectl's last words, or the error's first line."""
    if isinstance(e, CommandError):
        lines = [line for line in e.output.strip().splitlines() if line.strip()]
        verb = next((a for a in e.argv if a in _VERBS), "")
        return f"kubectl {verb} failed (exit {e.returncode}): {lines[-1] if lines else 'no output'}"
    if isinstance(e, LabkitError):
        return e.message.splitlines()[0]
    return f"{type(e).__name__}: {e}"


def main(argv: Sequence[str] | None = None, echo: Callable[[str], None] = print) -> int:
    """``python -m labkit.push run --state-dir DIR --revision SHA``: one run; exit 1 when it failed."""
    parser = argparse.ArgumentParser(prog="python -m labkit.push", description="the lab's push pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="apply one commit to the cluster")
    run_parser.add_argument("--state-dir", required=True, type=Path, help="the lab's state directory")
    run_parser.add_argument("--revision", required=True, help="the commit sha to apply")
    args = parser.parse_args(argv)
    result = PushPipeline(args.state_dir).run(args.revision)
    echo(
        f"push pipeline {'applied' if result.ok else 'FAILED'}: {result.revision[:7]}, log: {result.log_path}"
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
