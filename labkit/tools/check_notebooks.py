"""Check that notebooks are committed clean: no outputs, no execution counts.

Run by ``make lint``: ``python -m labkit.tools.check_notebooks notebooks``.
Fix a dirty notebook with ``nbstripout notebooks/*.ipynb``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def dirty_cells(path: Path) -> list[int]:
    """Indexes of code cells that carry outputs or an execution count."""
    nb = json.loads(path.read_text())
    return [
        i
        for i, cell in enumerate(nb.get("cells", []))
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path("notebooks")
    bad = {str(p): cells for p in sorted(root.rglob("*.ipynb")) if (cells := dirty_cells(p))}
    for path, cells in bad.items():
        print(f"{path}: cells {cells} have outputs; run: nbstripout {path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
