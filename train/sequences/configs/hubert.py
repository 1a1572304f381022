"""HuBERT-style masked prediction on the spoken digits, then CTC on its features.

Run:      python -m train sequences --config=hubert --workdir=runs/seq_hubert
Expect:   hubert.md: the k-means targets' purity / NMI against the frames' digits and
          NMI across k-means seeds per iteration (seed 0: purity 0.86 / 0.80, seed NMI
          0.64 / 0.77 for iterations 1 / 2), and the CTC label error rate on raw frames
          beside the frozen iteration-1 and iteration-2 encoders' features: about 0.023
          for all three with fresh labelled utterances every step; with 128 labelled
          utterances 0.08-0.10, the order changing with the seed (no reliable gain from
          the learned features; train/sequences/README.md, "Masked prediction").
Time:     11-21 minutes on a 2-core CPU shared with other jobs (8-9 minutes of CPU
          time): two encoders of 2000 steps, six CTC taggers of 600.
Scale:    one device; mesh, accum_steps, precision, remat and multi-host runs are
          rejected.

The CTC settings are the default config's (``config.ctc``), with fewer steps; the
adder (``config.seq2seq``) is not part of this run.
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    del c.seq2seq
    c.ctc.update(num_steps=600, chunk_steps=100)
    c.hubert = ml_collections.ConfigDict(
        {
            "iterations": 2,
            # k-means teacher: clusters, utterances it is fitted on (the held-out set that
            # scores its consistency has as many), k-means++ restarts.
            "num_clusters": 24,
            "kmeans_utterances": 512,
            "kmeans_restarts": 4,
            # Span masking: each frame starts a masked span with probability mask_prob.
            "mask_prob": 0.15,
            "span": 3,
            # The encoder (post-LN transformer blocks over projected frames).
            "dim": 64,
            "n_layers": 4,
            "n_heads": 4,
            "hidden_dim": 128,
            "dropout": 0.1,
            # "rotary": positions act inside attention only, so the features k-means
            # clusters carry no absolute position (with "sinusoidal" added to the frames,
            # iteration 2's clusters followed position more than digits: README).
            "positions": "rotary",
            # Whose output is clustered for the next iteration's targets, and what the
            # CTC tagger reads (0: the projected frames, n_layers: the last block).
            "target_layer": 2,
            "feature_layer": 2,
            # The CTC comparison, once per entry: 0 trains on fresh utterances every step,
            # n > 0 on n fixed batches only (n * ctc.batch_size labelled utterances).
            "labelled_batches": (0, 4),
            "pretrain": ml_collections.ConfigDict(
                {
                    "num_steps": 2000,
                    "chunk_steps": 200,
                    "batch_size": 32,
                    "learning_rate": 1e-3,
                    "eval_size": 512,
                }
            ),
        }
    )
    return c
