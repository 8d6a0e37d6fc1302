"""Molecular Hamiltonians for VQE: pyscf's restricted Hartree-Fock integrals, an active space, and
openfermion's Jordan-Wigner mapping to a sum of Pauli strings; exact diagonalisation as the reference.

The molecules of the QuantumNAS paper come as presets (geometry in Angstrom, basis, active space); any other
is given in the campaign as {geometry: [[atom, [x, y, z]], ...] (or pyscf's text, "H 0 0 0; H 0 0 0.7414"),
basis, charge, spin, active: {occupied: [...], active: [...]}} with spatial-orbital indices. `spin` is pyscf's
2S (unpaired electrons): it picks the Hartree-Fock reference (restricted open-shell when non-zero) the circuits start
from; it must be the ground state's (see `exact_energy`)."""
from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nasfw.errors import ConfigError
from nasfw.plugins.quantumnas.molecule_spec import PRESETS, active_space, molecule_spec  # noqa: F401 (re-exported)


@dataclass
class Hamiltonian:
    terms: list[tuple[float, str]]  # (coefficient, Pauli string over the qubits, qubit 0 first), no identity
    constant: float                  # the identity term (nuclear repulsion, core energy)
    n_qubits: int
    exact: float                     # ground-state energy of the qubit Hamiltonian (exact diagonalisation)
    hf: float                        # Hartree-Fock energy
    n_electrons: int                 # electrons in the active space
    spin: int = 0                    # 2S = N_alpha - N_beta, pyscf's `spin`

    def matrix(self, constant: bool = True, sparse: bool = False):
        """The 2^n x 2^n matrix, qubit 0 the most significant bit (qiskit's label order, unreversed): dense, or with
        `sparse` a scipy CSR matrix (at 16 qubits N2's holds 14 M of 4.3 G entries, 270 MB).

        `constant=False` leaves out the identity term: for H2O it is -73 Ha, and carried through a single-precision
        state it costs more than the 0.01 mHa this plugin reports."""
        import scipy.sparse
        from qiskit.quantum_info import SparsePauliOp

        m = SparsePauliOp.from_list([(s, c) for c, s in self.terms]).to_matrix(sparse=sparse)
        if constant:
            eye = scipy.sparse.identity(2 ** self.n_qubits, format="csr") if sparse else np.eye(2 ** self.n_qubits)
            m = m + self.constant * eye
        return m


def _degenerate_split(energies: np.ndarray, occ: list[int], act: list[int], tol: float = 1e-5) -> str | None:
    """Orbitals of equal energy that the active space puts in different groups (frozen core, active, left
    out): pyscf may return any rotation within a degenerate set, so such a split gives a Hamiltonian, and an
    exact energy, that change from run to run."""
    group = {i: "frozen" for i in occ} | {i: "active" for i in act}
    for i in range(len(energies)):
        for j in range(i + 1, len(energies)):
            if abs(energies[i] - energies[j]) < tol and group.get(i, "left out") != group.get(j, "left out"):
                return (f"orbitals {i} and {j} are degenerate ({energies[i]:.6f} Ha) but {i} is "
                        f"{group.get(i, 'left out')} and {j} is {group.get(j, 'left out')}")
    return None


def canonical_orbitals(coeff: np.ndarray, energies: np.ndarray, occupations: np.ndarray,
                       tol: float = 1e-5) -> np.ndarray:
    """The MO coefficients with every degenerate set (equal energy and occupation) rotated to one fixed basis.

    pyscf returns any orthonormal basis of a degenerate set, and which one changes from process to process (N2's pi
    pairs: four coefficients of the qubit Hamiltonian changed sign and others moved by 0.07 Ha between two builds
    of the same molecule), so the same seed trained and searched on another Hamiltonian each time. Within a set,
    the basis that diagonalises a fixed, generic diagonal operator D over the atomic orbitals (C^T D C) is unique
    up to signs whatever rotation came in; each orbital's sign is then fixed by its first coefficient of
    significant size. A rotation within a set of equal energy and occupation leaves the Fock operator, the
    Hartree-Fock state and the spectrum as they were."""
    c = np.array(coeff, dtype=float, copy=True)
    e, occ = np.asarray(energies), np.asarray(occupations)
    weights = np.sqrt(np.arange(1.0, c.shape[0] + 1.0))  # distinct for every AO, so C^T D C has distinct eigenvalues
    i = 0
    while i < len(e):
        j = i + 1
        while j < len(e) and abs(e[j] - e[i]) < tol and occ[j] == occ[i]:
            j += 1
        if j - i > 1:
            block = c[:, i:j]
            _, rot = np.linalg.eigh(block.T @ (weights[:, None] * block))
            c[:, i:j] = block @ rot
        for k in range(i, j):
            col = c[:, k]
            first = col[np.flatnonzero(np.abs(col) > 1e-3 * np.abs(col).max())[0]]
            if first < 0:
                c[:, k] = -col
        i = j
    return c


