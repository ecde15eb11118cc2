"""Every benchmark, one after another: the one command behind docs/benchmarks.md.

    python bench/run.py                  # the full run: each benchmark at its own sizes
    python bench/run.py --quick          # every benchmark small, nothing written (CI runs this)
    python bench/run.py intake redirect  # only these

Each benchmark is its own process (its own memory peak, no state carried from one to the
next) and runs its baseline in the same run. A quick run passes ``--quick --no-write`` so that
docs/benchmarks.md only ever holds full runs; CI runs it so that no benchmark can rot. The
suite fails if any benchmark fails, after running the rest.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# cheapest first, so a quick run reports breakage early
SUITE = ("intake", "redirect", "live", "orders", "flash", "attribution")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(SUITE)}")
    parser.add_argument("--quick", action="store_true", help="small sizes, write nothing")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(SUITE))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(SUITE)}")
    failed = []
    for name in args.names or SUITE:
        command = [sys.executable, str(HERE / f"{name}.py")]
        if args.quick:
            command += ["--quick", "--no-write"]
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        done = subprocess.run(command, cwd=HERE, check=False)
        took = time.monotonic() - started
        print(
            f"== {name}: {'ok' if done.returncode == 0 else 'FAILED'} in {took:.0f} s", flush=True
        )
        if done.returncode != 0:
            failed.append(name)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
