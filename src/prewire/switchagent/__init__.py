"""The AMPP switch agent in front of an OVS ToR bridge (lab and whitebox switches)."""
