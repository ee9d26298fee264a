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


def fleet_lines(data: dict[str, Any], findings: list[Finding], node_findings: dict[str, list[Finding]], verbose: bool = False,
                quiet: bool = False) -> list[tuple[str, str]]:
    """The fleet report as terminal lines; `node_findings` maps node_id -> that node's findings. `quiet`: only the
    errors (across nodes, then on the nodes), then the summary."""
    if quiet:
        errors = [(f, ", ".join(f.nodes)) for f in findings if f.severity is Severity.ERROR]
        errors += [(f, where) for f, where in _shared(data, node_findings, False) if f.severity is Severity.ERROR]
        lines = [line for f, where in errors for line in _finding(f, False, nodes=where)] + [_summary_line(data["summary"])]
        return [(redact_text(text), style) for text, style in lines]
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


def _shared(data: dict[str, Any], node_findings: dict[str, list[Finding]], verbose: bool) -> list[tuple[Finding, str]]:
    """Each node's own problems; a finding several nodes share once, with the nodes it is about ("all 3 nodes")."""
    labels = {n["node_id"]: _label(n) for n in data["nodes"]}
    shared: dict[tuple, tuple[Finding, list[str]]] = {}
    for node_id, found in node_findings.items():
        for f in found:
            if verbose or f.severity in (Severity.ERROR, Severity.WARNING):
                shared.setdefault((f.id, f.severity, f.title, f.detail), (f, []))[1].append(labels.get(node_id, node_id))
    answered = len(node_findings)
    return [(f, f"all {answered} nodes" if len(where) == answered > 1 else ", ".join(sorted(where)))
            for f, where in sorted(shared.values(), key=lambda x: (x[0].severity.rank, x[0].id))]


def _on_nodes(data: dict[str, Any], node_findings: dict[str, list[Finding]], verbose: bool) -> list[tuple[str, str]]:
    items = _shared(data, node_findings, verbose)
    if not items:
        return []
    worst = min((f.severity for f, _ in items), key=lambda s: s.rank)
    lines = [(f"[{SYMBOL[worst]}] On the nodes", STYLE[worst])]
    for f, where in items:
        lines += _finding(f, verbose, nodes=where)
    return lines


def fleet_markdown(data: dict[str, Any], findings: list[Finding], node_findings: dict[str, list[Finding]]) -> str:
    """The fleet report to paste into a ticket: a table of the nodes, the findings across nodes, each node's problems."""
    from v4doctor.output.render import md_escape

    t, c = data["target"], data["cluster"]
    out = [f"## v4doctor: {md_escape(str(t.get('model_name') or t.get('model')))} on {md_escape(str(t.get('engine')))}, "
           f"Ray {md_escape(_text(c.get('ray_version')))} cluster at {md_escape(str(c.get('address')))}", "",
           "| node | GPUs | driver | engine | Ray | errors | warnings |", "|---|---|---|---|---|---|---|"]
    for n in data["nodes"]:
        facts, s = n.get("facts") or {}, n.get("summary") or {}
        if "unknown" in facts:
            out.append(f"| {md_escape(_label(n))} | not checked: {md_escape(str(facts['unknown']))} | | | | | |")
            continue
        pkgs = (facts.get("python") or {}).get("packages") or {}
        engine = next((f"{k} {v}" for k in ("vllm", "sglang") if isinstance(v := pkgs.get(k), str)), "none")
        out.append(f"| {md_escape(_label(n))} | {_text(n.get('gpus'))} | {md_escape(_text((facts.get('gpu') or {}).get('driver_version', '?')))} | "
                   f"{md_escape(engine)} | {md_escape(_text(n.get('ray_version')))} | {s.get('error', 0)} | {s.get('warning', 0)} |")
    sections = [("Across nodes", [(f, ", ".join(f.nodes)) for f in sorted(findings, key=lambda f: (f.severity.rank, f.id)) if f.severity is not Severity.OK]),
                ("On the nodes", _shared(data, node_findings, False))]
    for title, items in sections:
        out += ["", f"### {title}", ""] + (["Nothing found."] if not items else [])
        for f, where in items:
            out.append(f"- **{f.severity.value}** `{f.id}` {md_escape(f.title)}" + (f" (nodes: {md_escape(where)})" if where else ""))
            if f.detail:
                out.append(f"  - {md_escape(f.detail)}")
            if f.fix:
                out.append(f"  - fix: {md_escape(f.fix.text)}")
    out += ["", f"**{_summary_line(data['summary'])[0]}**"]
    return "\n".join(out) + "\n"


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
