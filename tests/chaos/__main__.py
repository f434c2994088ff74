"""``python -m tests.chaos`` (``make chaos``, ``CHAOS_ARGS="--jobs 500"``): the soak, then its
table; the exit status is 1 when a must-be-0 row is not 0."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.chaos.report import render
from tests.chaos.soak import SoakOptions, run_soak


def main(argv: list[str] | None = None) -> int:
    defaults = SoakOptions()
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--jobs", type=int, default=defaults.jobs, help="jobs to submit")
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument(
        "--rate", type=float, default=defaults.rate, help="jobs submitted per second"
    )
    parser.add_argument(
        "--kill-every", type=float, default=defaults.kill_every, help="seconds between kills"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--keep", type=Path, default=None, help="keep logs and data here")
    args = parser.parse_args(argv)
    options = SoakOptions(
        jobs=args.jobs,
        workers=args.workers,
        concurrency=args.concurrency,
        rate=args.rate,
        kill_every=args.kill_every,
        seed=args.seed,
        keep=args.keep,
    )
    report = run_soak(options, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(render(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
