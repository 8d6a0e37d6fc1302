import json
import subprocess
import sys
import textwrap

import pytest

from nasfw.errors import ConfigError
from nasfw.registry import Registry
from tests.conftest import PLUGIN_DIR


def test_first_party_plugins_come_through_the_entry_point_group():
    reg = Registry()
    assert reg.plugins["core"].source.startswith("entry point")
    assert reg.plugins["nasbench201"].source.startswith("entry point")
    assert "evolution" in reg.names("searchers")


def test_plugins_dir_loads_and_reports_broken_plugin():
    reg = Registry([PLUGIN_DIR])
    assert "toy" in reg.plugins and reg.names("search_spaces", "to*") == ["toy"]
    assert "broken" in reg.failures and "ModuleNotFoundError" in reg.failures["broken"]
    assert "nasbench201" in reg.plugins  # the broken one broke nothing else


def test_an_unknown_name_names_the_plugins_that_failed_to_load():
    """A task that a broken plugin would have provided is reported with that plugin's import error, not only
    as an unknown name."""
    reg = Registry([PLUGIN_DIR])
    with pytest.raises(ConfigError, match=r"unknown task 'quantumnas-qmx'.*failed to load: 'broken': import failed"):
        reg.task("quantumnas-qmx")


def test_allow_and_deny_lists():
    reg = Registry([PLUGIN_DIR], env={"NASFW_PLUGINS": "toy"})
    assert set(reg.plugins) == {"core", "toy"}
    reg = Registry([PLUGIN_DIR], env={"NASFW_DISABLE_PLUGINS": "nasbench201,broken"})
    assert "nasbench201" not in reg.plugins and "broken" not in reg.failures and "toy" in reg.plugins


def test_duplicate_and_bad_names_are_refused(tmp_path):
    (tmp_path / "dup.py").write_text(textwrap.dedent('''
        from nasfw import hookimpl
        @hookimpl
        def nasfw_register_searchers(register):
            register("evolution", object, "steals a name")
    '''))
    (tmp_path / "badname.py").write_text(textwrap.dedent('''
        from nasfw import hookimpl
        @hookimpl
        def nasfw_register_tasks(register):
            register("has space", object)
    '''))
    (tmp_path / "typo.py").write_text(textwrap.dedent('''
        from nasfw import hookimpl
        @hookimpl
        def nasfw_register_serchers(register):
            pass
    '''))
    reg = Registry([tmp_path])
    assert "already registered by plugin 'core'" in reg.failures["dup"]
    assert "names are letters" in reg.failures["badname"]
    assert "nasfw_register_serchers" in reg.failures["typo"]
    assert reg.entry("searchers", "evolution").plugin == "core"


def _space_plugin(space: str, body: str = "") -> str:
    return textwrap.dedent(f'''
        {body}
        from nasfw import Choice, Space, hookimpl
        @hookimpl
        def nasfw_register_search_spaces(register):
            register("{space}", lambda: Space([Choice("a", [1, 2])]))
    ''')


