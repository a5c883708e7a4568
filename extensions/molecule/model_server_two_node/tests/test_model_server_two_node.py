"""model_server_two_node: simulated two-node host (node0 = CPU 0, node1 = CPU 1), docker, memory unbound."""

# The shared model_server checks.
from model_server_tests import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import
