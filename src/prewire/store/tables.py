"""The controller's tables (SQLAlchemy 2 Core + declarative).  The schema itself is owned by migrations."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Counters and singletons: 'mac_counter', 'fabric_id', 'vlan_lock' (a row to lock)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class TenantRow(Base):
    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)


class NetworkRow(Base):
    __tablename__ = "networks"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_networks_tenant_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    subnet: Mapped[str] = mapped_column(String(64), nullable=False)
    gateway: Mapped[str | None] = mapped_column(String(64), nullable=True)
    vlan: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)


class ServerRow(Base):
    __tablename__ = "servers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    switch: Mapped[str | None] = mapped_column(String(64), nullable=True)
    switch_port: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SwitchRow(Base):
    __tablename__ = "switches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    driver: Mapped[str] = mapped_column(String(64), nullable=False)
    options: Mapped[str] = mapped_column(Text, nullable=False, default="{}")  # JSON object of strings
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="unknown")
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    last_sync: Mapped[str] = mapped_column(String(40), nullable=False, default="")


class ProfileRow(Base):
    __tablename__ = "profiles"
    __table_args__ = (
        UniqueConstraint("network_id", "ip", name="uq_profiles_network_ip"),
        Index("ix_profiles_network_state", "network_id", "state"),
        Index("ix_profiles_server", "server_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mac: Mapped[str] = mapped_column(String(17), unique=True, nullable=False)
    ip: Mapped[str] = mapped_column(String(15), nullable=False)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), nullable=False)
    state: Mapped[str] = mapped_column(String(8), nullable=False, default="free")
    server_id: Mapped[int | None] = mapped_column(
        ForeignKey("servers.id", ondelete="RESTRICT"), nullable=True
    )
    container: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ifname: Mapped[str | None] = mapped_column(String(32), nullable=True)
    port: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SwitchProfileRow(Base):
    """What a switch holds (confirmed by the driver).  Not a foreign key to profiles: a deleted profile
    must still be known here until the switch has forgotten it."""

    __tablename__ = "switch_profiles"
    switch_id: Mapped[int] = mapped_column(ForeignKey("switches.id", ondelete="CASCADE"), primary_key=True)
    mac: Mapped[str] = mapped_column(String(17), primary_key=True)
    vlan: Mapped[int] = mapped_column(Integer, nullable=False)
