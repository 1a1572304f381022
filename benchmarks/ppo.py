"""PPO on CartPole-v1: environment steps per second of whole training, jaxdl vs PyTorch.

jaxdl: the ``ppo`` recipe's default config (purejaxrl's CartPole settings), 8 seeds
vmapped in one compiled program: environments, rollouts, GAE and updates all in
``lax.scan``; on a CPU the seeds are split over the cores as XLA devices (a ``runs``
mesh; ``python -m benchmarks.run`` asks JAX for one CPU device per core), as the recipe
does. Timed after compilation; steps counted over all seeds.
Baseline: the seed's way: gymnasium's CartPole-v1 (4 environments in a
``SyncVectorEnv``), a Python rollout loop calling the PyTorch actor and critic every step,
then GAE and the same epochs x minibatches of Adam updates with the same network (two
64-64 tanh MLPs, orthogonal init), clipping, annealing and coefficients; one seed.

Run: ``python -m benchmarks.run ppo``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from benchmarks import _flops, _harness
from jaxdl import parallel
from jaxdl.rl import PPOConfig, make_train
from train.ppo.configs import default

NAME = "ppo"


class TorchPPO:
    """PPO in PyTorch on gymnasium, updating rollout by rollout (resumable)."""

    def __init__(self, c: PPOConfig, seed: int = 0):
        import gymnasium as gym
        import torch
        from torch import nn

        self.torch, self.c = torch, c
        torch.manual_seed(seed)
        # SAME_STEP autoreset, as gymnax: the step that ends an episode returns the reset
        # observation and the final one in info["final_obs"] (needed to bootstrap at
        # truncation).
        self.envs = gym.vector.SyncVectorEnv(
            [lambda: gym.make(c.env_name)] * c.num_envs,
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
        )
        self.obs, _ = self.envs.reset(seed=seed)

        def mlp(n_out, gain):
            layers, n = [], 4
            for h in c.hidden:
                layers += [nn.Linear(n, h), nn.Tanh()]
                n = h
            layers.append(nn.Linear(n, n_out))
            for layer in layers:
                if isinstance(layer, nn.Linear):
                    nn.init.orthogonal_(layer.weight, math.sqrt(2))
                    nn.init.zeros_(layer.bias)
            nn.init.orthogonal_(layers[-1].weight, gain)
            return nn.Sequential(*layers)

        self.actor, self.critic = mlp(2, 0.01), mlp(1, 1.0)
        params = list(self.actor.parameters()) + list(self.critic.parameters())
        self.params = params
        self.opt = torch.optim.Adam(params, lr=c.learning_rate, eps=1e-5)
        self.num_updates = int(c.total_timesteps) // (c.num_envs * c.num_steps)
        self.update_index = 0
        self.episode_returns: list[float] = []
        self.running = np.zeros(c.num_envs)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.params)

    def update(self) -> None:
        torch, c = self.torch, self.c
        T, N = c.num_steps, c.num_envs
        obs_buf = torch.zeros((T, N, 4))
        act_buf = torch.zeros((T, N), dtype=torch.long)
        logp_buf, val_buf, rew_buf = (torch.zeros((T, N)) for _ in range(3))
        next_val, term_buf, trunc_buf = (torch.zeros((T, N)) for _ in range(3))
        for t in range(T):  # the Python rollout loop
            obs = torch.as_tensor(self.obs, dtype=torch.float32)
            with torch.no_grad():
                pi = torch.distributions.Categorical(logits=self.actor(obs))
                action = pi.sample()
                value = self.critic(obs)[:, 0]
            next_obs, reward, term, trunc, info = self.envs.step(action.numpy())
            done = term | trunc
            final = next_obs.copy()
            for i in np.nonzero(info.get("_final_obs", np.zeros(N, bool)))[0]:
                final[i] = info["final_obs"][i]
            with torch.no_grad():
                next_val[t] = self.critic(torch.as_tensor(final, dtype=torch.float32))[:, 0]
            obs_buf[t], act_buf[t], logp_buf[t], val_buf[t] = (
                obs,
                action,
                pi.log_prob(action),
                value,
            )
            rew_buf[t] = torch.as_tensor(reward)
            term_buf[t], trunc_buf[t] = torch.as_tensor(term), torch.as_tensor(trunc & ~term)
            self.running += reward
            self.episode_returns += list(self.running[done])
            self.running[done] = 0.0
            self.obs = next_obs
        adv = torch.zeros((T, N))
        last = torch.zeros(N)
        for t in reversed(range(T)):  # GAE, as the seed's calc_advantage
            delta = rew_buf[t] + c.gamma * (1 - term_buf[t]) * next_val[t] - val_buf[t]
            done = torch.clamp(term_buf[t] + trunc_buf[t], max=1)
            last = delta + c.gamma * c.gae_lambda * (1 - done) * last
            adv[t] = last
        target = adv + val_buf
        frac = 1.0 - self.update_index / self.num_updates
        for g in self.opt.param_groups:
            g["lr"] = c.learning_rate * frac
        flat = [
            x.reshape(T * N, *x.shape[2:])
            for x in (obs_buf, act_buf, logp_buf, val_buf, adv, target)
        ]
        mb = T * N // c.num_minibatches
        for _ in range(c.update_epochs):
            perm = torch.randperm(T * N)
            for k in range(c.num_minibatches):
                idx = perm[k * mb : (k + 1) * mb]
                o, a, lp_old, v_old, ad, tg = (x[idx] for x in flat)
                pi = torch.distributions.Categorical(logits=self.actor(o))
                lp = pi.log_prob(a)
                ad = (ad - ad.mean()) / (ad.std() + 1e-8)
                ratio = torch.exp(lp - lp_old)
                actor_loss = -torch.min(
                    ratio * ad, torch.clamp(ratio, 1 - c.clip_eps, 1 + c.clip_eps) * ad
                ).mean()
                v = self.critic(o)[:, 0]
                v_clip = v_old + torch.clamp(v - v_old, -c.clip_eps, c.clip_eps)
                v_loss = 0.5 * torch.max((v - tg) ** 2, (v_clip - tg) ** 2).mean()
                loss = actor_loss + c.vf_coef * v_loss - c.ent_coef * pi.entropy().mean()
                self.opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.params, c.max_grad_norm)
                self.opt.step()
        self.update_index += 1


def run(
    *, repeats: int = 3, quick: bool = False, torch_updates: int = 20, **_: Any
) -> dict[str, Any]:
    load_before = list(os.getloadavg())
    c = default.get_config()
    if quick:
        c.total_timesteps, c.num_seeds, repeats, torch_updates = 4 * 128 * 4, 2, 1, 2
    _harness.set_threads()
    ppo = PPOConfig(**{f.name: c[f.name] for f in dataclasses.fields(PPOConfig)})
    train = jax.jit(jax.vmap(make_train(ppo)))
    keys = jax.random.split(jax.random.key(0), c.num_seeds)
    devices = 1
    if jax.default_backend() == "cpu":
        # As the recipe does (config.cpu_devices): the seeds split over the CPU devices
        # that `python -m benchmarks.run` asked for, one per core (jaxdl.parallel.cpu).
        devices = parallel.devices_for_runs(c.num_seeds, len(jax.devices()))
        mesh = parallel.make_mesh(f"runs={devices}", devices=jax.devices()[:devices])
        keys = jax.device_put(keys, NamedSharding(mesh, PartitionSpec(parallel.RUNS_AXIS)))
    compiled = train.lower(keys).compile()
    results = {}

    def jaxdl_run():
        results["jaxdl"] = compiled(keys)
        return results["jaxdl"]

    th = TorchPPO(ppo)

    def torch_run():
        for _ in range(torch_updates):
            th.update()

    with _harness.OtherLoad() as other:
        times = _harness.time_interleaved(
            {"jaxdl": jaxdl_run, "baseline": torch_run}, warmup=1, repeats=repeats
        )
    updates = int(c.total_timesteps) // (c.num_envs * c.num_steps)
    jaxdl_steps = c.num_seeds * updates * c.num_envs * c.num_steps
    torch_steps = torch_updates * c.num_envs * c.num_steps
    returns = np.asarray(results["jaxdl"]["metrics"]["episode_return"])[:, -10:].mean(1)
    extra = {
        "num_seeds": c.num_seeds,
        "devices": devices,
        "env_steps_per_call": {"jaxdl": jaxdl_steps, "baseline": torch_steps},
        "call_seconds": times,
        "repeats": repeats,
        "jaxdl_final_returns": [round(float(r), 1) for r in returns],
        "baseline_recent_returns": round(float(np.mean(th.episode_returns[-20:])), 1)
        if th.episode_returns
        else None,
        "other_cpu_load": other.cores,
        "load_average_before": load_before,
        # The whole timed program: the scan over updates, each holding the rollout's scan
        # over num_steps, GAE's scan and the epochs' scan over minibatches; every body is
        # counted as many times as its loop runs (all static: no while loops).
        "flops": _flops.program_record(
            _flops.program_cost(train, keys), _harness.median(times["jaxdl"])
        ),
    }
    return _harness.result_record(
        NAME,
        "environment steps/s of training (jaxdl: 8 seeds vmapped, split over the CPU cores)",
        jaxdl_steps / _harness.median(times["jaxdl"]),
        torch_steps / _harness.median(times["baseline"]),
        "steps/s",
        extra,
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
