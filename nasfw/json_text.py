"""JSON that every reader takes, for the files a run writes (best.json, top.json, pareto.json, summary.json) and
the commands' `--json` output.

Python's json writes an infinite metric (a task of one's own that scores an unbuildable candidate `inf`) as
`Infinity` and NaN as `NaN`, which are not JSON: jq, JavaScript and most parsers refuse the whole document.
They are written as null, as JavaScript's JSON.stringify writes them; the store keeps the value itself."""
from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """`value` with every non-finite float (numpy's too) replaced by None, in nested dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    return json.dumps(finite(value), allow_nan=False, **options)
