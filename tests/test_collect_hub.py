"""Hugging Face collector: token source (never the value), cache dir as huggingface_hub resolves it, cached files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from v4doctor.collect import hub
from v4doctor.facts import TargetFacts, Unknown, facts_to_json
from v4doctor.output.render import to_json

SECRET = "hf_abcdefghijklmnopqrstuvwxyz0123456789"
FLASH = TargetFacts(model="flash", engine="vllm")


def _env(tmp_path, **extra):
    return {"HOME": str(tmp_path / "home"), **extra}


@pytest.mark.parametrize(
    "extra, configured, source",
    [
        ({"HF_TOKEN": SECRET}, True, "HF_TOKEN"),
        ({"HUGGING_FACE_HUB_TOKEN": SECRET}, True, "HUGGING_FACE_HUB_TOKEN"),
        ({"HF_TOKEN": SECRET, "HUGGING_FACE_HUB_TOKEN": "hf_other"}, True, "HF_TOKEN"),  # HF_TOKEN wins, as in huggingface_hub
        # no-hit: an empty or blank variable is no token (huggingface_hub strips it to None)
        ({"HF_TOKEN": "  "}, False, None),
    ],
)
def test_token_from_the_environment_records_the_source_never_the_value(tmp_path, extra, configured, source):
    facts = hub.collect(FLASH, _env(tmp_path, **extra))
    assert facts.token_configured is configured
    if source:
        assert facts.token_source == source
    else:
        assert isinstance(facts.token_source, Unknown)
    dumped = json.dumps(facts_to_json(facts))
    assert SECRET not in dumped and "hf_other" not in dumped


def test_token_file_under_hf_home(tmp_path):
    home = tmp_path / "hfhome"
    home.mkdir()
    (home / "token").write_text(SECRET + "\n")
    facts = hub.collect(FLASH, _env(tmp_path, HF_HOME=str(home)))
    assert facts.token_configured is True and facts.token_source == f"token file {home / 'token'}"
    assert SECRET not in to_json(facts_to_json(facts))
    (home / "token").write_text("\n")
    assert hub.collect(FLASH, _env(tmp_path, HF_HOME=str(home))).token_configured is False


def test_settings_offline_endpoint_and_transfer_packages(tmp_path):
    facts = hub.collect(FLASH, _env(tmp_path, HF_HUB_OFFLINE="1", HF_ENDPOINT="http://127.0.0.1:8099/"))
    assert facts.offline is True and facts.endpoint == "http://127.0.0.1:8099"
    assert hub.collect(FLASH, _env(tmp_path, HF_HUB_OFFLINE="0")).offline is False
    assert hub.collect(FLASH, _env(tmp_path)).endpoint == "https://huggingface.co"
    import importlib.util
    assert facts.hf_xet is (importlib.util.find_spec("hf_xet") is not None)


ENV_CASES = [
    {},
    {"HF_HOME": "{tmp}/hf"},
    {"XDG_CACHE_HOME": "{tmp}/xdg"},
    {"HF_HOME": "{tmp}/hf", "HF_HUB_CACHE": "{tmp}/hubcache"},
    {"HUGGINGFACE_HUB_CACHE": "{tmp}/legacy"},
]


@pytest.mark.parametrize("case", ENV_CASES)
def test_cache_dir_and_token_agree_with_huggingface_hub_itself(tmp_path, case):
    """Ask the real huggingface_hub, in a clean subprocess, where its cache and token are."""
    env = {k: v.format(tmp=tmp_path) for k, v in case.items()}
    env.update(HOME=str(tmp_path / "home"), PATH=os.environ.get("PATH", ""), HF_TOKEN=SECRET)
    code = ("import json; from huggingface_hub import constants, get_token; "
            "print(json.dumps([constants.HF_HUB_CACHE, get_token() is not None]))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    cache, has_token = json.loads(done.stdout)
    facts = hub.collect(FLASH, env)
    assert facts.cache_dir == cache and facts.token_configured is has_token


# --------------------------------------------------------------------------- the cache
def _cache(root, repo="deepseek-ai/DeepSeek-V4-Flash"):
    """A hub cache laid out as huggingface_hub writes it: blobs, snapshots of symlinks, refs."""
    folder = root / ("models--" + repo.replace("/", "--"))
    blobs = folder / "blobs"
    blobs.mkdir(parents=True)
    (blobs / "aaa").write_text("{}" * 50)  # config.json, 100 bytes
    (blobs / "bbb").write_bytes(b"\0" * 4096)  # a shard
    (blobs / "ccc.incomplete").write_bytes(b"\0" * 1000)  # a download cut short
    for rev, files in {"r1": {"config.json": "aaa", "model-00001-of-00046.safetensors": "bbb"},
                       "r2": {"config.json": "aaa", "inference/encoding.py": "missing"}}.items():
        for name, blob in files.items():
            link = folder / "snapshots" / rev / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blobs / blob, link.parent))
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("r1")
    return folder


def test_cached_files_bytes_and_incomplete(tmp_path):
    _cache(tmp_path / "hub")
    facts = hub.collect(FLASH, _env(tmp_path, HF_HUB_CACHE=str(tmp_path / "hub")))
    # the dangling link (its blob never arrived) is not a cached file; shared blobs count once
    assert facts.cached_files == ["config.json", "model-00001-of-00046.safetensors"]
    assert facts.cached_bytes == 100 + 4096
    assert facts.incomplete_bytes == 1000


def test_cached_bytes_agree_with_huggingface_hub_scan(tmp_path):
    from huggingface_hub import scan_cache_dir

    folder = _cache(tmp_path / "hub")
    (folder / "snapshots" / "r2" / "inference" / "encoding.py").unlink()  # scan_cache_dir refuses a dangling link
    (repo,) = scan_cache_dir(tmp_path / "hub").repos
    facts = hub.collect(FLASH, _env(tmp_path, HF_HUB_CACHE=str(tmp_path / "hub")))
    assert repo.repo_id == "deepseek-ai/DeepSeek-V4-Flash"
    assert facts.cached_bytes == repo.size_on_disk
    assert sorted({f.file_name for rev in repo.revisions for f in rev.files}) == facts.cached_files


@pytest.mark.parametrize(
    "model, expected",
    [
        ("flash", "deepseek-ai/DeepSeek-V4-Flash"),  # an alias, through the knowledge base
        ("DeepSeek-V4-Pro", "deepseek-ai/DeepSeek-V4-Pro"),
        ("someone/DeepSeek-V4-Flash-AWQ", "someone/DeepSeek-V4-Flash-AWQ"),  # any org/name repo id
    ],
)
def test_repo_id_resolution(model, expected):
    assert hub.repo_id(TargetFacts(model=model, engine="vllm")) == expected


def test_nothing_cached_and_local_targets(tmp_path):
    env = _env(tmp_path, HF_HUB_CACHE=str(tmp_path / "empty"))
    facts = hub.collect(FLASH, env)
    assert (facts.cached_files, facts.cached_bytes, facts.incomplete_bytes) == ([], 0, 0)
    local = TargetFacts(model=str(tmp_path), engine="vllm", local_path=str(tmp_path))
    facts = hub.collect(local, env)
    assert isinstance(facts.cached_files, Unknown) and "local path" in facts.cached_files.reason
    assert isinstance(hub.repo_id(TargetFacts(model="not-a-model", engine="vllm")), Unknown)
