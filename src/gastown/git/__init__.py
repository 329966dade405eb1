"""A thin wrapper over the git command line."""

from gastown.git.repo import GitResult, clone, default_branch, git, remote_branches

__all__ = ["GitResult", "clone", "default_branch", "git", "remote_branches"]
