"""multi_host: two servers (2 nodes on 127.0.0.2, 1 node on 127.0.0.3) behind one balancer host."""

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


def test_balancer_upstream_holds_every_instance_of_both_servers():
    inv = load_inventory()
    assert inv["separate"] and inv["balancers"] == ["mh-lb"]
    conf_path = inv["hostvars"]["mh-lb"]["load_balancer_config_dir"] + "/nginx.conf"
    with open(conf_path, encoding="utf-8") as fh:
        conf = fh.read()
    for address, count in (("127.0.0.2", 2), ("127.0.0.3", 1)):
        assert conf.count("server %s:" % address) == count, conf
