"""Node collectors for fleet runs: network interfaces, the NCCL/Gloo environment, the checkpoint's fingerprint.

    eth0 10.0.0.2, lo 127.0.0.1; NCCL_SOCKET_IFNAME=eth0
    /models/DeepSeek-V4-Pro: 805 GiB in 64 *.safetensors, config.json sha256 3f1c...

Each fails soft like the other collectors. The checkpoint is fingerprinted by its small
files only (config, index, tokenizer): hashing 800 GiB of shards on every node is not a check.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from v4doctor.facts import TargetFacts, Unknown, known
from v4doctor.facts.fleet import NETWORK_ENV, CheckpointFacts, NetworkFacts

FINGERPRINT_FILES = ("config.json", "model.safetensors.index.json", "generation_config.json", "tokenizer_config.json", "tokenizer.json")
_SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address


def collect_network(environ: dict[str, str] | None = None) -> NetworkFacts:
    """Interfaces from socket.if_nameindex() with their IPv4 addresses, and the variables in NETWORK_ENV."""
    env = os.environ if environ is None else environ
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError as exc:
        interfaces: dict[str, list[str]] | Unknown = Unknown(f"interfaces not listed: {exc}")
    else:
        interfaces = {name: _ipv4(name) for name in sorted(names)}
    return NetworkFacts(hostname=socket.gethostname(), interfaces=interfaces,
                        env={k: env[k] for k in NETWORK_ENV if k in env})


def _ipv4(name: str) -> list[str]:
    """The interface's IPv4 address ([] when it has none or it cannot be read)."""
    try:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            raw = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", name[:15].encode()))
        return [socket.inet_ntoa(raw[20:24])]
    except (OSError, ImportError):
        return []


def checkpoint_dir(target: TargetFacts, cache_dir: str | Unknown) -> str | Unknown:
    """The directory the engine would load: the local path, else the newest HF cache snapshot of the repo."""
    if known(target.local_path):
        return target.local_path
    repo = _repo(target)
    if repo is None:
        return Unknown(f"{target.model!r} is neither a local path nor a known repo")
    if not known(cache_dir):
        return cache_dir
    snaps = Path(cache_dir) / f"models--{repo.replace('/', '--')}" / "snapshots"
    found = sorted(snaps.glob("*/"), key=lambda p: p.stat().st_mtime) if snaps.is_dir() else []
    return str(found[-1]) if found else Unknown(f"{repo} is not in the Hugging Face cache at {cache_dir}")


def _repo(target: TargetFacts) -> str | None:
    from v4doctor.facts.target import resolve_model
    from v4doctor.knowledge.kb import load

    record = resolve_model(target, load())
    if known(record) and record.get("repo"):
        return record["repo"]
    return target.model if target.model.count("/") == 1 else None


def collect_checkpoint(path: str | Unknown) -> CheckpointFacts:
    """Bytes and shard count of the checkpoint directory, sha256 of its FINGERPRINT_FILES, its filesystem."""
    from v4doctor.collect.system import _read, mount_for, parse_mounts
    from v4doctor.weights.hashing import sha256_file

    if not known(path):
        return CheckpointFacts(path=path)
    root = Path(path)
    if not root.is_dir():
        return CheckpointFacts(path=path, total_bytes=Unknown(f"{path} is not a directory on this node"))
    files = [p for p in root.iterdir() if p.is_file()]  # HF snapshots hold links: is_file follows them
    hashes = {p.name: sha256_file(p) for p in files if p.name in FINGERPRINT_FILES}
    fs = mount_for(str(root.resolve()), parse_mounts(_read("/", "proc/mounts")))
    return CheckpointFacts(path=str(root), total_bytes=sum(p.stat().st_size for p in files),
                           shards=sum(1 for p in files if p.suffix == ".safetensors"), hashes=hashes,
                           filesystem=fs[1] if fs else Unknown("no mount found"))
