"""A real Docker engine for the tests: the one .ci/run started (its socket in $V4D_TEST_DOCKER_HOST),
else a private dockerd started here when this process may (root, `dockerd` and a static busybox
installed: Debian's docker.io and busybox-static), else None with the reason.

The daemon runs as .ci/run starts it: `dockerd --data-root D --exec-root E -H unix://SOCK
--storage-driver vfs --iptables=false --ip6tables=false --bridge=none`. Images are
`docker import`s of a one-binary busybox root filesystem, tagged with real engine image names
(vllm/vllm-openai:v0.20.0, …); containers run with `--network none`.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

ENV = "V4D_TEST_DOCKER_HOST"
IMAGES = ("vllm/vllm-openai:v0.20.0", "lmsysorg/sglang:v0.5.12", "ollama/ollama:0.12.6")


class Daemon:
    """A dockerd this module started (stopped by `close`), or one .ci/run started (left running)."""

    def __init__(self, url: str, proc: subprocess.Popen | None = None, root: str | None = None):
        self.url, self.proc, self.root = url, proc, root

    def docker(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        env = {**os.environ, "DOCKER_HOST": self.url}
        run = subprocess.run(["docker", *args], capture_output=True, text=True, env=env, timeout=timeout)
        if check and run.returncode:
            raise RuntimeError(f"docker {' '.join(args)}: {run.stderr.strip()}")
        return run

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)


def _ping(url: str) -> bool:
    try:
        import docker

        client = docker.DockerClient(base_url=url, timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def start() -> tuple[Daemon | None, str]:
    """(the daemon, "") or (None, why there is none)."""
    given = os.environ.get(ENV)
    if given:
        return (Daemon(given), "") if _ping(given) else (None, f"${ENV}={given} does not answer")
    if not shutil.which("dockerd") or not shutil.which("docker"):
        return None, "no dockerd/docker here (.ci/run installs docker.io)"
    if os.geteuid() != 0:
        return None, "dockerd needs root here"
    root = tempfile.mkdtemp(prefix="v4d-dockerd-", dir="/tmp")
    sock = f"{root}/docker.sock"
    cmd = ["dockerd", "--data-root", f"{root}/data", "--exec-root", f"{root}/exec", "-H", f"unix://{sock}",
           "--pidfile", f"{root}/docker.pid", "--storage-driver", "vfs", "--iptables=false", "--ip6tables=false", "--bridge=none"]
    log = open(f"{root}/dockerd.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    daemon = Daemon(f"unix://{sock}", proc, root)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = Path(f"{root}/dockerd.log").read_text(errors="replace")[-300:]
            daemon.close()
            return None, f"dockerd exited at start: {tail.strip()}"
        if os.path.exists(sock) and _ping(daemon.url):
            return daemon, ""
        time.sleep(0.2)
    daemon.close()
    return None, "dockerd did not answer within 60 s"


def busybox_rootfs() -> bytes | None:
    """A tar of a root filesystem holding only a static busybox (/bin/sh, sleep, echo, cat as links)."""
    path = shutil.which("busybox") or ("/bin/busybox" if os.path.exists("/bin/busybox") else None)
    if path is None:
        return None
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.add(os.path.realpath(path), arcname="bin/busybox")
        for name in ("sh", "sleep", "echo", "cat"):
            link = tarfile.TarInfo(f"bin/{name}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for launcher in ("vllm", "ollama"):
            stub = tarfile.TarInfo(f"usr/local/bin/{launcher}")
            stub.mode, stub.size = 0o755, len(ENGINE_STUB)
            tar.addfile(stub, io.BytesIO(ENGINE_STUB))
    return out.getvalue()


# Synthetic: stands in for the engine's launcher so a container's command is a real engine
# command line (`vllm serve MODEL -tp 2`). It prints $V4D_LOG (log lines the test chose, from
# fixtures/logs) and exits with $V4D_EXIT, or sleeps when that is unset.
ENGINE_STUB = b"""#!/bin/sh
[ -n "$V4D_LOG" ] && echo "$V4D_LOG"
[ -n "$V4D_EXIT" ] && exit "$V4D_EXIT"
exec sleep 600
"""


def import_images(daemon: Daemon) -> str:
    """Import the busybox root filesystem under every name in IMAGES; "" or why not."""
    rootfs = busybox_rootfs()
    if rootfs is None:
        return "no busybox here (.ci/run installs busybox-static)"
    with tempfile.NamedTemporaryFile(suffix=".tar") as fh:
        fh.write(rootfs)
        fh.flush()
        first = daemon.docker("import", fh.name, IMAGES[0], check=False)
        if first.returncode:
            return f"docker import failed: {first.stderr.strip()}"
    for name in IMAGES[1:]:
        daemon.docker("tag", IMAGES[0], name)
    probe = daemon.docker("run", "--rm", "--network", "none", IMAGES[0], "/bin/echo", "ok", check=False)
    return "" if probe.stdout.strip() == "ok" else f"a busybox container does not run (not static?): {probe.stderr.strip()}"
