"""Find, verify, build or fetch the pinned binaries: control plane, tools, Argo CD, Flux.

Called by the kwok backend before ``kwokctl create cluster``, by
``labkit toolchain ensure|status`` (``make binaries``), by the Argo CD and Flux
runtimes (``labkit up --with argocd|flux`` build them on first use), by the agent's Helm
rendering (:func:`tool_path`) and by the benchmarks.
Resolution order for every binary:

1. an explicit path in ``LABKIT_<NAME>_BINARY`` (e.g. ``LABKIT_KUBE_APISERVER_BINARY``);
2. the cache entry ``<Settings.cache>/bin/<component>-<version>/``, if its manifest verifies;
3. a build from the wrapper Go modules in ``toolchain/`` when ``go`` is on PATH;
4. official release downloads, only when there is no Go and ``Settings.allow_download``
   (control plane only: helm, kustomize, Argo CD and Flux are always built from Go modules).

New entries are filled in a temporary directory, get their manifest last and
are renamed into place, so an interrupted build never looks complete. One
file lock serialises builders, so ``make binaries`` and ``labkit up`` never
build the same thing twice at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from labkit.cluster import cache, download, gobuild
from labkit.cluster.components import (
    DEFAULT_GROUPS,
    GROUPS,
    Component,
    cache_root,
    components,
    entry_dir,
    env_var,
    read_manifest,
    verify_entry,
)
from labkit.errors import CommandError, ToolchainError
from labkit.proc import Runner, run
from labkit.settings import Settings

Progress = Callable[[str], None]
Which = Callable[[str], str | None]


@dataclass(frozen=True)
class BinaryStatus:
    """Where one binary comes from, as ``labkit toolchain status`` shows it."""

    binary: str
    component: str
    version: str
    source: str
    """"env", "cache", or what ensure would do: "build", "download", "missing"."""
    path: str | None
    ok: bool
    detail: str


@dataclass(frozen=True)
class Toolchain:
    """Resolved paths of every control-plane binary."""

    paths: Mapping[str, Path]
    sources: Mapping[str, str]

    def path(self, binary: str) -> Path:
        return self.paths[binary]


def _explicit(component: Component, env: Mapping[str, str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for binary in component.binaries:
        value = env.get(env_var(binary), "").strip()
        if not value:
            continue
        path = Path(value).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ToolchainError(
                f"{env_var(binary)}={value} is not an executable file",
                hint=f"fix the path, or unset {env_var(binary)} to use labkit's cached build",
            )
        found[binary] = path.resolve()
    return found


def _fallback(settings: Settings, which: Which, component: Component) -> str:
    """What ensure would do for a component that is not cached: build, download or nothing."""
    if which("go"):
        return "build"
    downloadable = component.group == "control-plane"
    return "download" if settings.allow_download and downloadable else "missing"


def status(
    settings: Settings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    which: Which | None = None,
    deep: bool = True,
    groups: tuple[str, ...] = DEFAULT_GROUPS,
) -> list[BinaryStatus]:
    """Where every binary would come from; looks only, never builds or downloads."""
    settings = settings or Settings()
    env = os.environ if env is None else env
    which = which or shutil.which
    rows: list[BinaryStatus] = []
    for component in components(settings.versions, groups):
        explicit = _explicit(component, env)
        directory = entry_dir(settings, component)
        problem = (
            None
            if len(explicit) == len(component.binaries)
            else verify_entry(directory, component, deep=deep)
        )
        for binary in component.binaries:
            row: tuple[str, str | None, bool, str]
            if binary in explicit:
                row = ("env", str(explicit[binary]), True, f"from {env_var(binary)}")
            elif problem is None:
                row = ("cache", str(directory / binary), True, "manifest verified")
            else:
                row = (_fallback(settings, which, component), None, False, problem)
            rows.append(BinaryStatus(binary, component.name, component.version, *row))
    return rows


def lookup(settings: Settings, binary: str, env: Mapping[str, str] | None = None) -> Path | None:
    """The path of ``binary`` from the env or a (shallowly verified) cache entry; never builds."""
    env = os.environ if env is None else env
    for component in components(settings.versions, GROUPS):
        if binary in component.binaries:
            explicit = _explicit(component, env)
            if binary in explicit:
                return explicit[binary]
            directory = entry_dir(settings, component)
            return directory / binary if verify_entry(directory, component, deep=False) is None else None
    raise KeyError(binary)


def tool_path(binary: str, settings: Settings | None = None) -> Path:
    """The path of a built ``binary`` (helm, kustomize, argocd, …); ToolchainError says how to get it."""
    settings = settings or Settings()
    path = lookup(settings, binary)
    if path is None:
        group = next(c.group for c in components(settings.versions, GROUPS) if binary in c.binaries)
        flag = "" if group in DEFAULT_GROUPS else f" --with {group}"
        raise ToolchainError(
            f"{binary} is not built yet (nothing verified in {cache_root(settings)})",
            hint=f"run: labkit toolchain ensure{flag}",
        )
    return path


def recorded_build_seconds(settings: Settings | None = None) -> dict[str, float | None]:
    """Seconds each cached component took to build, as its manifest recorded (None if unknown)."""
    settings = settings or Settings()
    result: dict[str, float | None] = {}
    for component in components(settings.versions, GROUPS):
        manifest = read_manifest(entry_dir(settings, component)) or {}
        seconds = manifest.get("build_seconds")
        result[component.name] = float(seconds) if isinstance(seconds, int | float) else None
    return result


def tool_dirs(settings: Settings) -> list[Path]:
    """Cache directories of the built tools (helm, kustomize, argocd) for a learner's PATH."""
    found = (
        lookup(settings, c.binaries[0], env={}) for c in components(settings.versions, ("tools", "argocd"))
    )
    return [path.parent for path in found if path is not None]


