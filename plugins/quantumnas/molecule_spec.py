"""A campaign's `task_options.molecule`, checked before pyscf sees it: a preset's name or a mapping {geometry,
basis, charge, spin, active}, the geometry as pyscf's text, a list of [symbol, [x, y, z]] or an XYZ file's path.
pyscf reads what it is given liberally (an unknown symbol "Xx" becomes a ghost atom whose basis is then "not found
for X"), and openfermion's active-space reduction takes any list of indices: a repeated active orbital gave H2 an
"exact" energy 650 mHa below the true one without a word. So the fields' shapes are checked here, with pyscf
imported by no one; what needs the orbitals (which are occupied in Hartree-Fock) is checked in `molecules.build`."""
from __future__ import annotations

import difflib
import re
from typing import Any

from nasfw.errors import ConfigError, unknown_name

PRESETS: dict[str, dict[str, Any]] = {
    "h2": {"geometry": [["H", [0, 0, 0]], ["H", [0, 0, 0.7414]]], "basis": "sto-3g"},
    "lih": {"geometry": [["Li", [0, 0, 0]], ["H", [0, 0, 1.45]]], "basis": "sto-3g",
            "active": {"occupied": [0], "active": [1, 2]}},
    "h2o": {"geometry": [["O", [0, 0, 0.1173]], ["H", [0, 0.7572, -0.4692]], ["H", [0, -0.7572, -0.4692]]],
            "basis": "sto-3g", "active": {"occupied": [0, 1, 2], "active": [3, 4, 5]}},
    # CH4's occupied 1t2 and virtual 2t2 orbitals are triply degenerate: an active space must take a set whole, so
    # the 4-qubit one pairs the bonding 2a1 with its antibonding 4a1 (2.1 mHa of correlation) and freezes the rest
    "ch4": {"geometry": [["C", [0, 0, 0]], ["H", [0.6276, 0.6276, 0.6276]], ["H", [0.6276, -0.6276, -0.6276]],
                         ["H", [-0.6276, 0.6276, -0.6276]], ["H", [-0.6276, -0.6276, 0.6276]]],
            "basis": "sto-3g", "active": {"occupied": [0, 2, 3, 4], "active": [1, 8]}},
    "beh2": {"geometry": [["Be", [0, 0, 0]], ["H", [0, 0, 1.3264]], ["H", [0, 0, -1.3264]]], "basis": "sto-3g",
             "active": {"occupied": [0, 1], "active": [2, 3, 4]}},
}

MOLECULE_FIELDS = ("geometry", "basis", "charge", "spin", "active")
ACTIVE_FIELDS = ("occupied", "active")
# pyscf's element table without its dummy "X" (index 0), so that this module need not import pyscf
ELEMENTS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr Y Zr "
    "Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir "
    "Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl "
    "Mc Lv Ts Og").split()
GHOST = re.compile(r"^(ghost|x)[-_]", re.IGNORECASE)  # pyscf's ghost atoms: ghost-H, X-H (basis, no charge)


def molecule_spec(molecule: str | dict) -> dict:
    """The preset's mapping, or the user's with each field's shape checked and the geometry in pyscf's form."""
    if isinstance(molecule, str):
        if molecule.lower() not in PRESETS:
            raise ConfigError(unknown_name("task_options.molecule", molecule, PRESETS))
        molecule = PRESETS[molecule.lower()]
    elif not isinstance(molecule, dict) or "geometry" not in molecule:
        raise ConfigError(f"task_options.molecule = {molecule!r}; give a preset name ({', '.join(PRESETS)}) or a "
                          "mapping with geometry, basis and optionally charge, spin, active")
    unknown = sorted(set(molecule) - set(MOLECULE_FIELDS))
    if unknown:
        raise ConfigError(unknown_name("task_options.molecule field", unknown[0], MOLECULE_FIELDS))
    for field, low in (("charge", None), ("spin", 0)):
        v = molecule.get(field, 0)
        if isinstance(v, bool) or not isinstance(v, int) or (low is not None and v < low):
            allowed = "an integer" if low is None else "an integer >= 0 (2S: unpaired electrons, not 2S+1)"
            raise ConfigError(f"task_options.molecule.{field} = {v!r} is not allowed; allowed: {allowed}")
    _check_basis(molecule.get("basis", "sto-3g"))
    if molecule.get("active") is not None:
        active_space(molecule["active"])
    geometry = _atoms(molecule["geometry"])
    _check_symbols(geometry)
    return {**molecule, "geometry": geometry}


