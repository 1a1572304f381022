"""The persistent compilation cache: where it lives, that importing jaxdl leaves it off,
that its writes are atomic, and that two processes filling it at once leave it whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jaxdl.training import compile_cache

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (compile_cache.ENV, "JAX_COMPILATION_CACHE_DIR")
    }
    return env | {"PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"} | extra


def test_resolve_order_and_off(monkeypatch, tmp_path):
    for name in (compile_cache.ENV, "JAX_COMPILATION_CACHE_DIR", "JAXDL_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.resolve_cache_dir() == tmp_path / "xdg" / "jaxdl" / "xla"
    monkeypatch.setenv("JAXDL_CACHE_DIR", str(tmp_path / "root"))
    assert compile_cache.resolve_cache_dir() == tmp_path / "root" / "xla"
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax"))
    assert compile_cache.resolve_cache_dir() == tmp_path / "jax"
    monkeypatch.setenv(compile_cache.ENV, str(tmp_path / "ours"))
    assert compile_cache.resolve_cache_dir() == tmp_path / "ours"
    assert compile_cache.resolve_cache_dir(str(tmp_path / "flag")) == tmp_path / "flag"
    for off in ("off", "OFF", "0", "none", ""):
        assert compile_cache.resolve_cache_dir(off) is None
    monkeypatch.setenv(compile_cache.ENV, "off")
    assert compile_cache.resolve_cache_dir() is None


def test_tests_never_write_the_users_cache():
    # conftest.py points both variables at the session's temporary cache.
    assert compile_cache.resolve_cache_dir() != compile_cache.default_cache_dir()


def test_importing_jaxdl_leaves_the_cache_off(tmp_path):
    code = (
        "import jax, jaxdl, jaxdl.training, jaxdl.nn; import jax.numpy as jnp;"
        "jax.jit(lambda x: x + 1)(jnp.ones(3)).block_until_ready();"
        "print(jax.config.jax_compilation_cache_dir)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "xdg")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "None"
    assert not any(tmp_path.rglob("*-cache"))


def test_a_failed_write_leaves_no_entry_and_no_temporary_file(tmp_path, monkeypatch):
    cache = compile_cache.make_atomic_cache(tmp_path)
    cache.put("k1", b"x" * 1000)
    assert cache.get("k1") == b"x" * 1000

    def broken_replace(src, dst):  # the process dies between write and rename
        raise OSError("disk gone")

    monkeypatch.setattr(compile_cache.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        cache.put("k2", b"y" * 1000)
    monkeypatch.undo()
    assert cache.get("k2") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1-cache"]
    cache.put("k1", b"z")  # an existing entry is kept, as JAX's own cache does
    assert cache.get("k1") == b"x" * 1000


def _workers(cache: Path, start_at: float, n: int, copies: int) -> list[dict]:
    cmd = [sys.executable, "-m", "tests.training.compile_worker", str(cache), str(start_at), str(n)]
    procs = [
        subprocess.Popen(
            cmd, env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(copies)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert "persistent compilation cache" not in err, err[-2000:]  # JAX's read/write errors
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]


@pytest.mark.slow
def test_two_processes_fill_one_cache_at_once_and_a_third_loads_everything(tmp_path):
    cache, n = tmp_path / "xla", 12
    first = _workers(cache, time.time() + 8.0, n, copies=2)  # both start compiling together
    for stats in first:
        assert stats["cache_dir"] == str(cache.resolve())
        assert stats["cache_hits"] + stats["cache_writes"] >= n
    assert not list(cache.glob("*.tmp"))  # every write was renamed into place
    assert len(list(cache.glob("*-cache"))) >= n
    (third,) = _workers(cache, 0.0, n, copies=1)
    assert third["cache_writes"] == 0 and third["cache_hits"] >= n
