"""The decisions whose value is a list: an ordered selection of distinct items (`Permutation`: a qubit mapping,
a loop order) and a variable number of copies of a body of decisions (`Repeat`: elastic depth). They walk,
encode and validate like the scalar decisions of `nasfw.decisions`, element by element.
"""
from __future__ import annotations

import json
import math
from typing import Any, Sequence

import numpy as np

from nasfw.decisions import Decision, _fail
from nasfw.errors import SpaceError


class Permutation(Decision):
    """An ordered selection of k distinct items out of n (qubit mappings, loop orders).

    With `edges` (pairs of items: a device's coupling map) the space is unchanged, every k-selection stays
    valid, but `sample`, `mutate` and the crossover's repair move along the graph: a sample is a walk (item i+1
    next to item i where it can be), a mutation moves one element to a free item next to the others. A
    uniformly drawn 10-of-16 qubit layout is almost never one that routes cheaply, and evolution that starts
    and moves there rarely finds one (docs/results-quantumnas.md, MNIST-10). Searchers that pick the items step
    by step follow the graph too: the RL controller's walk may take only items next to those placed, and Optuna's
    picks are joined into one piece (`connect`)."""

    kind = "permutation"

    def __init__(self, name: str, items: "int | Sequence[Any]", k: "int | None" = None,
                 edges: "Sequence[Sequence[Any]] | None" = None, when=None):
        super().__init__(name, when)
        if isinstance(items, (int, np.integer)) and not isinstance(items, bool):
            items = list(range(int(items)))
        if not isinstance(items, (list, tuple)) or not items:
            raise SpaceError(f"{name}.items must be a positive count or a non-empty list, got {items!r}")
        self.items = list(items)
        self.k = len(self.items) if k is None else k
        if not isinstance(self.k, int) or not 1 <= self.k <= len(self.items):
            raise SpaceError(f"{name}.k must be an integer in 1..{len(self.items)}, got {k!r}")
        self._index = {json.dumps(o): i for i, o in enumerate(self.items)}
        self.edges, self._adj = self._graph(edges)

    def _graph(self, edges: Any) -> "tuple[list | None, list[list[int]] | None]":
        if edges is None:
            return None, None
        if not isinstance(edges, (list, tuple)):
            raise SpaceError(f"{self.name}.edges = {edges!r}; it must be a list of [item, item] pairs")
        adj: list[set[int]] = [set() for _ in self.items]
        for i, e in enumerate(edges):
            keys = [json.dumps(v) for v in e] if isinstance(e, (list, tuple)) else []
            if len(keys) != 2 or any(k not in self._index for k in keys) or keys[0] == keys[1]:
                raise SpaceError(f"{self.name}.edges[{i}] = {e!r}; each edge must be a pair of two different items "
                                 f"of {self.items!r}")
            a, b = (self._index[k] for k in keys)
            adj[a].add(b)
            adj[b].add(a)
        return [list(e) for e in edges], [sorted(s) for s in adj]

    def _next_to(self, placed: Sequence[int], used: set[int]) -> list[int]:
        return sorted({j for i in placed for j in self._adj[i]} - used)  # type: ignore[index]

    def slots(self, prefix):
        return [(f"{prefix}[{i}]", len(self.items)) for i in range(self.k)]

    def _step_mask(self, placed: list[int]) -> np.ndarray:
        """The items the next step may take: any unused one; with `edges`, the unused ones next to those placed
        (where there are any), so that a walk (the RL controller's) lays the items along the graph as `sample`
        does rather than spreading them over it."""
        mask = np.ones(len(self.items), dtype=bool)
        mask[placed] = False
        if self._adj is not None and placed:
            near = self._next_to(placed, set(placed))
            if near:
                mask[:] = False
                mask[near] = True
        return mask

    def walk(self, choose, prefix):
        placed: list[int] = []
        for i in range(self.k):
            placed.append(int(choose(f"{prefix}[{i}]", len(self.items), self._step_mask(placed))))
        return [self.items[j] for j in placed]

    def steps(self, value, prefix):
        placed: list[int] = []
        res = []
        for i, v in enumerate(value):
            j = self._index[json.dumps(v)]
            mask = self._step_mask(placed)
            mask[j] = True  # a value laid out otherwise (a seed layout, a crossover's child) is still replayed
            res.append((f"{prefix}[{i}]", len(self.items), mask, j))
            placed.append(j)
        return res

    def sample(self, rng):
        if self._adj is None:
            return super().sample(rng)
        n = len(self.items)
        out = [int(rng.integers(n))]
        used = set(out)
        while len(out) < self.k:
            nxt = [j for j in self._adj[out[-1]] if j not in used]  # the walk goes on from the last item
            nxt = nxt or self._next_to(out, used) or sorted(set(range(n)) - used)  # else next to any, else anywhere
            out.append(nxt[int(rng.integers(len(nxt)))])
            used.add(out[-1])
        return [self.items[i] for i in out]

    def mutate(self, value, rng):
        if self._adj is not None:
            return self._mutate_along_edges(value, rng)
        value = list(value)
        unused = [x for x in self.items if x not in value]
        if unused and rng.random() < 0.5:
            value[int(rng.integers(self.k))] = unused[int(rng.integers(len(unused)))]
        elif self.k > 1:
            i, j = rng.choice(self.k, size=2, replace=False)
            value[i], value[j] = value[j], value[i]
        elif unused:
            value[0] = unused[int(rng.integers(len(unused)))]
        return value

    def _mutate_along_edges(self, value: list, rng: np.random.Generator) -> list:
        """Swap two elements, or move one to a free item next to the others (next to itself when k = 1)."""
        idx = [self._index[json.dumps(v)] for v in value]
        i = int(rng.integers(self.k))
        others = idx[:i] + idx[i + 1:]
        cand = self._next_to(others or idx, set(idx))
        if cand and (self.k == 1 or rng.random() < 0.5):
            idx[i] = cand[int(rng.integers(len(cand)))]
        elif self.k > 1:
            j = int(rng.choice([x for x in range(self.k) if x != i]))
            idx[i], idx[j] = idx[j], idx[i]
        return [self.items[j] for j in idx]

    def crossover(self, a, b, rng):
        # position-wise pick, then repair duplicates with unused items (mapping repair of QuantumNAS); along a
        # graph the child is joined into one piece too: two parents from two ends of a 133-qubit device gave a
        # child spread over it, and 11 of 20 such 4-wire children on Torino routed past the noisy evaluator's 12
        return self.repair([a[i] if rng.random() < 0.5 else b[i] for i in range(self.k)], rng)

    def repair(self, value: list, rng: np.random.Generator) -> list:
        """`value` with each duplicate replaced by an unused item (next to the others along a graph), and along a
        graph joined into one piece (`connect`): what a crossover's child and Optuna's picks need alike."""
        seen, out = set(), []
        unused = [x for x in self.items if x not in value]
        rng.shuffle(unused)
        for v in value:
            key = json.dumps(v)
            if key in seen:
                near = [] if self._adj is None else [
                    self.items[j] for j in self._next_to([self._index[k] for k in seen], set())
                    if self.items[j] in unused]
                v = near[int(rng.integers(len(near)))] if near else unused.pop()
                if near:
                    unused.remove(v)
                key = json.dumps(v)
            seen.add(key)
            out.append(v)
        return self.connect(out, rng)

    def connect(self, value: list, rng: np.random.Generator) -> list:
        """`value` with its items made one connected piece of the graph (no-op without `edges`): the largest
        connected group stays where it is and each other element moves, in order, to a free item next to the
        group. For searchers that pick each position on its own (Optuna's TPE over the walk's steps): a
        4-of-133-qubit layout drawn so lies spread over the device, routes through 25 and more qubits and
        cannot be evaluated under the noise."""
        if self._adj is None or self.k == 1:
            return list(value)
        idx = [self._index[json.dumps(v)] for v in value]
        groups: list[set[int]] = []
        for i in idx:  # connected groups of the chosen items, by union over the edges among them
            joined = [g for g in groups if any(j in self._adj[i] for j in g)]
            merged = {i}.union(*joined)
            groups = [g for g in groups if g not in joined] + [merged]
        if len(groups) == 1:
            return list(value)
        keep = max(groups, key=lambda g: (len(g), -min(idx.index(i) for i in g)))  # largest; the earliest on ties
        placed, used = list(keep), set(idx)
        for pos, i in enumerate(idx):
            if i in keep:
                continue
            near = self._next_to(placed, used - {i}) or [i]
            j = near[int(rng.integers(len(near)))] if i not in near else i
            used.discard(i)
            used.add(j)
            placed.append(j)
            idx[pos] = j
        return [self.items[j] for j in idx]

    def validate(self, value, path):
        allowed = f"{self.k} distinct items of {self.items!r}"
        if not isinstance(value, list) or len(value) != self.k:
            raise _fail(path, value, allowed)
        keys = [json.dumps(v) for v in value]
        if any(k not in self._index for k in keys) or len(set(keys)) != len(keys):
            raise _fail(path, value, allowed)

    def width(self):
        return self.k

    def encode(self, value):
        return [float(self._index[json.dumps(v)]) for v in value]

    def decode(self, vec):
        idx = [int(round(v)) for v in vec]
        if any(not 0 <= i < len(self.items) for i in idx) or len(set(idx)) != len(idx):
            raise SpaceError(f"{self.name}: encoded {list(vec)!r} is not {self.k} distinct indices < {len(self.items)}")
        return [self.items[i] for i in idx]

    def count(self):
        return float(math.perm(len(self.items), self.k))

    def to_dict(self):
        d = {**super().to_dict(), "items": self.items, "k": self.k}
        if self.edges is not None:
            d["edges"] = self.edges
        return d


