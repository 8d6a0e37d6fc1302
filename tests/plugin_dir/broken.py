"""A plugin that fails to import: it must be reported by `nasfw plugins` and break nothing else."""
import this_module_does_not_exist  # noqa: F401
