"""Known-good launch plans (fixtures/launch/known-good/): real commands reported to work must judge clean.

Each fixture names its source, the hardware it ran on and the engine version in a header:

    # hardware: 8xH200 driver 550.144.03
    # engine: vllm 0.25.0
    # expect: V4D315            (only where a finding is genuinely right)
    # known-gap: V4D302 (why)   (a false positive not fixed yet: the test fails once it stops firing)
    # recheck: vllm 0.33.0 expect: V4D315   (the same plan judged on another engine version)

The host facts are built with tools/make_spec_fixtures.py's builders from the knowledge base's
GPU records (NVML memory from real readings). A warning or error on these plans that is not in
`expect` is a false positive. The guide's own files (fixtures/launch/guide-*) are not known-good:
their tests assert the findings an operator should see.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, load_host, run_cli

KNOWN_GOOD = FIXTURES / "launch" / "known-good"
BLOCKING = ("error", "warning")
_VERSION = re.compile(r"^v?\d+\.\d+(\.\d+)?")


@dataclass(frozen=True)
class Case:
    path: Path
    hardware: str  # "8xH200"
    driver: str | None
    engine: str
    version: str | None
    expect: frozenset[str]
    gaps: frozenset[str]
    rechecks: tuple[tuple[str, frozenset[str]], ...]

    @property
    def plan(self) -> str:
        return "".join(line for line in self.path.read_text().splitlines(True) if not line.startswith("#"))


def _ids(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"V4D\d{3}", text))


def _header(path: Path) -> Case:
    """Read the `# key: value` header of a known-good fixture."""
    head = {}
    rechecks = []
    for line in path.read_text().splitlines():
        m = re.match(r"# (source|hardware|engine|expect|known-gap|recheck): (.*)", line)
        if not m:
            continue
        if m.group(1) == "recheck":
            version, _, ids = m.group(2).partition(" expect:")
            rechecks.append((version.split()[1], _ids(ids)))
        else:
            head[m.group(1)] = m.group(2)
    assert head.get("source", "").startswith("https://"), f"{path.name}: no source URL"
    hw = head["hardware"].split()
    driver = hw[hw.index("driver") + 1] if "driver" in hw else None
    engine, *rest = head["engine"].split()
    version = rest[0] if rest and _VERSION.match(rest[0]) else None
    gaps = _ids(head.get("known-gap", "").split("(")[0])
    return Case(path, hw[0], driver, engine, version, _ids(head.get("expect", "")), gaps, tuple(rechecks))


CASES = sorted((_header(p) for p in KNOWN_GOOD.glob("*") if p.suffix in (".sh", ".yaml", ".yml")), key=lambda c: c.path.name)


def _facts(case: Case, version: str | None):
    """Spec facts for the case's hardware, with its engine version installed (or the defaults when unpinned)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import make_spec_fixtures as msf

    from v4doctor.collect.target import build_target
    from v4doctor.knowledge.kb import load

    count, _, gpu_name = case.hardware.partition("x")
    key = load().gpu(gpu_name)["key"]
    kwargs = {"driver": (case.driver, "12.4")} if case.driver else {}
    packages = {case.engine: version} if version else msf._SOFTWARE
    spec = msf.HostSpec(case.path.stem, key, int(count), sources=[], packages=packages, **kwargs)
    facts = msf.build(spec)
    kind = "compose" if case.path.suffix in (".yaml", ".yml") else "cmd"
    if kind == "cmd":
        facts.target = build_target(cmd=case.plan, engine_version=version)
    else:
        facts.target = build_target(compose=str(case.path), engine_version=version)
    return facts, kind


def _blocking(case: Case, version: str | None) -> tuple[set[str], object]:
    from v4doctor.judge.doctor import judge
    from v4doctor.repair.propose import propose

    facts, kind = _facts(case, version)
    report = judge(facts)
    found = {f.id for f in report.findings if f.severity.value in BLOCKING}
    result = propose(case.plan if kind == "cmd" else case.path.read_text(), kind, facts)
    return found, result


