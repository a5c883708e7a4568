"""rolling_update: the shared whole-stack checks on the converged stack (run before the update)."""

from stack_verify import *  # noqa: F401,F403 - the shared whole-stack checks
