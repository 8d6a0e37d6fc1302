#!/usr/bin/env bash
# Builds the benchmark environment in which torchquantum 0.1.8 (the library QuantumNAS users know) runs, so
# that bench/quantum_sim.py can time it beside nasfw's simulator and qiskit-aer in the same run.
#
# torchquantum 0.1.8 is not a nasfw dependency: it requires qiskit<1.0, which pip cannot install beside the
# qiskit-aer nasfw uses. Here it gets its own virtual environment with the last qiskit it supports (0.46) and
# the CPU torch nasfw pins. Its other declared dependencies (tensorflow, nbsphinx, sphinx, ...) are left out:
# importing torchquantum does not need them. setuptools stays below 81 for the pkg_resources that
# qiskit-ibm-runtime 0.20 imports. torchvision is replaced by an import-only stand-in
# (bench/envs/torchvision_standin): PyPI's wheel fails to load beside a CPU torch, and the benchmark uses no
# torchvision function. torchquantum's own code is installed unmodified.
#
#   bash bench/envs/torchquantum.sh [DIR]      # default DIR: .bench-envs/torchquantum (git-ignored)
#   python bench/quantum_sim.py --torchquantum DIR/bin/python
set -euo pipefail
cd "$(dirname "$0")/../.."
dir="${1:-.bench-envs/torchquantum}"

python3 -m venv "$dir"
py="$dir/bin/python"
"$py" -m pip install -q --upgrade pip
"$py" -m pip install -q torch==2.13.0      # the CPU wheel; never a CUDA build
"$py" -m pip install -q --no-deps torchquantum==0.1.8 torchpack==0.3.1
"$py" -m pip install -q torch==2.13.0 "numpy<2" "setuptools>=77,<81" qiskit==0.46.3 qiskit-aer==0.13.3 \
    qiskit-ibm-runtime==0.20.0 dill==0.3.4 matplotlib pathos pylatexenc opt-einsum torchdiffeq scipy tqdm \
    pyyaml loguru multimethod tensorpack h5py toml tensorboard
site="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
rm -rf "$site/torchvision"
cp -r bench/envs/torchvision_standin/torchvision "$site/torchvision"
"$py" -c 'import torch, torchquantum as tq; print("torchquantum", tq.__version__, "on torch", torch.__version__)'
echo "environment ready: $py"
