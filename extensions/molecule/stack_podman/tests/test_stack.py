"""stack_podman: the whole stack (two pinned instances and the balancer) on Podman."""

# pytest collects the shared whole-stack checks from this module.
from stack_checks import managed_containers
from stack_verify import (  # noqa: F401 pylint: disable=unused-import
    inventory,
    test_balancer_container_is_managed,
    test_keepalive_client_reaches_every_instance,
    test_nginx_config_is_valid,
    test_one_pinned_instance_per_node,
    test_ports_bound_where_they_should_be,
    test_streaming_through_balancer,
)


def test_every_container_runs_on_podman(inventory):  # pylint: disable=redefined-outer-name
    """The instances and the balancer are Podman containers; Docker holds none of this host's."""
    host = "stack-podman"
    hv = inventory["hostvars"][host]
    on_podman = managed_containers(host, engine="podman")
    assert hv["load_balancer_container_name"] in on_podman, on_podman
    assert sorted(n for n in on_podman if n.startswith(hv["model_server_container_prefix"])) == [
        hv["model_server_container_prefix"] + "node0", hv["model_server_container_prefix"] + "node1"], on_podman
    assert managed_containers(host, engine="docker") == []
