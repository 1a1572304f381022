"""jaxdl benchmarks: each recipe against a PyTorch baseline of the seed's approach.

Run ``python -m benchmarks.run [names...]`` from the repository root (``make bench``).
"""
