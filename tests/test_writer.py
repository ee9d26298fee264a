"""The one writer never loses a user's file."""

import errno
import os

import pytest

from v4doctor.errors import UsageError
from v4doctor.output.writer import digest, replace_file, write_new


def test_replace_keeps_a_backup_and_mode(tmp_path):
    p = tmp_path / "compose.yaml"
    p.write_text("a: 1\n")
    os.chmod(p, 0o640)
    backup = replace_file(str(p), "a: 2\n", digest("a: 1\n"))
    assert p.read_text() == "a: 2\n" and backup.read_text() == "a: 1\n"
    assert oct(p.stat().st_mode & 0o777) == "0o640"
    assert not [q for q in tmp_path.iterdir() if q.name.endswith(".tmp")]


def test_replace_refuses_when_the_file_changed_since_read(tmp_path):
    p = tmp_path / "compose.yaml"
    p.write_text("a: 1\n")
    read = digest(p.read_text())
    p.write_text("a: 1\nb: 2\n")  # someone edited it meanwhile
    with pytest.raises(UsageError, match="changed since it was read"):
        replace_file(str(p), "a: 2\n", read)
    assert p.read_text() == "a: 1\nb: 2\n" and not (tmp_path / "compose.yaml.bak").exists()


def test_write_new_into_a_missing_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot write"):
        write_new(str(tmp_path / "nope" / "out.json"), "{}")


def test_a_new_file_gets_the_umask_mode_not_mkstemps_0600(tmp_path):
    old = os.umask(0o027)
    try:
        write_new(str(tmp_path / "snapshot.json"), "{}")
    finally:
        os.umask(old)
    assert oct((tmp_path / "snapshot.json").stat().st_mode & 0o777) == "0o640"


# --------------------------------------------------------------- issue #16: never lose or damage a file
import subprocess
import sys
import textwrap

from v4doctor.output import writer


def _fix(p, new):
    return replace_file(str(p), new, digest(p.read_text(encoding="utf-8")))


def test_a_second_write_keeps_the_first_backup_numbered(tmp_path):
    p = tmp_path / "c.yml"
    p.write_text("v: 1\n")
    first = _fix(p, "v: 2\n")
    second = _fix(p, "v: 3\n")
    assert first.name == "c.yml.bak" and second.name == "c.yml.bak.1"
    assert first.read_text() == "v: 1\n" and second.read_text() == "v: 2\n" and p.read_text() == "v: 3\n"


def test_a_symlink_stays_a_link_and_its_target_is_written(tmp_path):
    real = tmp_path / "real" / "c.yml"
    real.parent.mkdir()
    real.write_text("v: 1\n")
    link = tmp_path / "c.yml"
    link.symlink_to(real)
    _fix(link, "v: 2\n")
    assert link.is_symlink() and real.read_text() == "v: 2\n"
    assert (real.parent / "c.yml.bak").read_text() == "v: 1\n"


def test_hard_links_stay_joined_and_the_inode_is_kept(tmp_path):
    p = tmp_path / "c.yml"
    p.write_text("v: 1\n")
    other = tmp_path / "other.yml"
    os.link(p, other)
    ino = p.stat().st_ino
    _fix(p, "v: 2\n")
    assert p.stat().st_ino == ino and other.read_text() == "v: 2\n" and p.stat().st_nlink == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_owner_group_and_mode_are_kept(tmp_path):
    p = tmp_path / "c.yml"
    p.write_text("v: 1\n")
    os.chown(p, 4321, 4322)
    os.chmod(p, 0o604)
    backup = _fix(p, "v: 2\n")
    for q in (p, backup):
        st = q.stat()
        assert (st.st_uid, st.st_gid, oct(st.st_mode & 0o777)) == (4321, 4322, "0o604")


def test_crlf_and_bom_are_kept(tmp_path):
    p = tmp_path / "c.yml"
    p.write_bytes(b"\xef\xbb\xbfa: 1\r\nb: 2\r\n")
    text = p.read_text(encoding="utf-8")  # as read_compose reads it: universal newlines, BOM kept
    replace_file(str(p), text.replace("1", "3"), digest(text))
    assert p.read_bytes() == b"\xef\xbb\xbfa: 3\r\nb: 2\r\n"
    assert (tmp_path / "c.yml.bak").read_bytes() == b"\xef\xbb\xbfa: 1\r\nb: 2\r\n"


def test_a_failed_backup_leaves_no_backup_and_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "c.yml"
    p.write_text("v: 1\n")
    (tmp_path / "c.yml.bak").write_text("the earlier original\n")

    def disk_full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer, "_write_fd", disk_full)
    with pytest.raises(UsageError, match="No space left"):
        _fix(p, "v: 2\n")
    assert sorted(q.name for q in tmp_path.iterdir()) == ["c.yml", "c.yml.bak"]
    assert (tmp_path / "c.yml.bak").read_text() == "the earlier original\n" and p.read_text() == "v: 1\n"


def test_a_binary_file_is_refused(tmp_path):
    p = tmp_path / "c.yml"
    p.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match="not a UTF-8"):
        replace_file(str(p), "x", digest("x"))


_STEPS = ["temp-open", "temp-written", "backup-linked", "backup-done", "in-place-open", "in-place-written", "renamed"]
_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from v4doctor.output import writer
    at = sys.argv[2]
    def step(name):
        if name == at:
            os.kill(os.getpid(), signal.SIGKILL)
    writer._step = step
    p = sys.argv[1]
    old = open(p, encoding="utf-8").read()
    writer.replace_file(p, "v: new\\n", writer.digest(old))
    """
)


@pytest.mark.parametrize("linked", [False, True], ids=["rename", "in-place"])
@pytest.mark.parametrize("at", _STEPS)
def test_kill_9_at_every_step_loses_nothing(tmp_path, at, linked):
    p = tmp_path / "c.yml"
    p.write_text("v: old\n")
    if linked:
        os.link(p, tmp_path / "other.yml")
    run = subprocess.run([sys.executable, "-c", _KILLER, str(p), at], capture_output=True, text=True, timeout=60)
    assert run.returncode in (0, -9), run.stderr
    backups = {q.name: q.read_text() for q in tmp_path.glob("c.yml.bak*")}
    assert all(v == "v: old\n" for v in backups.values()), backups  # never empty, never partial
    assert p.read_text() in ("v: old\n", "v: new\n") or backups  # a half-written file has its backup
    # the next run finishes the job and leaves no temp file behind
    replace_file(str(p), "v: next\n", digest(p.read_text()))
    assert p.read_text() == "v: next\n"
    assert not [q.name for q in tmp_path.iterdir() if q.name.endswith(".tmp")]