def test_a_folders_file_replaces_the_installed_plugin_of_its_name_and_says_so(tmp_path):
    """A plugin edited in a folder while a copy is installed: the folder the user named is what runs (the installed
    one was kept without a word, and runs used its code). The engine's own `core` is never replaced; of two folders'
    files of one name the first is kept; a file that failed to load gives way to the next folder's."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "nasbench201.py").write_text(_space_plugin("edited-nb201"))
    (a / "core.py").write_text(_space_plugin("not-core"))
    (a / "toy2.py").write_text(_space_plugin("toy2-a", "raise ImportError('half written')"))
    (b / "toy2.py").write_text(_space_plugin("toy2-b"))
    (b / "nasbench201.py").write_text(_space_plugin("nb201-again"))
    reg = Registry([a, b])
    assert "edited-nb201" in reg.names("search_spaces") and "nb201" not in reg.names("search_spaces")
    assert reg.entry("search_spaces", "edited-nb201").plugin == "nasbench201"
    assert reg.plugins["nasbench201"].source.startswith("file nasbench201.py in plugins dir")
    assert any(f"{a / 'nasbench201.py'}, in place of entry point nasfw.plugins.nasbench201" in n
               for n in reg.notes["nasbench201"])
    assert any(f"{b / 'nasbench201.py'} was not loaded" in n for n in reg.notes["nasbench201"])
    assert "nb201-again" not in reg.names("search_spaces")
    assert "not-core" not in reg.names("search_spaces") and reg.entry("searchers", "evolution").plugin == "core"
    assert "the engine's own plugin" in reg.notes["core"][0]
    assert reg.entry("search_spaces", "toy2-b").plugin == "toy2" and "toy2" not in reg.failures
    assert "half written" in reg.notes["toy2"][0]


def test_unknown_names_suggest_close_ones():
    reg = Registry()
    with pytest.raises(ConfigError, match="unknown searcher 'evolutoin'; did you mean 'evolution'"):
        reg.searcher_class("evolutoin")
    with pytest.raises(ConfigError, match="unknown hardware 'nb201-param'; did you mean 'nb201-params'"):
        reg.cost_model("nb201-param")
    with pytest.raises(ConfigError, match="task_options.datset is not an option of task 'nasbench201'"):
        reg.task("nasbench201", datset="cifar10")


def test_nasfw_plugins_command(run_cli):
    p = run_cli("plugins", "--json", "--plugins-dir", PLUGIN_DIR, check=True)
    data = {d["name"]: d for d in json.loads(p.stdout)}
    assert data["broken"]["status"] == "failed"
    assert data["toy"]["search_spaces"] == ["toy"] and data["toy"]["cost_models"] == ["toy-size", "toy-board"]
    assert "ppo" in data["core"]["searchers"]
    text = run_cli("plugins", "--plugins-dir", PLUGIN_DIR, check=True).stdout
    assert "broken  [FAILED]" in text


def test_search_with_a_plugins_dir_plugin(run_cli, tmp_path):
    p = run_cli("search", "--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--budget", "25", "--out", tmp_path / "run",
                "--no-progress", check=True)
    assert "evaluations: 25" in p.stdout
    show = json.loads(run_cli("show", tmp_path / "run", "--json", check=True).stdout)
    assert show["summary"]["ok"] == 25


def test_installed_throwaway_plugin_with_its_own_entry_point(tmp_path, run_cli):
    """A real package with a pyproject.toml and an entry point in group 'nasfw', pip-installed into the test
    environment, discovered without --plugins-dir, then removed."""
    pkg = tmp_path / "nasfw-hello"
    (pkg / "nasfw_hello").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "nasfw-hello"
        version = "0.0.1"
        [project.entry-points.nasfw]
        hello = "nasfw_hello"
    '''))
    (pkg / "nasfw_hello" / "__init__.py").write_text(textwrap.dedent('''
        from nasfw import Choice, Space, hookimpl

        class Task:
            def evaluate(self, arch):
                return {"score": float(arch["a"] * arch["b"])}

        @hookimpl
        def nasfw_register_search_spaces(register):
            register("hello", lambda: Space([Choice("a", [1, 2, 3]), Choice("b", [1, 2, 3])]))

        @hookimpl
        def nasfw_register_tasks(register):
            register("hello", Task)

        @hookimpl
        def nasfw_register_campaigns(register):
            register("hello", {"space": "hello", "task": "hello", "objectives": ["score"],
                               "searcher": "random", "budget": 9})
    '''))
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(pip + ["install", "-q", "--no-deps", "--no-build-isolation", str(pkg)], check=True,
                   capture_output=True)
    try:
        data = {d["name"]: d for d in json.loads(run_cli("plugins", "--json", check=True).stdout)}
        assert data["hello"]["source"].startswith("entry point")
        p = run_cli("search", "--plugin", "hello", "--out", tmp_path / "run", "--no-progress", check=True)
        assert "best score: 9" in p.stdout
    finally:
        subprocess.run(pip + ["uninstall", "-y", "-q", "nasfw-hello"], check=True, capture_output=True)


def test_the_plugin_in_writing_plugins_md_works(tmp_path, run_cli):
    """The walkthrough's code, taken from the document itself, loads and searches."""
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "writing-plugins.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    folder = tmp_path / "my_plugins"
    folder.mkdir()
    (folder / "tiny.py").write_text(code)
    p = run_cli("search", "--plugins-dir", folder, "--plugin", "tiny", "--budget", "small", "--out",
                tmp_path / "run", "--no-progress", check=True)
    assert "evaluations: 20" in p.stdout
    show = json.loads(run_cli("show", tmp_path / "run", "--json", check=True).stdout)
    assert all(t["metrics"]["peak_kb"] <= 256 for t in show["top"])


