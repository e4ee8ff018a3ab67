"""Where a model spec points, decided before the run (harness/models/locations.py, heads.py) and data paths
named as what they are (harness/data.py): a typo of a local folder is not taken for a hub name and retried
for a minute; a hub name fails within a second when the hub cannot be reached or HF_HUB_OFFLINE forbids it;
revision= on a local folder is refused; a head folder without its files, a data path that is a folder or
/dev/zero are each named as what they are - all exit 2 before a run folder exists."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from support import REPO, assert_one_line_error, run_cli, write_task
from harness.errors import HarnessError
from harness.models.locations import check_location, is_local, reachable
from harness.preflight import check_models
from harness.spec import ModelSpec, RuntimeOptions

TINY = REPO / "model" / "tiny-gpt2"


def refused(spec_text: str) -> HarnessError:
    with pytest.raises(HarnessError) as caught:
        check_models([ModelSpec.parse(spec_text)], RuntimeOptions())
    return caught.value


def test_a_typo_of_a_local_folder_is_a_local_path_with_the_close_match(monkeypatch):
    monkeypatch.chdir(REPO)
    assert is_local("model/tiny-gtp2") and not is_local("openai-community/gpt2")
    refused("hf-causal:/no/such/folder")           # the adapter's imports (torch, transformers) are not timed
    started = time.monotonic()
    error = refused("hf-causal:model/tiny-gtp2")
    assert time.monotonic() - started < 1
    assert "folder model/tiny-gtp2 not found" in error.problem and error.fix == "did you mean model/tiny-gpt2?"
    assert refused(f"hf-causal:{REPO}/model/tiny-gpt").fix == f"did you mean {REPO}/model/tiny-gpt2?"


def test_a_file_or_device_given_as_a_model_folder_is_named_so():
    error = refused(f"hf-causal:{TINY / 'model.safetensors'}")
    assert "is a file" in error.problem and str(TINY) in error.fix
    assert "is a device, not a file" in refused("hf-causal:/dev/zero").problem


def test_revision_on_a_local_folder_is_refused_not_ignored():
    error = refused(f"hf-causal:{TINY},revision=v999")
    assert "revision=v999 picks a commit of a hub model" in error.problem and "drop revision=" in error.fix
    check_location(ModelSpec.parse(f"hf-causal:{TINY}"))


def test_a_hub_name_fails_at_once_offline_or_when_the_hub_cannot_be_reached(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    refused("hf-causal:/no/such/folder")
    started = time.monotonic()
    assert "which HF_HUB_OFFLINE is set to forbid" in refused("hf-causal:nobody/no-such-model").problem
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as s:                    # a port nothing listens on: refused at once, like no network
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    error = refused("hf-causal:nobody/no-such-model")
    assert "needs 127.0.0.1, which cannot be reached" in error.problem and "HF_HUB_OFFLINE" in error.fix
    assert time.monotonic() - started < 2


def test_reachable_gives_up_within_its_time_even_when_the_name_lookup_hangs(monkeypatch):
    def hang(*args, **kwargs):                     # a resolver that never answers
        time.sleep(3)
        raise OSError("late")
    monkeypatch.setattr(socket, "create_connection", hang)
    started = time.monotonic()
    assert reachable("huggingface.co", 443, seconds=0.3) == "no answer within 0.3 s"
    assert time.monotonic() - started < 1


def test_a_typo_of_a_local_folder_exits_2_within_seconds_and_leaves_no_run_folder(tmp_path):
    out = tmp_path / "out"
    started = time.monotonic()
    proc = run_cli("run", "--model", "hf-causal:model/tiny-gtp2", "--tasks", "facts_mc", "--no-meters",
                   "--out", str(out), cwd=REPO, env={"HF_HUB_OFFLINE": "0"})
    assert time.monotonic() - started < 30
    assert_one_line_error(proc, "model/tiny-gtp2 not found", "did you mean model/tiny-gpt2?")
    assert not out.exists()


@pytest.mark.parametrize("make, needle", [
    (lambda p: None, "not found"), (lambda p: p.write_text("x"), "is a file"),
    (lambda p: p.mkdir(), "holds no head.safetensors or labels.json"),
    (lambda p: (p.mkdir(), (p / "head.safetensors").write_bytes(b""), (p / "labels.json").write_text("{}")),
     "is not a list of distinct label strings")])
def test_a_head_folder_is_checked_before_the_run(tmp_path, make, needle):
    make(tmp_path / "head")
    assert needle in str(refused(f"minilm,head={tmp_path / 'head'}"))
    assert needle in str(refused(f"encoder:{TINY},head={tmp_path / 'head'}"))


@pytest.mark.parametrize("data, needle", [("folder", "is a folder, not a file"), ("/dev/zero", "is a device, not a file"),
                                          ("missing.jsonl", "not found")])
def test_a_data_path_that_is_no_file_is_named_as_what_it_is(tmp_path, data, needle):
    from harness.prepared import prepare_task
    from harness.spec import load_task_file
    (tmp_path / "t" / "folder").mkdir(parents=True)
    folder = write_task(tmp_path / "t", "t", None, kind="generate", data=data)
    with pytest.raises(HarnessError, match=needle):
        prepare_task(load_task_file(folder / "task.yaml"), None, 0)
    folder = write_task(tmp_path / "f", "f", [{"id": "1", "text": "a", "answer": "a"}], kind="generate",
                        fewshot={"data": data if data.startswith("/") else str(tmp_path / "t" / data), "num": 1})
    with pytest.raises(HarnessError, match=needle):
        prepare_task(load_task_file(folder / "task.yaml"), None, 0)
