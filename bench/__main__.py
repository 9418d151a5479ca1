"""Run every benchmark module in this folder (``make bench``), or the ones named on the line."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    here = [str(Path(__file__).parent)]
    names = argv or sorted(m.name for m in pkgutil.iter_modules(here) if not m.name.startswith("_"))
    for name in names:
        print(f"\n=== bench.{name}")
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
