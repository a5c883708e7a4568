"""stream_mode: the demo-parity L4 balancer in front of two simulated nodes."""

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
from stack_verify import load_inventory


def test_balancer_is_layer4():
    inv = load_inventory()
    hv = inv["hostvars"]["stream-host"]
    with open(hv["load_balancer_config_dir"] + "/nginx.conf", encoding="utf-8") as fh:
        conf = fh.read()
    assert "stream {" in conf and "proxy_pass" in conf
    assert "http {" not in conf
