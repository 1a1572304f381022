"""Two processes training together through ``jax.distributed`` (gloo on localhost).

``python -m tests.parallel.two_process worker PID PORT WORKDIR OUT``: one of the two
processes; each loads only its half of the data and process 0 saves the parameters.
``python -m tests.parallel.two_process reference OUT``: one process fed the same
global batches (process 0's local rows, then process 1's), for comparison.
"""

from __future__ import annotations

import sys

import numpy as np

EPOCHS, LOCAL_N, BATCH = 2, 64, 16  # 2 processes x 64 rows, 4 steps per epoch


def main() -> None:
    mode = sys.argv[1]
    if mode == "worker":
        from jaxdl import parallel

        pid, port, workdir, out = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
        parallel.initialize(
            coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid
        )
    import jax

    from jaxdl import parallel
    from jaxdl.training import HostFed, classifier_loss, epoch_order, fit, make_chunk
    from tests.parallel.scenarios import classifier_data, classifier_state

    data = classifier_data(2 * LOCAL_N)
    key = jax.random.key(2)
    if mode == "worker":
        share = parallel.process_share(2 * LOCAL_N)
        local = {k: v[share] for k, v in data.items()}
        result = fit(
            classifier_state(),
            local,
            loss_fn=classifier_loss,
            num_epochs=EPOCHS,
            batch_size=BATCH,
            data_key=key,
            progress=False,
            workdir=workdir,
            mesh=parallel.make_mesh("data=2"),
        )
        params = result.state.params
        if jax.process_index() == 0:
            leaves = [np.asarray(x) for x in jax.tree.leaves(params)]
            np.savez(out, *leaves, processes=jax.process_count(), devices=jax.device_count())
        return
    # The reference: process p's batch rows are its own share, in its own order.
    state = classifier_state()
    run = make_chunk(classifier_loss, HostFed(data, BATCH, key))
    for epoch in range(1, EPOCHS + 1):
        order = np.asarray(epoch_order(jax.random.fold_in(key, epoch), LOCAL_N, BATCH // 2))
        parts = [
            {k: v[p * LOCAL_N : (p + 1) * LOCAL_N][order] for k, v in data.items()} for p in (0, 1)
        ]
        batches = {k: np.concatenate([parts[0][k], parts[1][k]], axis=1) for k in data}
        steps = order.shape[0]
        state, _, _, _ = run(state, None, batches, steps)
    leaves = [np.asarray(x) for x in jax.tree.leaves(state.params)]
    np.savez(sys.argv[2], *leaves, processes=1, devices=jax.device_count())


if __name__ == "__main__":
    main()
