"""Shared pytest setup: every test session compiles into its own throwaway cache directory."""

from __future__ import annotations

import os

import pytest

from runtime import config


@pytest.fixture(scope="session", autouse=True)
def _jitlang_cache_dir(tmp_path_factory):
    """Point `JITLANG_CACHE_DIR` at a fresh directory so tests never read or write ~/.cache."""
    old = os.environ.get("JITLANG_CACHE_DIR")
    os.environ["JITLANG_CACHE_DIR"] = str(tmp_path_factory.mktemp("jitlang-cache"))
    config.reset_options()
    yield
    if old is None:
        os.environ.pop("JITLANG_CACHE_DIR", None)
    else:
        os.environ["JITLANG_CACHE_DIR"] = old
    config.reset_options()
