"""model_server_podman: simulated two-node host (node0 = CPU 0, node1 = CPU 1), podman, memory unbound."""

from model_server_tests import *  # noqa: F401,F403 - the shared model_server checks
