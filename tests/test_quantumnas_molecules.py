"""VQE molecules as a campaign writes them (task_options.molecule): each field checked before pyscf and the active
space against Hartree-Fock's occupations, one line per mistake, and the active spaces the refusals suggest."""
import pytest

pytest.importorskip("pyscf")
pytest.importorskip("openfermion")

from nasfw.errors import ConfigError  # noqa: E402
from nasfw.plugins.quantumnas.molecules import build  # noqa: E402


def test_an_active_space_that_splits_degenerate_orbitals_is_refused():
    """CH4's three highest occupied orbitals are degenerate: freezing one of them makes the Hamiltonian depend on
    which rotation of the set pyscf returns."""
    from nasfw.plugins.quantumnas.molecules import PRESETS

    ch4 = {**PRESETS["ch4"], "active": {"occupied": [0, 1, 2], "active": [3, 4, 5]}}
    with pytest.raises(ConfigError, match=r"task_options.molecule.active.*orbitals 2 and 3 are degenerate"):
        build(ch4)


def test_molecule_errors_are_clear():
    with pytest.raises(ConfigError, match="molecule"):
        build("h3o")
    with pytest.raises(ConfigError, match="geometry"):
        build({"basis": "sto-3g"})
    with pytest.raises(ConfigError, match="active"):
        build({"geometry": [["H", [0, 0, 0]], ["H", [0, 0, 0.74]]], "active": {"active": [0, 7]}})
    lih = build("lih")
    assert lih.n_qubits == 4 and lih.exact < lih.hf


def H2_WITH_ACTIVE(active):
    return {"geometry": "H 0 0 0; H 0 0 0.74", "active": active}


PRESETS_H2O = "O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692"


@pytest.mark.parametrize("molecule, needle", [
    ({"geometry": [["H", [0, 0]]]}, "geometry = [['H', [0, 0]]]; allowed: a list of [symbol, [x, y, z]]"),
    ({"geometry": "H 0 0 0; H 0 0 0.74", "basiss": "sto-3g"}, "molecule field 'basiss'; did you mean 'basis'?"),
    ({"geometry": "H 0 0 0; H 0 0 0"}, "atoms 0 (H) and 1 (H) are 0.000 A apart; allowed: at least 0.2 A"),
    ({"geometry": "H 0 0 0; H 0 0 0.74; H 0 0 1.5"},
     "spin = 0: the molecule has 3 electrons (charge 0); allowed: 1, 3 (2S = unpaired electrons, not 2S+1)"),
    ({"geometry": "H 0 0 0; H 0 0 0.74", "spin": 4},
     "spin = 4: the molecule has 2 electrons (charge 0); allowed: 0, 2"),
    ({"geometry": "H 0 0 0; H 0 0 0.74", "spin": -2}, "spin = -2 is not allowed; allowed: an integer >= 0"),
    ({"geometry": "H 0 0 0; H 0 0 0.74", "spin": "1"}, "spin = '1' is not allowed; allowed: an integer >= 0"),
    ({"geometry": "H 0 0 0; H 0 0 0.74", "charge": 0.5}, "charge = 0.5 is not allowed; allowed: an integer"),
    ({"geometry": "H 0 0 0; H 0 0 0.74", "charge": 2}, "charge = 2 leaves 0 electrons; allowed: at most 1"),
    ({"geometry": "H 0 0 0; H 0 0 0.74", "basis": "nobasis"}, "Unknown basis format or basis name nobasis"),
    ({"geometry": "H 0 0 0; H 0 0 0.74", "basis": 3}, "basis = 3 is not allowed; allowed: a basis set's name"),
    ({"geometry": [["Xx", [0, 0, 0]], ["H", [0, 0, 0.74]]]}, "atom 0 'Xx' is not an element (did you mean 'Xe'?)"),
    ({"geometry": "H 0 0 0; Q 0 0 0.74"}, "atom 1 'Q' is not an element; allowed: an element's symbol"),
    ({"geometry": "   "}, "geometry = '   '; allowed: a list of [symbol, [x, y, z]]"),
    (H2_WITH_ACTIVE([1, 1]), "active = [1, 1] is not allowed; allowed: a mapping {occupied: [...], active: [...]}"),
    (H2_WITH_ACTIVE({"activ": [0, 1]}), "molecule.active field 'activ'; did you mean 'active'?"),
    (H2_WITH_ACTIVE({"active": []}), "active.active = []: the active space needs at least one orbital"),
    (H2_WITH_ACTIVE({"active": [0, 0]}), "active.active = [0, 0]: orbital 0 is listed twice"),
    (H2_WITH_ACTIVE({"active": [1.0, 0]}), "active.active = [1.0, 0] is not allowed; allowed: a list of orbital"),
    (H2_WITH_ACTIVE({"active": [0, 5]}), "orbital 5 does not exist; allowed: indices 0..1"),
    (H2_WITH_ACTIVE({"occupied": [0], "active": [0, 1]}), "orbital 0 is both occupied (frozen) and active"),
    (H2_WITH_ACTIVE({"occupied": [0], "active": [1]}),
     ("active.active = [1] holds no electrons, so no electron can move; Hartree-Fock fills orbital 0; e.g. active: "
     "{occupied: [], active: [0, 1]}")),
    (H2_WITH_ACTIVE({"active": [1]}), "orbital 0 is occupied in Hartree-Fock but neither occupied (frozen) nor active"),
    ({"geometry": PRESETS_H2O, "active": {"active": [0]}}, "orbitals 1-4 are occupied in Hartree-Fock but neither"),
    ({"geometry": PRESETS_H2O, "active": {"occupied": [0, 1, 2, 3, 4, 5], "active": [6]}},
     "occupied: orbital 5 holds 0 electrons in Hartree-Fock; the frozen core takes doubly occupied orbitals (0-4)"),
    ({"geometry": "H 0 0 0"}, "spin = 0: the molecule has 1 electron (charge 0); allowed: 1 (2S"),
    ({"geometry": "H 0 0 0; H 0 0 0.9; H 0 0 1.8", "spin": 1, "active": {"occupied": [1], "active": [0, 2]}},
     "occupied: orbital 1 holds 1 electron in Hartree-Fock; the frozen core takes doubly occupied orbitals (0)"),
])
def test_a_molecule_the_user_writes_gets_one_line_errors(molecule, needle):
    """Atoms on top of each other raised numpy's LinAlgError from inside Hartree-Fock; pyscf's own text geometry
    failed with 'not enough values to unpack'; a misspelt field was ignored. An active space was taken as given:
    `active: [1, 1]` was an AttributeError, `{active: [0, 0]}` built H2 with an "exact" energy of -1.79 Ha (650 mHa
    below the true one), `{occupied: [0], active: [1]}` an active space of no electrons, a misspelt `activ` kept
    every orbital; an unknown symbol "Xx" was read by pyscf as a ghost atom ("Basis set not found for X")."""
    with pytest.raises(ConfigError) as e:
        build(molecule)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_the_element_table_is_pyscfs():
    """The symbol check runs without importing pyscf, on its own copy of pyscf's table."""
    from pyscf.data.elements import ELEMENTS as PYSCF

    from nasfw.plugins.quantumnas.molecule_spec import ELEMENTS, molecule_spec

    assert ELEMENTS == list(PYSCF[1:])
    for label in ("h", "H1", "ghost-O", "X-H", "8", "C_a"):  # as pyscf reads them: all accepted
        molecule_spec({"geometry": f"{label} 0 0 0; H 0 0 1"})


