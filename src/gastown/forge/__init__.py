"""The team's forge: GitHub and GitLab behind one protocol (see `forge.base`)."""
