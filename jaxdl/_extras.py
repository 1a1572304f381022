"""Optional dependencies: one sentence naming the extra to install when one is missing.

jaxdl's core installs only what ``jaxdl.losses``, ``jaxdl.nn`` and ``jaxdl.training`` need;
capability packages such as ``jaxdl.ode`` or ``jaxdl.rl`` need an extra (``pip install
'jaxdl[ode]'``). They import the optional library first and turn its ImportError into
:func:`missing_extra`'s, so a missing one fails at import time with the install line
instead of a bare ``ModuleNotFoundError`` from deep inside the package.
"""

from __future__ import annotations


def missing_extra(owner: str, extra: str, error: ImportError, default: str) -> ModuleNotFoundError:
    """The error to raise when an optional library fails to import.

    Used as ``except ImportError as e: raise missing_extra(...) from e`` around the import,
    so that the failing module keeps its traceback and the message names the extra.

    Args:
      owner: the jaxdl package or function that needs the library, e.g. ``"jaxdl.ode"``.
      extra: the extra of the jaxdl distribution that installs it, e.g. ``"ode"``.
      error: the ImportError raised by the import.
      default: the library to name when ``error`` does not say which module is missing.

    Returns:
      a ModuleNotFoundError whose message is one sentence, e.g.
      ``jaxdl.ode needs diffrax: pip install 'jaxdl[ode]'``.

    Example:
      >>> try:
      ...     import surely_not_installed_module
      ... except ImportError as e:
      ...     print(missing_extra("jaxdl.x", "x", e, "surely_not_installed_module"))
      jaxdl.x needs surely_not_installed_module: pip install 'jaxdl[x]'
    """
    # A dependency of the library may be the module that is missing (equinox under
    # diffrax): name it, since that is what the user will look for.
    name = (error.name or default).partition(".")[0]
    # ModuleNotFoundError (an ImportError): callers that skip a missing optional module
    # with either except clause keep working.
    return ModuleNotFoundError(f"{owner} needs {name}: pip install 'jaxdl[{extra}]'", name=name)
