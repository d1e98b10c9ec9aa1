"""Fixtures shared by the test modules (the browser-only ones are in tests/browser/conftest.py).

The test tiers are markers registered in pyproject.toml (``slow``, ``compile``, ``server``,
``browser``); ``make unit`` leaves all four out and ``make test`` runs everything.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The fused path's two ways into torch's compiler (sgexplore/fused.py).
COMPILE_ROUTES = ("_compile_cpu", "_compile_dynamo")


@pytest.fixture(autouse=True)
def _compiles_only_when_marked(request):
    """A test that compiles fused kernels in this process must be marked ``compile``, so
    that ``make unit`` stays free of the compiler: any other test that reaches one of
    :data:`COMPILE_ROUTES` fails, naming the marker. (Compiling in a child process is
    not seen here; mark such a test by hand.)"""
    try:
        from sgexplore import fused
    except ImportError:  # a test that needs sgexplore reports that itself
        fused = None
    if fused is None or request.node.get_closest_marker("compile"):
        yield
        return
    reached, originals = [], {name: getattr(fused, name) for name in COMPILE_ROUTES if hasattr(fused, name)}

    def recording(name, route):
        def compile_route(*args, **kwargs):
            reached.append(name)
            return route(*args, **kwargs)
        return compile_route

    for name, route in originals.items():
        setattr(fused, name, recording(name, route))
    try:
        yield
    finally:
        for name, route in originals.items():
            setattr(fused, name, route)
    if reached:
        pytest.fail(f"{request.node.nodeid} compiles fused kernels (fused.{reached[0]}): "
                    "mark it @pytest.mark.compile", pytrace=False)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root directory (Makefile, pyproject.toml, README.md, notebooks/)."""
    return REPO


@pytest.fixture(scope="session")
def unavailable():
    """``unavailable(reason)`` for a test whose tool or reference is missing here: a skip
    with the reason, except under ``CI``, where it is a failure (CI must prove every tier)."""

    def unavailable(reason: str):
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so this test must run: {reason}", pytrace=False)
        pytest.skip(reason)

    return unavailable


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_registry(monkeypatch):
    """A private copy of the surrogate registry, so test surrogates do not leak out."""
    from sgexplore import surrogates

    monkeypatch.setattr(surrogates, "_REGISTRY", dict(surrogates._REGISTRY))
