"""The runner survives what kills or stalls a process: a crash or a hang in the worker becomes an
outcome naming the stage that was running, and the next case gets a fresh worker."""

from __future__ import annotations

from jitlang.fuzz import Runner, generate


def test_crash_and_hang_are_outcomes_not_failures_of_the_runner(tmp_path):
    case = generate(3, family="elementwise")
    with Runner(("interpret", "cpu"), tmp_path, timeout=20) as r:
        crash = r.run_source("import os\nos._exit(7)\n", case)
        assert crash.status == "fail" and crash.signature == "crash:import", crash
        assert "exited with 7" in crash.message
        r.worker.timeout = 3
        hang = r.run_source("while True:\n    pass\n", case)
        assert hang.signature == "hang:import", hang
        r.worker.timeout = 120
        ok = r.run(case)  # a new worker takes over
        assert ok.status == "pass", ok.message
