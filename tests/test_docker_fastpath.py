"""A host with no Docker at all (no DOCKER_HOST, no ~/.docker, no socket) costs `run` nothing: the
collector says why without importing the docker SDK (about 0.25 s cold on the H200 host)."""

import os
import subprocess
import sys


def test_no_docker_anywhere_answers_without_importing_the_sdk(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env.update(DOCKER_CONFIG=str(tmp_path / "no-docker-config"), XDG_RUNTIME_DIR=str(tmp_path))
    code = ("import sys; from v4doctor.collect import docker; r = docker.collect(); "
            "print(type(r).__name__, 'docker' in sys.modules); print(r.reason)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    first, reason = out.stdout.splitlines()
    if os.path.exists("/var/run/docker.sock"):  # a machine with a local engine takes the SDK path
        return
    assert first == "Unknown False"
    assert reason.startswith("no docker socket at /var/run/docker.sock")
