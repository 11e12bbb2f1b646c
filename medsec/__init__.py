"""medsec: the front office of a clinic, from the shell."""

# A literal version: `medsec --version` must not pay for importlib.metadata.
__version__ = "0.1.0"


def __getattr__(name):
    # `from medsec import hookimpl` for plugin authors, without making every
    # command import pluggy at start-up.
    if name == "hookimpl":
        from medsec.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'medsec' has no attribute {name!r}")
