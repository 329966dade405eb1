"""The refinery: merge requests are tested, reviewed and landed here, one target at a time."""
