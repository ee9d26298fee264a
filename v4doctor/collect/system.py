"""System facts: OS, kernel, CPU, RAM, /dev/shm, free disk where the weights go, container.

Reads /etc/os-release, /proc/cpuinfo, /proc/meminfo and /proc/mounts as text, each
through a small parser whose docstring shows a sample line; statvfs gives sizes. No
subprocess, so the whole collector costs about a millisecond.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from v4doctor.facts import DiskFacts, SystemFacts, Unknown

SHM = "/dev/shm"


def collect(paths: list[str] | None = None, root: str = "/") -> SystemFacts:
    """Read this host; `paths` are where the weights and the cache will live. Never raises."""
    raw_meminfo = _read(root, "proc/meminfo")
    meminfo = parse_meminfo(raw_meminfo)
    unread = raw_meminfo if isinstance(raw_meminfo, Unknown) else None  # "cannot read /proc/meminfo: Permission denied"
    cpu = parse_cpuinfo(_read(root, "proc/cpuinfo"))
    mounts = parse_mounts(_read(root, "proc/mounts"))
    runtime = container_runtime(root, os.environ, _read(root, "proc/1/cgroup"))
    return SystemFacts(
        os=parse_os_release(_read(root, "etc/os-release")),
        kernel=platform.release() or Unknown("platform.release() is empty"),
        arch=platform.machine() or Unknown("platform.machine() is empty"),
        cpu_model=cpu,
        cpu_count=_cpu_count(),
        ram_total_bytes=meminfo.get("MemTotal", unread if unread is not None else Unknown("no MemTotal in /proc/meminfo")),
        ram_available_bytes=meminfo.get("MemAvailable", unread if unread is not None else Unknown("no MemAvailable in /proc/meminfo")),
        shm_bytes=_total_bytes(SHM),
        in_container=runtime != "none",
        container_runtime=runtime,
        disks=[disk(p, mounts) for p in dict.fromkeys(paths or [])],
    )


def _read(root: str, rel: str) -> str | Unknown:
    try:
        return Path(root, rel).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return Unknown(f"cannot read /{rel}: {exc.strerror or exc}")


def parse_os_release(text: str | Unknown) -> str | Unknown:
    """`PRETTY_NAME="Ubuntu 24.04.2 LTS"` -> "Ubuntu 24.04.2 LTS" (NAME VERSION as a fallback)."""
    if isinstance(text, Unknown):
        return text
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip("\"'")
    name = fields.get("PRETTY_NAME") or " ".join(filter(None, (fields.get("NAME"), fields.get("VERSION"))))
    return name or Unknown("/etc/os-release names no OS")


def parse_meminfo(text: str | Unknown) -> dict[str, int]:
    """`MemAvailable:   24367036 kB` -> {"MemAvailable": 24951844864} (bytes)."""
    if isinstance(text, Unknown):
        return {}
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return out


def parse_cpuinfo(text: str | Unknown) -> str | Unknown:
    """`model name\t: AMD EPYC 9654 96-Core Processor` -> that name (first CPU); ARM has none."""
    if isinstance(text, Unknown):
        return text
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("model name", "Model name", "Hardware", "cpu model") and value.strip():
            return value.strip()
    return Unknown("/proc/cpuinfo names no CPU model")


def _cpu_count() -> int | Unknown:
    """CPUs this process may run on (a container's cpuset), else all online CPUs."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or Unknown("os.cpu_count() is unknown")


def parse_mounts(text: str | Unknown) -> list[tuple[str, str]]:
    """`/dev/vda / ext4 rw,relatime 0 0` -> [("/", "ext4")]; `\\040` in a path is a space."""
    if isinstance(text, Unknown):
        return []
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            mounts.append((parts[1].replace("\\040", " ").replace("\\011", "\t"), parts[2]))
    return mounts


def mount_for(path: str, mounts: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The mount holding `path`: the longest mount point that is a prefix of it (last one wins)."""
    best = None
    for point, fstype in mounts:
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, fstype)
    return best


def _existing(path: str) -> Path:
    """The path itself, or its nearest existing parent (weights may not be downloaded yet)."""
    p = Path(path).expanduser().resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def disk(path: str, mounts: list[tuple[str, str]]) -> DiskFacts:
    """Free and total bytes and the filesystem at `path` (statvfs + /proc/mounts)."""
    try:
        where = _existing(path)
    except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before Python 3.13): this disk only
        reason = Unknown(f"cannot resolve {path}: {exc}")
        return DiskFacts(path, reason, reason, reason, reason)
    try:
        st = os.statvfs(where)
    except OSError as exc:
        reason = Unknown(f"cannot statvfs {where}: {exc.strerror or exc}")
        return DiskFacts(path, reason, reason, reason, reason)
    mount = mount_for(str(where), mounts)
    missing = Unknown(f"{where} is on no mount listed in /proc/mounts")
    return DiskFacts(
        path=path,
        free_bytes=st.f_bavail * st.f_frsize,
        total_bytes=st.f_blocks * st.f_frsize,
        filesystem=mount[1] if mount else missing,
        mount_point=mount[0] if mount else missing,
        measured_at=None if str(where) == str(Path(path).expanduser().resolve()) else str(where),
    )


def _total_bytes(path: str) -> int | Unknown:
    try:
        st = os.statvfs(path)
    except OSError as exc:
        return Unknown(f"cannot statvfs {path}: {exc.strerror or exc}")
    return st.f_blocks * st.f_frsize


_CGROUP_WORDS = (("kubepods", "kubernetes"), ("docker", "docker"), ("containerd", "containerd"), ("libpod", "podman"), ("lxc", "lxc"))


def container_runtime(root: str, env, cgroup: str | Unknown) -> str:
    """Which container we run in ("docker", "podman", "kubernetes", ...) or "none"."""
    if env.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    if Path(root, ".dockerenv").exists():
        return "docker"
    if Path(root, "run/.containerenv").exists():
        return "podman"
    return parse_cgroup(cgroup)


def parse_cgroup(text: str | Unknown) -> str:
    """`12:memory:/kubepods/burstable/pod…` -> "kubernetes"; `0::/` (host or cgroup v2) -> "none"."""
    if isinstance(text, Unknown):
        return "none"
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        for word, runtime in _CGROUP_WORDS:
            if word in path:
                return runtime
    return "none"
