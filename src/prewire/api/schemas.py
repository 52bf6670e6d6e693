"""Request bodies of the REST API (pydantic); unknown fields are rejected."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

# Free-text fields: bounded (the columns are) and without control characters (PostgreSQL refuses NUL).
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Name = Annotated[StrictStr, Field(max_length=64)]
Short = Annotated[StrictStr, Field(max_length=64, pattern=_PRINTABLE)]
Long = Annotated[StrictStr, Field(max_length=255, pattern=_PRINTABLE)]
Mac = Annotated[StrictStr, Field(max_length=64)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantIn(_In):
    name: Name


class NetworkIn(_In):
    tenant: Name
    name: Name
    subnet: Short
    vlan: StrictInt | None = None
    gateway: Short | None = None


class ServerIn(_In):
    name: Name
    switch: Name | None = None
    switch_port: Short | None = None


class SwitchIn(_In):
    name: Name
    driver: Short
    options: dict[Short, Annotated[StrictStr, Field(max_length=4096, pattern=_PRINTABLE)]] = Field(
        default_factory=dict
    )


class TakeIn(_In):
    network: Annotated[StrictStr, Field(max_length=130, description="TENANT/NAME")]
    count: StrictInt = 1


class ReturnIn(_In):
    macs: list[Mac]


class BoundIn(_In):
    mac: Mac
    container: Long
    ifname: Annotated[StrictStr, Field(max_length=32, pattern=_PRINTABLE)] = "eth0"
    port: Short = ""


class ReleasedIn(_In):
    mac: Mac
    container: Long | None = None


class ReportIn(_In):
    bound: list[BoundIn] = Field(default_factory=list)
    released: list[Mac | ReleasedIn] = Field(
        default_factory=list, description="MACs, or {mac, container} to ignore a release of a reused MAC"
    )
