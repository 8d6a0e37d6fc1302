"""A user's accelerator as YAML (NAAS's baseline, the resources it searches within): every field checked before
the simulator reads it.

The fields went into the `Accelerator` as written: `glb_bytes: big` failed deep inside the first layer's energy
sum, `array: 168` as "'int' object is not iterable", and worse, `costs: {dramm: 100}` (a misspelt DRAM energy)
was merged with the defaults and ignored, `rf_words: -3` or `pj_scale: x` were taken, and an `rf_words` mapping
without a tensor gave that tensor a zero-word scratchpad, so every mapping that put it there was infeasible."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nasfw import yaml_files
from nasfw.errors import ConfigError, unknown_name
from nasfw.option_types import PositiveFloat, PositiveInt, coerce_option

REQUIRED = ("array", "rf_words", "glb_bytes")


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def read_accelerator_file(path: str | Path, tensors: tuple[str, ...], costs: dict[str, float],
                          fields: tuple[str, ...]) -> dict[str, Any]:
    """The `Accelerator` keyword arguments of a checked file: `tensors` are the simulator's (W, I, O), `costs` its
    default energies per access (a file's `costs` replaces some of them), `fields` the dataclass's fields."""
    p = Path(path)
    where = f"accelerator file {p.name}"
    raw = yaml_files.read(p, where)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must hold a mapping (name, array, rf_words, glb_bytes, ...)")
    for key in raw:
        if key not in fields:
            raise ConfigError(f"{where}: " + unknown_name("field", key, fields))
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}; e.g. array: [12, 14], rf_words: {{W: 224, I: 12, "
                          "O: 24}, glb_bytes: 110592 (Eyeriss v1)")

    def refuse(field: str, allowed: str) -> ConfigError:
        return ConfigError(f"{where}: {field} = {raw[field]!r} is not allowed; allowed: {allowed}")

    out = dict(raw)
    out.setdefault("name", p.stem)
    if not isinstance(out["name"], str) or not out["name"].strip():
        raise refuse("name", "a non-empty string")
    array = raw["array"]
    if not isinstance(array, list) or not 1 <= len(array) <= 3 or not all(_positive_int(a) for a in array):
        raise refuse("array", "a list of 1 to 3 PE counts (integers >= 1), e.g. [12, 14]")
    out["array"] = tuple(array)
    rf = raw["rf_words"]
    if isinstance(rf, dict):
        for t in rf:
            if t not in tensors:
                raise ConfigError(f"{where}: " + unknown_name("rf_words tensor", t, tensors))
        if set(rf) != set(tensors) or not all(_positive_int(v) for v in rf.values()):
            raise refuse("rf_words", f"a scratchpad's words (integer >= 1) for each of {', '.join(tensors)}, or "
                                     "one number for a shared register file")
    elif not _positive_int(rf):
        raise refuse("rf_words", "words per PE (an integer >= 1) for a shared register file, or a mapping "
                                 f"{{{': .., '.join(tensors)}: ..}} of per-tensor scratchpads")
    for field, hint in (("glb_bytes", PositiveInt), ("word_bytes", PositiveInt), ("noc_words_per_cycle", PositiveFloat),
                        ("dram_words_per_cycle", PositiveFloat), ("pj_scale", PositiveFloat)):
        if field in raw:  # as option hints are checked everywhere (YAML's `1e3` text read as the number too)
            out[field] = coerce_option(raw[field], hint, f"{where}: {field}")
    if "glb_tensors" in raw:
        g = raw["glb_tensors"]
        if not isinstance(g, list) or not all(t in tensors for t in g) or len(set(g)) != len(g):
            raise refuse("glb_tensors", f"a list of the tensors the global buffer holds, each of {', '.join(tensors)} "
                                        "once (Eyeriss v1: [I, O])")
        out["glb_tensors"] = tuple(g)
    if "costs" in raw:
        c = raw["costs"]
        if not isinstance(c, dict):
            raise refuse("costs", f"a mapping of access kind ({', '.join(costs)}) to its energy, relative to a MAC")
        for k, v in c.items():
            if k not in costs:
                raise ConfigError(f"{where}: " + unknown_name("costs entry", k, costs))
            if not (_number(v) and v >= 0):
                raise ConfigError(f"{where}: costs.{k} = {v!r} is not allowed; allowed: a number >= 0 (energy per "
                                  "access relative to a MAC)")
        out["costs"] = {**costs, **c}
    return out
