"""model_server_two_node: preflight refuses wrong input before changing anything."""

from model_server_preflight_tests import *  # noqa: F401,F403 - the shared preflight checks
