#!/usr/bin/env python3
"""Convert a raw host reading (tools/nvml_probe.py output) into a v4doctor facts snapshot.

Usage: `python tools/probe_to_facts.py fixtures/hosts/h200-x1-probe.json -o fixtures/hosts/h200-x1.json`.
The GPU facts come from replaying the recorded NVML calls through the real collector
(v4doctor/collect/gpu.py); system, Python and binary facts from the recorded command
outputs (df, free, lscpu, uname, pip list, nvcc, nvidia-smi, torch). The result is
deterministic: the same reading always gives the same snapshot.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nvml_replay import RecordedNvml  # noqa: E402

from v4doctor import __version__  # noqa: E402
from v4doctor.collect import gpu, software  # noqa: E402
from v4doctor.collect.target import build_target  # noqa: E402
from v4doctor.facts import (  # noqa: E402
    BinaryFacts, DiskFacts, Facts, PythonFacts, SystemFacts, Unknown, facts_to_json,
)

NOT_RECORDED = "not recorded by the probe"


def _stdout(reading: dict, key: str) -> str | Unknown:
    entry = reading.get(key) or {}
    if entry.get("rc") != 0:
        return Unknown(f"{key}: {NOT_RECORDED}" if not entry else f"{key} failed (rc {entry.get('rc')})")
    return entry.get("stdout", "")


def parse_df(text: str) -> list[tuple[str, int, int]]:
    """`/dev/vda  270553174016 17286479872 68702457856 21% /` -> ("/", total, available), once per mount."""
    rows: dict[str, tuple[str, int, int]] = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 6 and parts[1].isdigit() and parts[3].isdigit():
            rows.setdefault(parts[5], (parts[5], int(parts[1]), int(parts[3])))
    return list(rows.values())


def parse_free(text: str) -> dict[str, int]:
    """`Mem:  135148564480  552960000 …  134595604480` under `total used free shared buff/cache available`."""
    lines = text.splitlines()
    for line in lines[1:]:
        if line.startswith("Mem:"):
            return dict(zip(lines[0].split(), (int(v) for v in line.split()[1:])))
    return {}


def parse_lscpu(text: str) -> dict[str, str]:
    """`Model name:   Intel(R) Xeon(R) Processor` -> {"Model name": "Intel(R) Xeon(R) Processor"}."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.strip(), value.strip())
    return out


def system_facts(reading: dict) -> SystemFacts:
    df, free, uname = (_stdout(reading, k) for k in ("df", "free", "uname"))
    cpu = parse_lscpu(_stdout(reading, "lscpu") or "")
    mounts = parse_df(df) if isinstance(df, str) else []
    mem = parse_free(free) if isinstance(free, str) else {}
    words = uname.split() if isinstance(uname, str) else []
    missing = Unknown(NOT_RECORDED)
    return SystemFacts(
        os=Unknown("the probe records no /etc/os-release"),
        kernel=words[2] if len(words) > 2 else missing,
        arch=cpu.get("Architecture", missing),
        cpu_model=cpu.get("Model name", missing),
        cpu_count=int(cpu["CPU(s)"]) if cpu.get("CPU(s)", "").isdigit() else missing,
        ram_total_bytes=mem.get("total", missing),
        ram_available_bytes=mem.get("available", missing),
        shm_bytes=next((total for point, total, _ in mounts if point == "/dev/shm"), missing),
        in_container=Unknown("the probe records no container markers"),
        container_runtime=Unknown("the probe records no container markers"),
        disks=[DiskFacts(point, free_, total, Unknown("df without -T gives no filesystem type"), point)
               for point, total, free_ in mounts if point != "/dev/shm"],
    )


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python_facts(reading: dict) -> PythonFacts:
    installed = {_canonical(p["name"]): p["version"] for p in reading.get("pip_list", {}).get("packages", [])}
    packages = {}
    for key, names in software.PACKAGES.items():
        found = next((installed[_canonical(n)] for n in names if _canonical(n) in installed), None)
        packages[key] = found or Unknown(software.NOT_INSTALLED)
    return PythonFacts(version=reading.get("python") or Unknown(NOT_RECORDED), executable=Unknown(NOT_RECORDED),
                       packages=packages, torch_cuda=_torch_cuda(reading, packages["torch"]))


def _torch_cuda(reading: dict, version) -> str | Unknown:
    """From the recorded `torch.__version__, torch.version.cuda` line: `2.11.0+cu130 13.0 True …`."""
    out = _stdout(reading, "torch")
    words = out.split() if isinstance(out, str) else []
    if len(words) > 1:
        return "cpu" if words[1] == "None" else words[1]
    if not isinstance(version, str):
        return version
    return software.cuda_from_local_version(version) or Unknown(NOT_RECORDED)


def binary_facts(reading: dict) -> dict[str, BinaryFacts]:
    out = {name: BinaryFacts(Unknown(NOT_RECORDED), Unknown(NOT_RECORDED)) for name in software.BINARIES}
    recorded = {"nvcc": ("nvcc", software.BINARIES["nvcc"][1]),
                "nvidia-smi": ("nvidia_smi", (r"Driver Version:\s*(\S+)",))}
    for name, (key, patterns) in recorded.items():
        text = _stdout(reading, key)
        if isinstance(text, str):
            out[name] = BinaryFacts(Unknown("ran, but the probe records no path"),
                                    software.parse_version(text, patterns), software.version_evidence(text, patterns))
    return out


def collected_at(reading: dict) -> str:
    """The nvidia-smi header time, `Sun Nov 29 05:51:26 2026`, as ISO 8601 (the probe runs in UTC)."""
    text = _stdout(reading, "nvidia_smi")
    first = text.splitlines()[0].strip() if isinstance(text, str) and text else ""
    try:
        when = datetime.datetime.strptime(first, "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return ""
    return when.replace(tzinfo=datetime.timezone.utc).isoformat(timespec="seconds")


def convert(reading: dict, model: str = "flash", engine: str = "vllm") -> Facts:
    return Facts(
        target=build_target(model, engine),
        gpu=gpu.collect(RecordedNvml(reading)),
        system=system_facts(reading),
        python=python_facts(reading),
        binaries=binary_facts(reading),
        hub=Unknown("the probe records no Hugging Face settings"),
        docker=Unknown("the probe records no Docker facts"),
        gguf=Unknown("the probe records no GGUF files"),
        source="snapshot",
        collected_at=collected_at(reading),
        v4doctor_version=__version__,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reading", help="a raw reading from tools/nvml_probe.py")
    p.add_argument("-o", "--output", help="write the snapshot here (default: stdout)")
    p.add_argument("--model", default="flash")
    p.add_argument("--engine", default="vllm")
    args = p.parse_args(argv)
    from v4doctor.output.render import to_json

    reading = json.loads(Path(args.reading).read_text(encoding="utf-8"))
    text = to_json(facts_to_json(convert(reading, args.model, args.engine))) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