def test_collected_cases():
    """At least the deployments v4-facts §4 lists, from recipes and issues, with their engines."""
    assert len(CASES) >= 7
    assert {c.engine for c in CASES} >= {"vllm", "sglang"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.path.stem)
def test_known_good_plan_judges_clean(case: Case):
    """No error/warning beyond the expected ones, and `fix` finds nothing to change."""
    found, result = _blocking(case, case.version)
    assert found - case.expect - case.gaps == set(), f"false positives on a working deployment: {sorted(found - case.expect - case.gaps)}"
    assert case.expect <= found, f"expected findings missing: {sorted(case.expect - found)}"
    assert case.gaps <= found, f"known gap fixed: drop {sorted(case.gaps - found)} from the fixture's known-gap line"
    if not case.expect and not case.gaps:
        assert not result.changed, result.diff
        assert not [f for f in result.findings if f.severity.value in BLOCKING]


@pytest.mark.parametrize("case,version,expect", [(c, v, e) for c in CASES for v, e in c.rechecks],
                         ids=lambda x: getattr(x, "path", Path(str(x))).stem if isinstance(x, Case) else str(x))
def test_known_good_plan_on_another_version(case: Case, version: str, expect: frozenset[str]):
    """The same plan on a later engine: only the findings that version really earns (review §4b, x3)."""
    found, result = _blocking(case, version)
    assert found == set(expect), sorted(found)
    assert result.changed  # the recipe flag is rewritten, not just reported


def test_fix_cli_says_nothing_to_fix(tmp_path):
    """The CLI path an operator runs: `v4doctor fix --cmd ... --facts host.json` prints "nothing to fix"."""
    from v4doctor.facts import facts_to_json
    import json

    case = next(c for c in CASES if c.path.stem == "vllm-51041-flash0731-2xh20-tp2")
    facts, _ = _facts(case, case.version)
    path = tmp_path / "h20.json"
    path.write_text(json.dumps(facts_to_json(facts)))
    r = run_cli("fix", "--cmd", case.plan, "--facts", str(path))
    assert r.code == 0, r.err
    assert "nothing to fix" in r.out
    assert run_cli("fix", "--cmd", case.plan, "--facts", str(path), "--check").code == 0


# --------------------------------------------------------------------------- the guide's own plans (not known-good)
GUIDE = FIXTURES / "launch"


def _guide(name: str, host: str, select=("V4D3",)) -> dict[str, str]:
    from v4doctor.collect.target import build_target
    from v4doctor.judge.doctor import judge

    facts = load_host(host)
    path = GUIDE / name
    if path.suffix == ".yaml":
        facts.target = build_target(compose=str(path))
    else:
        facts.target = build_target(cmd="".join(l for l in path.read_text().splitlines(True) if not l.startswith(("#", "docker pull"))))
    return {f.id: f.severity.value for f in judge(facts, select=select).findings if f.severity.value in (*BLOCKING, "info")}


GUIDE_EXPECT = [
    # (plan, host, errors an operator must see, why)
    ("guide-option-b-flash.yaml", "1xa100-80g.json", {"V4D111", "V4D210", "V4D303"},
     "the guide's '1x A100 80GB' for Flash: SM80 is not upstream, and 148.66 GiB cannot fit 80 GB"),
    ("guide-option-b-pro.yaml", "8xh100-80g.json", {"V4D210", "V4D303"}, "Pro (805 GiB) on 8x H100: guide-pro-oom-8xh100"),
    ("guide-option-c-flash.sh", "1xa100-80g.json", {"V4D111", "V4D210", "V4D303"}, "SGLang, same hardware claim as Option B"),
    ("guide-option-c-pro.sh", "8xh100-80g.json", {"V4D210", "V4D303"}, "SGLang TP=8 cannot load Pro on 8x 80 GB"),
]


