"""The uid check itself; a real other-uid client is in test_other_uid.py."""

from __future__ import annotations

import os
import socket

import pytest

from bulk_transcribe.core.service.peer import PeerCredentials, PeerRefused, check_peer, peer_credentials


def test_the_kernel_reports_our_own_uid_and_pid_on_a_socket_pair():
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        creds = peer_credentials(left)
    assert creds.uid == os.geteuid()
    assert creds.pid in (None, os.getpid())   # no pid on macOS/BSD
    assert check_peer(creds) == creds


def test_a_peer_of_another_uid_is_refused():
    ours = os.geteuid()
    stranger = PeerCredentials(uid=ours + 1, gid=0, pid=4242)
    with pytest.raises(PeerRefused) as caught:
        check_peer(stranger)
    assert caught.value.peer == stranger and caught.value.expected_uid == ours
    assert f"uid {ours + 1}, pid 4242" in str(caught.value)


def test_root_is_no_exception():
    with pytest.raises(PeerRefused):
        check_peer(PeerCredentials(uid=0), expected_uid=1000)
