"""Initial schema: tenants, networks, servers, switches, profiles, switch_profiles, meta.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "networks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("subnet", sa.String(64), nullable=False),
        sa.Column("gateway", sa.String(64), nullable=True),
        sa.Column("vlan", sa.Integer, nullable=False, unique=True),
        sa.UniqueConstraint("tenant_id", "name", name="uq_networks_tenant_name"),
    )
    op.create_table(
        "servers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("switch", sa.String(64), nullable=True),
        sa.Column("switch_port", sa.String(64), nullable=True),
    )
    op.create_table(
        "switches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("driver", sa.String(64), nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("last_sync", sa.String(40), nullable=False),
    )
    op.create_table(
        "profiles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("mac", sa.String(17), nullable=False, unique=True),
        sa.Column("ip", sa.String(15), nullable=False),
        sa.Column("network_id", sa.Integer, sa.ForeignKey("networks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id", ondelete="RESTRICT"), nullable=True),
        sa.Column("container", sa.String(255), nullable=True),
        sa.Column("ifname", sa.String(32), nullable=True),
        sa.Column("port", sa.String(64), nullable=True),
        sa.UniqueConstraint("network_id", "ip", name="uq_profiles_network_ip"),
    )
    op.create_index("ix_profiles_network_state", "profiles", ["network_id", "state"])
    op.create_index("ix_profiles_server", "profiles", ["server_id"])
    op.create_table(
        "switch_profiles",
        sa.Column(
            "switch_id", sa.Integer, sa.ForeignKey("switches.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("mac", sa.String(17), primary_key=True),
        sa.Column("vlan", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("switch_profiles", "profiles", "switches", "servers", "networks", "tenants", "meta"):
        op.drop_table(table)
