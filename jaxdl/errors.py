"""Errors a user can act on. Entry points print their message as one sentence, no traceback."""

from __future__ import annotations


class JaxdlError(Exception):
    """Base of the errors whose message tells the user what to do."""


class NonFiniteLossError(JaxdlError, FloatingPointError):
    """The loss or the parameters became NaN or infinite during training."""


class CheckpointMismatchError(JaxdlError, ValueError):
    """A checkpoint does not fit the model or optimiser it is restored into."""


class PretrainedNotFoundError(JaxdlError, FileNotFoundError):
    """Pretrained weights are neither in a local directory nor downloadable."""


class PretrainedFileError(JaxdlError, ValueError):
    """A pretrained config or weights file is corrupt, or is a pickle nobody opted into."""


class ODESolveError(JaxdlError, RuntimeError):
    """An adaptive ODE solve stopped early (step limit, step size underflow, non-finite state)."""


class UsageError(JaxdlError, ValueError):
    """The run was asked for something it must refuse (a busy workdir, another run's
    workdir); the command line exits with status 2."""


class WorkdirBusyError(UsageError):
    """Another live process holds the workdir's lock."""


class RunMismatchError(UsageError):
    """The workdir holds another run (other recipe or config), or refuses to resume."""


class WorkdirError(JaxdlError, OSError):
    """The workdir cannot be written (full disk, read-only, a file where a folder is)."""


class CheckpointCorruptError(JaxdlError, OSError):
    """No checkpoint in the workdir can be read."""
