"""Placeholder: the git_server fixture is being written."""
