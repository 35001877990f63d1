"""Fuzz runner: cases through a worker process, failures shrunk and written as reproducers.

Stage: test tooling (the parent side). Input: `Case`s and the targets; output: `Outcome`s, and
for each failure a shrunk reproducer file. Each case's module is written to a file in `workdir`
(so compile errors quote real lines) and run by a long-lived worker (`jitlang.fuzz.worker`); a
worker that dies (an LLVM abort, a segfault) or exceeds the time limit yields a "crash:<target>"
or "hang:<target>" outcome and is replaced.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from pathlib import Path

from .execute import Outcome
from .gen import Case

# Kernels run with the CPU's bounds checks on: a generated access out of its array is a finding.
WORKER_ENV = {"JITLANG_BOUNDS_CHECK": "1", "JITLANG_CACHE": "0"}
RESTART_EVERY = 300  # cases per worker: JIT-compiled code accumulates in the process


class Worker:
    """One `python -m jitlang.fuzz.worker` process."""

    def __init__(self, workdir: Path, timeout: float) -> None:
        self.workdir = workdir
        self.timeout = timeout
        self.status_path = workdir / "status.txt"
        self.log_path = workdir / "worker.log"
        self.proc: subprocess.Popen | None = None
        self.served = 0

    def _start(self) -> None:
        env = dict(os.environ, **WORKER_ENV)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jitlang.fuzz.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            text=True,
        )
        self.served = 0

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.stdin.close()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.log.close()
            self.proc = None

    def _status(self) -> str:
        try:
            return self.status_path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def run(self, path: Path, module: str, case: Case, targets) -> Outcome:
        if self.proc is None or self.proc.poll() is not None or self.served >= RESTART_EVERY:
            self.close()
            self._start()
        self.served += 1
        self.status_path.write_text("")
        req = {
            "path": str(path),
            "module": module,
            "args": case.args,
            "grid": list(case.grid),
            "targets": list(targets),
            "status": str(self.status_path),
            "reference": case.reference,
        }
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return self._died()
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = sel.select(self.timeout)
        sel.close()
        if not ready:
            target = self._status()
            self.proc.kill()
            self.proc.wait()
            self.close()
            return Outcome("fail", f"hang:{target}", f"no answer within {self.timeout:g} s")
        line = self.proc.stdout.readline()
        if not line:
            return self._died()
        return Outcome.from_json(json.loads(line))

    def _died(self) -> Outcome:
        target = self._status()
        code = self.proc.wait()
        self.log.flush()
        tail = self.log_path.read_text()[-3000:]
        self.close()
        return Outcome("fail", f"crash:{target}", f"worker exited with {code}\n{tail}")


def split_targets(case: Case, targets) -> tuple[str, ...]:
    """`targets` without "cpu_split" unless the case asks for it (its family's feature
    `cpu_split`): a second CPU compile per case is worth it only where the split is the point."""
    return tuple(t for t in targets if t != "cpu_split" or "cpu_split" in case.features)


class Runner:
    """Runs cases on `targets`; `run_source` runs a variant of a case's source (the shrinker)."""

    def __init__(self, targets, workdir: str | Path, timeout: float = 120.0) -> None:
        self.targets = tuple(targets)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.worker = Worker(self.workdir, timeout)
        self.n = 0

    def close(self) -> None:
        self.worker.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run_source(self, source: str, case: Case, targets=None) -> Outcome:
        self.n += 1
        targets = split_targets(case, targets or self.targets)
        module = f"fuzz_{case.seed}_{self.n}"
        path = self.workdir / f"{module}.py"
        path.write_text(source)
        try:
            return self.worker.run(path, module, case, targets)
        finally:
            if path.exists():
                path.unlink()

    def run(self, case: Case, targets=None) -> Outcome:
        return self.run_source(case.source, case, targets)