@pytest.mark.slow  # end to end: with the slow tests, to keep the fast suite short
def test_the_package_in_writing_plugins_md_installs_beside_a_run_folder(tmp_path, run_cli):
    """Step 3 of the walkthrough, its pyproject.toml and code taken from the document, pip-installed (editable,
    as the document says) from a folder that also holds what step 2 leaves there: the plugins folder and the
    `runs/` of a search. setuptools' own package discovery refuses such a folder; the document's file must not."""
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "writing-plugins.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    toml = text.split("```toml\n", 1)[1].split("```", 1)[0]
    pkg = tmp_path / "nasfw-tiny"
    for folder in ("nasfw_tiny", "my_plugins", "runs/tiny"):
        (pkg / folder).mkdir(parents=True)
    (pkg / "nasfw_tiny" / "__init__.py").write_text(code)
    (pkg / "my_plugins" / "tiny.py").write_text(code)
    (pkg / "pyproject.toml").write_text(toml)
    pip = [sys.executable, "-m", "pip"]
    done = subprocess.run(pip + ["install", "-q", "--no-deps", "--no-build-isolation", "-e", str(pkg)],
                          capture_output=True, text=True)
    try:
        assert done.returncode == 0, done.stderr[-2000:]
        data = {d["name"]: d for d in json.loads(run_cli("plugins", "--json", check=True).stdout)}
        assert data["tiny"]["source"].startswith("entry point")
        p = run_cli("search", "--plugin", "tiny", "--budget", "small", "--out", tmp_path / "run", "--no-progress",
                    check=True)
        assert "evaluations: 20" in p.stdout
        # the copy in my_plugins/ edited after the install: a search given that folder runs the edited code,
        # in the workers too, and says that the installed plugin was set aside
        folder = pkg / "my_plugins"
        (folder / "tiny.py").write_text(code.replace('"macs_k": macs / 1000}', '"macs_k": macs / 1000, "edited": 1.0}'))
        data = {d["name"]: d for d in json.loads(run_cli("plugins", "--plugins-dir", folder, "--json",
                                                         check=True).stdout)}
        assert data["tiny"]["source"].startswith("file tiny.py") and "nasfw-tiny 0.1.0" in data["tiny"]["notes"][0]
        p = run_cli("search", "--plugins-dir", folder, "--plugin", "tiny", "--budget", "small", "--out",
                    tmp_path / "edited", "--no-progress", "--set", "workers=2", check=True)
        assert f"note: plugin 'tiny' is {folder / 'tiny.py'}, in place of entry point nasfw_tiny" in p.stdout
        show = json.loads(run_cli("show", tmp_path / "edited", "--json", check=True).stdout)
        assert all(t["metrics"]["edited"] == 1.0 for t in show["top"])
    finally:
        subprocess.run(pip + ["uninstall", "-y", "-q", "nasfw-tiny"], capture_output=True)


def test_the_python_example_in_writing_plugins_md_runs(tmp_path):
    """The walkthrough's Python use (its second python block), run as written beside a my_plugins/ folder that
    holds the walkthrough's plugin."""
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "writing-plugins.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    (tmp_path / "my_plugins").mkdir()
    (tmp_path / "my_plugins" / "tiny.py").write_text(blocks[0])
    p = subprocess.run([sys.executable, "-c", blocks[1]], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "'accuracy'" in p.stdout and (tmp_path / "runs" / "tiny-py" / "summary.json").is_file()


def test_the_searcher_in_writing_plugins_md_searches_and_resumes(tmp_path, run_cli):
    """Section 7's searcher, taken from the document: it searches, its setting is checked by its type hint, and
    a resumed run continues from its checkpointed state."""
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "writing-plugins.md").read_text()
    code = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]][2]
    folder = tmp_path / "my_plugins"
    folder.mkdir()
    (folder / "hill.py").write_text(code)
    args = ["--plugins-dir", folder, "--plugin", "nasbench201", "--searcher", "hill", "--out", tmp_path / "run",
            "--no-progress"]
    bad = run_cli("search", *args, "--set", "searcher.settings.mutate_prob=2")
    assert bad.returncode != 0 and "searcher.settings.mutate_prob" in bad.stderr and "Traceback" not in bad.stderr
    assert "evaluations: 12" in run_cli("search", *args, "--budget", "12", check=True).stdout
    from nasfw.store import Store

    store = Store(tmp_path / "run", create=False, read_only=True)
    state, _ = store.latest_checkpoint()
    store.close()
    assert state["searcher"] == "hill" and state["best"] is not None and state["best_fitness"] > 0
    p = run_cli("search", *args, "--budget", "24", "--resume", check=True)
    assert "evaluations: 24" in p.stdout
    show = json.loads(run_cli("show", tmp_path / "run", "--json", check=True).stdout)
    assert show["summary"]["ok"] + show["summary"].get("failed", 0) == 24