MIN_DISTANCE_A = 0.2  # closer than any bond (H2's is 0.74 A): a typo in a coordinate, not a molecule


def _check_distances(mol) -> None:
    """Two atoms on top of each other make the overlap matrix singular deep inside pyscf's Hartree-Fock."""
    xyz = mol.atom_coords(unit="Angstrom")
    for i in range(len(xyz)):
        for j in range(i):
            d = float(np.linalg.norm(xyz[i] - xyz[j]))
            if d < MIN_DISTANCE_A:
                raise ConfigError(f"task_options.molecule.geometry: atoms {j} ({mol.atom_symbol(j)}) and {i} "
                                  f"({mol.atom_symbol(i)}) are {d:.3f} A apart; allowed: at least {MIN_DISTANCE_A} A")


def _molecule(spec: dict):
    """pyscf's molecule of a checked spec, its spin left for `build` to check against the electron count."""
    from pyscf import gto

    try:
        with warnings.catch_warnings():  # pyscf warns before it raises (e.g. "try basis-set-exchange")
            warnings.simplefilter("ignore")
            return gto.M(atom=spec["geometry"], basis=spec.get("basis", "sto-3g"),
                         charge=spec.get("charge", 0), spin=None, unit="Angstrom", verbose=0)
    except Exception as e:  # pyscf reports bad atoms/bases with assorted exception types
        raise ConfigError(f"task_options.molecule: pyscf cannot build {spec}: {' '.join(str(e).split())}") from None


def qubit_count(molecule: str | dict) -> int:
    """The qubits of the molecule's Hamiltonian (two per active spatial orbital) without Hartree-Fock: when a
    campaign is resolved, the VQE space takes its wire count from it."""
    spec = molecule_spec(molecule)
    if spec.get("active") is not None and "active" in spec["active"]:
        return 2 * len(active_space(spec["active"])[1])
    try:
        import pyscf  # noqa: F401
    except ImportError:
        raise ConfigError("VQE needs pyscf and openfermion: pip install 'nasfw[quantum]'") from None
    return 2 * int(_molecule(spec).nao_nr())


# Every process that builds the task holds the Hamiltonian as a sparse matrix (N2 at 16 qubits: 270 MB) and
# finds the exact energy in the molecule's electron-count sector of it. As a dense matrix (before) it peaked at
# 1.0 GB at 12 qubits and 8.9 GB at 14 (a driver and two workers: 27 GB), and N2 without an active space (20
# qubits) was killed for memory before any message; at 18 the sparse matrix alone would be about 1.5 GB per
# process, and UCCSD's and the SuperCircuit's training take minutes per start already at 16.
MAX_QUBITS = 16
SIZE_LIMIT = f"VQE stops at {MAX_QUBITS} (its Hamiltonian is a {MAX_QUBITS}-qubit sparse matrix in every process)"