class Repeat(Decision):
    """Between `min` and `max` copies of a body of decisions (elastic depth); absent copies are
    marked NaN in the encoding so every architecture has the same vector length."""

    kind = "repeat"

    def __init__(self, name: str, body: Sequence[Decision], min: int = 1, max: int = 1, when=None):
        super().__init__(name, when)
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (min, max))
        if not ints or not 0 <= min <= max:
            raise SpaceError(f"{name}: need integers 0 <= min <= max, got min={min!r}, max={max!r}")
        from nasfw.space import Space  # a repeat's body is itself a small space

        self.min, self.max = min, max
        self.inner = Space(body, name=name)

    def slots(self, prefix):
        out = [(f"{prefix}.n", self.max - self.min + 1)]
        for i in range(self.max):
            out += self.inner.slots(f"{prefix}[{i}]")
        return out

    def walk(self, choose, prefix):
        n = self.min + choose(f"{prefix}.n", self.max - self.min + 1, None)
        return [self.inner.walk(choose, f"{prefix}[{i}]") for i in range(n)]

    def steps(self, value, prefix):
        res = [(f"{prefix}.n", self.max - self.min + 1, None, len(value) - self.min)]
        for i, item in enumerate(value):
            res += self.inner.steps(item, f"{prefix}[{i}]")
        return res

    def sample(self, rng):
        n = int(rng.integers(self.min, self.max + 1))
        return [self.inner.sample(rng) for _ in range(n)]

    def mutate(self, value, rng, prob: float = 0.0):
        value = [dict(v) for v in value]
        r = rng.random()
        if r < 0.3 and self.max > self.min:  # change the depth
            n = int(rng.integers(self.min, self.max + 1))
            value = value[:n] + [self.inner.sample(rng) for _ in range(n - len(value))]
        elif value:
            i = int(rng.integers(len(value)))
            value[i] = self.inner.mutate(value[i], rng, prob=prob)
        return value

    def crossover(self, a, b, rng):
        n = len(a) if rng.random() < 0.5 else len(b)
        out = []
        for i in range(n):
            if i < len(a) and i < len(b):
                out.append(self.inner.crossover(a[i], b[i], rng))
            else:
                out.append(dict(a[i] if i < len(a) else b[i]))
        return out

    def validate(self, value, path):
        if not isinstance(value, list) or not self.min <= len(value) <= self.max:
            raise _fail(path, value if not isinstance(value, list) else f"<{len(value)} items>",
                        f"a list of {self.min}..{self.max} items")
        for i, item in enumerate(value):
            self.inner.validate(item, f"{path}[{i}]")

    def width(self):
        return 1 + self.max * self.inner.width()

    def encode(self, value):
        w = self.inner.width()
        out = [float(len(value))]
        for i in range(self.max):
            out += self.inner.encode(value[i]).tolist() if i < len(value) else [math.nan] * w
        return out

    def decode(self, vec):
        n, w = int(round(vec[0])), self.inner.width()
        return [self.inner.decode(np.asarray(vec[1 + i * w: 1 + (i + 1) * w])) for i in range(n)]

    def count(self):
        c = self.inner.size()
        return float(sum(c ** n for n in range(self.min, self.max + 1)))

    def to_dict(self):
        return {**Decision.to_dict(self), "min": self.min, "max": self.max, "body": self.inner.to_dict()["decisions"]}
