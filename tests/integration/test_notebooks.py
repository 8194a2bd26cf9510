"""Every notebook in notebooks/ runs top to bottom, unattended, against the session's real lab.

Each notebook is executed with nbclient in a fresh ``python3`` kernel whose
environment is the lab's (``lab.env()``), so ``labkit.Lab.up()`` in its first
cell reuses the session lab instead of making one. A failing cell is named by
notebook, cell index and the first lines of its source. Run times go to the
terminal and to ``test-output/notebook-times.json``, one entry per notebook,
updated after each one (so a partial run still leaves its numbers). The executed
copy of each notebook, outputs included, goes to ``test-output/notebooks/`` for
reading what a learner would have seen (a failed one up to the failing cell).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from labkit.settings import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
TIMES = PROJECT_ROOT / "test-output" / "notebook-times.json"
EXECUTED = PROJECT_ROOT / "test-output" / "notebooks"
CELL_TIMEOUT_S = 120
BUDGET_S = 60.0
"""What one notebook should take on a 2-core machine (the curriculum's promise); over it is reported."""

pytestmark = [pytest.mark.notebook, pytest.mark.cluster]


def _record(name: str, seconds: float, ok: bool, cells: int) -> None:
    """Merge one notebook's run time into the JSON summary."""
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    try:
        summary: dict[str, Any] = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        summary = {}
    runs = summary.setdefault("notebooks", {})
    runs[name] = {"seconds": round(seconds, 1), "ok": ok, "code_cells": cells, "budget_s": BUDGET_S}
    summary["total_s"] = round(sum(r["seconds"] for r in runs.values()), 1)
    summary["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    TIMES.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")


def _head(source: str, lines: int = 3) -> str:
    shown = source.strip().splitlines()[:lines]
    return "\n".join(f"    {line}" for line in shown)


def run_notebook(path: Path, env: dict[str, str]) -> tuple[float, int]:
    """Execute ``path`` cell by cell; (seconds, code cells). Fails naming the cell that broke."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    start = time.monotonic()  # kernel start included: a learner waits for it too
    EXECUTED.mkdir(parents=True, exist_ok=True)
    with client.setup_kernel(env=env):
        for index, cell in code_cells:
            try:
                client.execute_cell(cell, index)
            except (CellExecutionError, CellTimeoutError) as e:
                elapsed = time.monotonic() - start
                _record(path.name, elapsed, False, len(code_cells))
                nbformat.write(nb, EXECUTED / path.name)
                detail = str(e).strip().splitlines()
                pytest.fail(
                    f"{path.name}: cell {index} failed after {elapsed:.1f} s:\n{_head(cell.source)}\n"
                    + "\n".join(detail[-15:]),
                    pytrace=False,
                )
    elapsed = time.monotonic() - start
    nbformat.write(nb, EXECUTED / path.name)
    return elapsed, len(code_cells)


ENGINES = {"argocd": "argocd", "flux": "flux"}
"""Marker -> what a notebook's name contains when it starts that real engine (built before the tests run)."""


def _param(path: Path) -> Any:
    marks = [getattr(pytest.mark, m) for m, part in ENGINES.items() if part in path.stem]
    if marks:
        marks.append(pytest.mark.timeout(900))  # an engine's first start, plus the notebook
    return pytest.param(path, marks=marks, id=path.stem)


@pytest.mark.parametrize("path", [_param(p) for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom_against_the_lab(path: Path, lab: Any) -> None:
    env = {**os.environ, **lab.env()}
    env.pop("JPY_PARENT_PID", None)
    seconds, cells = run_notebook(path, env)
    _record(path.name, seconds, True, cells)
    over = f"  (over the {BUDGET_S:.0f} s budget)" if seconds > BUDGET_S else ""
    print(f"\n{path.name}: {cells} code cells in {seconds:.1f} s{over}")
