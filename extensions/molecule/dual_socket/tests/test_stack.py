"""dual_socket: two pinned instances (simulated nodes) behind an http-mode balancer."""

from stack_verify import *  # noqa: F401,F403 - the shared whole-stack checks
