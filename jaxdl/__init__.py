"""jaxdl: a JAX/Flax NNX deep-learning cookbook."""

__version__ = "0.1.0"

# Before JAX starts its backends: XLA:CPU's multi-threaded kernels instead of YNNPACK's
# single-threaded ones (up to 2x on 2 cores; what, why and the opt-out: jaxdl/_xla_cpu.py).
from jaxdl._xla_cpu import apply_cpu_defaults as _apply_cpu_defaults

_apply_cpu_defaults()
