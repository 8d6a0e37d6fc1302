"""nasfw: plugin-based, hardware-aware neural architecture search."""
from nasfw.api import compare_runs, open_run, search
from nasfw.cost import Constraint, Objective
from nasfw.errors import ConfigError, NasfwError, PluginError, SpaceError
from nasfw.hooks import hookimpl
from nasfw.space import Choice, Float, IntRange, Permutation, Repeat, Space, Tie

__version__ = "0.1.0"
__all__ = ["Choice", "Constraint", "ConfigError", "Float", "IntRange", "NasfwError", "Objective", "Permutation",
           "PluginError", "Repeat", "Space", "SpaceError", "Tie", "compare_runs", "hookimpl", "open_run", "search",
           "__version__"]