def suggest_active(mf, n_electrons: int, spin: int, orbitals: int = MAX_QUBITS // 2) -> str:
    """An active space of at most `orbitals` orbitals around the Fermi level that keeps degenerate sets whole (as
    `build` requires), in the campaign's own notation: the lowest orbitals frozen, the next ones active."""
    energies, n, filled = np.asarray(mf.mo_energy), len(mf.mo_energy), np.asarray(mf.mo_occ)
    doubly = (n_electrons - spin) // 2
    for k in range(min(orbitals, n), 0, -1):
        for shift in (0, 1, -1, 2, -2):
            core = min(max(doubly - k // 2 + shift, 0), n - k)
            occ, act = list(range(core)), list(range(core, core + k))
            n_el = n_electrons - 2 * core
            as_filled = all(filled[i] == 2 for i in occ) and not filled[core + k:].any()  # as build checks them
            if 0 < n_el < 2 * k and spin <= min(n_el, 2 * k - n_el) and as_filled and \
                    not _degenerate_split(energies, occ, act):
                return f"{{occupied: {occ}, active: {act}}}"
    return "{occupied: [...], active: [...]}"


def hartree_fock(spec: dict):
    """pyscf's molecule and its (restricted, open-shell where `spin` > 0) Hartree-Fock, the spin checked against
    the electron count. Cheap next to the Hamiltonian: milliseconds for the molecules VQE can hold."""
    from pyscf import scf

    mol = _molecule(spec)
    spin, n = spec.get("spin", 0), mol.nelectron
    if n < 1:
        raise ConfigError(f"task_options.molecule.charge = {mol.charge} leaves {n} electrons; allowed: at most "
                          f"{mol.charge + n - 1}")
    if spin % 2 != n % 2 or spin > n:
        raise ConfigError(f"task_options.molecule.spin = {spin}: the molecule has {_count(n, 'electron')} (charge "
                          f"{mol.charge}); allowed: {', '.join(map(str, range(n % 2, n + 1, 2)))} (2S = unpaired "
                          "electrons, not 2S+1)")
    mol.spin = spin
    mol.build()
    _check_distances(mol)
    try:
        return mol, scf.RHF(mol).run()
    except np.linalg.LinAlgError as e:
        raise ConfigError(f"task_options.molecule: Hartree-Fock failed on {spec}: {e}") from None


def _check_occupation(mf, occ: list[int], act: list[int], given: dict) -> None:
    """The active space against Hartree-Fock's occupations. The reduction counts every frozen orbital as doubly
    occupied and puts all other electrons in the active orbitals, so freezing an empty orbital, or leaving an
    occupied one out of both lists, changed the electron count without a word (H2 with `occupied: [0], active: [1]`
    got 0 electrons); and an active space with no electrons, or full, has nothing to correlate."""
    n, filled = len(mf.mo_occ), np.asarray(mf.mo_occ)
    if any(i >= n for i in occ + act):
        raise ConfigError(f"task_options.molecule.active = {given}: orbital {max(occ + act)} does not exist; "
                          f"allowed: indices 0..{n - 1} (the molecule has {n} orbitals in this basis)")
    core = [i for i in range(n) if filled[i] == 2]
    full = np.flatnonzero(filled > 0)
    where = f"Hartree-Fock fills orbital{'s' if len(full) > 1 else ''} {_ranges(full)}"
    for i in occ:
        if filled[i] != 2:
            held = _count(int(filled[i]), "electron")
            raise ConfigError(f"task_options.molecule.active.occupied: orbital {i} holds {held} in Hartree-Fock; "
                              f"the frozen core takes doubly occupied orbitals ({_ranges(core)})")
    left = [i for i in full if i not in occ and i not in act]
    if left:
        it = "it" if len(left) == 1 else "each"
        raise ConfigError(f"task_options.molecule.active: orbital{'s' if len(left) > 1 else ''} {_ranges(left)} "
                          f"{'is' if len(left) == 1 else 'are'} occupied in Hartree-Fock but neither occupied (frozen) "
                          f"nor active, so the electrons would be moved into the active orbitals; {where}: put {it} "
                          "in one of the two")
    n_el = int(round(filled[act].sum()))
    if n_el == 0 or n_el == 2 * len(act):
        state = "no electrons" if n_el == 0 else "only doubly occupied orbitals"
        example = suggest_active(mf, mf.mol.nelectron, mf.mol.spin, max(len(act), 2))
        raise ConfigError(f"task_options.molecule.active.active = {act} holds {state}, so no electron can move; "
                          f"{where}; e.g. active: {example}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _ranges(indices) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    out, idx = [], [int(i) for i in indices]
    for i in idx:
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in out) or "none"


def too_large(molecule: str | dict, needed: int, limit: int, why: str) -> ConfigError:
    """The refusal of a molecule past what the evaluation holds, with an active space of the molecule's own
    orbitals that fits (this field's usual answer: freeze the core, keep the orbitals around the Fermi level)."""
    mol, mf = hartree_fock(molecule_spec(molecule))
    return ConfigError(f"task_options.molecule needs {needed} qubits (two per active orbital); {why}; give an "
                       f"active space, e.g. active: {suggest_active(mf, mol.nelectron, mol.spin, limit // 2)}")


def build(molecule: str | dict) -> Hamiltonian:
    try:
        import openfermion as of
        from pyscf import ao2mo
    except ImportError:
        raise ConfigError("VQE needs pyscf and openfermion: pip install 'nasfw[quantum]'") from None
    spec = molecule_spec(molecule)
    mol, mf = hartree_fock(spec)
    c = canonical_orbitals(mf.mo_coeff, mf.mo_energy, mf.mo_occ)
    n = c.shape[1]
    h1 = c.T @ mf.get_hcore() @ c
    eri = ao2mo.restore(1, ao2mo.kernel(mol, c), n)  # chemists' (pq|rs)
    two = np.asarray(eri.transpose(0, 2, 3, 1), order="C")  # openfermion's order
    active = spec.get("active") or {}
    occ, act = active_space(active) if active else ([], [])
    act = act if "active" in active else [i for i in range(n) if i not in occ]
    _check_occupation(mf, occ, act, active)
    if 2 * len(act) > MAX_QUBITS:
        raise too_large(spec, 2 * len(act), MAX_QUBITS, SIZE_LIMIT)
    split = _degenerate_split(np.asarray(mf.mo_energy), occ, act)
    if split:
        raise ConfigError(f"task_options.molecule.active = {active}: {split}; keep each degenerate set of "
                          "orbitals together")
    core, h1a, twoa = of.ops.representations.get_active_space_integrals(h1, two, occ, act)
    one_so, two_so = of.chem.molecular_data.spinorb_from_spatial(h1a, twoa)
    op = of.InteractionOperator(mol.energy_nuc() + core, one_so, 0.5 * two_so)
    qubit_op = of.jordan_wigner(of.get_fermion_operator(op))
    n_qubits = 2 * len(act)
    terms, constant = [], 0.0
    for term, coeff in qubit_op.terms.items():
        if abs(coeff) < 1e-12:
            continue
        if not term:
            constant += float(np.real(coeff))
            continue
        s = ["I"] * n_qubits
        for q, p in term:
            s[q] = p
        terms.append((float(np.real(coeff)), "".join(s)))
    n_el = mol.nelectron - 2 * len(occ)
    if mol.spin > min(n_el, n_qubits - n_el):
        raise ConfigError(f"task_options.molecule.spin = {mol.spin}: the active space holds "
                          f"{_count(n_el, 'electron')} in {_count(len(act), 'orbital')}, which leaves at most "
                          f"{min(n_el, n_qubits - n_el)} unpaired")
    h = Hamiltonian(terms, constant, n_qubits, 0.0, float(mf.e_tot), n_el, mol.spin)
    h.exact = exact_energy(h)
    return h


def exact_energy(h: Hamiltonian) -> float:
    """The ground state with the molecule's electron count (FCI in the active space): the whole Fock space may hold
    a lower state of an ion. The searched circuits do not conserve spin and minimise the energy over every spin, so a
    `spin` whose lowest state (in the sector Sz = spin / 2) lies above that ground state asks for an excited state
    they cannot target: refused, naming the spin the ground state has. Where the two agree (a triplet ground state
    such as O2's, given `spin: 2`), the reference is that energy.

    The sectors are cut from the sparse matrix by each basis state's occupation, not with openfermion's
    `get_sparse_operator` and `jw_get_ground_state_at_particle_number`, which give the same energies (tested) but
    peaked at 1.5 GB for H2O's 14 qubits and 5.9 GB for N2's 16 (the whole task at 16 qubits now: 1.4 GB)."""
    m = h.matrix(sparse=True)
    ground = _lowest(m, _sector(h.n_qubits, h.n_electrons))
    if h.spin >= 2:
        lowest = _lowest(m, _sector(h.n_qubits, h.n_electrons, h.spin))
        if lowest > ground + 1e-6:
            # the ground state's 2S: the highest Sz its multiplet reaches
            ground_spin = next(s for s in range(h.spin - 2, -1, -2)
                               if s < 2 or _lowest(m, _sector(h.n_qubits, h.n_electrons, s)) <= ground + 1e-6)
            raise ConfigError(f"task_options.molecule.spin = {h.spin}: its lowest state ({lowest:.6f} Ha) lies "
                              f"above the ground state at {h.n_electrons} electrons ({ground:.6f} Ha, spin "
                              f"{ground_spin}); the searched circuits do not conserve spin and would find the ground "
                              f"state, so give spin: {ground_spin}")
    return ground


def _sector(n_qubits: int, n_electrons: int, two_sz: int | None = None) -> np.ndarray:
    """Indices of the basis states with `n_electrons` set qubits (and, given, N_alpha - N_beta = `two_sz`):
    qubit q is bit n - 1 - q of the index, even qubits alpha spin-orbitals, odd ones beta (Jordan-Wigner's order)."""
    idx = np.arange(2 ** n_qubits)
    bits = (idx[:, None] >> (n_qubits - 1 - np.arange(n_qubits))) & 1
    alpha, beta = bits[:, 0::2].sum(axis=1), bits[:, 1::2].sum(axis=1)
    keep = alpha + beta == n_electrons
    if two_sz is not None:
        keep &= alpha - beta == two_sz
    return idx[keep]


def _lowest(m, sector: np.ndarray) -> float:
    import scipy.sparse.linalg

    block = m[sector][:, sector]
    if block.shape[0] <= 2048:
        return float(np.linalg.eigvalsh(block.toarray())[0])
    return float(scipy.sparse.linalg.eigsh(block, k=1, which="SA")[0][0])


def hartree_fock_bits(h: Hamiltonian) -> list[int]:
    """Jordan-Wigner occupation of the HF state (spin-orbital 2i is orbital i's alpha, 2i+1 its beta): the lowest
    (n + spin) / 2 alpha and (n - spin) / 2 beta spin-orbitals filled, the first n for a closed shell."""
    n_alpha, n_beta = (h.n_electrons + h.spin) // 2, (h.n_electrons - h.spin) // 2
    return [int(q // 2 < (n_alpha if q % 2 == 0 else n_beta)) for q in range(h.n_qubits)]


HAMILTONIAN_FILE = "hamiltonian.json"  # in the run folder: the Hamiltonian a run's SuperCircuit was trained on


def save_hamiltonian(h: Hamiltonian, path: Path) -> None:
    """As JSON: Python writes every float so that it reads back equal."""
    Path(path).write_text(json.dumps(asdict(h)))


def load_hamiltonian(path: Path, like: Hamiltonian) -> Hamiltonian:
    """The Hamiltonian saved at `path`, checked to be the molecule `like` is (the same qubits, electrons, spin
    and exact energy: the orbitals of a degenerate set may differ, the molecule may not)."""
    d = json.loads(Path(path).read_text())
    h = Hamiltonian(**{**d, "terms": [(float(c), str(s)) for c, s in d["terms"]]})
    if (h.n_qubits, h.n_electrons, h.spin) != (like.n_qubits, like.n_electrons, like.spin) or \
            abs(h.exact - like.exact) > 1e-6:
        raise ConfigError(f"{path}: a Hamiltonian of {h.n_qubits} qubits, {h.n_electrons} electrons, exact energy "
                          f"{h.exact:.6f} Ha, not the campaign's molecule ({like.n_qubits} qubits, {like.n_electrons} "
                          f"electrons, {like.exact:.6f} Ha); this run folder belongs to another molecule")
    return h
