"""A throwaway plugin loaded with --plugins-dir by the tests: a small mixed space and a synthetic task whose
evaluation can be slowed down, made to fail, to return NaN or to hang, to exercise the engine."""
import math
import time

from nasfw import Choice, Float, IntRange, Permutation, Repeat, Space, Tie, hookimpl


def toy_space():
    return Space([
        Choice("op", ["a", "b", "c"]),
        IntRange("width", 8, 64, step=8),
        Tie("width_out", of="width"),
        Float("lr", 1e-3, 1e-1, log=True),
        Permutation("mapping", 5, k=3),
        Repeat("blocks", [Choice("k", [3, 5, 7]), IntRange("e", 1, 6)], min=1, max=3),
        Choice("se", [0, 1], when={"op": ["b"]}),
    ], name="toy")


class ToyTask:
    def __init__(self, sleep: float = 0.0, fail_op: str = "", nan_op: str = "", hang_op: str = "",
                 flaky: bool = False, die_op: str = "", shared_mb: float = 0.0, qiskit_circuit: bool = False,
                 setup_sleep: float = 0.0, score_scale: float = 1.0, score_offset: float = 0.0,
                 slow_op: str = "", slow_s: float = 0.0, shared_array_mb: float = 0.0):
        time.sleep(setup_sleep)  # a task that takes a while to build (a dataset, a device's calibration)
        self.sleep, self.fail_op, self.nan_op, self.hang_op, self.flaky = sleep, fail_op, nan_op, hang_op, flaky
        self.attempts = {}
        self.die_op = die_op
        self.shared_mb, self.shared_array_mb = shared_mb, shared_array_mb
        self.qiskit_circuit = qiskit_circuit
        self.keep = []
        self.shared = None
        self.trained = None
        self.score_scale, self.score_offset = score_scale, score_offset  # scores far apart, or a hair apart
        self.slow_op, self.slow_s = slow_op, slow_s  # some evaluations take longer: workers finish out of order

    def train_supernet(self, run_dir, epochs: int = 1, sleep_s: float = 0.0, progress: bool = True):
        """Stands in for weight-sharing training: leaves a trace in the run folder per call, and shows a bar over
        its `sleep_s` as a real training does over its epochs."""
        from nasfw.progress import progress_bar

        bar = progress_bar(epochs, "toy supernet", progress)
        for _ in range(epochs):
            time.sleep(sleep_s / epochs)
            bar.update(1)
        bar.close()
        f = run_dir / "supernet.txt"
        n = int(f.read_text()) if f.exists() else 0
        f.write_text(str(n + epochs))
        self.trained = epochs

    def shared_state(self):
        """Stands in for supernet weights: a blob every evaluation needs."""
        if not self.shared_mb:
            return None
        state = {"weights": bytes(int(self.shared_mb * 2**20)), "trained": self.trained}
        if self.shared_array_mb:  # a dataset held in memory, e.g. images
            import numpy as np

            state["images"] = np.arange(int(self.shared_array_mb * 2**20) // 4, dtype=np.float32)
        return state

    def use_shared_state(self, state):
        self.shared = state

    def evaluate(self, arch):
        time.sleep(self.sleep + (self.slow_s if arch["op"] == self.slow_op else 0.0))
        key = repr(sorted(arch.items()))
        self.attempts[key] = self.attempts.get(key, 0) + 1
        if self.flaky and self.attempts[key] == 1:
            raise ConnectionError("transient failure on the first attempt")
        if self.fail_op in (arch["op"], "*"):  # "*": every evaluation fails
            raise RuntimeError("toy evaluation failed on purpose")
        if arch["op"] == self.die_op:
            import os

            os._exit(3)  # the worker process dies, as under the OOM killer
        if arch["op"] == self.hang_op:
            time.sleep(3600)
        score = arch["width"] / 64 + sum(b["k"] * b["e"] for b in arch["blocks"]) / 60 - abs(math.log10(arch["lr"]) + 2)
        score = self.score_offset + self.score_scale * score
        out = {"score": float("nan") if arch["op"] == self.nan_op else score,
               "size": arch["width"] * len(arch["blocks"])}
        if self.qiskit_circuit:  # what a QuantumNAS evaluation does first: a circuit with free input angles
            import threading

            from qiskit import QuantumCircuit
            from qiskit.circuit import ParameterVector

            x = ParameterVector("x", 16)
            qc = QuantumCircuit(4)
            for i in range(4):
                qc.ry(x[i], i)
            self.keep.append(qc)  # as the plugin's caches keep the compiled circuits and fake devices
            out["main_thread"] = float(threading.current_thread() is threading.main_thread())
        if self.shared is not None:
            out["shared_mb"] = len(self.shared["weights"]) / 2**20
            out["shared_trained"] = float(self.shared["trained"] or 0)
            if "images" in self.shared:
                import numpy as np

                images = self.shared["images"]
                out["images_mapped"] = float(isinstance(images, np.memmap))
                out["images_sum"] = float(images[:: 2**16].sum())
        return out


class ToySize:
    name = "toy-size"
    cheap = True

    def evaluate(self, arch):
        return {"size": float(arch["width"] * len(arch["blocks"]))}


@hookimpl
def nasfw_register_search_spaces(register):
    register("toy", toy_space, "mixed toy space")


@hookimpl
def nasfw_register_tasks(register):
    register("toy", ToyTask, "synthetic score")


@hookimpl
def nasfw_register_cost_models(register):
    register("toy-size", ToySize, "width x depth", cheap=True)
    register("toy-board", ToyBoard, "a board described by a hardware file", cheap=True)


@hookimpl
def nasfw_register_campaigns(register):
    register("toy", {"plugin": "toy", "space": "toy", "task": "toy", "objectives": [{"metric": "score"}],
                     "searcher": "evolution", "budget": 30, "out": "runs/toy"})


class ToyBoard:
    """A device-like cost model whose factory needs fields (as a microcontroller's SRAM and Flash)."""

    name = "toy-board"
    cheap = True

    def __init__(self, sram_kb: float, flash_kb: float, clock_mhz: float = 100.0):
        self.sram_kb, self.flash_kb, self.clock_mhz = sram_kb, flash_kb, clock_mhz

    def evaluate(self, arch):
        act = arch["width"] * max(b["e"] for b in arch["blocks"]) / 4
        return {"peak_sram_kb": act, "sram_fraction": act / self.sram_kb}
