"""model_server_host: this machine's real topology, two instances per node, docker, memory bound."""

# The shared model_server checks.
from model_server_tests import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import
