"""Session-wide fixtures live in tests/support/*; they are loaded here as pytest plugins."""

pytest_plugins = ["tests.support.cluster", "tests.support.gitserver"]
