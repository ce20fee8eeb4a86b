"""Run every benchmark: each ``bench/bench_*.py`` module's ``main()``, in name order.

``make bench`` calls ``python -m bench`` with the services' environment (DATABASE_URL,
REDIS_URL). Benchmarks print figures (ratios against a baseline); they assert nothing.
``python -m bench course`` runs only the modules whose name contains ``course``.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    names = sorted(p.stem for p in here.glob("bench_*.py"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    failed = 0
    for name in names:
        print(f"== {name}", flush=True)
        try:
            importlib.import_module(f"bench.{name}").main()
        except Exception:  # one broken benchmark must not hide the others' figures
            failed += 1
            traceback.print_exc()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
