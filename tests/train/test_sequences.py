"""The sequences recipe (CTC and the seq2seq adder) through the entry point, tiny settings."""

from __future__ import annotations

import json

import pytest

from train.__main__ import main


@pytest.mark.slow
def test_quick_run_leaves_its_artefacts(tmp_path):
    out = tmp_path / "run"
    assert main(["sequences", "--config=quick", f"--workdir={out}"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    metrics = summary["metrics"]
    assert summary["recipe"] == "sequences"
    assert metrics["test_label_error_rate"] >= 0.0
    for mode in ("teacher_forced", "open_loop"):
        for unit in ("token", "sequence"):
            assert 0.0 <= metrics[f"test_{mode}_{unit}_accuracy"] <= 1.0
    # By construction a fully right teacher-forced answer is generated identically.
    assert (metrics["test_open_loop_sequence_accuracy"]
            == metrics["test_teacher_forced_sequence_accuracy"])  # fmt: skip
    # The quick config also trains an additive-attention adder, and evaluates both on
    # 3-digit sums (trained on 2).
    for prefix in ("test_", "test_longer3_", "test_seq2seq_additive_",
                   "test_seq2seq_additive_longer3_"):  # fmt: skip
        for mode in ("teacher_forced", "open_loop"):
            assert 0.0 <= metrics[f"{prefix}{mode}_token_accuracy"] <= 1.0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    tasks = ["ctc"] * 2 + ["seq2seq"] * 2 + ["seq2seq_additive"] * 2  # 20 steps / 10
    assert [r["task"] for r in records] == tasks
    for png in ("ctc_curves.png", "seq2seq_curves.png", "seq2seq_additive_curves.png",
                "attention.png"):  # fmt: skip
        assert (out / png).stat().st_size > 1000
    table = (out / "seq2seq_accuracy.md").read_text().splitlines()
    assert len(table) == 2 + 2 * 2  # header, rule, (none, additive) x (2, 3 digits)
    forced = metrics["test_seq2seq_additive_longer3_teacher_forced_token_accuracy"]
    assert table[-1].startswith(f"| additive | 3 (longer) | {forced:.3f} |")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("attention", ("none", "luong"), "config.seq2seq.attention is"),
        ("attention", ("dot", "dot"), "distinct kinds"),
        ("longer_digits", (2, 4), r"config.seq2seq.longer_digits has \[2\]"),
    ],
)
def test_bad_adder_fields_fail_before_training(tmp_path, field, value, message):
    from train.sequences.configs import quick
    from train.sequences.train import train_and_evaluate

    config = quick.get_config()
    config.seq2seq[field] = value
    with pytest.raises(ValueError, match=message):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_reversed_operands_keep_the_sum():
    import jax

    from jaxdl.data.addition import decode
    from train.sequences.train import _adder_batch

    plain = _adder_batch(jax.random.key(0), batch_size=4, digits=3, reverse=False, flip=False)
    flipped = _adder_batch(jax.random.key(0), batch_size=4, digits=3, reverse=False, flip=True)
    for p, f, t in zip(plain.source, flipped.source, flipped.targets, strict=True):
        a, b = decode(p).split("+")
        assert decode(f) == f"{a[::-1]}+{b[::-1]}"
        assert int(a) + int(b) == int(decode(t))


@pytest.mark.slow  # over 10 s on 2 cores (CI's durations)
def test_interleaved_mixed_lengths_keep_the_sum_and_mask_the_padding():
    import jax
    import numpy as np

    from jaxdl.data.addition import EQUALS, decode
    from train.sequences.train import _adder_batch

    b = _adder_batch(jax.random.key(1), batch_size=64, digits=3, reverse=True, flip=True,
                     interleave=True, mixed=True, mask=True)  # fmt: skip
    assert b.source.shape == (64, 6) and b.targets.shape == (64, 4)
    lengths = set()
    for s, m, t, ti in zip(b.source, b.source_mask, b.targets, b.target_inputs, strict=True):
        s, m = np.asarray(s), np.asarray(m)
        pad = int((~m).sum())
        lengths.add(3 - pad // 2)
        # Left padding of "=" tokens exactly where the mask is False.
        assert (m == (np.arange(6) >= pad)).all() and (s[:pad] == EQUALS).all()
        digits = decode(s[pad:])
        a, c = digits[0::2][::-1], digits[1::2][::-1]  # de-interleave, most significant first
        assert int(a) + int(c) == int(decode(t)[::-1])  # the answer reversed
        assert decode(ti) == "=" + decode(t)[:-1]
    assert lengths == {1, 2, 3}
    # Without mixed lengths nothing is padded and the mask is left out.
    full = _adder_batch(jax.random.key(1), batch_size=8, digits=3, reverse=True, flip=True,
                        interleave=True)  # fmt: skip
    assert full.source_mask is None and not (np.asarray(full.source) == EQUALS).any()
