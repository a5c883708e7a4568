"""stream_mode: the demo-parity L4 balancer in front of two simulated nodes."""

from stack_verify import *  # noqa: F401,F403 - the shared whole-stack checks
from stack_verify import load_inventory


def test_balancer_is_layer4():
    inv = load_inventory()
    hv = inv["hostvars"]["stream-host"]
    with open(hv["load_balancer_config_dir"] + "/nginx.conf", encoding="utf-8") as fh:
        conf = fh.read()
    assert "stream {" in conf and "proxy_pass" in conf
    assert "http {" not in conf
