"""The errors a user of dofgen sees, each with a message that says what to do."""

from __future__ import annotations


class ModelUnavailable(RuntimeError):
    """A model could not be loaded; the message names the variable to set (``dofgen.config``)."""
