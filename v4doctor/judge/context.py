"""Context: facts + knowledge base + derived values (pure; no I/O).

Checks ask for values by parameter name; `Context.get(name)` returns the value or an
`Unknown(reason)`. Derived values are computed once, on first use, so a run that
selects one check does not pay for the others.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from v4doctor.facts import Facts, GpuDevice, NotApplicable, Unknown, known
from v4doctor.knowledge.kb import KnowledgeBase, load

ENGINE_PACKAGES = {"vllm": "vllm", "sglang": "sglang"}
ENGINE_BINARIES = {"llamacpp": ("llama-server", "llama-cli"), "ollama": ("ollama",)}


class Context:
    def __init__(self, facts: Facts, kb: KnowledgeBase | None = None, fleet: Any = None):
        self.facts = facts
        self.kb = kb or load()
        # The whole Ray cluster (v4doctor.facts.fleet.FleetFacts) in `run --ray`; fleet checks stay silent elsewhere.
        self.fleet = fleet if fleet is not None else NotApplicable("not a fleet run (`v4doctor run --ray ADDRESS`)")

    def get(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except Exception as exc:  # a derivation that fails is an unknown, not a crash
            return Unknown(f"could not derive {name}: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ raw facts
    @property
    def target(self):
        return self.facts.target

    @property
    def gpu(self):
        return self.facts.gpu

    @property
    def system(self):
        return self.facts.system

    @property
    def python(self):
        return self.facts.python

    @property
    def binaries(self):
        return self.facts.binaries

    @property
    def hub(self):
        return self.facts.hub

    @property
    def docker(self):
        return self.facts.docker

    @property
    def gguf(self):
        return self.facts.gguf

    @property
    def engine(self) -> str:
        return self.facts.target.engine

    # ------------------------------------------------------------------ derived
    @cached_property
    def gpus(self) -> list[GpuDevice] | Unknown:
        gpu = self.facts.gpu
        if not known(gpu):
            return gpu
        return gpu.devices

    @cached_property
    def gpu_family(self) -> dict[str, Any] | Unknown:
        """The knowledge-base family of the first GPU (by compute capability)."""
        gpus = self.gpus
        if not known(gpus):
            return gpus
        if not gpus:
            return Unknown("no GPU found")
        cc = gpus[0].compute_capability
        if not known(cc):
            return cc
        for fam in self.kb.records("gpu_family"):
            if cc in fam.get("compute_capabilities", []):
                return fam
        return Unknown(f"compute capability {cc} is not in the knowledge base")

    @cached_property
    def model(self) -> dict[str, Any] | Unknown:
        from v4doctor.facts.target import resolve_model

        return resolve_model(self.facts.target, self.kb)

    @cached_property
    def engine_version(self) -> str | Unknown:
        """The engine version the plan will run: given explicitly, else what is installed."""
        target = self.facts.target
        if known(target.engine_version):
            return target.engine_version
        engine = target.engine
        if engine in ENGINE_PACKAGES:
            py = self.facts.python
            if not known(py):
                return py
            return py.packages.get(ENGINE_PACKAGES[engine], Unknown(f"{engine} is not installed in this Python"))
        for name in ENGINE_BINARIES.get(engine, ()):
            b = self.facts.binaries.get(name)
            if b is not None and known(b.version):
                return b.version
        return Unknown(f"no {engine} binary found on PATH")

    @cached_property
    def launch(self) -> Any:
        """The launch plan parsed from --cmd or the compose file (a LaunchSpec)."""
        from v4doctor.launch import parse_command, parse_compose

        target = self.facts.target
        if known(target.cmd):
            return parse_command(target.cmd)
        if known(target.compose_text):
            return parse_compose(target.compose_text)
        return NotApplicable("no launch command given")

    @cached_property
    def fit(self) -> Any:
        """The memory fit of the launch plan on this host's GPUs (a v4doctor.launch.fit.FitResult)."""
        from v4doctor.launch.plan import fit_for_spec, resolve_model, visible_gpus

        spec, gpus = self.launch, self.gpus
        if not known(spec):
            return spec
        if not known(gpus) or not gpus:
            return gpus if not known(gpus) else Unknown("no GPU found")
        mem = gpus[0].memory_total_bytes
        if not known(mem):
            return mem
        fallback = self.model if known(self.model) else None
        model = resolve_model(spec, self.kb, fallback)
        if model is None:
            return Unknown(f"model {spec.model!r} is not in the knowledge base")
        name = gpus[0].name if known(gpus[0].name) else ""
        version = self.engine_version if known(self.engine_version) else None
        try:
            return fit_for_spec(spec, model, self.kb, visible_gpus(spec, len(gpus)), mem / (1 << 30), gpu_name=str(name),
                                engine_version=str(version) if version else None)
        except ValueError as exc:  # a figure no source gives (size on disk, KV layout): the memory checks say why they skip
            return Unknown(str(exc))
