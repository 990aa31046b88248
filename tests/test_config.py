"""Settings precedence: kgpipe.toml < KGPIPE_* environment < flags; clear errors on bad values."""

import pytest

from kgpipe.config import Settings, load_settings
from kgpipe.errors import ConfigError


def test_precedence(tmp_path):
    toml = tmp_path / "kgpipe.toml"
    toml.write_text('[kgpipe]\nbatch_size = 2\nllm = "hf:x"\nstore = "falkordb://h:1"\n')
    env = {"KGPIPE_BATCH_SIZE": "3", "KGPIPE_PROGRESS": "off", "OTHER": "x"}
    s = load_settings({"batch_size": 5, "llm": None}, config_file=toml, environ=env)
    assert s.batch_size == 5  # flag wins
    assert s.llm == "hf:x"  # flag not given: file value stays
    assert s.progress is False  # env coerced to bool
    assert s.store == "falkordb://h:1"


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}) == Settings()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"overrides": {"batch_size": "many"}}, "batch_size must be int"),
        ({"overrides": {"no_such": 1}}, "unknown setting 'no_such'"),
        ({"environ": {"KGPIPE_PROGRESS": "maybe"}}, "progress must be bool"),
    ],
)
def test_bad_values(kwargs, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kwargs.setdefault("environ", {})
    with pytest.raises(ConfigError, match=message):
        load_settings(**kwargs)


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "kgpipe.toml"
    bad.write_text("batch_size = = 1")
    with pytest.raises(ConfigError, match="kgpipe.toml"):
        load_settings(config_file=bad, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config_file=tmp_path / "missing.toml", environ={})
