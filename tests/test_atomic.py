"""All-or-nothing file output (biotorch._atomic)."""

import os
import stat
import threading

import pytest

from biotorch._atomic import atomic_output, atomic_write_text, temp_name_for


def _leftovers(directory):
    return [p.name for p in directory.iterdir() if ".tmp-" in p.name]


def test_writes_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.tsv"
    atomic_write_text(target, "a\tb\n")
    assert target.read_text() == "a\tb\n"
    assert _leftovers(tmp_path) == []


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.tsv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert _leftovers(tmp_path) == []


def test_temporary_names_are_unique_and_keep_the_suffix(tmp_path):
    names = {temp_name_for(tmp_path / "curve.png") for _ in range(100)}
    assert len(names) == 100
    assert all(n.suffix == ".png" and n.name.startswith(".curve.tmp-") for n in names)


def test_existing_mode_is_kept(tmp_path):
    target = tmp_path / "secret.txt"
    target.write_text("x")
    os.chmod(target, 0o600)
    atomic_write_text(target, "y")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_new_file_gets_the_umask_mode_without_changing_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "new.txt", "y")
        assert os.umask(0o027) == 0o027  # still the process's own umask
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o640


def test_concurrent_writers_do_not_collide(tmp_path):
    target = tmp_path / "shared.txt"
    errors = []

    def write(i):
        try:
            for _ in range(20):
                atomic_write_text(target, f"writer {i}\n" * 1000)
        except Exception as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    lines = set(target.read_text().splitlines())
    assert len(lines) == 1 and lines.pop().startswith("writer ")
    assert _leftovers(tmp_path) == []
