"""multi_host: two servers (2 nodes on 127.0.0.2, 1 node on 127.0.0.3) behind one balancer host."""

from stack_verify import *  # noqa: F401,F403 - the shared whole-stack checks
from stack_verify import load_inventory


def test_balancer_upstream_holds_every_instance_of_both_servers():
    inv = load_inventory()
    assert inv["separate"] and inv["balancers"] == ["mh-lb"]
    conf_path = inv["hostvars"]["mh-lb"]["load_balancer_config_dir"] + "/nginx.conf"
    with open(conf_path, encoding="utf-8") as fh:
        conf = fh.read()
    for address, count in (("127.0.0.2", 2), ("127.0.0.3", 1)):
        assert conf.count("server %s:" % address) == count, conf
