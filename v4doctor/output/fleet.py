"""Terminal lines of a fleet report (`run --ray`): one line per node, the findings across nodes, each node's problems.

    v4doctor: DeepSeek-V4-Pro on vllm, Ray 2.60.0 cluster at 10.0.0.10:6379, 3 node(s)
      node 10.0.0.10 (8cdb51e1, head)   8 GPU(s)  driver 580.65.06  vllm 0.33.0  ray 2.60.0   0 error(s)
    [✗] Across nodes
        ✗ NVIDIA driver differs between nodes: 10.0.0.12 (76d99882) has 570.86.15; the others have 580.65.06  [V4D702]
          nodes: 10.0.0.12 (76d99882)

Pure: (text, style) pairs like render.terminal_lines, redacted.
"""

from __future__ import annotations

from typing import Any

from v4doctor.judge.findings import Finding, Severity, public_sources
from v4doctor.output.redact import redact_text
from v4doctor.output.render import STYLE, SYMBOL


def fleet_lines(data: dict[str, Any], findings: list[Finding], node_findings: dict[str, list[Finding]], verbose: bool = False) -> list[tuple[str, str]]:
    """The fleet report as terminal lines; `node_findings` maps node_id -> that node's findings."""
    t, c = data["target"], data["cluster"]
    version = c.get("ray_version")
    head = f"v4doctor: {t.get('model_name') or t.get('model')} on {t.get('engine')}, Ray {_text(version)} cluster at {c.get('address')}, {len(data['nodes'])} node(s)"
    lines: list[tuple[str, str]] = [(head, "bold"), ("", "")]
    lines += [_node_line(n) for n in data["nodes"]]
    lines.append(("", ""))
    shown = [f for f in sorted(findings, key=lambda f: (f.severity.rank, f.id)) if verbose or f.severity is not Severity.OK]
    worst = min((f.severity for f in findings), key=lambda s: s.rank, default=Severity.OK)
    lines.append((f"[{SYMBOL[worst]}] Across nodes", STYLE[worst]))
    for f in shown:
        lines += _finding(f, verbose)
    lines += _on_nodes(data, node_findings, verbose)
    lines += [("", ""), _summary_line(data["summary"])]
    named = data["summary"].get("nodes_named")
    if named:
        lines.append((f"Nodes to look at: {', '.join(named)}", "bold"))
    return [(redact_text(text), style) for text, style in lines]


def _on_nodes(data: dict[str, Any], node_findings: dict[str, list[Finding]], verbose: bool) -> list[tuple[str, str]]:
    """Each node's own problems, a finding several nodes share printed once with the nodes it is about."""
    labels = {n["node_id"]: _label(n) for n in data["nodes"]}
    shared: dict[tuple, tuple[Finding, list[str]]] = {}
    for node_id, found in node_findings.items():
        for f in found:
            if verbose or f.severity in (Severity.ERROR, Severity.WARNING):
                key = (f.id, f.severity, f.title, f.detail)
                shared.setdefault(key, (f, []))[1].append(labels.get(node_id, node_id))
    if not shared:
        return []
    worst = min((f.severity for f, _ in shared.values()), key=lambda s: s.rank)
    lines = [(f"[{SYMBOL[worst]}] On the nodes", STYLE[worst])]
    answered = len(node_findings)
    for f, where in sorted(shared.values(), key=lambda x: (x[0].severity.rank, x[0].id)):
        lines += _finding(f, verbose, nodes=f"all {answered} nodes" if len(where) == answered > 1 else ", ".join(sorted(where)))
    return lines


def _summary_line(s: dict[str, Any]) -> tuple[str, str]:
    text = f"{s['error']} error(s), {s['warning']} warning(s) on {s['nodes_answered']} of {s['nodes']} node(s) checked."
    return (text + (" Ready to deploy." if s["ready"] else " Not ready to deploy."), "bold green" if s["ready"] else "bold red")


def _label(n: dict[str, Any]) -> str:
    return f"{n['address']} ({n['node_id'][:8]}{', head' if n.get('is_head') else ''})"


def _text(value: Any) -> str:
    return "?" if isinstance(value, dict) and "unknown" in value else str(value)


def _node_line(n: dict[str, Any]) -> tuple[str, str]:
    facts = n.get("facts") or {}
    if not n.get("alive") or "unknown" in facts:
        reason = facts.get("unknown", "dead") if isinstance(facts, dict) else "?"
        return (f"  node {_label(n)}  not checked: {reason}", STYLE[Severity.WARNING])
    gpu, py = facts.get("gpu") or {}, facts.get("python") or {}
    pkgs = py.get("packages") or {}
    engine = next((f"{k} {v}" for k in ("vllm", "sglang") if isinstance(v := pkgs.get(k), str)), "no engine")
    s = n.get("summary") or {}
    return (f"  node {_label(n)}  {_text(n.get('gpus'))} GPU(s)  driver {_text(gpu.get('driver_version', '?'))}  {engine}  "
            f"ray {_text(n.get('ray_version'))}  {s.get('error', 0)} error(s), {s.get('warning', 0)} warning(s)", "")


def _finding(f: Finding, verbose: bool, nodes: str = "") -> list[tuple[str, str]]:
    out = [(f"    {SYMBOL[f.severity]} {f.title}  [{f.id}]", STYLE[f.severity])]
    if f.detail and f.severity is not Severity.OK:
        out += [(f"      {line}", "") for line in f.detail.splitlines()]
    if nodes or f.nodes:
        out.append((f"      nodes: {nodes or ', '.join(f.nodes)}", "bold"))
    if f.fix and f.severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        out.append((f"      fix: {f.fix.text}", "green"))
        out += [(f"        $ {cmd}", "green") for cmd in f.fix.commands]
    if verbose:
        out += [(f"      evidence: {e}", "dim") for e in f.evidence]
        out += [(f"      source: {s}", "dim") for s in public_sources(f.sources)]
    return out
