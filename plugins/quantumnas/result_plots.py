"""The final tables as pictures: QuantumNAS's rows (searched circuit and baselines) side by side, as the paper
draws them, for the run's report (`nasfw report` copies each figure finalize names into the report folder).

A table holds the figures; a picture shows at a glance what the noise took from each row and whether a gap is
large beside the others: for QML each row's accuracy noise-free, on the torch evaluator and on qiskit-aer, with
its two-qubit gate count; for VQE each row's energy above the exact one, noise-free and under the noise, on a
log scale (the rows span 0.001 to 1,000 mHa)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nasfw.figures import new_figure, save_figure


def plot_qml(report: dict[str, Any], path: Path) -> Path:
    rows = report["rows"]
    n = len(rows)
    fig, ax = new_figure(7.5, 1.6 + 0.42 * n)
    ys = list(range(n))[::-1]  # the table's first row on top
    ax.barh(ys, [r["aer_accuracy"] for r in rows], color="tab:blue", alpha=0.75, label="qiskit-aer, device noise")
    torch_acc = [(y, r["torch_noisy_accuracy"]) for y, r in zip(ys, rows) if r.get("torch_noisy_accuracy") is not None]
    if torch_acc:
        ax.plot([a for _, a in torch_acc], [y for y, _ in torch_acc], "x", color="black", ms=7,
                label="torch, device noise")
    ax.plot([r["noise_free_accuracy"] for r in rows], ys, "o", mfc="none", color="tab:green", ms=7,
            label="noise-free")
    for y, r in zip(ys, rows):
        ax.text(1.01, y, f"{int(r.get('two_qubit_gates', 0))} 2q", va="center", fontsize=8,
                transform=ax.get_yaxis_transform())
    chance = 1 / len(report["classes"])
    ax.axvline(chance, color="gray", ls="--", lw=1, label=f"chance ({chance:.2f})")
    ax.set_yticks(ys, [r["name"] for r in rows], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("test accuracy")
    ax.set_title(f"QuantumNAS on {report['device']}: classes {report['classes']}, {report['test_samples']} test "
                 f"inputs, {report['shots']} shots", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.5 / n - 0.12), ncol=4, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def plot_vqe(report: dict[str, Any], path: Path) -> Path:
    rows = report["rows"]
    n = len(rows)
    exact = report["exact"]
    fig, ax = new_figure(7.5, 1.7 + 0.5 * n)
    ys = list(range(n))[::-1]
    floor = 1e-3  # mHa: an error below it (UCCSD noise-free) is drawn at it, the log axis' left edge

    def above(e: float | None) -> float | None:
        return None if e is None else max(floor, 1000 * (e - exact))
    noisy = [(y, above(r.get("aer_noisy_energy"))) for y, r in zip(ys, rows)]
    ax.barh([y for y, e in noisy if e is not None], [e for _, e in noisy if e is not None], color="tab:blue",
            alpha=0.75, label="qiskit-aer, device noise")
    ax.plot([above(r["noise_free_energy"]) for r in rows], ys, "o", mfc="none", color="tab:green", ms=7,
            label="noise-free")
    hf = 1000 * (report["hartree_fock"] - exact)
    if hf > floor:
        ax.axvline(hf, color="gray", ls="--", lw=1, label=f"Hartree-Fock ({hf:.3g} mHa)")
    ax.axvline(1.6, color="tab:red", ls=":", lw=1, label="chemical accuracy (1.6 mHa)")
    ax.set_xscale("log")
    ax.set_xlim(left=floor)
    ax.set_yticks(ys, [r["name"] for r in rows], fontsize=8)
    ax.set_xlabel("energy above the exact one (mHa)")
    ax.set_title(f"VQE on {report['device']}: exact {exact:.6f} Ha", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.5 / n - 0.12), ncol=4, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)
