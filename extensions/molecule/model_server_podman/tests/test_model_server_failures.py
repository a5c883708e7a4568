"""model_server_podman: a crash loop fails within 15 s with Podman too (the restart count comes from
`podman inspect`); the engine-independent failures run in model_server_two_node."""

# The shared crash-loop check and its fixtures.
from model_server_failure_tests import (  # noqa: F401 pylint: disable=unused-import
    fixture_hv,
    fixture_plan,
    fixture_report,
    fixture_restore,
    test_crash_loop_fails_at_the_first_crash,
    testinfra_hosts,
)