@pytest.mark.parametrize("name,host,errors,why", GUIDE_EXPECT, ids=[g[0] for g in GUIDE_EXPECT])
def test_guide_plans_get_the_findings_an_operator_expects(name, host, errors, why):
    """The guide's plans are not known-good: exactly these errors, no warnings, and the trust-remote-code note."""
    found = _guide(name, host, select=())
    assert {i for i, s in found.items() if s == "error"} == errors, why
    assert not [i for i, s in found.items() if s == "warning"], found
    assert found.get("V4D314") == "info"  # the guide says --trust-remote-code is required; it is not


def test_guide_flash_compose_keeps_its_shm():
    """Option B sets shm_size 16gb: no shared-memory finding even where the layout is wrong."""
    assert "V4D310" not in _guide("guide-option-b-flash.yaml", "4xh200.json")


# --------------------------------------------------------------------------- regressions for the false positives found here
def _v4d(text: str, host: str, version: str | None, select=("V4D3",)):
    from v4doctor.collect.target import build_target
    from v4doctor.judge.doctor import judge

    facts = load_host(host)
    facts.target = build_target(cmd=text, engine_version=version)
    return {f.id: f.severity.value for f in judge(facts, select=select).findings if f.severity.value not in ("skipped", "ok")}


def test_vllm_033_accepts_the_hidden_no_negations():
    """FP1 (V4D315): `--no-disable-hybrid-kv-cache-manager` (recipe H200 PD) and `--no-enable-flashinfer-autotune`
    (recipe single_node_tp, Hopper) are accepted by vLLM 0.33's EnableDisableAction though hidden from --help."""
    cmd = "vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 8 --no-disable-hybrid-kv-cache-manager --no-enable-flashinfer-autotune"
    assert "V4D315" not in _v4d(cmd, "8xh100-80g.json", "0.33.0")
    typo = "vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 8 --no-disable-hybrid-kv-cache-managr"
    assert _v4d(typo, "8xh100-80g.json", "0.33.0").get("V4D315") in ("error", "warning")  # a real unknown flag still fires


def test_sglang_deprecated_switch_takes_no_value():
    """FP2 (parse error, exit 2): SGLang 0.5.23 keeps `--enable-dp-attention` as a DeprecatedStoreTrueAction switch."""
    from v4doctor.launch import parse_text

    spec = parse_text("python3 -m sglang.launch_server --model-path sgl-project/DeepSeek-V4-Flash-FP8 --tp 4 "
                      "--enable-dp-attention --moe-a2a-backend deepep --disable-cuda-graph")
    assert spec.flag("enable-dp-attention") is True and spec.flag("moe-a2a-backend") == "deepep"


def test_flag_of_another_version_on_an_unknown_pinned_image_is_info():
    """FP3 (V4D315): `--cuda-graph-max-bs` exists in SGLang 0.5.12, not 0.5.23; on the day-0 `deepseek-v4-hopper` tag
    nothing says 0.5.23 runs, so it is information, not an error. On an image that tracks the newest it stays an error."""
    base = "docker run --gpus all --ipc=host lmsysorg/sglang:{tag} python3 -m sglang.launch_server " \
           "--model-path sgl-project/DeepSeek-V4-Flash-FP8 --tp 4 --cuda-graph-max-bs 32"
    assert _v4d(base.format(tag="deepseek-v4-hopper"), "4xh200.json", None).get("V4D315") == "info"
    assert _v4d(base.format(tag="latest"), "4xh200.json", None).get("V4D315") in ("error", "warning")


def test_recipe_fp4_flag_on_vllm_latest_is_still_an_error():
    """The x3 case stays a hit: `vllm/vllm-openai:latest` is the newest (0.33), which rejects use_fp4_indexer_cache."""
    cmd = ("docker run --gpus all --ipc=host vllm/vllm-openai:latest deepseek-ai/DeepSeek-V4-Flash "
           "--data-parallel-size 8 --enable-expert-parallel --attention_config.use_fp4_indexer_cache=True")
    assert _v4d(cmd, "8xb200.json", None).get("V4D315") == "error"


