"""The one writer never loses a user's file."""

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
