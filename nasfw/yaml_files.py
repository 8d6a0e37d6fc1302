"""YAML as the user writes it: campaign files, hardware files, board files, `--set` values.

PyYAML keeps the last of two equal keys without a word (the YAML spec forbids them), so a campaign that says
`budget:` twice, or a boards file with one board named twice, ran on the second and the user never knew which.
The loader here refuses a repeated key where it appears; its error is a YAML error with a position, so every
reader reports it as it reports a syntax error."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from nasfw.errors import ConfigError


class UniqueKeyLoader(yaml.SafeLoader):
    """safe_load's loader with repeated mapping keys refused."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):  # before merge keys (<<) are flattened in: those may be overridden
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base constructor reports it
                    continue
                if first is not None:
                    raise ConstructorError(None, None, f"key {key!r} appears twice (first at line {first.line + 1})",
                                           key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)


def load(text: str) -> Any:
    """yaml.safe_load with repeated keys refused."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def problem(e: yaml.YAMLError) -> str:
    """'at line 3, column 1: key 'budget' appears twice (first at line 2)' (the position where YAML has one)."""
    mark = getattr(e, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{where}: {getattr(e, 'problem', None) or e}"


def read(path: str | Path, what: str) -> Any:
    """A YAML file's content, every way it can fail told as `what` ("campaign file x.yaml") plus what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} does not exist")
    try:
        return load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{what} is not valid YAML{problem(e)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} is not UTF-8 text") from None
