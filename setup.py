"""Packages of the wheel: ``jaxdl`` and the recipes as ``jaxdl.recipes``.

The repository keeps the recipes in the top-level ``train/`` folder (``python -m train`` in
a checkout); the wheel ships that folder under jaxdl's name, so installing jaxdl never puts a
package called ``train`` on ``sys.path`` (it would shadow a user's own ``train.py``).
Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

RECIPES = "jaxdl.recipes"

setup(
    packages=find_packages(include=["jaxdl", "jaxdl.*"])
    + [RECIPES]
    + [f"{RECIPES}.{name}" for name in find_packages("train")],
    package_dir={RECIPES: "train"},
)
