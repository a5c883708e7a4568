"""default: the machine's real topology, memory binding on."""

# pytest collects the shared whole-stack checks from this module.
from stack_verify import (  # noqa: F401 pylint: disable=unused-import
    inventory,
    test_balancer_container_is_managed,
    test_keepalive_client_reaches_every_instance,
    test_nginx_config_is_valid,
    test_one_pinned_instance_per_node,
    test_ports_bound_where_they_should_be,
    test_streaming_through_balancer,
)
