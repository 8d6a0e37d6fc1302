"""Which subnets a supernet trains on at each step.

- uniform: `n_subnets` drawn uniformly per step (one: SPOS and QuantumNAS's plain SuperCircuit training;
  four: Once-for-All and MCUNet, whose gradients add up over the subnets of a step).
- sandwich: the largest, the smallest and n random subnets per step (BigNAS / OFA's sandwich rule).
- restricted: consecutive subnets differ in at most `max_changes` decisions (QuantumNAS's restricted
  sampling, which keeps the shared weights from being pulled between very different subnets).
- progressive: a schedule over training progress that widens the sampled space stage by stage
  (progressive shrinking in OFA, progressive block counts in QuantumNAS); each stage restricts some
  decisions to a subset of their options.
"""
from __future__ import annotations

from typing import Any, Literal, Sequence, get_args


from nasfw.errors import ConfigError
from nasfw.space import Arch, Space, as_rng


class UniformSampler:
    def __init__(self, space: Space, seed: int = 0, n_subnets: int = 1, **_: Any):
        if not isinstance(n_subnets, int) or n_subnets < 1:
            raise ConfigError(f"supernet sampling: n_subnets = {n_subnets!r} must be an integer >= 1")
        self.space, self.rng, self.n_subnets = space, as_rng(seed), n_subnets

    def subnets(self, progress: float, supernet: Any = None) -> list[Arch]:
        return [self.space.sample(self.rng) for _ in range(self.n_subnets)]


class SandwichSampler(UniformSampler):
    def __init__(self, space: Space, seed: int = 0, n_random: int = 2, **_: Any):
        super().__init__(space, seed)
        self.n_random = n_random

    def subnets(self, progress: float, supernet: Any = None) -> list[Arch]:
        if supernet is None:
            raise ConfigError("the sandwich rule needs the supernet (for its largest and smallest subnets)")
        return [supernet.largest(), supernet.smallest()] + [self.space.sample(self.rng) for _ in range(self.n_random)]


class RestrictedSampler(UniformSampler):
    def __init__(self, space: Space, seed: int = 0, max_changes: int = 2, **_: Any):
        super().__init__(space, seed)
        if max_changes < 1:
            raise ConfigError(f"restricted sampling: max_changes = {max_changes} must be >= 1")
        self.max_changes = max_changes
        self.last: Arch | None = None

    def subnets(self, progress: float, supernet: Any = None) -> list[Arch]:
        if self.last is None:
            self.last = self.space.sample(self.rng)
            return [self.last]
        cand = self.space.sample(self.rng)
        keys = [k for k in cand if k in self.last and cand[k] != self.last[k]]
        if len(keys) > self.max_changes:  # keep all but `max_changes` of the changed decisions
            keep = set(self.rng.choice(len(keys), size=len(keys) - self.max_changes, replace=False).tolist())
            for i, k in enumerate(keys):
                if i in keep:
                    cand[k] = self.last[k]
            cand = self.space._fix(cand, self.rng)
        self.last = cand
        return [cand]


class ProgressiveSchedule(UniformSampler):
    """`stages`: list of (start_progress in [0,1), {decision: allowed values}); later stages widen. With
    `max_changes`, sampling inside a stage is restricted as well (QuantumNAS's restricted sampling with
    progressive blocks): consecutive subnets differ in at most that many decisions where the stage allows."""

    def __init__(self, space: Space, seed: int = 0, stages: Sequence = (), max_changes: int | None = None,
                 n_subnets: int = 1, **_: Any):
        super().__init__(space, seed, n_subnets)
        self.restricted = RestrictedSampler(space, seed, max_changes) if max_changes else None
        self.stages = sorted([(float(p), dict(r)) for p, r in stages], key=lambda s: s[0])
        for p, r in self.stages:
            for k in r:
                if k not in space._by_name:
                    raise ConfigError(f"progressive schedule restricts {k!r}, which is not a decision of the space")

    def restriction(self, progress: float) -> dict:
        current: dict = {}
        for p, r in self.stages:
            if progress >= p:
                current = r
        return current

    def subnets(self, progress: float, supernet: Any = None) -> list[Arch]:
        out: dict = {}
        for _ in range(self.n_subnets):  # a stage that pins every decision trains its one subnet once
            a = self._one(progress)
            out.setdefault(self.space.key(a), a)
        return list(out.values())

    def _one(self, progress: float) -> Arch:
        allowed = self.restriction(progress)
        ok = lambda a: all(a.get(k) in v for k, v in allowed.items() if k in a)  # noqa: E731
        if self.restricted is not None:
            last = self.restricted.last
            for _ in range(100):
                cand = self.restricted.subnets(progress)[0]
                if ok(cand):
                    return cand
                self.restricted.last = last  # a rejected step: walk on from the last accepted subnet
            self.restricted.last = None  # the stage moved away from the walk: restart it inside the stage
        arch = self._sample_within(allowed)
        if not ok(arch):
            raise ConfigError(f"progressive schedule: no architecture satisfies the restriction {allowed}")
        if self.restricted is not None:
            self.restricted.last = arch
        return arch

    def _sample_within(self, allowed: dict) -> Arch:
        """A uniform draw among the options a stage allows (rejection sampling would almost never hit a stage
        that pins dozens of decisions, such as the largest network's)."""
        def choose(key: str, n: int, mask: Any) -> int:
            idx = [i for i in range(n) if mask is None or mask[i]]
            options = getattr(self.space._by_name.get(key), "options", None)
            if key in allowed and options is not None:
                idx = [i for i in idx if options[i] in allowed[key]] or idx
            return int(idx[int(self.rng.integers(len(idx)))])
        return self.space.walk(choose)


SAMPLERS = {"uniform": UniformSampler, "sandwich": SandwichSampler, "restricted": RestrictedSampler,
            "progressive": ProgressiveSchedule}
# the strategies by name, as a type hint: a phase method typed with it has `sampling: unifrom` refused with the
# allowed names when the campaign is built, not when training starts
SamplerName = Literal["uniform", "sandwich", "restricted", "progressive"]
assert set(get_args(SamplerName)) == set(SAMPLERS)


def check_sampler_options(name: str, options: dict, field: str) -> None:
    """A user's options for sampling rule `name` (a campaign's `phases.supernet.sampling_options`), each a
    parameter of that rule: the samplers take `**_` so that one set of options serves every rule a plugin may
    pick, and so `max_change: 1` (or `n_random` for `uniform`) was dropped without a word."""
    import inspect

    from nasfw.option_types import coerce_option, hints_of

    if name not in SAMPLERS:
        return  # the hint on `sampling` names the rule's own error
    cls = SAMPLERS[name]
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name not in ("self", "space", "seed") and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    allowed = [p.name for p in params]
    hints = hints_of(cls)
    for k, v in options.items():
        if k not in allowed:
            import difflib

            close = difflib.get_close_matches(str(k), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{field}.{k} is not an option of the {name!r} sampling rule{hint}; allowed: "
                              f"{allowed or 'none'}")
        if k in hints:
            coerce_option(v, hints[k], f"{field}.{k}")


def make_sampler(name: str, space: Space, seed: int = 0, **options: Any):
    if name not in SAMPLERS:
        from nasfw.errors import unknown_name

        raise ConfigError(unknown_name("supernet sampling strategy", name, SAMPLERS))
    return SAMPLERS[name](space, seed=seed, **options)


