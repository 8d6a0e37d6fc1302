"""Does weight sharing train in each of the paper's six SuperCircuit spaces? For each `task_options.circuit`, the
default campaign's supernet phase (its epochs, lr, batch size and sampling, overridable with `--set`) trains the
SuperCircuit, then `train.supercircuit_health` scores sampled SubCircuits with inherited weights on the validation
inputs, noise-free, against guessing; with `--scratch-epochs` the space's largest SubCircuit is also trained on its
own from fresh angles, to tell a space that cannot learn the task from shared weights that do not.

    python bench/quantumnas_spaces.py --seeds 0,1 --scratch-epochs 30      # about 6 minutes on 2 cores
    python bench/quantumnas_spaces.py --spaces ibmq_basis,zx_xx --set phases.supernet.epochs=400
    python bench/quantumnas_spaces.py --spaces u3cu3 --budget paper     # the paper's SuperCircuit recipe
"""
from __future__ import annotations

import argparse
import tempfile
import time

from nasfw.api import resolve_campaign
from nasfw.plugins.quantumnas import train as qt
from nasfw.registry import get_registry
from nasfw.runner import build
from nasfw.search_spaces.supercircuit import SPACES

SUPERNET_OPTIONS = ("epochs", "lr", "batch_size", "sampling", "warmup_epochs", "weight_decay")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spaces", default=",".join(SPACES), help="comma-separated task_options.circuit values")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds of the sampled SubCircuits")
    ap.add_argument("--scratch-epochs", type=int, default=0, help="also train the largest SubCircuit alone")
    ap.add_argument("--set", action="append", default=[], help="campaign field=value, as `nasfw search --set`")
    ap.add_argument("--budget", default=None, help="a budget preset of the default campaign (e.g. paper)")
    a = ap.parse_args()
    reg = get_registry()
    print("| space | last epoch's training loss | sampled validation loss | sampled validation accuracy | guessing "
          "| largest alone, from scratch | supernet time |")
    print("|---|---|---|---|---|---|---|")
    for circuit in a.spaces.split(","):
        campaign = resolve_campaign(reg, "quantumnas", budget=a.budget,
                                    sets=[f"task_options.circuit={circuit}", *a.set])
        task = build(campaign, reg).task
        opts = {k: v for k, v in campaign.phases["supernet"].items() if k in SUPERNET_OPTIONS}
        t0 = time.time()
        with tempfile.TemporaryDirectory() as run_dir:
            history = task.train_supernet(run_dir, progress=False, **opts)
        seconds = time.time() - t0
        d = task.data
        health = [qt.supercircuit_health(task.supercircuit, d.valid, d.n_classes, history, seed=int(s))
                  for s in a.seeds.split(",")]
        scratch = "-"
        if a.scratch_epochs:
            sub = task.supercircuit.extract(task.supercircuit.largest())
            sub.reinitialise(task.seed)
            qt.train(sub, d.train, d.n_classes, a.scratch_epochs, lr=opts.get("lr", 5e-2),
                     batch_size=opts.get("batch_size", 256), seed=task.seed)
            scratch = f"{qt.noise_free_metrics(sub, d.valid, d.n_classes)['noise_free_accuracy']:.1%}"
        losses = ", ".join(f"{h['sampled_loss']:.3f}" for h in health)
        accs = ", ".join(f"{h['sampled_accuracy']:.1%}" for h in health)
        print(f"| {circuit} | {history[-1]:.3f} | {losses} | {accs} | {health[0]['guess_loss']:.3f}, "
              f"{health[0]['chance_accuracy']:.0%} | {scratch} | {seconds:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
