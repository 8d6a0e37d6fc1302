"""Benchmark plugin (loaded with --plugins-dir bench/plugins): a flat 20 x 5 categorical space and an
objective that costs nothing or a fixed amount of CPU time, to measure the engine rather than a model."""
import time

from nasfw import Choice, Space, hookimpl


def spin(seconds: float) -> float:
    t0, x = time.process_time(), 0.0
    while time.process_time() - t0 < seconds:
        for i in range(1000):
            x += i * 1e-9
    return x


class SpinTask:
    def __init__(self, seconds: float = 0.0, spread: float = 0.0):
        """`spread` makes the cost uneven: each architecture costs seconds * (1 + spread * u), u in [-1, 1] fixed
        by the architecture, as evaluations of real candidates differ (deeper circuits, larger networks)."""
        self.seconds, self.spread = seconds, spread

    def evaluate(self, arch):
        if self.seconds:
            u = (sum((i + 1) * v for i, v in enumerate(arch.values())) % 21) / 10 - 1
            spin(self.seconds * (1 + self.spread * u))
        return {"score": float(sum(arch.values()))}


@hookimpl
def nasfw_register_search_spaces(register):
    register("flat", lambda: Space([Choice(f"d{i}", list(range(5))) for i in range(20)], name="flat"))


@hookimpl
def nasfw_register_tasks(register):
    register("spin", SpinTask, "zero-cost or fixed-CPU-cost objective")
