"""Engine overhead per evaluation (ask + dedup + tell + SQLite store write, through the real campaign runner)
on a zero-cost objective, beside Optuna's own ask/tell overhead (in-memory storage) on the same space, in
the same run.

    python bench/overhead.py --sizes 1000,10000 --out docs/bench_overhead.md
"""
from __future__ import annotations

import argparse
import tempfile
import time
import types

N_DECISIONS, N_OPTIONS = 20, 5


def zero_cost_plugin():
    from nasfw import Choice, Space, hookimpl

    class Task:
        def evaluate(self, arch):
            return {"score": float(sum(arch.values()))}

    mod = types.SimpleNamespace()

    @hookimpl
    def nasfw_register_search_spaces(register):
        register("flat", lambda: Space([Choice(f"d{i}", list(range(N_OPTIONS))) for i in range(N_DECISIONS)]))

    @hookimpl
    def nasfw_register_tasks(register):
        register("zero", Task)

    mod.nasfw_register_search_spaces = nasfw_register_search_spaces
    mod.nasfw_register_tasks = nasfw_register_tasks
    return mod


def run_nasfw(searcher: str, n: int, settings: dict | None = None) -> float:
    from nasfw.campaign import parse
    from nasfw.registry import Registry
    from nasfw.runner import run_campaign

    reg = Registry()
    reg.add_plugin(zero_cost_plugin(), "overhead-bench")
    with tempfile.TemporaryDirectory() as d:
        c = parse({"space": "flat", "task": "zero", "objectives": ["score"],
                   "searcher": {"name": searcher, "settings": settings or {}}, "budget": n, "out": d + "/run",
                   "evaluation": {"checkpoint_every_s": 30}})
        t0 = time.perf_counter()
        s = run_campaign(c, reg, progress=False)
        dt = time.perf_counter() - t0
        assert s["evaluations"] == s["ok"] == n, s
    return dt / n * 1e3


MARGINAL = 200  # evaluations timed at the end of a prefilled study


def run_optuna(sampler: str, n: int, prefill_above: int) -> float:
    """Mean ms per ask+suggest+tell over n trials; above `prefill_above` trials (TPE's ask is linear in the
    study's size, so 10k full trials take most of an hour), the study is prefilled with n - 200 random
    completed trials and the last 200 are timed: the marginal cost at that size, which is what the average
    of a full run would approach."""
    import numpy as np
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    smp = optuna.samplers.TPESampler(seed=0) if sampler == "tpe" else optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(direction="maximize", sampler=smp)
    timed = n
    if n > prefill_above:
        dist = optuna.distributions.CategoricalDistribution(list(range(N_OPTIONS)))
        rng = np.random.default_rng(0)
        trials = []
        for _ in range(n - MARGINAL):
            params = {f"d{i}": int(rng.integers(N_OPTIONS)) for i in range(N_DECISIONS)}
            trials.append(optuna.trial.create_trial(params=params, distributions={k: dist for k in params},
                                                    value=float(sum(params.values()))))
        study.add_trials(trials)
        timed = MARGINAL
    t0 = time.perf_counter()
    for _ in range(timed):
        t = study.ask()
        v = sum(t.suggest_categorical(f"d{i}", list(range(N_OPTIONS))) for i in range(N_DECISIONS))
        study.tell(t, float(v))
    return (time.perf_counter() - t0) / timed * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--out")
    ap.add_argument("--prefill-above", type=int, default=2000,
                    help="Optuna rows above this size time the last 200 asks of a prefilled study")
    ap.add_argument("--bayes-max", type=int, default=2000, help="largest run of nasfw's bayes searcher")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    rows = [("nasfw random", lambda n: run_nasfw("random", n)),
            ("nasfw evolution", lambda n: run_nasfw("evolution", n, {"population_size": 50, "sample_size": 10})),
            ("nasfw nsga2", lambda n: run_nasfw("nsga2", n, {"population_size": 50})),
            ("nasfw bayes (Optuna TPE inside)", lambda n: run_nasfw("bayes", n)),
            ("Optuna RandomSampler ask/tell", lambda n: run_optuna("random", n, a.prefill_above)),
            ("Optuna TPESampler ask/tell", lambda n: run_optuna("tpe", n, a.prefill_above))]
    res: dict[str, dict[int, float]] = {}
    for name, fn in rows:
        for n in sizes:
            if name.startswith("nasfw bayes") and n > a.bayes_max:
                continue
            res.setdefault(name, {})[n] = fn(n)
            print(f"{name:36s} n={n:6d}  {res[name][n]:8.3f} ms/eval", flush=True)
    tpe = res.get("Optuna TPESampler ask/tell", {})
    lines = [f"Zero-cost objective, {N_DECISIONS} categorical decisions x {N_OPTIONS} options; ms per evaluation "
             "(nasfw: ask + dedup + tell + SQLite commit through the campaign runner; Optuna: ask + suggest + tell, "
             "in-memory storage; above " + str(a.prefill_above) + " trials the marginal cost of the last 200 asks of a "
             "prefilled study)", "",
             "| what | " + " | ".join(f"{n} evals (ms)" for n in sizes) + " | " +
             " | ".join(f"ratio to Optuna TPE @{n}" for n in sizes) + " |", "|" + "---|" * (1 + 2 * len(sizes))]
    for name, _ in rows:
        if name not in res:
            continue
        vals = [f"{res[name][n]:.3f}" if n in res[name] else "-" for n in sizes]
        ratios = [f"{res[name][n] / tpe[n]:.3f}" if n in res[name] and n in tpe else "-" for n in sizes]
        lines.append(f"| {name} | " + " | ".join(vals) + " | " + " | ".join(ratios) + " |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
