"""The controller's service layer: tenancy, networks, servers, switches, pools, endpoints, pre-distribution."""
