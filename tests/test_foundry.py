"""Foundry Local (SDK v2, in process, offline): an Olive ModelBuilder folder registered, loaded, chatted with."""

import shutil

import pytest

from slmlab import SlmlabError, foundry, olive


@pytest.fixture(scope="module")
def int4_folder(tmp_path_factory):
    # Olive's INT4 folder of slm-nano, built once per run (cached by content and Olive's version), copied here
    folder = tmp_path_factory.mktemp("foundry") / "slm-nano-int4"
    shutil.copytree(olive.built_folder("slm-nano", "int4"), folder)
    foundry.add_chat_template(folder)
    return folder


def registered_ids(model: foundry.LocalModel) -> list[str]:
    return [m.id for m in model.catalog.list_models()]


def test_register_load_chat_stream_and_unload(int4_folder):
    with foundry.LocalModel(int4_folder, "slm-nano-test-generic-cpu:1") as model:
        assert model.id in registered_ids(model)
        budget = model.preflight("Return the number of", 16)
        assert budget.fits and budget.required_tokens == budget.prompt_tokens + 16
        answer = model.chat("Return the number of", 16)
        assert answer.text.strip()  # the model continues the text
        assert "".join(model.stream("Return the number of", 16)).strip() == answer.text.strip()  # greedy: the same
    assert "slm-nano-test-generic-cpu:1" not in registered_ids(model)  # no registration left behind


def test_a_duplicate_id_is_a_clear_error(int4_folder):
    with foundry.LocalModel(int4_folder, "slm-nano-dup-generic-cpu:1"):
        with pytest.raises(SlmlabError, match="already registered"):
            foundry.LocalModel(int4_folder, "slm-nano-dup-generic-cpu:1")


def test_a_folder_without_genai_config_is_refused(tmp_path, int4_folder):
    bad = tmp_path / "not-genai"
    shutil.copytree(int4_folder, bad)
    (bad / "genai_config.json").unlink()
    with pytest.raises(SlmlabError, match="no genai_config.json"):
        foundry.LocalModel(bad, "bad-generic-cpu:1")


def test_the_web_service_routes_are_read_from_the_sdk_itself():
    routes = foundry.web_routes()
    assert "/v1/chat/completions" in routes and "/v1/models" in routes
    assert not any("load" in r or "register" in r for r in routes)  # why a local registration is not served over HTTP


def test_a_gemma_folder_gets_gemmas_turn_format_by_default(tmp_path):
    import json

    (tmp_path / "genai_config.json").write_text(json.dumps({"model": {"type": "gemma3_text"}}))
    foundry.add_chat_template(tmp_path)
    template = json.loads((tmp_path / "tokenizer_config.json").read_text())["chat_template"]
    assert "<start_of_turn>" in template


def test_the_foundry_command_registers_answers_and_reports_as_json(int4_folder):
    import json
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "slmlab.cli",
            "foundry",
            str(int4_folder),
            "--id",
            "slm-nano-cli-generic-cpu:1",
            "-n",
            "8",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert data["answer"].strip() and data["preflight"]["fits"]
    assert data["id"] == "slm-nano-cli-generic-cpu:1" and data["preflight"]["required_tokens"] > 8
