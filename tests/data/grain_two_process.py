"""Two processes training together on a Streamed (grain over ArrayRecord) source.

``python -m tests.data.grain_two_process worker PID PORT RECORDS WORKDIR OUT``: one of the
two processes (``jax.distributed`` on localhost, a ``data=2`` mesh of one CPU device
each); each reads only its share of every global batch, saves the example indices it read
per step, and process 0 saves the final parameters and losses.
``python -m tests.data.grain_two_process reference RECORDS OUT``: one process fed the
same global batches by the same source.
Every record carries its ``index``, which the loss ignores, so the shares can be checked.
"""

from __future__ import annotations

import sys

import numpy as np

EPOCHS, N, BATCH, SEED = 2, 136, 16, 7  # 8 steps per epoch, 8 records dropped


def write(folder: str) -> None:
    from jaxdl.data.records import write_records
    from tests.parallel.scenarios import classifier_data

    data = classifier_data(N)
    write_records(folder, {**data, "index": np.arange(N, dtype=np.int32)})


def main() -> None:
    mode = sys.argv[1]
    if mode == "worker":
        from jaxdl import parallel

        pid, port = int(sys.argv[2]), sys.argv[3]
        parallel.initialize(
            coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid
        )
        records, workdir, out = sys.argv[4:7]
    else:
        records, workdir, out = sys.argv[2], None, sys.argv[3]
    import jax

    from jaxdl import parallel
    from jaxdl.data.streaming import Streamed
    from jaxdl.training import classifier_loss, fit
    from tests.parallel.scenarios import classifier_state

    write(records)  # both workers race to write the same folder: one rename wins
    mesh = parallel.make_mesh("data=2") if mode == "worker" else None
    source = Streamed(records, BATCH, seed=SEED, mesh=mesh)
    read = [source.host_batches(e, 0, source.steps_per_epoch)["index"] for e in (1, 2)]
    result = fit(
        classifier_state(),
        source,
        loss_fn=classifier_loss,
        num_epochs=EPOCHS,
        batch_size=BATCH,
        steps_per_dispatch=3,
        progress=False,
        workdir=workdir,
        mesh=mesh,
    )
    leaves = [np.asarray(x) for x in jax.tree.leaves(result.state.params)]
    losses = np.asarray([r["train_loss"] for r in result.history])
    name = f"{out}.{jax.process_index()}.npz"
    np.savez(name, *leaves, read=np.stack(read), losses=losses, processes=jax.process_count())


if __name__ == "__main__":
    main()
