"""default: the machine's real topology, memory binding on."""

from stack_verify import *  # noqa: F401,F403 - the shared whole-stack checks
