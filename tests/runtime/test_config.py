"""Tests for runtime/config.py: every JITLANG_* variable, bad values, the process-wide copy."""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import pytest

from runtime import config
from runtime.config import (
    ENV_VARS,
    RuntimeOptions,
    UnknownVariableWarning,
    get_options,
    options_from_env,
    reset_options,
)

BOOL_FIELDS = {
    "JITLANG_CACHE": "cache_enabled",
    "JITLANG_DUMP_IR": "dump_ir",
    "JITLANG_BOUNDS_CHECK": "bounds_check",
    "JITLANG_INTERPRET": "interpret",
}


def test_defaults_from_empty_environment():
    opts = options_from_env({})
    assert opts.cache_dir == Path.home() / ".cache" / "jitlang"
    assert opts.cache_enabled is True
    assert opts.dump_ir is False
    assert opts.dump_dir is None
    assert opts.bounds_check is False
    assert opts.interpret is False
    assert opts.num_threads >= 1
    assert opts.num_threads <= (os.cpu_count() or 1)
    assert opts.default_target == "cpu"
    assert opts == RuntimeOptions()


def test_options_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        options_from_env({}).dump_ir = True  # type: ignore[misc]
    assert dataclasses.replace(options_from_env({}), dump_ir=True).dump_ir is True


def test_cache_dir(tmp_path):
    assert options_from_env({"JITLANG_CACHE_DIR": str(tmp_path)}).cache_dir == tmp_path
    home = options_from_env({"JITLANG_CACHE_DIR": "~/kc"}).cache_dir
    assert home == Path.home() / "kc"
    relative = options_from_env({"JITLANG_CACHE_DIR": "kc"}).cache_dir
    assert relative.is_absolute() and relative == Path.cwd() / "kc"


def test_cache_dir_follows_xdg(tmp_path):
    opts = options_from_env({"XDG_CACHE_HOME": str(tmp_path)})
    assert opts.cache_dir == tmp_path / "jitlang"
    explicit = {"XDG_CACHE_HOME": str(tmp_path), "JITLANG_CACHE_DIR": str(tmp_path / "x")}
    assert options_from_env(explicit).cache_dir == tmp_path / "x"


@pytest.mark.parametrize("name", sorted(BOOL_FIELDS))
@pytest.mark.parametrize(
    ("text", "value"),
    [("1", True), ("0", False), ("true", True), ("False", False), ("YES", True), ("no", False),
     ("on", True), ("off", False), (" 1 ", True)],
)  # fmt: skip
def test_boolean_variables(name, text, value):
    assert getattr(options_from_env({name: text}), BOOL_FIELDS[name]) is value


@pytest.mark.parametrize("name", sorted(BOOL_FIELDS))
@pytest.mark.parametrize("text", ["2", "maybe", "-1", "tru"])
def test_boolean_variables_reject_bad_values(name, text):
    with pytest.raises(ValueError) as info:
        options_from_env({name: text})
    message = str(info.value)
    assert name in message and repr(text) in message and "1 or 0" in message


@pytest.mark.parametrize("name", sorted(BOOL_FIELDS))
def test_empty_value_means_unset(name):
    assert options_from_env({name: ""}) == options_from_env({})
    assert options_from_env({name: "  "}) == options_from_env({})


def test_dump_dir(tmp_path):
    assert options_from_env({"JITLANG_DUMP_DIR": str(tmp_path)}).dump_dir == tmp_path
    assert options_from_env({"JITLANG_DUMP_DIR": "d"}).dump_dir == Path.cwd() / "d"
    assert options_from_env({"JITLANG_DUMP_DIR": ""}).dump_dir is None
    # Writing dumps to files does not switch on printing them.
    assert options_from_env({"JITLANG_DUMP_DIR": str(tmp_path)}).dump_ir is False


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("4", 4), ("64", 64), (" 8", 8)])
def test_num_threads(text, value):
    assert options_from_env({"JITLANG_NUM_THREADS": text}).num_threads == value


@pytest.mark.parametrize("text", ["0", "-2", "four", "2.5", "+3", "1_0", "٣"])
def test_num_threads_rejects_bad_values(text):
    with pytest.raises(ValueError, match=r"JITLANG_NUM_THREADS=.* positive integer"):
        options_from_env({"JITLANG_NUM_THREADS": text})


@pytest.mark.parametrize(("text", "value"), [("cpu", "cpu"), ("accel", "accel"), ("CPU", "cpu")])
def test_target(text, value):
    assert options_from_env({"JITLANG_TARGET": text}).default_target == value


@pytest.mark.parametrize("text", ["gpu", "cuda", "cpu accel"])
def test_target_rejects_unknown(text):
    with pytest.raises(ValueError, match=r"JITLANG_TARGET=.* one of cpu, accel"):
        options_from_env({"JITLANG_TARGET": text})


def test_unknown_variable_warns_with_suggestion():
    with pytest.warns(UnknownVariableWarning, match="JITLANG_CACHEDIR.*JITLANG_CACHE_DIR"):
        options_from_env({"JITLANG_CACHEDIR": "/tmp/x"})
    with pytest.warns(UnknownVariableWarning, match="JITLANG_ZZZ; known: JITLANG_CACHE_DIR"):
        options_from_env({"JITLANG_ZZZ": "1"})


def test_known_and_foreign_variables_do_not_warn():
    environ = dict.fromkeys(ENV_VARS, "") | {"PATH": "/bin", "TRITON_CACHE_DIR": "/x"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        options_from_env(environ)


def test_docstring_table_lists_every_variable_and_field():
    doc = config.__doc__
    for name in ENV_VARS:
        assert f"| `{name}`" in doc
    fields = {f.name for f in dataclasses.fields(RuntimeOptions)}
    assert len(ENV_VARS) == len(fields)


def test_get_options_reads_environment_once(monkeypatch, tmp_path):
    monkeypatch.setenv("JITLANG_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("JITLANG_TARGET", "accel")
    reset_options()
    try:
        first = get_options()
        assert first.cache_dir == tmp_path and first.default_target == "accel"
        monkeypatch.setenv("JITLANG_TARGET", "cpu")
        assert get_options() is first
        reset_options()
        assert get_options().default_target == "cpu"
    finally:
        reset_options()


def test_get_options_raises_on_bad_environment(monkeypatch):
    monkeypatch.setenv("JITLANG_NUM_THREADS", "many")
    reset_options()
    try:
        with pytest.raises(ValueError, match="JITLANG_NUM_THREADS"):
            get_options()
    finally:
        reset_options()


def test_cpu_spec():
    assert options_from_env({}).cpu is None
    assert options_from_env({"JITLANG_CPU": "x86-64-v3"}).cpu == "x86-64-v3"
    assert options_from_env({"JITLANG_CPU": " znver3, -avx2 "}).cpu == "znver3,-avx2"
    for bad in ("+avx2", "znver3,avx2", "znver3,+"):
        with pytest.raises(ValueError, match="JITLANG_CPU=.*LLVM CPU name"):
            options_from_env({"JITLANG_CPU": bad})


def test_cpu_target_description():
    from codegen.cpu.target import cpu_target

    host = cpu_target()
    assert host.vector_bytes in (16, 32, 64) and not host.forced
    v3 = cpu_target("x86-64-v3")
    assert (v3.vector_bytes, v3.vector_registers, v3.fma, v3.forced) == (32, 16, True, True)
    assert cpu_target("x86-64-v2").vector_bytes == 16
    assert v3.signature != host.signature
    if host.vector_bytes < 64:
        with pytest.raises(ValueError, match="could not run here"):
            cpu_target("x86-64-v4")
