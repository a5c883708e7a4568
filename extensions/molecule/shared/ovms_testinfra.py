"""Testinfra helpers for the numaserve.ovms Molecule scenarios (docker and podman alike).

Import them from a scenario's tests (the shared config puts this directory on PYTHONPATH):

    from ovms_testinfra import Engine, proc_status, cpulist, testinfra_hosts

Everything takes testinfra's `host` fixture, so the checks run where the containers run and look at
the real system: the engine's own `inspect` output and the kernel's /proc/<pid>/status.
"""

import json
import os

MANAGED_LABEL = "io.numaserve.managed"
HOST_LABEL = "io.numaserve.host"
INSTANCE_LABEL = "io.numaserve.instance"


def testinfra_hosts(pattern="all"):
    """The hosts of the Molecule inventory (use as `testinfra_hosts = testinfra_hosts()`)."""
    import testinfra.utils.ansible_runner  # pylint: disable=import-outside-toplevel

    return testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts(pattern)


def cpulist(text):
    """Kernel cpulist text ("0-3,8") -> sorted list of ints; "" -> []."""
    cpus = set()
    for item in str(text).replace("\x00", "").strip().split(","):
        item = item.strip()
        if not item:
            continue
        first, _sep, last = item.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return sorted(cpus)


def proc_status(host, pid):
    """/proc/<pid>/status of a process as {field: value} (e.g. Cpus_allowed_list, Mems_allowed_list, Uid)."""
    fields = {}
    for line in host.file("/proc/%d/status" % int(pid)).content_string.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def host_memory_nodes(host):
    """Memory nodes of the real host (/sys/devices/system/node/has_memory, or [0] without NUMA sysfs)."""
    for path in ("/sys/devices/system/node/has_memory", "/sys/devices/system/node/online"):
        node_file = host.file(path)
        if node_file.exists:
            return cpulist(node_file.content_string)
    return [0]


class Engine:
    """The container engine of a host: `docker` or `podman` (same CLI for what is used here)."""

    def __init__(self, host, name="docker"):
        self.host = host
        self.name = name

    def run(self, *args):
        """Run the engine CLI, return stdout; fail the test with stderr on a non-zero exit."""
        cmd = self.host.run(" ".join([self.name] + [self._quote(a) for a in args]))
        assert cmd.rc == 0, "%s %s failed (%d): %s" % (self.name, " ".join(args), cmd.rc, cmd.stderr)
        return cmd.stdout

    @staticmethod
    def _quote(arg):
        return "'" + str(arg).replace("'", "'\"'\"'") + "'"

    def inspect(self, name):
        """The engine's inspect document of one container."""
        return json.loads(self.run("inspect", "--type", "container", name))[0]

    def exists(self, name):
        return self.host.run("%s inspect --type container %s" % (self.name, self._quote(name))).rc == 0

    def managed(self, inventory_host, running_only=False):
        """Names of the containers labelled io.numaserve.managed=true for INVENTORY_HOST, sorted."""
        args = ["ps", "--filter", "label=%s=true" % MANAGED_LABEL, "--filter", "label=%s=%s" % (HOST_LABEL, inventory_host),
                "--format", "{{.Names}}"]
        if not running_only:
            args.insert(1, "--all")
        return sorted(n for n in self.run(*args).split() if n)

    def instances(self, inventory_host):
        """{io.numaserve.instance label: inspect document} of the managed containers of INVENTORY_HOST."""
        found = {}
        for name in self.managed(inventory_host):
            info = self.inspect(name)
            label = labels(info).get(INSTANCE_LABEL)
            if label:
                found[label] = info
        return found

    def main_pid(self, name):
        """PID (on the host) of the container's main process; 0 when it does not run."""
        return int(self.inspect(name)["State"]["Pid"])

    def logs(self, name, tail=40):
        cmd = self.host.run("%s logs --tail %d %s" % (self.name, tail, self._quote(name)))
        return cmd.stdout + cmd.stderr


def labels(info):
    return info.get("Config", {}).get("Labels") or {}


def published_ports(info):
    """[(host_ip, host_port, container_port)] of a container, from HostConfig.PortBindings."""
    found = []
    for container_port, bindings in (info.get("HostConfig", {}).get("PortBindings") or {}).items():
        for binding in bindings or []:
            found.append((binding.get("HostIp") or "0.0.0.0", int(binding["HostPort"]), int(container_port.split("/")[0])))
    return sorted(found)


def bind_mounts(info):
    """{destination: mount dict} of a container (Source, RW, Mode...)."""
    return {m["Destination"]: m for m in info.get("Mounts") or []}


def cpuset(info):
    """(cpuset_cpus, cpuset_mems) as the engine recorded them ("" when unset)."""
    host_config = info.get("HostConfig", {})
    return host_config.get("CpusetCpus") or "", host_config.get("CpusetMems") or ""


def command(info):
    """The container's command (arguments after the entrypoint)."""
    return list(info.get("Config", {}).get("Cmd") or [])


def listening_sockets(host, port):
    """Local addresses listening on TCP PORT (from `ss`), e.g. ["127.0.0.1:18513"]."""
    out = host.run("ss -Htln 'sport = :%d'" % int(port)).stdout
    return sorted({line.split()[3] for line in out.splitlines() if line.strip()})
