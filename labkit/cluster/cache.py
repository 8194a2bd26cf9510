"""The binary cache's two safety rules: entries appear whole or not at all, one filler at a time.

Used by :func:`labkit.cluster.toolchain.ensure`. :func:`install` fills a
temporary directory next to the entry, writes the manifest last and renames
the directory into place, so a build that is interrupted (Ctrl-C, a crash, a
full disk) never leaves an entry that looks complete. :func:`lock` serialises
processes that fill the cache (``make binaries`` and ``labkit up`` at once)
and sweeps the temporary leftovers of killed ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from labkit.cluster.components import Component, cache_root, entry_dir, write_manifest
from labkit.settings import Settings

Progress = Callable[[str], None]


def install(
    component: Component,
    settings: Settings,
    source: str,
    fill: Callable[[Path], None],
    progress: Progress,
    extra: Mapping[str, object],
) -> None:
    """Fill a temporary directory, write the manifest last, then rename it into place."""
    root = cache_root(settings)
    final = entry_dir(settings, component)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{component.key}-", dir=root))
    start = time.monotonic()
    try:
        fill(tmp)
        seconds = round(time.monotonic() - start, 1)
        write_manifest(tmp, component, source, {**extra, f"{source}_seconds": seconds})
        tmp.chmod(0o755)  # mkdtemp makes it 0700; the entry is shared like any installed program
        if final.exists():
            old = root / f".old-{component.key}-{os.getpid()}"
            final.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(final)
        progress(f"  {component.name} {component.version}: {source} done in {seconds:.0f} s → {final}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def lock(settings: Settings, progress: Progress) -> Iterator[None]:
    root = cache_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"another labkit process is filling {root}; waiting for it to finish…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        # Leftovers of killed builds: safe to remove, nobody else holds the lock.
        for stale in [*root.glob(".tmp-*"), *root.glob(".old-*")]:
            shutil.rmtree(stale, ignore_errors=True)
        yield
