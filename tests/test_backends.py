"""Third-party backends registered under the entry-point groups are found by name, like the built-in ones."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from kgpipe.errors import ConfigError
from kgpipe.llms import LLM, resolve_llm
from kgpipe.stores import Store, resolve_store

PLUGIN = '''
from kgpipe.stores import QueryResult


class EchoLLM:
    """Answers every prompt with its own last word."""

    def __init__(self, spec, settings):
        self.model_id = spec

    def generate(self, prompts, *, max_new_tokens=128, stop=()):
        return [p.split()[-1] for p in prompts]


class ListStore:
    """Remembers the statements it is given."""

    name = "list"

    def __init__(self, spec, settings):
        self.spec, self.statements, self.schema = spec, [], False

    def execute(self, cypher, params=None, *, write=False):
        self.statements.append((cypher, dict(params or {}), write))
        return QueryResult(["n"], [[len(self.statements)]])

    def ensure_schema(self):
        self.schema = True

    def close(self):
        pass
'''


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution on sys.path whose entry points register an LLM backend and a store, as pip would install it."""
    (tmp_path / "kgpipe_plugin_demo.py").write_text(PLUGIN, encoding="utf-8")
    meta = tmp_path / "kgpipe_plugin_demo-0.1.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: kgpipe-plugin-demo\nVersion: 0.1\n", encoding="utf-8")
    (meta / "entry_points.txt").write_text(textwrap.dedent("""\
        [kgpipe.llms]
        echo = kgpipe_plugin_demo:EchoLLM

        [kgpipe.stores]
        liststore = kgpipe_plugin_demo:ListStore
        """), encoding="utf-8")  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "kgpipe_plugin_demo", raising=False)


def test_a_registered_llm_backend_is_resolved_by_its_name(installed_plugin: None, settings) -> None:
    llm = resolve_llm("echo:v1", settings, cache=False)
    assert type(llm).__name__ == "EchoLLM" and isinstance(llm, LLM)
    assert llm.model_id == "echo:v1" and llm.generate(["the capital of France is Paris"]) == ["Paris"]


def test_a_registered_store_is_resolved_by_its_scheme(installed_plugin: None, settings) -> None:
    store = resolve_store("liststore://somewhere", settings)
    assert type(store).__name__ == "ListStore" and isinstance(store, Store)
    assert store.schema  # resolve_store prepares the schema of every store, built-in or not
    assert store.execute("RETURN 1").rows == [[1]]


def test_unregistered_names_list_what_is_available(installed_plugin: None, settings) -> None:
    with pytest.raises(ConfigError, match="echo"):
        resolve_llm("nosuch:model", settings)
    with pytest.raises(ConfigError):
        resolve_store("nosuch://x", settings)
