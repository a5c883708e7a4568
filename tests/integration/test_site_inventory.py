"""numaserve.ovms.site and rolling_update refuse an inventory without servers, before any change."""

import subprocess

import pytest

EMPTY = """all:
  children:
    ovms_servers:
      hosts: {}
    ovms_load_balancers:
      hosts:
        it-empty-lb:
          ansible_connection: local
"""


def managed_containers():
    out = subprocess.run(["docker", "ps", "-a", "--filter", "label=io.numaserve.managed=true", "--format",
                          "{{.ID}} {{.Names}} {{.State}}"], capture_output=True, text=True, check=False)
    return sorted(out.stdout.splitlines())


@pytest.mark.parametrize("playbook", ["numaserve.ovms.site", "numaserve.ovms.rolling_update"])
def test_empty_ovms_servers_fails_with_one_clear_line(tmp_path, playbook):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(EMPTY)
    before = managed_containers()
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), playbook],
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "ovms_servers: the inventory has no host in group 'ovms_servers'" in proc.stdout
    assert "changed=0" in proc.stdout
    assert managed_containers() == before