def test_an_xyz_file_is_the_same_molecule(tmp_path):
    """A chemist's geometry comes as an XYZ file; the symbol check read its path as an atom."""
    f = tmp_path / "h2.xyz"
    f.write_text("2\nhydrogen, 0.7414 A\nH 0.0 0.0 0.0\nH 0.0 0.0 0.7414\n")
    assert build({"geometry": str(f)}).exact == pytest.approx(build("h2").exact, abs=1e-10)
    f.write_text("3\nshort\nH 0 0 0\nH 0 0 0.7414\n")
    with pytest.raises(ConfigError, match=r"geometry = '.*h2.xyz': line 1 says 3 atoms; the file lists 2"):
        build({"geometry": str(f)})


@pytest.mark.parametrize("molecule, spin, orbitals", [
    ("N 0 0 0; N 0 0 1.1", 0, 4), ("O 0 0 0; O 0 0 1.21", 2, 4), ("O 0 0 0; O 0 0 1.21", 2, 3),
    ("O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692", 0, 4), ("H 0 0 0; H 0 0 0.9; H 0 0 1.8", 1, 2),
])
def test_every_suggested_active_space_is_one_build_takes(molecule, spin, orbitals):
    """The refusals' example active spaces must pass the occupation checks they point to (frozen orbitals doubly
    occupied, every occupied orbital frozen or active)."""
    import yaml

    from nasfw.plugins.quantumnas.molecules import hartree_fock, molecule_spec, suggest_active

    spec = {"geometry": molecule, "spin": spin}
    mol, mf = hartree_fock(molecule_spec(spec))
    active = yaml.safe_load(suggest_active(mf, mol.nelectron, mol.spin, orbitals))
    assert build({**spec, "active": active}).n_qubits == 2 * len(active["active"]) <= 2 * orbitals
