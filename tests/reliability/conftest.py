"""The whole kill -9 set is long; it runs only when asked for with ``-m chaos``."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    if "chaos" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="the whole kill -9 set runs with `pytest -m chaos`")
    for item in items:
        if "chaos" in item.keywords:
            item.add_marker(skip)