def test_a_searcher_that_cannot_be_built_is_refused_when_its_plugin_loads(tmp_path):
    """Overriding ask/tell (the engine's) instead of _ask/_tell, or registering a class that is no Searcher, failed
    at the first search with "Can't instantiate abstract class"; a searcher that does not name itself said 'base'
    in its messages and checkpoints."""
    for name, body in {
        "public": "class S(Searcher):\n    def ask(self): ...\n    def tell(self, arch, result): ...",
        "notone": "class S:\n    def _ask(self): ...\n    def _tell(self, arch, result): ...",
        "noname": "class S(Searcher):\n    def _ask(self): ...\n    def _tell(self, arch, result): ...",
    }.items():
        (tmp_path / f"{name}.py").write_text(
            f"from nasfw import hookimpl\nfrom nasfw.searchers import Searcher\n{body}\n\n\n@hookimpl\n"
            f"def nasfw_register_searchers(register):\n    register('{name}-s', S)\n")
    reg = Registry([tmp_path])
    assert "does not implement _ask, _tell" in reg.failures["public"]
    assert "overrides ask and tell, which the engine keeps" in reg.failures["public"]
    assert "(at public.py:" in reg.failures["public"]
    assert "must be a subclass of nasfw.searchers.Searcher" in reg.failures["notone"]
    assert reg.searcher_class("noname-s").name == "noname-s"

    from nasfw.searchers import make_searcher
    from nasfw.searchers.random_search import RandomSearch
    from nasfw.space import Choice, Space

    class Stepped(RandomSearch):  # its setting after the base's arguments without a `*`: still a setting
        name = "stepped"

        def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None, step=1):
            super().__init__(space, objectives, constraints, seed, feasible)
            self.step = step

    assert make_searcher(Stepped, Space([Choice("a", [1, 2])]), {"step": 3}).step == 3
    with pytest.raises(ConfigError, match="searcher.settings.stpe is not a setting of 'stepped'; allowed: .'step'"):
        make_searcher(Stepped, Space([Choice("a", [1, 2])]), {"stpe": 3})


@pytest.mark.parametrize("mode, message", [
    ("invalid", "proposed an architecture outside the space: arch.edge_1_0 = 'conv_9x9' is not allowed"),
    ("none", "proposed an architecture outside the space: arch must be a JSON object"),
    ("state", "keeps state that a checkpoint cannot hold: thing (AttributeError"),
    ("late-state", "keeps state that a checkpoint cannot hold: thing ("),
])
def test_a_searcher_that_breaks_the_protocol_is_named(tmp_path, run_cli, mode, message):
    """A plugin's searcher that proposes outside the space had every evaluation fail (10 failures, then fail_fast);
    one returning None was said to repeat itself 1000 times; state no checkpoint can hold failed at the first
    checkpoint with pickle's traceback. Each now stops with one line naming the searcher."""
    (tmp_path / "bad.py").write_text(textwrap.dedent(f'''
        from nasfw import hookimpl
        from nasfw.searchers import Searcher

        class Bad(Searcher):
            name = "bad"
            _state = ("thing",)

            def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None):
                super().__init__(space, objectives, constraints, seed, feasible)
                self.thing = (lambda: 1) if "{mode}" == "state" else 0

            def _ask(self):
                arch = self.space.sample(self.rng)
                if "{mode}" == "invalid":
                    arch["edge_1_0"] = "conv_9x9"
                return None if "{mode}" == "none" else arch

            def _tell(self, arch, result):
                if "{mode}" == "late-state":
                    self.thing = open(__file__)

        @hookimpl
        def nasfw_register_searchers(register):
            register("bad", Bad)
    '''))
    p = run_cli("search", "--plugins-dir", tmp_path, "--plugin", "nasbench201", "--searcher", "bad", "--budget", "5",
                "--out", tmp_path / "run", "--no-progress")
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr, p.stderr[-2000:]
