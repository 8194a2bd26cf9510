"""Download official release binaries: the last resort, for users' machines only.

Called by :func:`labkit.cluster.toolchain.ensure` when no Go toolchain is on
PATH and ``Settings.allow_download`` is true (never in tests or CI, where
CI=true turns it off). Files come from the projects' own release locations
(dl.k8s.io, the etcd and kwok GitHub releases) and are checked against the
sha256 sums those projects publish (Kubernetes ``.sha256`` files, etcd's
``SHA256SUMS``); kwok publishes none, so its files are only recorded in the
cache manifest. The fetcher is injectable so unit tests never touch the network.
"""

from __future__ import annotations

import io
import platform
import shutil
import sys
import tarfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from labkit.cluster.components import Component, sha256_file
from labkit.errors import ToolchainError

Fetcher = Callable[[str, Path], None]
"""Saves the body of a URL into a file: ``fetcher(url, dest)``."""

Progress = Callable[[str], None]


def urllib_fetch(url: str, dest: Path) -> None:
    """The real fetcher: plain urllib, following redirects (GitHub releases redirect)."""
    try:
        with urllib.request.urlopen(url, timeout=120) as response, dest.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as e:
        raise ToolchainError(
            f"could not download {url}: {e}",
            hint="check the network, or install Go and run: labkit toolchain ensure",
        ) from e


def os_arch() -> tuple[str, str]:
    """("linux"|"darwin", "amd64"|"arm64") for this machine, named as the release assets are."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return ("darwin" if sys.platform == "darwin" else sys.platform), arch


def download_component(
    component: Component, out_dir: Path, *, fetcher: Fetcher, progress: Progress, target: tuple[str, str]
) -> None:
    """Fetch every binary of ``component`` into ``out_dir`` and check published sums."""
    os_name, arch = target
    progress(
        f"  downloading {component.name} {component.version} ({os_name}/{arch}) from its official releases"
    )
    if component.name == "kubernetes":
        _kubernetes(component, out_dir, fetcher, os_name, arch)
    elif component.name == "etcd":
        _etcd(component, out_dir, fetcher, os_name, arch)
    else:
        base = f"https://github.com/kubernetes-sigs/kwok/releases/download/{component.version}"
        for binary in component.binaries:
            fetcher(f"{base}/{binary}-{os_name}-{arch}", out_dir / binary)
    for binary in component.binaries:
        (out_dir / binary).chmod(0o755)


def _kubernetes(component: Component, out_dir: Path, fetcher: Fetcher, os_name: str, arch: str) -> None:
    if os_name != "linux":
        raise ToolchainError(
            f"Kubernetes publishes kube-apiserver and friends only for Linux, not {os_name}",
            hint="install Go (https://go.dev/dl), then run `labkit toolchain ensure`; or use Docker: "
            "labkit up --backend kind",
        )
    for binary in component.binaries:
        url = f"https://dl.k8s.io/release/{component.version}/bin/{os_name}/{arch}/{binary}"
        fetcher(url, out_dir / binary)
        fetcher(url + ".sha256", out_dir / (binary + ".sha256"))
        expected = (out_dir / (binary + ".sha256")).read_text().split()[0]
        (out_dir / (binary + ".sha256")).unlink()
        _check_sum(out_dir / binary, expected, url)


def _etcd(component: Component, out_dir: Path, fetcher: Fetcher, os_name: str, arch: str) -> None:
    version = component.version
    stem = f"etcd-{version}-{os_name}-{arch}"
    archive_name = stem + (".zip" if os_name == "darwin" else ".tar.gz")
    base = f"https://github.com/etcd-io/etcd/releases/download/{version}"
    archive = out_dir / archive_name
    sums = out_dir / "SHA256SUMS"
    fetcher(f"{base}/{archive_name}", archive)
    fetcher(f"{base}/SHA256SUMS", sums)
    expected = next(
        (line.split()[0] for line in sums.read_text().splitlines() if line.endswith(archive_name)), ""
    )
    sums.unlink()
    _check_sum(archive, expected, f"{base}/{archive_name}")
    member = f"{stem}/etcd"
    data = archive.read_bytes()
    archive.unlink()
    if archive_name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            (out_dir / "etcd").write_bytes(z.read(member))
    else:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
            extracted = t.extractfile(member)
            if extracted is None:
                raise ToolchainError(f"{archive_name} has no file {member}", hint="report this to labkit")
            (out_dir / "etcd").write_bytes(extracted.read())


def _check_sum(path: Path, expected: str, url: str) -> None:
    actual = sha256_file(path)
    if not expected or actual != expected:
        raise ToolchainError(
            f"sha256 of {url} is {actual}, the published sum is {expected or 'missing'}",
            hint="retry later; if it persists, install Go and run: labkit toolchain ensure",
        )
