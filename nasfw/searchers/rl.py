"""Reinforcement-learning searchers: an LSTM controller samples the space's decisions one by one.

REINFORCE with a moving-average baseline follows Zoph & Le (2017) and ENAS; the optional latency-aware
reward is MnasNet's ACC * (LAT/T)^w. The PPO variant (clipped surrogate, several epochs per batch) is
MnasNet's own optimiser. The controller walks the space through `Space.walk`, so conditional decisions,
repeats and permutations (with already-used items masked) are handled by the space, not here.
"""
from __future__ import annotations

import io
import math
from typing import Annotated, Any, Literal

import numpy as np

from nasfw.cost import mnasnet_reward, total_violation
from nasfw.errors import ConfigError, SearcherError
from nasfw.option_types import Bounds, NonNegativeFloat, PositiveFloat, PositiveInt
from nasfw.searchers.base import FAILED, INFEASIBLE, Result, Searcher, check_at_least
from nasfw.space import Arch


def _torch():
    import torch

    return torch


class Controller:
    """LSTM policy over the space's categorical slots: one softmax head and one embedding per slot."""

    def __init__(self, slots: list[tuple[str, int]], hidden: int, seed: int):
        torch = _torch()
        nn = torch.nn
        torch.manual_seed(seed)
        self.index = {key: i for i, (key, _) in enumerate(slots)}
        self.cell = nn.LSTMCell(hidden, hidden)
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.heads = nn.ModuleList([nn.Linear(hidden, n) for _, n in slots])
        self.embeds = nn.ModuleList([nn.Embedding(n, hidden) for _, n in slots])
        for h in self.heads:  # start near-uniform, as ENAS does
            nn.init.uniform_(h.weight, -0.1, 0.1)
            nn.init.zeros_(h.bias)
        self.module = nn.ModuleList([self.cell, self.heads, self.embeds])
        self.params = [self.start, *self.module.parameters()]
        self.hidden = hidden

    def run(self, space, rng: np.random.Generator | None, arch: Arch | None = None):
        """Sample (arch None) or score a given arch; returns (arch, log-prob, entropy) as tensors."""
        torch = _torch()
        state = None
        x = self.start
        logps, ents = [], []
        forced = iter(space.steps(arch)) if arch is not None else None

        def choose(key: str, n: int, mask) -> int:
            nonlocal state, x
            h, c = self.cell(x, state) if state is not None else self.cell(x)
            state = (h, c)
            slot = self.index[key]
            logits = self.heads[slot](h)[0]
            if mask is not None:
                logits = logits.masked_fill(~torch.as_tensor(mask), -1e9)
            logp = torch.log_softmax(logits, -1)
            if forced is not None:
                _, _, _, idx = next(forced)
            else:
                p = logp.detach().exp().numpy().astype(np.float64)
                idx = int(rng.choice(n, p=p / p.sum()))
            logps.append(logp[idx])
            ents.append(-(logp.exp() * logp).sum())
            x = self.embeds[slot](torch.tensor([idx]))
            return idx

        out = space.walk(choose)
        if arch is not None:
            out = arch
        zero = torch.zeros(())
        return out, (torch.stack(logps).sum() if logps else zero), (torch.stack(ents).sum() if ents else zero)


Decay = Annotated[float, Bounds(low=0, high=1, high_open=True)]
Reward = Literal["objective", "mnasnet"]


