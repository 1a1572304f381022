"""The recipes: ``python -m train RECIPE`` in a checkout, ``jaxdl-train RECIPE`` (the
package ``jaxdl.recipes``) from the wheel. ``load_run`` and ``export_run`` (see
:mod:`.loading`) are imported on first use."""

from typing import Any

__all__ = ["export_run", "load_run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import loading

        return getattr(loading, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
