"""Switch drivers: fake (tests), ovs (the lab's switch agent), brocade_vdx and fujitsu_cfabric (vendors)."""