class Reinforce(Searcher):
    """REINFORCE of an LSTM controller with a moving-average baseline; MnasNet's latency-aware reward."""

    name = "reinforce"
    _state = ("baseline", "reward_var", "worst")

    def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None, *,
                 lr: PositiveFloat = 0.01, hidden: PositiveInt = 64, baseline_decay: Decay = 0.9,
                 entropy_weight: NonNegativeFloat = 1e-4, batch_size: PositiveInt = 1, reward: Reward = "objective",
                 latency_metric: str = "latency_ms", target: float = 0.0, alpha: float = -0.07, beta: float = -0.07):
        super().__init__(space, objectives, constraints, seed, feasible)
        if reward not in ("objective", "mnasnet"):
            raise ConfigError(f"searcher.settings.reward = {reward!r}; allowed: 'objective', 'mnasnet'")
        if reward == "mnasnet" and target <= 0:
            raise ConfigError("searcher.settings.target must be > 0 (the latency target T) when reward = 'mnasnet'")
        if not 0 <= baseline_decay < 1:
            raise ConfigError(f"searcher.settings.baseline_decay = {baseline_decay} must be in [0, 1)")
        # checked here as well as by the hints: a script that builds the searcher itself skips make_searcher,
        # and torch would answer a bad lr from inside Adam and run an LSTM of width 0 without a word
        check_at_least("batch_size", batch_size, 1)
        check_at_least("hidden", hidden, 1)
        check_at_least("entropy_weight", entropy_weight, 0)
        if not lr > 0:
            raise ConfigError(f"searcher.settings.lr = {lr!r} must be > 0")
        self.lr, self.baseline_decay, self.entropy_weight = lr, baseline_decay, entropy_weight
        self.batch_size, self.reward_kind = batch_size, reward
        self.latency_metric, self.target, self.alpha, self.beta = latency_metric, target, alpha, beta
        self.controller = Controller(space.slots(), hidden, seed)
        self.optimizer = _torch().optim.Adam(self.controller.params, lr=lr)
        self.baseline: float | None = None
        self.reward_var = 1.0
        self.worst: float | None = None
        self.batch: list[tuple[Arch, float]] = []
        self._graphs: dict = {}
        self._version = 0

    def _ask(self) -> Arch:
        # keep the sampling graph: if no optimiser step happens before the tell (the sequential case), the
        # update reuses it instead of replaying the controller, which halves the cost of a query
        arch, logp, ent = self.controller.run(self.space, self.rng)
        if len(self._graphs) > 64:
            self._graphs.clear()
        self._graphs[self.space.key(arch)] = (self._version, logp, ent)
        return arch

    def _scored(self, arch: Arch):
        g = self._graphs.pop(self.space.key(arch), None)
        if g is not None and g[0] == self._version:
            return g[1], g[2]
        _, logp, ent = self.controller.run(self.space, None, arch)
        return logp, ent

    def reward(self, result: Result) -> float | None:
        if result.status == FAILED:
            return None
        if result.status == INFEASIBLE or total_violation(self.constraints, result.metrics) > 0 or \
                math.isinf(self.fitness(result)):
            return self.worst  # teach the controller to avoid it, on the scale of what it has seen
        if self.reward_kind == "mnasnet":
            acc = result.metrics[self.objectives[0].metric]
            return mnasnet_reward(acc, result.metrics[self.latency_metric], self.target, self.alpha, self.beta)
        return self.fitness(result)

    def _tell(self, arch: Arch, result: Result) -> None:
        r = self.reward(result)
        if r is None:
            return
        self.worst = r if self.worst is None else min(self.worst, r)
        self.batch.append((arch, r))
        if len(self.batch) >= self.batch_size:
            self._update(self.batch)
            self.batch = []

    def _advantage(self, r: float) -> float:
        if self.baseline is None:
            self.baseline = r
        adv = r - self.baseline
        self.reward_var = self.baseline_decay * self.reward_var + (1 - self.baseline_decay) * adv * adv
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * r
        return adv / math.sqrt(self.reward_var + 1e-8)

    def _update(self, batch: list[tuple[Arch, float]]) -> None:
        torch = _torch()
        loss = torch.zeros(())
        for arch, r in batch:
            adv = self._advantage(r)
            logp, ent = self._scored(arch)
            loss = loss - adv * logp - self.entropy_weight * ent
        self._step(loss / len(batch))
        self._version += 1
        self._graphs.clear()

    def _step(self, loss) -> None:
        """One optimiser step, left out when a gradient is not a finite number. With a large learning rate
        (`lr: 1`) the policy saturates, a probability ratio or a log-probability overflows, and one NaN gradient
        made every weight NaN: the next ask stopped the search with numpy's "Probabilities contain NaN". A step
        that leaves the weights infinite all the same (`lr: 1e308`) is named with the setting that made it."""
        torch = _torch()
        self.optimizer.zero_grad()
        loss.backward()
        if not all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in self.controller.params):
            self.optimizer.zero_grad()
            return
        self.optimizer.step()
        if not all(bool(torch.isfinite(p).all()) for p in self.controller.params):
            raise SearcherError(f"searcher {self.name!r}: an update left the controller's weights infinite; "
                                f"searcher.settings.lr = {self.lr!r} is too large a step (the default is 0.01)")

    def state_dict(self) -> dict[str, Any]:
        torch = _torch()
        s = super().state_dict()
        buf = io.BytesIO()
        torch.save({"controller": self.controller.module.state_dict(), "start": self.controller.start.data,
                    "optimizer": self.optimizer.state_dict()}, buf)
        s["torch"] = buf.getvalue()
        s["batch"] = list(self.batch)
        return s

    def load_state_dict(self, state: dict[str, Any]) -> None:
        torch = _torch()
        super().load_state_dict(state)
        blob = torch.load(io.BytesIO(state["torch"]), weights_only=True)
        self.controller.module.load_state_dict(blob["controller"])
        self.controller.start.data.copy_(blob["start"])
        self.optimizer.load_state_dict(blob["optimizer"])
        self.batch = list(state["batch"])


class PPO(Reinforce):
    """Proximal policy optimisation of the same controller: a batch of samples, several clipped epochs."""

    name = "ppo"

    def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None, *,
                 lr: PositiveFloat = 0.01, hidden: PositiveInt = 64, baseline_decay: Decay = 0.9,
                 entropy_weight: NonNegativeFloat = 1e-4, batch_size: PositiveInt = 8, epochs: PositiveInt = 4,
                 clip: Annotated[float, Bounds(low=0, low_open=True, high=1, high_open=True)] = 0.2,
                 reward: Reward = "objective",
                 latency_metric: str = "latency_ms", target: float = 0.0, alpha: float = -0.07,
                 beta: float = -0.07):
        super().__init__(space, objectives, constraints, seed, feasible, lr=lr, hidden=hidden,
                         baseline_decay=baseline_decay, entropy_weight=entropy_weight, batch_size=batch_size,
                         reward=reward, latency_metric=latency_metric, target=target, alpha=alpha, beta=beta)
        check_at_least("epochs", epochs, 1)
        if not 0 < clip < 1:
            raise ConfigError(f"searcher.settings.clip = {clip!r} must be in (0, 1) (the ratio's clip range)")
        self.epochs, self.clip = epochs, clip

    def _update(self, batch: list[tuple[Arch, float]]) -> None:
        torch = _torch()
        advs = [self._advantage(r) for _, r in batch]
        old = [self._scored(a)[0].detach() for a, _ in batch]
        for _ in range(self.epochs):
            loss = torch.zeros(())
            for (arch, _), adv, old_logp in zip(batch, advs, old):
                _, logp, ent = self.controller.run(self.space, None, arch)
                ratio = torch.exp(logp - old_logp)
                surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - self.clip, 1 + self.clip) * adv)
                loss = loss - surrogate - self.entropy_weight * ent
            self._step(loss / len(batch))
        self._version += 1
        self._graphs.clear()
