"""The toolchain: resolution order, atomic cache entries, verification, and the messages users see.

Builds and downloads are replaced by injected fakes (a step runner that writes small
scripts where `go build` would write binaries, a fetcher that serves canned bytes), so
these tests need neither Go nor the network.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from labkit.cluster import components as comp
from labkit.cluster import gobuild, toolchain
from labkit.errors import CommandError, ToolchainError
from labkit.proc import Result
from labkit.settings import Settings

GO = "/fake/bin/go"
CONTROL_PLANE = {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok", "kwokctl"}
ALL_BINARIES = CONTROL_PLANE | {"helm", "kustomize"}


def with_go(name: str) -> str | None:
    return GO if name == "go" else None


def without_go(name: str) -> str | None:
    return None


def go_runner(argv: Sequence[str], **_: object) -> Result:
    """Answers `go list -m -json` and `go version` the way Go does."""
    if list(argv[1:3]) == ["list", "-m"]:
        return Result(tuple(argv), 0, json.dumps({"Path": argv[-1], "Time": "2026-07-22T18:07:38Z"}), "")
    return Result(tuple(argv), 0, "go version go1.26.8 linux/amd64\n", "")


def write_exe(path: Path, text: str = "fake") -> None:
    path.write_text(f"#!/bin/sh\necho {text}\n")
    path.chmod(0o755)


class FakeGoBuild:
    """Writes a small script wherever `go build -o` would write a binary."""

    def __init__(self, fail_on: str | None = None, interrupt: bool = False) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []
        self.fail_on = fail_on
        self.interrupt = interrupt

    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: Path,
        progress: object,
        label: str,
    ) -> None:
        self.calls.append((list(argv), dict(env)))
        target = argv[argv.index("-o") + 1]
        packages = argv[argv.index("-o") + 2 :]
        outputs = (
            [Path(target) / p.rsplit("/", 1)[-1] for p in packages]
            if target.endswith("/")
            else [Path(target)]
        )
        write_exe(outputs[0])
        if self.interrupt:
            raise KeyboardInterrupt
        if self.fail_on and self.fail_on in label:
            raise CommandError(argv, 2, "compile error")
        for out in outputs[1:]:
            write_exe(out)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", cache=tmp_path / "cache", allow_download=False)


def ensure(settings: Settings, **kwargs: object) -> toolchain.Toolchain:
    defaults: dict[str, object] = {"progress": lambda m: None, "env": {}, "runner": go_runner}
    return toolchain.ensure(settings, **{**defaults, **kwargs})


def test_ensure_builds_every_binary_into_the_cache_with_a_manifest(settings: Settings) -> None:
    build = FakeGoBuild()
    tools = ensure(settings, which=with_go, step_runner=build)
    assert set(tools.paths) == ALL_BINARIES
    assert set(tools.sources.values()) == {"build"}
    for component in comp.components(settings.versions, comp.DEFAULT_GROUPS):
        directory = comp.entry_dir(settings, component)
        assert comp.verify_entry(directory, component) is None
        manifest = comp.read_manifest(directory)
        assert manifest is not None and manifest["source"] == "build" and "build_seconds" in manifest
    assert len(build.calls) == 5


def test_a_second_ensure_uses_the_cache_and_builds_nothing(settings: Settings) -> None:
    ensure(settings, which=with_go, step_runner=FakeGoBuild())
    again = FakeGoBuild()
    tools = ensure(settings, which=with_go, step_runner=again)
    assert again.calls == []
    assert set(tools.sources.values()) == {"cache"}


def test_go_build_uses_upstream_flags_and_stamps_the_kubernetes_version(settings: Settings) -> None:
    build = FakeGoBuild()
    ensure(settings, which=with_go, step_runner=build)
    kube_argv, kube_env = build.calls[0]
    assert kube_env == {"CGO_ENABLED": "0"}
    assert kube_argv[:3] == [GO, "build", "-trimpath"]
    assert kube_argv[kube_argv.index("-tags") + 1] == "selinux,notest"
    ldflags = kube_argv[kube_argv.index("-ldflags") + 1]
    for stamp in (
        "-X k8s.io/component-base/version.gitVersion=v1.36.3",
        "-X k8s.io/client-go/pkg/version.gitMinor=36",
        "-X k8s.io/component-base/version.gitTreeState=clean",
        "-X k8s.io/component-base/version.buildDate=2026-07-22T18:07:38Z",
    ):
        assert stamp in ldflags
    assert kube_argv[-3:] == [
        f"k8s.io/kubernetes/cmd/{b}" for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    ]
    etcd_argv = build.calls[1][0]
    assert etcd_argv[etcd_argv.index("-o") + 1].endswith("/etcd")


def test_a_failed_build_leaves_no_cache_entry_that_looks_complete(settings: Settings) -> None:
    with pytest.raises(CommandError):
        ensure(settings, which=with_go, step_runner=FakeGoBuild(fail_on="kubernetes"))
    root = comp.cache_root(settings)
    kube = comp.components(settings.versions)[0]
    assert not comp.entry_dir(settings, kube).exists()
    assert not list(root.glob(".tmp-*"))


def test_an_interrupted_build_leaves_no_cache_entry(settings: Settings) -> None:
    with pytest.raises(KeyboardInterrupt):
        ensure(settings, which=with_go, step_runner=FakeGoBuild(interrupt=True))
    assert [p.name for p in comp.cache_root(settings).iterdir() if p.is_dir()] == []


def test_an_entry_without_manifest_is_reported_as_interrupted(settings: Settings) -> None:
    kube = comp.components(settings.versions)[0]
    directory = comp.entry_dir(settings, kube)
    directory.mkdir(parents=True)
    for binary in kube.binaries:
        write_exe(directory / binary)
    problem = comp.verify_entry(directory, kube)
    assert problem is not None and "interrupted" in problem


def _cached(settings: Settings) -> comp.Component:
    ensure(settings, which=with_go, step_runner=FakeGoBuild())
    return comp.components(settings.versions)[0]


def test_a_binary_changed_in_place_fails_the_deep_check_only(settings: Settings) -> None:
    kube = _cached(settings)
    path = comp.entry_dir(settings, kube) / "kube-apiserver"
    data = bytearray(path.read_bytes())
    data[-2] ^= 1  # same size, different content
    path.write_bytes(bytes(data))
    assert comp.verify_entry(path.parent, kube, deep=False) is None
    problem = comp.verify_entry(path.parent, kube, deep=True)
    assert problem is not None and "sha256" in problem


def test_a_truncated_binary_is_caught_without_hashing(settings: Settings) -> None:
    kube = _cached(settings)
    path = comp.entry_dir(settings, kube) / "kube-scheduler"
    path.write_bytes(path.read_bytes()[:5])
    problem = comp.verify_entry(path.parent, kube, deep=False)
    assert problem is not None and "bytes" in problem


def test_a_corrupt_entry_is_rebuilt_when_go_is_present(settings: Settings) -> None:
    kube = _cached(settings)
    (comp.entry_dir(settings, kube) / "kube-apiserver").write_text("garbage")
    messages: list[str] = []
    build = FakeGoBuild()
    ensure(settings, which=with_go, step_runner=build, progress=messages.append)
    assert any("not usable" in m for m in messages)
    assert len(build.calls) == 1
    assert comp.verify_entry(comp.entry_dir(settings, kube), kube) is None


def test_a_corrupt_entry_without_go_names_the_rebuild_command(settings: Settings) -> None:
    kube = _cached(settings)
    (comp.entry_dir(settings, kube) / "kube-apiserver").write_text("garbage")
    with pytest.raises(ToolchainError) as e:
        ensure(settings, which=without_go)
    assert "not usable" in e.value.message
    assert "labkit toolchain ensure --rebuild" in e.value.hint


def test_no_go_no_cache_and_no_downloads_is_one_message_listing_every_option(settings: Settings) -> None:
    with pytest.raises(ToolchainError) as e:
        ensure(settings, which=without_go)
    text = str(e.value)
    assert "Go is not on PATH" in text and "downloads are off" in text
    for option in (
        "https://go.dev/dl",
        "LABKIT_ALLOW_DOWNLOAD=1",
        "LABKIT_KUBE_APISERVER_BINARY",
        "--backend kind",
    ):
        assert option in text


def test_rebuild_replaces_a_valid_entry(settings: Settings) -> None:
    _cached(settings)
    build = FakeGoBuild()
    tools = ensure(settings, which=with_go, step_runner=build, rebuild=True)
    assert len(build.calls) == 5
    assert set(tools.sources.values()) == {"build"}


def test_an_explicit_env_path_wins_over_the_cache(settings: Settings, tmp_path: Path) -> None:
    mine = tmp_path / "my-apiserver"
    write_exe(mine)
    build = FakeGoBuild()
    tools = ensure(
        settings, which=with_go, step_runner=build, env={"LABKIT_KUBE_APISERVER_BINARY": str(mine)}
    )
    assert tools.path("kube-apiserver") == mine.resolve()
    assert tools.sources["kube-apiserver"] == "env"
    assert tools.sources["kube-scheduler"] == "build"


def test_an_explicit_env_path_that_is_not_executable_is_refused_by_name(
    settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(ToolchainError) as e:
        ensure(settings, which=with_go, env={"LABKIT_ETCD_BINARY": str(tmp_path / "nope")})
    assert "LABKIT_ETCD_BINARY" in e.value.message


def test_status_says_what_ensure_would_do_without_doing_it(settings: Settings) -> None:
    rows = toolchain.status(settings, env={}, which=with_go)
    assert {r.binary for r in rows} == ALL_BINARIES
    assert {r.source for r in rows} == {"build"} and not any(r.ok for r in rows)
    assert not comp.cache_root(settings).exists()
    rows = toolchain.status(settings, env={}, which=without_go)
    assert {r.source for r in rows} == {"missing"}


def test_argocd_is_built_only_when_asked_for_with_go_1_27_and_a_true_version(settings: Settings) -> None:
    build = FakeGoBuild()
    tools = ensure(settings, which=with_go, step_runner=build)
    assert "argocd" not in tools.paths
    with pytest.raises(ToolchainError) as e:
        toolchain.tool_path("argocd", settings)
    assert e.value.hint == "run: labkit toolchain ensure --with argocd"
    tools = ensure(settings, which=with_go, step_runner=build, groups=("argocd",))
    argv, env = build.calls[-1]
    assert env["GOTOOLCHAIN"] == "go1.27.3" and env["CGO_ENABLED"] == "0"
    ldflags = argv[argv.index("-ldflags") + 1]
    assert "-X github.com/argoproj/argo-cd/v3/common.version=3.6.1" in ldflags
    assert "github.com/argoproj/argo-cd/v3/common.buildDate=" in ldflags
    assert toolchain.tool_path("argocd", settings) == tools.path("argocd")
    assert "GOTOOLCHAIN" not in build.calls[0][1], "only Argo CD's build gets the newer Go"


def test_helm_and_kustomize_are_never_downloaded_only_built(settings: Settings) -> None:
    allowed = Settings(home=settings.home, cache=settings.cache, allow_download=True)
    rows = toolchain.status(allowed, env={}, which=without_go)
    sources = {r.binary: r.source for r in rows}
    assert sources["helm"] == sources["kustomize"] == "missing"
    assert sources["kube-apiserver"] == "download"


def test_an_unknown_toolchain_group_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: control-plane, tools, argocd, flux"):
        comp.components(Settings().versions, ("flux2",))


def test_lookup_finds_a_cached_binary_and_never_builds(settings: Settings) -> None:
    assert toolchain.lookup(settings, "kwokctl", env={}) is None
    _cached(settings)
    path = toolchain.lookup(settings, "kwokctl", env={})
    assert path is not None and path.name == "kwokctl"


def test_recorded_build_seconds_come_from_the_manifests(settings: Settings) -> None:
    assert set(toolchain.recorded_build_seconds(settings).values()) == {None}
    _cached(settings)
    seconds = toolchain.recorded_build_seconds(settings)
    assert all(isinstance(seconds[c], float) for c in ("kubernetes", "etcd", "kwok", "helm", "kustomize"))
    assert seconds["argocd"] is None


def test_go_mod_that_pins_another_version_is_refused(settings: Settings) -> None:
    from dataclasses import replace

    other = replace(settings, versions=replace(settings.versions, etcd="v3.6.1"))
    with pytest.raises(ToolchainError) as e:
        ensure(other, which=with_go, step_runner=FakeGoBuild())
    assert "pins go.etcd.io/etcd/server/v3 v3.6.16" in e.value.message


def test_stream_to_log_reports_progress_and_fails_with_the_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    messages: list[str] = []
    argv = ["sh", "-c", "echo compiling; sleep 0.5; echo 'undefined: x' >&2; exit 3"]
    with pytest.raises(CommandError) as e:
        gobuild.stream_to_log(
            argv, cwd=tmp_path, env={}, log=log, progress=messages.append, label="building x", heartbeat_s=0.1
        )
    assert e.value.returncode == 3
    assert "undefined: x" in e.value.output
    assert "labkit toolchain ensure --rebuild" in e.value.hint
    assert messages and "building x" in messages[0]
    assert "compiling" in log.read_text()


# -- downloads (users only; the fetcher is a fake here) -------------------------------------


class FakeReleases:
    """Serves release files and their published sums from memory; records the URLs asked for."""

    def __init__(self, versions: Settings, *, bad_sum: bool = False) -> None:
        self.urls: list[str] = []
        self.files: dict[str, bytes] = {}
        kube, etcd = versions.versions.kubernetes, versions.versions.etcd
        for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            url = f"https://dl.k8s.io/release/{kube}/bin/linux/amd64/{b}"
            self.files[url] = f"#!/bin/sh\necho {b}\n".encode()
            digest = "0" * 64 if bad_sum else hashlib.sha256(self.files[url]).hexdigest()
            self.files[url + ".sha256"] = digest.encode()
        stem = f"etcd-{etcd}-linux-amd64"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as t:
            data = b"#!/bin/sh\necho etcd\n"
            info = tarfile.TarInfo(f"{stem}/etcd")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        base = f"https://github.com/etcd-io/etcd/releases/download/{etcd}"
        self.files[f"{base}/{stem}.tar.gz"] = buf.getvalue()
        self.files[f"{base}/SHA256SUMS"] = (
            f"{hashlib.sha256(buf.getvalue()).hexdigest()}  {stem}.tar.gz\n".encode()
        )
        for b in ("kwok", "kwokctl"):
            url = f"https://github.com/kubernetes-sigs/kwok/releases/download/{versions.versions.kwok}/{b}-linux-amd64"
            self.files[url] = f"#!/bin/sh\necho {b}\n".encode()

    def __call__(self, url: str, dest: Path) -> None:
        self.urls.append(url)
        dest.write_bytes(self.files[url])


def _download_settings(settings: Settings) -> Settings:
    from dataclasses import replace

    return replace(settings, allow_download=True)


def test_without_go_official_releases_are_downloaded_and_checked(settings: Settings) -> None:
    settings = _download_settings(settings)
    releases = FakeReleases(settings)
    control_plane = ("control-plane",)
    tools = ensure(
        settings, which=without_go, fetcher=releases, target=("linux", "amd64"), groups=control_plane
    )
    assert set(tools.sources.values()) == {"download"}
    assert all(u.startswith(("https://dl.k8s.io/release/", "https://github.com/")) for u in releases.urls)
    assert (tools.path("etcd")).read_text() == "#!/bin/sh\necho etcd\n"
    assert os.access(tools.path("kube-apiserver"), os.X_OK)


def test_a_download_whose_sum_does_not_match_leaves_nothing(settings: Settings) -> None:
    settings = _download_settings(settings)
    with pytest.raises(ToolchainError) as e:
        ensure(
            settings,
            which=without_go,
            fetcher=FakeReleases(settings, bad_sum=True),
            target=("linux", "amd64"),
        )
    assert "published sum" in e.value.message
    assert not comp.entry_dir(settings, comp.components(settings.versions)[0]).exists()


def test_there_is_no_kubernetes_server_download_for_macos(settings: Settings) -> None:
    settings = _download_settings(settings)
    with pytest.raises(ToolchainError) as e:
        ensure(settings, which=without_go, fetcher=FakeReleases(settings), target=("darwin", "arm64"))
    assert "only for Linux" in e.value.message


def test_downloads_are_off_where_ci_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setenv("CI", "true")
    assert Settings().allow_download is False
    monkeypatch.setenv("LABKIT_ALLOW_DOWNLOAD", "1")
    assert Settings().allow_download is True
    monkeypatch.delenv("CI")
    monkeypatch.delenv("LABKIT_ALLOW_DOWNLOAD")
    assert Settings().allow_download is True


def test_env_var_names_follow_the_binary_names() -> None:
    assert comp.env_var("kube-apiserver") == "LABKIT_KUBE_APISERVER_BINARY"
    assert comp.env_var("kwokctl") == "LABKIT_KWOKCTL_BINARY"
