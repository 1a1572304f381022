"""FLOP counts of programs with loops (benchmarks/_flops.py), checked against counts made
by hand, and the composed counts of the benchmarks that use them, on tiny sizes."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import pytest

from benchmarks import _flops, _harness

B, N = 8, 16  # a dense layer (B, N) @ (N, N): 2 * B * N * N FLOPs, its tanh transcendental
DENSE = 2 * B * N * N


def _dense(x, w):
    return jnp.tanh(x @ w)


def _scan(x, w, length, unroll=1):
    body = lambda c, _: (_dense(c, w), None)  # noqa: E731
    return jax.lax.scan(body, x, None, length=length, unroll=unroll)[0]


@pytest.fixture(scope="module")
def xw():
    return jnp.ones((B, N)), jnp.ones((N, N))


def test_one_dense_layer_is_2bio(xw):
    assert _flops.program_cost(_dense, *xw)["flops"] == DENSE


@pytest.mark.parametrize("length", [1, 3, 7])
@pytest.mark.parametrize("unroll", [1, 2, True])
def test_a_scan_counts_its_body_once_per_trip(xw, length, unroll):
    cost = _flops.program_cost(functools.partial(_scan, length=length, unroll=unroll), *xw)
    # Beside the layers, only the loop counter's few integer adds.
    assert length * DENSE <= cost["flops"] <= length * DENSE + 4
    assert cost["transcendentals"] == length * B * N
    assert [loop[:2] for loop in cost["loops"]] == [("scan", length)]
    assert DENSE <= cost["loops"][0][2] <= DENSE + 4


def test_nested_scans_multiply(xw):
    def nested(x, w):
        body = lambda c, _: (_scan(c, w, 3), None)  # noqa: E731
        return jax.lax.scan(body, x, None, length=5)[0]

    cost = _flops.program_cost(nested, *xw)
    assert 15 * DENSE <= cost["flops"] <= 15 * DENSE + 64
    assert [loop[:2] for loop in cost["loops"]] == [("scan", 3), ("scan", 5)]  # inner first


def test_a_while_loop_needs_its_trip_count(xw):
    def loop(x, w):
        return jax.lax.while_loop(lambda c: c[1] < 4, lambda c: (_dense(c[0], w), c[1] + 1), (x, 0))

    cost = _flops.program_cost(loop, *xw, while_trips=[4])
    assert 4 * DENSE <= cost["flops"] <= 4 * DENSE + 16
    with pytest.raises(ValueError, match="too few"):
        _flops.program_cost(loop, *xw)
    with pytest.raises(ValueError, match="more counts"):
        _flops.program_cost(loop, *xw, while_trips=[4, 2])


def test_a_loop_inside_a_conditional_is_refused(xw):
    def branchy(x, w, p):
        return jax.lax.cond(p, lambda: _scan(x, w, 2), lambda: x)

    with pytest.raises(ValueError, match="inside 'cond'"):
        _flops.program_cost(branchy, *xw, jnp.bool_(True))


def test_program_record_says_how_it_counted(xw):
    cost = _flops.program_cost(functools.partial(_scan, length=4), *xw)
    rec = _flops.program_record(cost, 2.0, steps=3, note="n")
    assert rec["flops_per_s"] == pytest.approx(cost["flops"] * 3 / 2.0)
    assert rec["loops"][0][:2] == ["scan", 4] and rec["note"] == "n" and "_flops" in rec["source"]


def test_knn_predict_is_the_distance_matmul_per_chunk():
    from jaxdl.classic import knn_predict

    q, n, d = 40, 64, 32
    x, y, queries = jnp.ones((n, d)), jnp.zeros((n,), jnp.int32), jnp.ones((q, d))
    fn = functools.partial(knn_predict, num_classes=3, k=5, chunk_size=16)  # 3 chunks, padded
    cost = _flops.program_cost(fn, x, y, queries)
    assert cost["loops"][-1][:2] == ("scan", 3)
    matmul = 2 * 48 * n * d  # the padded queries against every point
    assert matmul <= cost["flops"] <= 1.2 * matmul


def test_kmeans_cost_is_seeding_plus_lloyd_trips():
    from benchmarks import classic_kmeans as ck

    n, d, k, r = 64, 32, ck.CLUSTERS, ck.RESTARTS
    x = jax.random.normal(jax.random.key(0), (n, d))
    cost = ck.kmeans_cost(x, 3.0)
    (kind, trips, trip), (seed_kind, rounds, seed_round) = cost["loops"][-1], cost["loops"][-2]
    assert (kind, trips, seed_kind, rounds) == ("while", 3.0, "scan", k - 1)
    # One Lloyd trip over all restarts: the (n, k) distance matmul and the (k, n) @ (n, d)
    # centre sums, 2 * 2nkd, plus elementwise terms of order nk.
    assert 2 * 2 * n * k * d * r <= trip <= 1.25 * 2 * 2 * n * k * d * r
    # A seeding round: (trials, n) distances, 2 * trials * n * d, per restart.
    trials = 2 + int(jnp.log(k))
    assert 2 * trials * n * d * r <= seed_round <= 1.5 * 2 * trials * n * d * r
    assert cost["flops"] >= 3 * trip + (k - 1) * seed_round


def test_kmeans_recount_of_lloyd_trips_matches_the_fit():
    from benchmarks import classic_kmeans as ck
    from jaxdl.classic import kmeans

    x = jax.random.normal(jax.random.key(0), (64, 8))
    iters, best = ck.restart_iterations(x, jax.random.key(1))
    fit = kmeans(x, num_clusters=ck.CLUSTERS, key=jax.random.key(1), num_restarts=ck.RESTARTS)
    assert iters.shape == (ck.RESTARTS,) and int(iters[best]) == int(fit.num_iters) >= 1


def test_flops_record_of_step_cost_still_counts_one_step(xw):
    # The benchmarks that time a jitted step several times per unit use the harness as is.
    cost = _harness.step_cost(_dense, *xw)
    assert _harness.flops_record(cost, 10, 1.0)["flops_per_s"] == 10 * DENSE


def test_skipgram_cost_is_one_batch_per_trip_times_the_expected_batches():
    import math

    import numpy as np

    from benchmarks.subwords import skipgram_cost
    from jaxdl.text import SkipGram, build_vocab, encode_lines, keep_probs

    lines = ["the cat sat on the mat", "a dog sat on a log"] * 20
    vocab = build_vocab(lines, min_count=1, bucket=100)
    tokens, line_ids = encode_lines(lines, vocab)
    config = SkipGram(dim=128, epoch=1, t=1e-2, batch_size=16)
    cost = skipgram_cost(vocab, tokens, line_ids, config)
    kept = np.sum(keep_probs(vocab.counts, t=config.t, ntokens=vocab.ntokens)[tokens])
    kind, trips, per_batch = cost["loops"][-2]  # the batches' loop, inside the epochs' scan
    assert (kind, trips) == ("while", math.ceil(kept / config.batch_size))
    assert cost["loops"][-1][:2] == ("scan", 1)
    # Per batch: the (B, D) x (B, C, 1 + neg, D) scores and the input gradient, 2 * BCTD
    # each, and the output rows' update, BCTD products and as many adds; the rest (the
    # negatives' searchsorted, the subword rows) is smaller at D = 128.
    b, c, t, d = config.batch_size, 2 * config.ws, 1 + config.neg, config.dim
    assert 6 * b * c * t * d <= per_batch <= 1.5 * 6 * b * c * t * d
    assert cost["flops"] >= trips * per_batch


@pytest.mark.slow  # compiles a PPO run's pieces: about 40 s on a shared 2-core CPU
def test_ppo_count_is_updates_of_rollout_steps_and_minibatch_steps():
    from jaxdl.rl import PPOConfig, make_train

    # 3 updates of 4 environments x 16 steps, 2 epochs of 2 minibatches of 32, hidden 8.
    c = PPOConfig(num_envs=4, num_steps=16, total_timesteps=3 * 64, update_epochs=2,
                  num_minibatches=2, hidden=(8, 8))  # fmt: skip
    cost = _flops.program_cost(make_train(c), jax.random.key(0))
    trips = {(kind, n) for kind, n, _ in cost["loops"]}
    assert {("scan", 16), ("scan", 2), ("scan", 3)} <= trips  # steps, epochs/minibatches, updates
    # A minibatch step: forward and backward (about 3x the forward's 2 * MACs) of both
    # MLPs, 4 -> 8 -> 8 -> 2 and 4 -> 8 -> 8 -> 1, on 32 rows; Adam and the clipping add
    # a few FLOPs per parameter (measured: 1.35x the matrix products).
    macs = 4 * 8 + 8 * 8 + 8 * 2 + 4 * 8 + 8 * 8 + 8 * 1
    minibatch = [f for kind, n, f in cost["loops"] if n == 2][0]  # the innermost 2-trip scan
    assert 3 * 2 * macs * 32 <= minibatch <= 1.6 * 3 * 2 * macs * 32
    update = cost["loops"][-1][2]
    assert cost["flops"] >= 3 * update >= 3 * 2 * 2 * minibatch


def test_makemore_sweep_count_is_steps_of_the_stacked_runs_plus_evaluation():
    import dataclasses

    from benchmarks.makemore_sweep import sweep_cost
    from jaxdl.charlm import CharLMRun, init_states
    from jaxdl.training import expand_grid
    from train.makemore.configs import sweep

    config = sweep.get_config()
    base = CharLMRun(**{f.name: config[f.name] for f in dataclasses.fields(CharLMRun)})
    base = dataclasses.replace(base, num_steps=7)
    specs = expand_grid(base, {"learning_rate": [0.1, 0.2], "seed": [0]})
    rows = {"train": 64, "dev": 16}
    data = {
        k: {"x": jnp.ones((n, config.block_size), jnp.int32), "y": jnp.ones((n,), jnp.int32)}
        for k, n in rows.items()
    }
    cost = sweep_cost(init_states(specs), specs[0], data)
    (kind, steps, step), *evals = cost["loops"]
    assert (kind, steps) == ("train step", 7) and len(evals) == 2
    # The MLP per example: (block_size * n_embd) -> n_hidden -> 27, 2 FLOPs per MAC; a
    # step is forward and backward (about 3x the forward) on the batch, for each of 2 runs.
    macs = config.block_size * config.n_embd * config.n_hidden + config.n_hidden * 27
    assert (
        2 * 3 * 2 * macs * config.batch_size <= step <= 1.5 * 2 * 3 * 2 * macs * config.batch_size
    )
    # Evaluation runs whole batches of 8192 windows, the last one padded: forward only.
    for (name, _, flops), n in zip(evals, rows.values(), strict=True):
        padded = -(-n // 8192) * 8192
        assert 2 * 2 * macs * padded <= flops <= 1.5 * 2 * 2 * macs * padded, name
    assert cost["flops"] == pytest.approx(7 * step + sum(f for _, _, f in evals))
