"""Typed errors raised by services; the CLI maps each to an exit code.

Exit codes (the contract scripts rely on):
  1  refused by the office's rules, or not found
  2  bad usage or invalid input
  3  the environment failed (data directory, configuration, lock, plugin)
"""


class MedsecError(Exception):
    """Base of every error medsec reports to the user as one line."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        # Lines printed before the error itself (e.g. an import's bad rows).
        self.details = details or []


class NotFound(MedsecError):
    """A record that was named does not exist."""

    exit_code = 1


class Refused(MedsecError):
    """The office's rules refuse the request (a duplicate, a slot taken ...)."""

    exit_code = 1


class InvalidInput(MedsecError):
    """What the user typed or supplied cannot be accepted."""

    exit_code = 2


class EnvironmentFailure(MedsecError):
    """The environment failed: data directory, lock, plugin."""

    exit_code = 3


class ConfigError(EnvironmentFailure):
    """A configuration file is broken; the message names file and line."""


class LockTimeout(EnvironmentFailure):
    """Another medsec process held the data directory's lock too long."""


class PluginError(EnvironmentFailure):
    """A plugin failed to load or registered something invalid."""