def tool_versions(settings: Settings) -> dict[str, str | None]:
    """The pinned version of each tool when it is built, else None (``labkit status --json``'s ``tools``)."""
    return {
        c.name: c.version if lookup(settings, c.binaries[0], env={}) else None
        for c in components(settings.versions, ("tools", "argocd"))
    }


@dataclass(frozen=True)
class _Sources:
    """The injectable ways of getting binaries (real ones by default; fakes in unit tests)."""

    which: Which
    step_runner: gobuild.StepRunner
    fetcher: download.Fetcher
    target: tuple[str, str] | None
    runner: Runner


def ensure(
    settings: Settings | None = None,
    *,
    rebuild: bool = False,
    progress: Progress = print,
    env: Mapping[str, str] | None = None,
    which: Which | None = None,
    step_runner: gobuild.StepRunner = gobuild.stream_to_log,
    fetcher: download.Fetcher = download.urllib_fetch,
    target: tuple[str, str] | None = None,
    runner: Runner = run,
    groups: tuple[str, ...] = DEFAULT_GROUPS,
) -> Toolchain:
    """Return every binary's path in ``groups``, building or fetching what the cache lacks."""
    settings = settings or Settings()
    env = os.environ if env is None else env
    sources = _Sources(which or shutil.which, step_runner, fetcher, target, runner)
    paths: dict[str, Path] = {}
    origin: dict[str, str] = {}
    wanted = components(settings.versions, groups)
    todo = [c for c in wanted if len(_explicit(c, env)) < len(c.binaries)]
    with cache.lock(settings, progress) if todo else contextlib.nullcontext():
        for component in wanted:
            explicit = _explicit(component, env)
            source = (
                _ensure_component(component, settings, rebuild, progress, sources)
                if component in todo
                else ""
            )
            for binary in component.binaries:
                paths[binary] = explicit.get(binary, entry_dir(settings, component) / binary)
                origin[binary] = "env" if binary in explicit else source
    return Toolchain(paths, origin)


def _ensure_component(
    component: Component, settings: Settings, rebuild: bool, progress: Progress, sources: _Sources
) -> str:
    directory = entry_dir(settings, component)
    problem = "a rebuild was asked for" if rebuild else verify_entry(directory, component)
    if problem is None:
        progress(f"toolchain: {component.name} {component.version} cached in {directory}")
        return "cache"
    if directory.exists() and not rebuild:
        progress(f"toolchain: cache entry {directory} is not usable: {problem}")
    return _provide(component, settings, problem, progress, sources)


def _provide(
    component: Component, settings: Settings, problem: str, progress: Progress, sources: _Sources
) -> str:
    """Fill the cache entry of ``component`` by building or downloading; return which."""
    go = sources.which("go")
    root = cache_root(settings)
    if go:
        log = root / f"build-{component.key}.log"
        log.write_text("")
        progress(f"toolchain: building {component.name} {component.version} with {go} (log: {log})")

        def build(out: Path) -> None:
            gobuild.build_component(
                component,
                go=go,
                toolchain_dir=settings.toolchain_dir,
                out_dir=out,
                log=log,
                progress=progress,
                step_runner=sources.step_runner,
                runner=sources.runner,
            )

        cache.install(
            component,
            settings,
            "build",
            build,
            progress,
            {"go": _go_version(go, sources.runner), "log": str(log)},
        )
        return "build"
    if settings.allow_download and component.group == "control-plane":
        target = sources.target or download.os_arch()

        def fetch(out: Path) -> None:
            download.download_component(
                component, out, fetcher=sources.fetcher, progress=progress, target=target
            )

        cache.install(component, settings, "download", fetch, progress, {})
        return "download"
    raise _no_source_error(component, entry_dir(settings, component), problem)


def _no_source_error(component: Component, directory: Path, problem: str) -> ToolchainError:
    names = ", ".join(env_var(b) for b in component.binaries)
    if directory.exists():
        message = f"the cached {component.name} {component.version} binaries are not usable: {problem}"
        first = "install Go >= 1.26 (https://go.dev/dl), then run: labkit toolchain ensure --rebuild"
    else:
        message = f"no {component.name} {component.version} binaries: none cached in {directory}"
        first = "install Go >= 1.26 (https://go.dev/dl), then run: labkit toolchain ensure"
    message += ", Go is not on PATH, and downloads are off (CI=true or LABKIT_ALLOW_DOWNLOAD=0)"
    hint = (
        f"pick one: (1) {first}; (2) allow official release downloads: "
        f"LABKIT_ALLOW_DOWNLOAD=1 labkit toolchain ensure; (3) point {names} at binaries you have; "
        "(4) use Docker and `labkit up --backend kind`, or an existing cluster: "
        "`labkit up --backend kubeconfig --context X`"
    )
    return ToolchainError(message, hint)


def _go_version(go: str, runner: Runner) -> str:
    try:
        return runner([go, "version"], timeout=60).stdout.strip()
    except CommandError:
        return "unknown"
