"""The README's tour runs as written (kept true by this test) and its test command is CI's."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_tour_runs(tmp_path):
    text = open(os.path.join(ROOT, "README.md")).read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README has no python example"
    script = tmp_path / "tour.py"
    script.write_text(blocks[0] + "\nprint('tour ok')\n")
    env = dict(os.environ, JITLANG_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "tour ok" in r.stdout and "func @add_kernel" in r.stdout


def test_ci_runs_the_readme_test_command():
    readme = open(os.path.join(ROOT, "README.md")).read()
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    cmd = "python -m pip install -e '.[test]' && python -m pytest -q"
    assert cmd in readme
    assert cmd in ci.splitlines()
