"""Ship the adapter of a bootstrap rebuild that passed the gate: trainer/artifacts/bootstrap/ + pin.

    .venv/bin/python bench/ship_bootstrap.py <data_dir>/bootstrap/state.json

Reads the adapter path from the bootstrap state (or takes an adapter dir), writes fp16 weights,
the adapter config and the recipe, and the sha256 pin `halops bootstrap` checks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trainer.bootstrap import SHIPPED, ship  # noqa: E402


def main() -> int:
    src = Path(sys.argv[1])
    adapter = Path(json.loads(src.read_text())["adapter"]) if src.is_file() else src
    digest = ship(adapter)
    size = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    print(f"shipped {adapter} → {SHIPPED} ({size / 2**20:.1f} MiB), sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
