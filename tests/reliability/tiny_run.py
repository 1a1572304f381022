"""A small training run for the reliability tests, as a user's script would write it:
``python -m tests.reliability.tiny_run WORKDIR [lr] [--overwrite]``. Prints the final
test loss; exits through the same one-sentence errors as the recipes' command line."""

from __future__ import annotations

import sys

import jax

from jaxdl.training import Run, classifier_eval, classifier_loss, fit
from tests.training.helpers import tiny_data, tiny_state, to_float


def main(argv: list[str]) -> int:
    workdir, lr = argv[0], float(argv[1]) if len(argv) > 1 and argv[1][0].isdigit() else 3e-3
    # Checkpoints after every other chunk of 2 steps: epochs of 6 steps are cut mid-way.
    with Run(workdir, overwrite="--overwrite" in argv, checkpoint_every_steps=4) as run:
        result = _fit(run, lr)
    print(result.metrics["test_loss"])
    return 0


def _fit(run, lr):
    return fit(
        tiny_state(0, lr=lr),
        tiny_data(),
        tiny_data(40, seed=1),
        loss_fn=to_float(classifier_loss),
        eval_fn=to_float(classifier_eval),
        num_epochs=4,
        batch_size=16,
        steps_per_dispatch=2,
        data_key=jax.random.key(7),
        run=run,
        progress=False,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