def test_tight_context_is_info_but_hopeless_is_error():
    """FP4 (V4D302): 121,344 tokens of Flash-0731 on 2x H20 ran (#51041); the 10 GiB overhead assumption said 0 tokens.
    Errors now need the lowest measured overhead (8 GiB) to fail too."""
    case = next(c for c in CASES if c.path.stem == "vllm-51041-flash0731-2xh20-tp2")
    found, _ = _blocking(case, case.version)
    assert "V4D302" not in found
    hopeless = _v4d("vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 2 --max-model-len 1048576 --gpu-memory-utilization 0.9",
                    "2xrtxpro6000.json", "0.33.0")
    assert hopeless["V4D302"] == "error"


def test_memory_tight_warning_defers_to_a_plan_that_fits():
    """FP5 (V4D210): the host-level 'only N GiB left for KV' guess is silent when the plan's own fit holds its context."""
    plan = "vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 2 --max-model-len 65536"
    assert "V4D210" not in _v4d(plan, "2xrtxpro6000.json", "0.33.0", select=("V4D210",))
    from v4doctor.judge.doctor import judge

    bare = load_host("2xrtxpro6000.json")  # no plan: the guess is all there is
    assert {f.id for f in judge(bare, select=("V4D210",)).findings if f.severity.value == "warning"} == {"V4D210"}


def test_driver_check_leaves_container_plans_to_the_image_check():
    """FP6 (V4D102): a `docker run` plan runs the image's CUDA build, not the host Python's torch."""
    from v4doctor.collect.target import build_target
    from v4doctor.judge.doctor import judge

    facts = load_host("driver570-vllm020-cu130.json")
    assert "V4D102" in {f.id for f in judge(facts, select=("V4D102",)).findings if f.severity.value == "error"}
    facts.target = build_target(cmd="docker run --gpus all --ipc=host vllm/vllm-openai:v0.20.0-cu129 deepseek-ai/DeepSeek-V4-Flash -tp 8")
    found = {f.id: f.severity.value for f in judge(facts, select=("V4D102", "V4D313")).findings}
    assert found.get("V4D102") != "error" and found.get("V4D313") != "error"  # cu129 image on R570: runs
    facts.target = build_target(cmd="docker run --gpus all --ipc=host vllm/vllm-openai:v0.20.0 deepseek-ai/DeepSeek-V4-Flash -tp 8")
    assert {f.id: f.severity.value for f in judge(facts, select=("V4D313",)).findings}.get("V4D313") == "error"


def test_real_h200_x1_host_verdicts():
    """A real 1x H200 (fixtures/hosts/h200-x1.json): Flash does not fit (148.66 GiB > 129 GiB usable) — right;
    nothing else that a single GPU makes moot (shm, NVLink/P2P, layout) may warn."""
    from v4doctor.judge.doctor import judge

    facts = load_host("h200-x1.json")
    facts.target.model, facts.target.engine = "flash", "vllm"
    found = {f.id: f.severity.value for f in judge(facts).findings if f.severity.value in BLOCKING}
    assert found.get("V4D210") == "error"
    assert set(found) <= {"V4D210", "V4D211"}, found  # V4D211: the probe really had 64 GiB free on /
    facts.target = __import__("v4doctor.collect.target", fromlist=["x"]).build_target(
        cmd="docker run --gpus all vllm/vllm-openai:v0.33.0 deepseek-ai/DeepSeek-V4-Flash --max-model-len 65536")
    plan = {f.id: f.severity.value for f in judge(facts, select=("V4D3", "V4D1")).findings if f.severity.value in BLOCKING}
    assert "V4D310" not in plan  # one GPU: no worker processes sharing /dev/shm
    assert plan.get("V4D303") == "error"  # and the weights still do not fit one GPU
