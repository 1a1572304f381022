"""Sequences: CTC on synthetic spoken digits, and a GRU adder with teacher forcing.

Run:      python -m train sequences --workdir=runs/sequences
Expect:   test_label_error_rate <= 0.05 (measured 0.019); the adder's open-loop accuracies
          beside its teacher-forced ones. Per digit, open loop trails while the model is
          still learning (metrics.jsonl / seq2seq_curves.png: e.g. 0.68 vs 0.62 at step
          1000) and both reach about 1.0 at the end. Whole answers are equally often right
          in both modes, by construction (see jaxdl.nn.seq2seq.seq2seq_metrics). The
          adder is also evaluated on 4- and 5-digit sums (test_longer4_..., about 0.3 of
          the digits right: it never saw them); config attention.py compares attention.
Time:     about 2 minutes on a busy 2-core CPU (CTC 1500 steps, adder 4000 steps).
Scale:    --config.mesh=data=2 splits both tasks' generated batches over the devices (data
          parallel), --config.accum_steps=4 averages micro-batches; precision, remat and
          multi-host runs are rejected (see get_config).
"""

import ml_collections

from ..._common import add_scale_fields


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.progress = True
    c.ctc = ml_collections.ConfigDict(
        {
            "num_steps": 1500,
            "chunk_steps": 100,
            "batch_size": 32,
            "hidden": 64,
            "learning_rate": 3e-3,
            "eval_size": 512,
            # speech_batch settings: 10 digits, 16-d frames, 1-6 digits per utterance.
            "num_symbols": 10,
            "features": 16,
            "max_labels": 6,
            "noise": 1.0,
        }
    )
    c.seq2seq = ml_collections.ConfigDict(
        {
            "num_steps": 4000,
            "chunk_steps": 250,
            "batch_size": 128,
            "digits": 3,
            "reverse": True,  # answers least significant digit first
            "hidden": 128,
            "learning_rate": 3e-3,
            "eval_size": 2048,
            # Operands least significant digit first too ("042+917" -> "240+719").
            "reverse_operands": False,
            # The operands' digits alternately, without "+" ("240+719" -> "274109").
            "interleave": False,
            # Operand lengths drawn from 1..digits, shorter sources padded on the left
            # (attention models get a source_mask hiding the padding).
            "mixed_lengths": False,
            # One adder per kind ("none", "additive", "dot"), each a stage of the run.
            "attention": ("none",),
            # Also evaluated on these operand lengths, never trained on.
            "longer_digits": (4, 5),
            "attention_examples": 4,  # attention.png: examples per attention model
        }
    )
    # Scaling, for both tasks: mesh (each task's batch_size and eval_size must split over
    # the data axes) and accum_steps (batch_size must split into them) are honoured;
    # precision and remat are rejected (the GRUs are float32 and not checkpointed), as are
    # multi-host runs (the evaluation batches are made on one host).
    return add_scale_fields(c)
