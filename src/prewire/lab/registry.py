"""Registration of the lab's switches and servers in the controller (REST, prewire.client)."""

from __future__ import annotations

import contextlib

from prewire.client import ControllerClient
from prewire.errors import Conflict


def register_switch(url: str, token: str, name: str, socket: str) -> None:
    with ControllerClient(url, token) as client, contextlib.suppress(Conflict):  # 409: an earlier `lab up`
        client.register_switch(name, "ovs", {"socket": socket})


def register_server(url: str, token: str, name: str, switch: str, switch_port: str) -> None:
    with ControllerClient(url, token) as client, contextlib.suppress(Conflict):
        client.register_server(name, switch=switch, switch_port=switch_port)
