"""medsec: the front office of a clinic, from the shell."""

# A literal version: `medsec --version` must not pay for importlib.metadata.
__version__ = "0.1.0"

# The version of what plugins may rely on: `medsec.hookimpl`, the hooks
# (medsec.hookspecs), medsec.plugin_types and medsec.plugin_api. It goes up
# when a name plugins use goes away or changes meaning (docs/plugin-api.md).
# 1: plugins reached into the core's modules; 2: medsec.plugin_api.
PLUGIN_API_VERSION = 2


def __getattr__(name):
    # `from medsec import hookimpl` for plugin authors, without making every
    # command import pluggy at start-up.
    if name == "hookimpl":
        from medsec.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'medsec' has no attribute {name!r}")
