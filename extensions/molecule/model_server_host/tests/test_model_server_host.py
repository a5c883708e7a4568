"""model_server_host: this machine's real topology, two instances per node, docker, memory bound."""

from model_server_tests import *  # noqa: F401,F403 - the shared model_server checks
