"""model_server_two_node: simulated two-node host (node0 = CPU 0, node1 = CPU 1), docker, memory unbound."""

from model_server_tests import *  # noqa: F401,F403 - the shared model_server checks
