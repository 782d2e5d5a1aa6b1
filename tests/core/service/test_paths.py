"""Where the socket lives, and the folders that are refused."""

from __future__ import annotations

import os
import stat

import pytest

from bulk_transcribe.core.service import paths as sp
from bulk_transcribe.core.service.paths import RuntimeDirError, ensure_private_dir, service_paths

OTHER_UID = 65534


def mode_of(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_override_folder_is_created_private(runtime_dir, monkeypatch):
    folder = runtime_dir / "svc"
    monkeypatch.setenv(sp.ENV_RUNTIME_DIR, str(folder))
    found = service_paths()
    assert found.dir == folder and mode_of(folder) == 0o700
    assert found.socket == folder / "service.sock" and found.lock == folder / "service.lock"


def test_a_client_does_not_create_the_folder(runtime_dir, monkeypatch):
    monkeypatch.setenv(sp.ENV_RUNTIME_DIR, str(runtime_dir / "absent"))
    with pytest.raises(FileNotFoundError):
        service_paths(create=False)
    assert not (runtime_dir / "absent").exists()


def test_xdg_runtime_dir_is_used_when_it_is_private_and_ours(runtime_dir, monkeypatch):
    monkeypatch.delenv(sp.ENV_RUNTIME_DIR)
    xdg = runtime_dir / "xdg"
    xdg.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    assert service_paths().dir == xdg / "bulk-transcribe"
    assert mode_of(xdg / "bulk-transcribe") == 0o700


@pytest.mark.parametrize("problem", ["open", "missing", "relative", "foreign"])
def test_an_untrustworthy_xdg_runtime_dir_falls_back_to_tmp(runtime_dir, monkeypatch, problem):
    monkeypatch.delenv(sp.ENV_RUNTIME_DIR)
    monkeypatch.setenv("TMPDIR", str(runtime_dir))
    xdg = runtime_dir / "xdg"
    if problem == "open":
        xdg.mkdir()
        xdg.chmod(0o755)
    elif problem == "foreign":
        if os.geteuid() != 0:
            pytest.skip("needs root to chown")
        xdg.mkdir(mode=0o700)
        os.chown(xdg, OTHER_UID, OTHER_UID)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "xdg" if problem == "relative" else str(xdg))
    assert sp.runtime_dir_candidate() == runtime_dir / f"bulk-transcribe-{os.geteuid()}"
    assert service_paths().dir == runtime_dir / f"bulk-transcribe-{os.geteuid()}"


def test_without_xdg_or_tmpdir_the_folder_is_in_tmp(monkeypatch):
    monkeypatch.delenv(sp.ENV_RUNTIME_DIR, raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("TMPDIR", raising=False)
    assert str(sp.runtime_dir_candidate()) == f"/tmp/bulk-transcribe-{os.geteuid()}"


def test_a_folder_open_to_others_is_refused_with_the_fix(runtime_dir):
    folder = runtime_dir / "open"
    folder.mkdir()
    folder.chmod(0o755)
    with pytest.raises(RuntimeDirError, match=r"mode 0755.*chmod 700"):
        ensure_private_dir(folder)
    folder.chmod(0o710)
    with pytest.raises(RuntimeDirError, match="0710"):
        ensure_private_dir(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown a folder to another uid")
def test_a_folder_owned_by_someone_else_is_refused(runtime_dir):
    folder = runtime_dir / "theirs"
    folder.mkdir(mode=0o700)
    os.chown(folder, OTHER_UID, OTHER_UID)
    with pytest.raises(RuntimeDirError, match=rf"belongs to uid {OTHER_UID}.*{sp.ENV_RUNTIME_DIR}"):
        ensure_private_dir(folder)


def test_a_symlink_is_refused_even_to_a_private_folder_of_ours(runtime_dir):
    real = runtime_dir / "real"
    real.mkdir(mode=0o700)
    link = runtime_dir / "link"
    link.symlink_to(real)
    with pytest.raises(RuntimeDirError, match="symbolic link"):
        ensure_private_dir(link)


def test_a_file_in_the_way_is_refused(runtime_dir):
    (runtime_dir / "file").write_text("")
    with pytest.raises(RuntimeDirError, match="not a folder"):
        ensure_private_dir(runtime_dir / "file")


def test_a_missing_parent_is_an_error_that_names_the_override(runtime_dir):
    with pytest.raises(RuntimeDirError, match=sp.ENV_RUNTIME_DIR):
        ensure_private_dir(runtime_dir / "no" / "such")


def test_a_socket_path_too_long_for_unix_sockets_is_refused(runtime_dir, monkeypatch):
    monkeypatch.setenv(sp.ENV_RUNTIME_DIR, str(runtime_dir / ("d" * 120)))
    with pytest.raises(RuntimeDirError, match="shorter"):
        service_paths()
