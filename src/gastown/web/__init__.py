"""The town's HTTP API (and, later, its dashboard), served by the town process."""
