"""benchmarks/subwords.py: a quick run end to end (slow; needs the corpus and fastText)."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest

from benchmarks import run, subwords
from jaxdl.text import FORTUNES_DIR


def test_rate_is_parsed_from_fasttexts_progress_line():
    line = "\rProgress: 100.0% words/sec/thread:   23744 lr:  0.000000 avg.loss:  2.58"
    assert subwords._RATE.findall(line) == ["23744"]
    assert subwords.NAME in run.BENCHMARKS


@pytest.mark.slow
@pytest.mark.skipif(not FORTUNES_DIR.is_dir(), reason="apt-get install fortunes")
@pytest.mark.skipif(
    shutil.which("fasttext") is None and importlib.util.find_spec("fasttext") is None,
    reason="neither the fastText binary nor the fasttext package",
)
def test_quick_run_times_both_sides():
    record = subwords.run(quick=True)
    json.dumps(record)
    rates = record["words_per_s"]
    assert all(len(v) == 1 and v[0] > 0 for v in rates.values())
    assert record["jaxdl"]["value"] == rates["jaxdl"][0]
    assert record["baseline"]["value"] == rates["fasttext_2"][0]
    assert record["tokens"] > 10_000 and record["quick"] is True
