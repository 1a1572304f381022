"""PPO on CartPole-v1 with purejaxrl's CartPole settings, 8 seeds trained together.

Run:      python -m train ppo --workdir=runs/ppo_cartpole
Resume:   the same command again continues a killed run from its last checkpoint
          with the numbers an uninterrupted run gets.
Expect:   every seed's mean episodic return over the last 10 updates at or near 500 (the
          maximum); measured 8 of 8 seeds at 500.0.
Time:     about 25 seconds on an idle 2-core CPU (22 s measured, 8 s of it compiling):
          8 x 500,000 environment steps at 253,000 steps/s, the seeds split over the two
          cores as CPU devices (cpu_devices below); 143,000 steps/s on one device.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.env_name = "CartPole-v1"
    c.num_seeds = 8  # vmapped: trained by one compiled program
    c.seed = 0
    c.num_envs = 4
    c.num_steps = 128  # rollout length per environment
    c.total_timesteps = 500_000  # per seed
    c.update_epochs = 4
    c.num_minibatches = 4
    c.learning_rate = 2.5e-4
    c.anneal_lr = True
    c.gamma = 0.99
    c.gae_lambda = 0.95
    c.clip_eps = 0.2
    c.clip_value = True
    c.ent_coef = 0.01
    c.vf_coef = 0.5
    c.max_grad_norm = 0.5
    c.hidden = (64, 64)
    c.normalize_obs = False
    c.rollout_unroll = 1  # rollout steps per compiled loop iteration: speed only
    # A seed counts as solved when its mean return over the last 10 updates reaches this.
    c.solved_return = 475.0
    # Updates per epoch: one compiled call, one record in metrics.jsonl, one checkpoint.
    # 61 divides the 976, 488 and 244 updates of the CartPole, Acrobot and Breakout
    # configs; a value that does not divide leaves a shorter last epoch, compiled anew.
    c.updates_per_epoch = 61
    # Devices: "" is one; "runs=8" splits the seeds over 8 devices (num_seeds a multiple
    # of 8), "data=2" replicates them on 2 (PPO has no batch to split).
    c.mesh = ""
    # Without a mesh, on a CPU host: the cores as XLA devices, the seeds split over them
    # (-1: one device per core, as many as divide num_seeds; 0: one device).
    c.cpu_devices = -1
    c.max_to_keep = 2  # checkpoints kept on disk
    c.progress = True
    return c
