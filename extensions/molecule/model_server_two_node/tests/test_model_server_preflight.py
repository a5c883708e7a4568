"""model_server_two_node: preflight refuses wrong input before changing anything."""

# The shared preflight checks.
from model_server_preflight_tests import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import
