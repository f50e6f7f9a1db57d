"""No SQLite database is ever committed: the files hold members' keys and personal data."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_SUFFIXES = (".sqlite3", ".sqlite", ".db")


def git(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None:
        pytest.fail("git is not installed: cannot check that no database file is committed")
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )


def tracked_files() -> list[str]:
    listed = git("ls-files", "-z")
    if listed.returncode != 0:
        pytest.fail(f"{ROOT} is not a git work tree: cannot list its files ({listed.stderr})")
    return [name for name in listed.stdout.split("\0") if name]


def is_sqlite(path: Path) -> bool:
    if not path.is_file():
        return False  # deleted in the work tree, not yet in the index
    with path.open("rb") as file:
        return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def test_no_committed_file_is_a_sqlite_database() -> None:
    files = tracked_files()
    assert "pyproject.toml" in files  # the listing is the repository's
    named = [name for name in files if name.endswith(SQLITE_SUFFIXES)]
    found = [name for name in files if is_sqlite(ROOT / name)]
    assert named == found == []


@pytest.mark.parametrize(
    "path",
    [
        "var/orders.sqlite3",
        "readmodels.sqlite3",
        "readmodels.sqlite3-wal",
        "copy.sqlite",
        "members.db",
        "members.db-journal",
        "var/anything",
    ],
)
def test_git_ignores_database_files(path: str) -> None:
    ignored = git("check-ignore", "--quiet", "--no-index", path)
    assert ignored.returncode == 0, f"{path} is not ignored: {ignored.stderr}"
