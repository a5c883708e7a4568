"""model_server_podman: a missing base_path, an unreadable one and a crash loop fail within 15 s."""

# The shared failure checks.
from model_server_failure_tests import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import
