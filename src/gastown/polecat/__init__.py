"""Everything about one polecat working one bead: its prompt, worktree, runtime and finish."""
