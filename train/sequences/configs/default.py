"""Sequences: CTC on synthetic spoken digits, and a GRU adder with teacher forcing.

Run:      python -m train sequences --workdir=runs/sequences
Expect:   test_label_error_rate <= 0.05 (greedy CTC decoding); the adder's open-loop
          whole-answer accuracy printed beside its teacher-forced accuracy (open loop is
          the lower one: the gap the teacher-forcing note describes).
Time:     about 3-4 minutes on an idle 2-core CPU (CTC 1500 steps, adder 3000 steps).
"""

import ml_collections


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
            "num_steps": 3000,
            "chunk_steps": 250,
            "batch_size": 128,
            "digits": 3,
            "reverse": True,  # answers least significant digit first
            "hidden": 128,
            "learning_rate": 3e-3,
            "eval_size": 2048,
        }
    )
    return c
