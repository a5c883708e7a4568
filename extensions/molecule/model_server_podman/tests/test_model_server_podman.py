"""model_server_podman: simulated two-node host (node0 = CPU 0, node1 = CPU 1), podman, memory unbound."""

# The shared model_server checks.
from model_server_tests import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import
