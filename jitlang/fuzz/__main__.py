"""`python -m jitlang.fuzz`: generate N kernels from a seed, run them on the targets, compare,
shrink each failure into a reproducer file, and print `N passed, M failed`.

Known differences (`KNOWN`) drop a target from the cases that use a generator feature it is
known to get wrong, each with the reproducer that shows it; they are counted, never silent.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from pathlib import Path

from .execute import TARGET_ORDER
from .families import generate
from .known import excluded_targets
from .repro import shrink_case, write_reproducer
from .runner import Runner


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jitlang.fuzz", description=__doc__)
    p.add_argument("--count", type=int, default=100, help="kernels to generate")
    p.add_argument("--seed", type=int, default=0, help="first seed (case i uses seed + i)")
    p.add_argument("--targets", default="interpret,cpu,cpu_split,accel")
    p.add_argument("--family", default=None, help="only this generator family")
    p.add_argument("--out", default="fuzz-repro", help="directory for reproducer files")
    p.add_argument("--no-shrink", action="store_true", help="report failures unshrunk")
    p.add_argument("--shrink-budget", type=int, default=300, help="runs per shrink")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per case")
    p.add_argument("--keep-known", action="store_true", help="ignore the known differences")
    a = p.parse_args(argv)
    targets = tuple(t for t in a.targets.split(",") if t)
    bad = [t for t in targets if t not in TARGET_ORDER]
    if bad:
        p.error(f"unknown target(s) {', '.join(bad)}; use {', '.join(TARGET_ORDER)}")
    out = Path(a.out)
    passed = failed = 0
    unsupported: collections.Counter = collections.Counter()
    known: collections.Counter = collections.Counter()
    sigs: collections.Counter = collections.Counter()
    split: collections.Counter = collections.Counter()
    t0 = time.time()
    with (
        tempfile.TemporaryDirectory(prefix="jitlang-fuzz-") as tmp,
        Runner(targets, tmp, a.timeout) as runner,
    ):
        for i in range(a.count):
            seed = a.seed + i
            case = generate(seed, family=a.family)
            skip = {} if a.keep_known else excluded_targets(case, targets)
            for t, why in skip.items():
                known[f"{t}: {why}"] += 1
            run_on = tuple(t for t in targets if t not in skip)
            outcome = runner.run(case, run_on)
            for t, why in outcome.unsupported.items():
                gist = re.sub(r"<[^>]*>|\(\d[\d, ]*\)", "_", why.split(": ", 2)[-1])
                unsupported[f"{t}: {gist.split(':')[0][:70]}"] += 1
            for t, note in outcome.notes.items():
                split[f"{t}: {note.split()[0]}"] += 1
            if outcome.status == "pass":
                passed += 1
            else:
                failed += 1
                sigs[outcome.signature] += 1
                print(f"[{i + 1}/{a.count}] seed {seed} {case.family}: FAIL {outcome.signature}")
                if not a.no_shrink:
                    runner.targets = run_on
                    src, simple, ts, final = shrink_case(runner, case, outcome, a.shrink_budget)
                    runner.targets = targets
                    path = write_reproducer(out / f"repro_{seed}.py", src, simple, ts, final)
                    print(f"    shrunk to {len(src.splitlines())} lines: {path}")
            if (i + 1) % 50 == 0 or i + 1 == a.count:
                rate = (i + 1) / (time.time() - t0)
                print(f"[{i + 1}/{a.count}] {passed} passed, {failed} failed ({rate:.1f}/s)")
                sys.stdout.flush()
    for title, counter in (
        ("failures by signature", sigs),
        ("documented target limits hit (target skipped)", unsupported),
        ("known differences (target excluded)", known),
        ("how cpu_split ran (windows of rounds or slices of programs)", split),
    ):
        if counter:
            print(f"{title}:")
            for k, v in counter.most_common():
                print(f"  {v:6d}  {k}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
