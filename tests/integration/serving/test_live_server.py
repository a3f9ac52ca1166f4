"""The serving tests' server helper survives a port taken between choosing it and binding it."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.helpers import live_server as helper


@pytest.mark.slow  # two server starts: the first one loses its port
def test_a_port_taken_before_the_server_binds_it_is_replaced(tmp_path, monkeypatch):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = taken.getsockname()[1]
    picks = []
    real = helper.free_port

    def first_busy() -> int:
        picks.append(busy if not picks else real())
        return picks[-1]

    monkeypatch.setattr(helper, "free_port", first_busy)
    (tmp_path / "checkpoints").mkdir()
    with taken, helper.live_server(tmp_path / "checkpoints") as url:
        assert len(picks) == 2 and url.endswith(f":{picks[1]}")
        assert httpx.get(f"{url}/health").status_code == 503  # no model published: up, not ready
