"""fastText-style subword embeddings (seed 003, "SubWords") on the fortunes corpus.

Skip-gram with negative sampling over words and their character n-grams (3 to 6
characters, hashed into 200,000 buckets), fastText's defaults otherwise (dim 100, 5
epochs, lr 0.05, window 5, 5 negatives, t = 1e-4, min count 5), on the Debian package
``fortunes`` (``apt-get install fortunes``: 15,214 entries, 432,071 words; 7,681 words
seen at least 5 times). Unseen words get vectors from their n-grams.

Run:      python -m train subwords --workdir=runs/subwords
Expect:   loss 2.537 in the last epoch (2.847 in the first); a word and the same word + "s"
          at mean cosine 0.863 against 0.570 for random pairs (fastText itself, same
          settings: 0.911 and 0.707); unseen words next to their relatives
          ("computerization": computation, "kingdoms": kingdom). Measured; README.md has
          the neighbours.
Time:     284 s measured (263 s of it the one compiled training call) on a 2-core CPU
          shared with a load average of 15-24; an idle machine was not available.
"""

import ml_collections

from ..._common import add_scale_fields


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.corpus = ""  # a folder of fortune files or one text file; "": /usr/share/games/fortunes
    c.max_lines = 0  # 0: every entry
    c.min_count = 5
    c.minn = 3
    c.maxn = 6
    c.bucket = 200_000  # fastText's default is 2,000,000; this corpus has far fewer n-grams
    c.dim = 100
    c.epoch = 5
    c.lr = 0.05
    c.ws = 5
    c.neg = 5
    c.t = 1e-4
    c.batch_size = 256  # centre words per update (fastText: one, Hogwild over threads)
    c.seed = 0
    c.query_words = ("computer", "love", "money", "woman", "god", "program", "happy")
    # Not in the vocabulary (min_count 5): their vectors come from n-grams only.
    c.unseen_words = (
        "computerization",
        "unprogrammable",
        "unhappiness",
        "lovingly",
        "moneyless",
        "kingdoms",
    )
    c.analogies = (("man", "woman", "he"), ("good", "better", "bad"), ("love", "loved", "hate"))
    c.neighbours = 6
    # Scaling fields: all rejected, each with its reason (train.py's UNSUPPORTED); the run
    # is one compiled program on one device, in float32.
    return add_scale_fields(c)
