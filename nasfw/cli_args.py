"""What the `nasfw` commands share in reading their arguments: the plugin registry, `--set`/`--option` values
parsed as YAML, JSON given as text or as a file, comma-separated resolutions, and the campaign a command starts
from (`--plugin`, `--config`)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nasfw.errors import ConfigError


def registry_of(args):
    from nasfw.registry import get_registry

    return get_registry(tuple(args.plugins_dir or ()))


def parse_value(v: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(v)
    except yaml.YAMLError:
        return v


def key_values(pairs: list[str] | None, flag: str = "--option") -> dict:
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise ConfigError(f"{flag} {p!r} must look like key=value")
        k, v = p.split("=", 1)
        out[k.strip()] = parse_value(v)
    return out


def positive_int(text: str, low: int = 1) -> int:
    """An argparse type for counts such as --top (a negative one would slice from the end)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < low:
        allowed = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise argparse.ArgumentTypeError(f"{value} is not allowed; allowed: {allowed}")
    return value


def metric_list(text: str) -> list[str]:
    """An argparse type for --metrics: names separated by commas, none empty."""
    names = [t.strip() for t in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: metric names separated by commas, e.g. accuracy,params")
    return names


def non_negative_int(text: str) -> int:
    return positive_int(text, low=0)


def load_json_arg(value: str, what: str) -> Any:
    path = Path(value)
    is_file = not value.lstrip().startswith(("{", "[")) and path.is_file()
    text = path.read_text() if is_file else value
    try:
        return json.loads(text, object_pairs_hook=_unique_keys(what, value if is_file else None))
    except json.JSONDecodeError as e:
        if is_file:
            raise ConfigError(f"{what} {value!r} is not valid JSON: {e.msg} at line {e.lineno}, column "
                              f"{e.colno}") from None
        if value.endswith(".json") or "/" in value:
            raise ConfigError(f"{what} {value!r}: no such file (and not JSON text)") from None
        raise ConfigError(f"{what} is neither a JSON file nor JSON text: {e.msg} at column {e.colno}") from None


def _unique_keys(what: str, file: str | None):
    """json.loads keeps the last of two equal keys; an arch edited by hand that names a decision twice was costed
    or exported with the second value without a word."""
    def build(pairs: list) -> dict:
        seen: dict = {}
        for k, v in pairs:
            if k in seen:
                where = f" {file!r}" if file else ""
                raise ConfigError(f"{what}{where}: key {k!r} appears twice; allowed: each key once")
            seen[k] = v
        return seen
    return build


def resolutions_arg(text: str) -> list[int]:
    try:
        values = [int(r) for r in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise ConfigError(f"--resolutions {text!r} is not allowed; allowed: comma-separated positive integers, "
                          "e.g. 48,64")
    return values


def user_campaign(args) -> tuple[dict, str | None]:
    """The --config file's fields and the plugin to start from. A file with no fields and no --plugin has nothing
    to run; saying the file is empty is more use than the missing field the empty campaign would report."""
    from nasfw.campaign import load_yaml

    user = load_yaml(args.config) if args.config else {}
    plugin = args.plugin or user.get("plugin")
    if args.config and not user and not plugin:
        raise ConfigError(f"campaign file {args.config} is empty; give --plugin NAME to run that plugin's default "
                          "campaign, or write campaign fields (plugin, space, task, objectives, ...) into it")
    return user, plugin


def help_command(parser: argparse.ArgumentParser):
    """The command for a parser whose sub-command was left out: its help, exit status 2."""
    def show(args) -> int:
        parser.print_help()
        return 2
    return show