def active_space(active: Any) -> tuple[list[int], list[int]]:
    """(occupied, active) orbital indices of a checked `active` field: each a list of distinct indices >= 0, no
    orbital in both, at least one active. Which indices exist, and which orbitals Hartree-Fock fills, only the
    molecule's orbitals tell (`molecules.build`)."""
    if not isinstance(active, dict):
        raise ConfigError(f"task_options.molecule.active = {active!r} is not allowed; allowed: a mapping "
                          "{occupied: [...], active: [...]} of spatial-orbital indices (occupied: the frozen core)")
    unknown = sorted(set(active) - set(ACTIVE_FIELDS))
    if unknown:
        raise ConfigError(unknown_name("task_options.molecule.active field", unknown[0], ACTIVE_FIELDS))
    lists = {}
    for field in ACTIVE_FIELDS:
        v = active.get(field, [])
        if not isinstance(v, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in v):
            raise ConfigError(f"task_options.molecule.active.{field} = {v!r} is not allowed; allowed: a list of "
                              "orbital indices (integers >= 0), lowest energy first")
        twice = sorted({i for i in v if v.count(i) > 1})
        if twice:
            raise ConfigError(f"task_options.molecule.active.{field} = {v}: orbital {twice[0]} is listed twice; "
                              "allowed: each orbital once")
        lists[field] = v
    if "active" in active and not lists["active"]:
        raise ConfigError("task_options.molecule.active.active = []: the active space needs at least one orbital "
                          "(leave `active` out to keep every orbital)")
    both = sorted(set(lists["occupied"]) & set(lists["active"]))
    if both:
        raise ConfigError(f"task_options.molecule.active: orbital {both[0]} is both occupied (frozen) and active; "
                          "allowed: each orbital in one of the two")
    return lists["occupied"], lists["active"]


def _check_basis(basis: Any) -> None:
    """pyscf takes a basis name, or a mapping of element to name; anything else failed inside it ("argument of type
    'int' is not iterable")."""
    ok = isinstance(basis, str) and basis.strip() or (
        isinstance(basis, dict) and basis and all(isinstance(k, str) and isinstance(v, str) for k, v in basis.items()))
    if not ok:
        raise ConfigError(f"task_options.molecule.basis = {basis!r} is not allowed; allowed: a basis set's name "
                          "(sto-3g, 6-31g, cc-pvdz, ...) or a mapping of element to name, e.g. {H: sto-3g, O: 6-31g}")


def _atoms(geometry: Any) -> str | list[tuple[str, tuple[float, float, float]]]:
    """pyscf's own text ("H 0 0 0; H 0 0 0.7414") as it is, an XYZ file's atoms, or [[symbol, [x, y, z]], ...] in
    Angstrom."""
    if isinstance(geometry, str) and geometry.strip().lower().endswith(".xyz"):
        return read_xyz(geometry.strip())
    if isinstance(geometry, str) and geometry.strip():
        return geometry
    ok = isinstance(geometry, list) and geometry and all(
        isinstance(a, (list, tuple)) and len(a) == 2 and isinstance(a[0], str) and isinstance(a[1], (list, tuple))
        and len(a[1]) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in a[1])
        for a in geometry)
    if not ok:
        raise ConfigError(f"task_options.molecule.geometry = {geometry!r}; allowed: a list of [symbol, [x, y, z]] "
                          "in Angstrom, e.g. [[H, [0, 0, 0]], [H, [0, 0, 0.7414]]], or pyscf's text "
                          "'H 0 0 0; H 0 0 0.7414'")
    return [(a, tuple(float(v) for v in xyz)) for a, xyz in geometry]


def read_xyz(path: str) -> list[tuple[str, tuple[float, float, float]]]:
    """The atoms of an XYZ file (the atom count, a comment line, then `symbol x y z` in Angstrom per atom): the
    form chemistry tools write geometries in. pyscf reads such a path too, but reports a short or malformed file
    from deep inside."""
    from pathlib import Path

    where = f"task_options.molecule.geometry = {path!r}"
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{where}: no such XYZ file")
    lines = p.read_text().splitlines()
    try:
        count = int(lines[0].split()[0])
    except (IndexError, ValueError):
        raise ConfigError(f"{where}: an XYZ file begins with its atom count; line 1 is {lines[0] if lines else ''!r}")
    rows = [line.split() for line in lines[2:] if line.strip()]
    if len(rows) < count:
        raise ConfigError(f"{where}: line 1 says {count} atoms; the file lists {len(rows)}")
    atoms = []
    for i, row in enumerate(rows[:count]):
        try:
            atoms.append((row[0], (float(row[1]), float(row[2]), float(row[3]))))
        except (IndexError, ValueError):
            raise ConfigError(f"{where}: atom {i} (line {i + 3}) is {' '.join(row)!r}; allowed: symbol x y z "
                              "(Angstrom)") from None
    return atoms


def _symbols(geometry: str | list) -> list[str]:
    """Each atom's label as written: the first word of each entry of pyscf's text (entries split by ';' or lines,
    words by spaces or commas), or the list's symbols."""
    if not isinstance(geometry, str):
        return [a for a, _ in geometry]
    entries = [e.replace(",", " ").split() for e in re.split(r"[;\n]", geometry)]
    return [e[0] for e in entries if e]


def _check_symbols(geometry: str | list) -> None:
    """Every label an element, as pyscf reads labels: a symbol in any case, numbered or tagged (H1, C_a... pyscf
    drops all but the letters), an atomic number, or a ghost atom (ghost-H, X-H)."""
    for i, label in enumerate(_symbols(geometry)):
        letters = re.sub(r"[^A-Za-z]", "", GHOST.sub("", label))
        if label.isdigit() and 1 <= int(label) <= len(ELEMENTS) or letters.capitalize() in ELEMENTS:
            continue
        close = difflib.get_close_matches(letters.capitalize() or label, ELEMENTS, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"task_options.molecule.geometry: atom {i} {label!r} is not an element{hint}; allowed: an "
                          "element's symbol (H, Li, O; numbered H1 as pyscf allows), an atomic number, or a ghost "
                          "atom (ghost-H)")
