"""XLA:CPU settings jaxdl asks for before JAX starts its backends.

jaxlib 0.10-0.12 hand convolutions, dots, reductions and elementwise fusions on CPU to YNNPACK
("``__ynn_fusion``" in a compiled program's text), and its convolutions and the
fusions around them run on **one** thread: CPU time equals wall time however many cores
there are. XLA's own kernels (Eigen) use every core. (A plain large ``jnp.dot`` uses both
cores either way, within about 10%; inside whole train steps, turning YNNPACK's dots off as
well was faster, as the MLP row shows.) Measured on a 2-core CPU, jax 0.10.2,
float32, one process after the other:

=============================================  ==========  ===============
program                                        YNN         YNN off (ours)
=============================================  ==========  ===============
conv 3x3 ``(128, 14, 14, 32) -> 64`` forward   12.8 ms     7.2 ms
DDPM UNet forward, 64 x 28 x 28 (ddpm recipe)  119 ms      53-55 ms
CNN classifier train step, batch 128           158 ms      67-76 ms
MLP classifier train step, batch 1024          45 ms       17-19 ms
=============================================  ==========  ===============

Reductions stay with YNNPACK: turning them off too was slower for the CNN (96 ms), and at
XLA's backend optimisation level 0 (what the test suite compiles at) XLA's own reductions
made a BatchNorm CNN's training step NaN after two steps, where YNNPACK's did not.
The one loss measured: a convolution with a single input channel, ``(128, 28, 28, 1) -> 32``,
2.4 -> 5.0 ms forward (a UNet's or a CNN's first layer; small beside the rest of the step).

So importing :mod:`jaxdl` appends :data:`YNN_OFF` to ``XLA_FLAGS`` when all of these hold:

- JAX has not created its backends yet (XLA reads ``XLA_FLAGS`` once, then);
- ``XLA_FLAGS`` does not already mention ``xla_cpu_experimental_ynn_fusion_type`` (the
  user's own choice wins);
- ``JAXDL_XLA_CPU_DEFAULTS`` is not ``0`` (the opt-out).

The flag only concerns the CPU backend; GPU and TPU programs are unchanged. Results differ
from YNNPACK's by float32 summation order only. Import jaxdl before running any JAX
computation (or set the flag yourself) to get it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

#: The XLA flag that keeps XLA:CPU's multi-threaded kernels: removes YNNPACK's convolution,
#: dot and elementwise fusion kinds from the default list (reductions stay, see above).
YNN_OFF = (
    "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution,-eltwise,-dot,-individual_dot"
)
FLAG_NAME = "xla_cpu_experimental_ynn_fusion_type"
OPT_OUT = "JAXDL_XLA_CPU_DEFAULTS"


def backends_started() -> bool:
    """Whether JAX has created its backends (after which XLA flags and the CPU device
    count no longer take effect)."""
    if "jax" not in sys.modules:  # not imported yet: its backends cannot be running
        return False
    try:
        from jax._src import xla_bridge
    except ImportError:
        return True
    started = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(started()) if started is not None else True


def apply_cpu_defaults(environ: MutableMapping[str, str] | None = None) -> bool:
    """Appends :data:`YNN_OFF` to ``environ["XLA_FLAGS"]`` unless the user opted out, set
    the flag already, or JAX's backends are running (when it would have no effect).

    Args:
      environ: the environment to edit (``os.environ`` by default).

    Returns:
      Whether the flag was appended.

    Example:
      >>> env = {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=dot"}
      >>> apply_cpu_defaults(env), env["XLA_FLAGS"]
      (False, '--xla_cpu_experimental_ynn_fusion_type=dot')
    """
    environ = os.environ if environ is None else environ
    flags = environ.get("XLA_FLAGS", "")
    if environ.get(OPT_OUT, "1").strip() == "0" or FLAG_NAME in flags:
        return False
    if backends_started():
        return False
    environ["XLA_FLAGS"] = f"{flags} {YNN_OFF}".strip()
    return True
