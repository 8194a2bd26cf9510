"""Build the control plane from the wrapper Go modules in ``toolchain/``.

Called by :func:`labkit.cluster.toolchain.ensure` when ``go`` is on PATH. The
flags are the ones upstream uses (CGO_ENABLED=0, -trimpath, tags
selinux,notest for Kubernetes) so a warm GOCACHE turns a rebuild into a link;
-ldflags stamps the versions so ``kube-apiserver --version``, ``helm version``
and ``argocd version`` tell the truth. A component that needs a newer Go
(Argo CD v3.6: Go 1.27) sets GOTOOLCHAIN in its own build's environment only.
Go's output goes to a log file; the caller sees one line per step and a
heartbeat with the elapsed time and the number of packages compiled so far.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from labkit.cluster.components import Component
from labkit.errors import CommandError, ToolchainError
from labkit.proc import Runner, run

Progress = Callable[[str], None]

#: Used when the module cache cannot tell the tag's date; a fixed value keeps builds reproducible.
FALLBACK_BUILD_DATE = "1970-01-01T00:00:00Z"


class StepRunner(Protocol):
    """Runs one long command with its output appended to ``log``; raises CommandError on failure."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: Path,
        progress: Progress,
        label: str,
    ) -> None: ...


def stream_to_log(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    progress: Progress,
    label: str,
    heartbeat_s: float = 20.0,
) -> None:
    """Run ``argv`` with stdout+stderr appended to ``log``, reporting progress every ``heartbeat_s``."""
    start = time.monotonic()
    with log.open("a") as out:
        out.write(f"$ (cd {shlex.quote(str(cwd))} && {shlex.join(argv)})\n")
        out.flush()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            while True:
                try:
                    returncode = proc.wait(timeout=heartbeat_s)
                    break
                except subprocess.TimeoutExpired:
                    lines = _count_lines(log)
                    progress(
                        f"    … {label}: {time.monotonic() - start:.0f} s, {lines} log lines (tail -f {log})"
                    )
        except BaseException:
            # Ctrl-C or any error: never leave a compiler running behind us.
            proc.kill()
            proc.wait()
            raise
    if returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise CommandError(
            argv,
            returncode,
            tail,
            hint=f"read {log}, fix the cause, then run: labkit toolchain ensure --rebuild",
        )


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def pinned_version(go_mod: Path, module: str) -> str | None:
    """The version of ``module`` that ``go_mod`` requires, or None."""
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", go_mod.read_text(), re.MULTILINE)
    return match.group(1) if match else None


def build_date(
    go: str, module_dir: Path, module: str, runner: Runner = run, env: Mapping[str, str] | None = None
) -> str:
    """The commit time of the pinned tag (from the module cache), used as the stamped buildDate."""
    try:
        result = runner(
            [go, "list", "-m", "-json", module],
            cwd=module_dir,
            timeout=600,
            env=dict(env or {}),
        )
        stamp = str(json.loads(result.stdout)["Time"])
    except (CommandError, ValueError, KeyError):
        return FALLBACK_BUILD_DATE
    return stamp.replace("+00:00", "Z")


def build_argv(go: str, component: Component, out_dir: Path, date: str) -> list[str]:
    """The `go build` command line for ``component``, writing into ``out_dir``."""
    ldflags = ["-s", "-w", *component.ldflags]
    ldflags += [f"-X {var}={date}" for var in component.date_stamps]
    argv = [go, "build", "-trimpath", "-buildvcs=false", "-v"]
    if component.tags:
        argv += ["-tags", component.tags]
    argv += ["-ldflags", " ".join(ldflags)]
    # One package: -o names the file; several: -o DIR/ names each after its package.
    target = str(out_dir / component.binaries[0]) if len(component.packages) == 1 else f"{out_dir}/"
    return [*argv, "-o", target, *component.packages]


def build_component(
    component: Component,
    *,
    go: str,
    toolchain_dir: Path,
    out_dir: Path,
    log: Path,
    progress: Progress,
    step_runner: StepRunner = stream_to_log,
    runner: Runner = run,
) -> None:
    """Build every binary of ``component`` into ``out_dir`` (a temporary directory)."""
    module_dir = toolchain_dir / component.name
    go_mod = module_dir / "go.mod"
    if not go_mod.is_file():
        raise ToolchainError(
            f"the wrapper Go module {module_dir} is missing",
            hint="run from a full checkout of labkit (toolchain/ holds the go.mod/go.sum files)",
        )
    pinned = pinned_version(go_mod, component.module)
    if pinned != component.version:
        raise ToolchainError(
            f"{go_mod} pins {component.module} {pinned}, but labkit's settings pin {component.version}",
            hint="make labkit/settings.py Versions and the toolchain go.mod agree",
        )
    # CGO off as upstream does: static binaries, and the same GOCACHE keys as `make binaries`.
    # go_env (GOTOOLCHAIN for Argo CD) applies to this module's build alone.
    env = {"CGO_ENABLED": "0", **dict(component.go_env)}
    date = build_date(go, module_dir, component.module, runner, env) if component.date_stamps else ""
    argv = build_argv(go, component, out_dir, date)
    progress(f"  go build {component.name} {component.version} → {', '.join(component.binaries)}")
    step_runner(argv, cwd=module_dir, env=env, log=log, progress=progress, label=f"building {component.name}")
    for binary in component.binaries:
        if not (out_dir / binary).is_file():
            raise ToolchainError(
                f"`go build` succeeded but {out_dir / binary} is missing", hint=f"read {log}"
            )
