"""jaxdl benchmarks: each recipe against a PyTorch baseline of the seed's approach.

Run ``python -m benchmarks.run [names...]`` from the repository root (``make bench``).
"""

# jaxdl's XLA:CPU settings (jaxdl/_xla_cpu.py) take effect only before JAX starts its
# backends; `roofline` runs first and imports only jax, so every benchmark process imports
# jaxdl here, before any of them computes, and all measure what a jaxdl user gets.
import jaxdl  # noqa: E402, F401
