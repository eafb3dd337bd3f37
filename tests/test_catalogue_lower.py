"""Refusals of the rules, the store, the views, the definition and the flows, raised through their real code paths:
Chinese by default, English on request, the code kept."""

from __future__ import annotations

import pytest

from stages.ground.errors import ConfigError, DeadlinePhraseError, PlancycleError
from stages.ground.i18n import using


def test_a_file_refusal_in_both_languages(tmp_path):
    from stages.store.files import FileRefused, FileStore

    store = FileStore(tmp_path, allowed=("pdf",))
    with pytest.raises(FileRefused) as err:
        store.check_name("方案.exe")
    assert err.value.code == "store.file_type"
    assert str(err.value) == "方案.exe：不接受此类型的文件（可上传 pdf）"
    with using("en"):
        assert str(err.value) == "方案.exe: file type not allowed (allowed: pdf)"


def test_a_password_refusal_in_both_languages():
    from stages.store.users import hash_password

    with pytest.raises(PlancycleError) as err:
        hash_password("short")
    assert str(err.value) == "密码至少须 8 个字符"
    with using("en"):
        assert str(err.value) == "a password needs at least 8 characters"


def test_a_yaml_refusal_in_both_languages(tmp_path):
    from stages.definition.yamlio import load_yaml

    f = tmp_path / "empty.yaml"
    f.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_yaml(f)
    assert str(err.value) == f"{f}:1: 文件为空（应为YAML 映射）"
    with using("en"):
        assert str(err.value) == f"{f}:1: the file is empty (expected a YAML mapping)"


def test_a_phrase_refusal_in_both_languages():
    from stages.definition.phrases import parse_period

    with pytest.raises(DeadlinePhraseError) as err:
        parse_period("")
    assert str(err.value) == "期限表述为空"
    with using("en"):
        assert str(err.value) == "empty deadline phrase"


def test_a_flows_mode_refusal_in_both_languages(monkeypatch):
    from flows.runner import mode

    monkeypatch.setenv("PLANCYCLE_FLOWS", "sometimes")
    with pytest.raises(PlancycleError) as err:
        mode()
    assert str(err.value) == "PLANCYCLE_FLOWS 须为 always / auto / never 之一，不能为“sometimes”"
    with using("en"):
        assert str(err.value) == "PLANCYCLE_FLOWS must be one of always / auto / never, not 'sometimes'"
