"""A campaign's phase settings checked against the task's own methods (`train_supernet`, `finalize`, `export`),
when the campaign is built and under `--dry-run`: a setting they do not take, or a value they refuse, fails in a
second rather than after the search, and a corrected campaign would be another campaign that `--resume` refuses.
"""
from __future__ import annotations

import inspect
import typing
from typing import Any, Sequence

from nasfw.campaign import Campaign
from nasfw.errors import ConfigError


def _phase_settings(campaign: Campaign, task: Any, settings: Any, method: str, skip: int, field: str,
                    phase: str) -> dict | None:
    """A phase's settings (a mapping, else None: `true`/`false`) as the task's method takes them; refused where
    the task lacks the method, which would have dropped them without a word."""
    from nasfw.registry import check_options

    if not isinstance(settings, dict):
        return None
    if not hasattr(task, method):
        if settings:
            raise ConfigError(f"{field} = {settings!r}: the task {campaign.task!r} has no {phase} of its own (no "
                              f"{method}); leave {field} out")
        return settings
    return check_options(getattr(task, method), settings, f"the {phase} of task {campaign.task!r}", skip=skip,
                         prefix=f"{field}.")


def _check_sampling_options(task: Any, settings: dict) -> None:
    """`sampling_options` of a supernet phase whose `sampling` is one of the engine's rules (typed `SamplerName`):
    each must be an option of the rule the campaign picks."""
    from nasfw.option_types import hints_of
    from nasfw.supernet.sampling import SamplerName, check_sampler_options

    given = settings.get("sampling_options")
    if not isinstance(given, dict) or not hasattr(task, "train_supernet"):
        return
    hint = hints_of(task.train_supernet).get("sampling")
    if hint is not SamplerName and SamplerName not in typing.get_args(hint):
        return
    rule = settings.get("sampling", inspect.signature(task.train_supernet).parameters["sampling"].default)
    check_sampler_options(rule, given, "phases.supernet.sampling_options")


def check_phase_options(campaign: Campaign, task: Any) -> None:
    """Phase settings are options of the task's own methods: one they do not take fails now, in a second, not
    after the search (and a corrected campaign is another campaign, which `--resume` would refuse)."""
    sup = _phase_settings(campaign, task, campaign.phases.get("supernet", True), "train_supernet", 1,
                          "phases.supernet", "supernet phase")
    if sup is not None:
        campaign.phases = {**campaign.phases, "supernet": sup}
        _check_sampling_options(task, sup)
    fin = campaign.phases.get("finalize")
    opts = _phase_settings(campaign, task, fin.get("task") if isinstance(fin, dict) else None, "finalize", 2,
                           "phases.finalize.task", "finalize step")
    if opts is not None and hasattr(task, "finalize"):
        fin = {**fin, "task": opts}
        campaign.phases = {**campaign.phases, "finalize": fin}
        if hasattr(task, "check_finalize"):  # the values, not only names and types: before the search, not after
            task.check_finalize(**fin["task"])
    if isinstance(fin, dict):
        check_export_formats(task, fin.get("export") or [], "phases.finalize.export")


def check_export_formats(task: Any, formats: Sequence[str], field: str) -> None:
    """Formats a task cannot write fail before any work, under the name the user typed them (`field`). A task
    lists what it writes in `export_formats`; one without that list is trusted to say so itself."""
    if formats and not hasattr(task, "export"):
        raise ConfigError(f"{field}: {list(formats)}; the task {type(task).__name__} has no export (a run writes "
                          "best.json for it; leave the formats out)")
    allowed = getattr(task, "export_formats", None)
    bad = [f for f in formats if allowed is not None and f not in allowed]
    if bad:
        import difflib

        close = difflib.get_close_matches(str(bad[0]), list(allowed), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{field}: {bad[0]!r} is not a format this task writes; allowed: {list(allowed)}{hint}")


def supernet_batch(phases: dict, task_batch: int) -> tuple[int, str] | None:
    """The batch the supernet phase trains on and the field that sets it, for a plugin's check of what its
    training holds in memory; None where the campaign turns the phase off (`false`: `{}` and `true` train with the
    task's defaults)."""
    sup = phases.get("supernet", True)
    if sup is False or sup is None:
        return None
    given = sup.get("batch_size") if isinstance(sup, dict) else None
    return (given, "phases.supernet.batch_size") if given else (task_batch, "task_options.batch_size")


def finalize_trains(phases: dict) -> bool:
    """Whether finalize runs the task's own step, which trains (`phases.finalize.task: false` skips it)."""
    fin = phases.get("finalize")
    return isinstance(fin, dict) and fin.get("task") is not False
