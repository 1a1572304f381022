"""Neural ODE, the seed's setup: 2-16-2 tanh MLP, N(0, 0.05) weights, Adam 2e-3, 1000 iters.

Full-trajectory fit of the 501 points on [0, 15] with Dopri5 at torchdiffeq's default
tolerances (rtol 1e-7, atol 1e-9) and the backsolve adjoint (``odeint_adjoint``).

Run:      python -m train neural_ode --config=seed --workdir=runs/neural_ode_seed
Expect:   final_loss 1.096 (seed 0; measured, see train/neural_ode/README.md): the seed's
          setup learns slowly (initial loss 1.464).
Time:     about 45 seconds on a 2-core CPU (43 s measured).
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = override(default.get_config(), hidden=(16,), activation="tanh", init_std=0.05)
    c = override(c, solver="dopri5", rtol=1e-7, atol=1e-9, adjoint="backsolve", max_steps=4096)
    c = override(c, learning_rate=2e-3, schedule="constant", warmup_iters=0, grad_clip=0.0)
    return override(c, window_lengths=(501,), window_batches=(1,), stage_iters=(1000,))
