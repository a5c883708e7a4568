# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""model_server_spec: the container of one instance, the probe's comparison, /proc status, images."""

import copy
import hashlib
import json

from ansible_collections.numaserve.ovms.plugins.module_utils import model_server_spec as mss

SOURCE = {"mode": "config", "content_hash": "abc123", "monitoring": None, "graphs": [],
          "servables": [{"name": "m", "container_path": "/workspace/m"}]}
INSTANCE = {"name": "node0", "nodes": [0], "cpuset_cpus": "0-1", "cpuset_mems": "0", "rest_port": 18513,
            "grpc_port": 18600}
ROLE = {
    "host": "h1", "balancer_local": True, "bind_address": "0.0.0.0", "advertise_address": "10.0.0.5",
    "prefix": "ovms-", "image": "openvino/model_server:2026.3", "pull": "missing", "models_dir": "/opt/ovms/models",
    "model_name": "", "model_path": "", "bind_memory": False, "env": {"A": 1, "B": "x"}, "secret_env": {"S": "s3"},
    "user": "", "nofile": 16384, "nproc": 0, "nofile_raw": 16384, "nproc_raw": 0, "log_driver": "",
    "log_options": {}, "restart_policy": "unless-stopped", "stop_timeout": 30,
    "settings": {"model_name": "", "config_file": "config.json", "target_device": "CPU", "plugin_config": {},
                 "metrics_enable": True, "extra_args": [], "rest_workers": 0, "nofile": 16384},
}


def role(**overrides):
    out = copy.deepcopy(ROLE)
    out.update(overrides)
    return out


def test_spec_matches_the_role_jinja_it_replaces():
    # The label value the role's Jinja computed for this role and instance (Ansible 2.19): existing
    # containers must keep it, or every upgrade would recreate them.
    jinja = mss.instance_spec(role(bind_memory=True, env={}, secret_env={}), SOURCE, INSTANCE)
    assert jinja["labels"] == {"io.numaserve.managed": "true", "io.numaserve.host": "h1",
                               "io.numaserve.instance": "node0", "io.numaserve.config-hash": "360c0df31e6a7675"}
    got = mss.instance_spec(ROLE, SOURCE, INSTANCE)
    assert got["container"] == "ovms-node0"
    assert got["published_ports"] == ["127.0.0.1:18513:18513", "127.0.0.1:18600:18600"]
    assert got["spec"]["volumes"] == ["/opt/ovms/models:/workspace:ro"]
    assert got["spec"]["env"] == {"A": "1", "B": "x", "S": "s3"}
    assert got["spec"]["cpuset_mems"] == ""
    assert got["engine_ulimits"] == {"docker": ["nofile:16384:16384"], "podman": ["nofile=16384:16384"]}
    assert got["url"] == "http://127.0.0.1:18513"
    assert got["endpoint"] == {"host": "h1", "instance": "node0", "container": "ovms-node0", "address": "127.0.0.1",
                               "port": 18513, "grpc_port": 18600, "nodes": [0], "cpuset_cpus": "0-1", "cpus": 2}
    assert got["command"][:2] == ["--config_path", "/workspace/config.json"]


def test_hash_is_the_sorted_json_of_the_components():
    components = {"b": [1, "x"], "a": {"z": "1", "y": None}}
    assert mss.config_hash(components) == hashlib.sha256(
        b'{"a": {"y": null, "z": "1"}, "b": [1, "x"]}').hexdigest()


def test_remote_balancer_publishes_on_the_bind_address_and_advertises():
    got = mss.instance_spec(role(balancer_local=False, bind_address="fd00::5", advertise_address="fd00::5"),
                            SOURCE, dict(INSTANCE, grpc_port=None))
    assert got["published_ports"] == ["[fd00::5]:18513:18513"]
    assert got["url"] == "http://[fd00::5]:18513"
    assert got["endpoint"]["address"] == "fd00::5"
    assert got["endpoint"]["grpc_port"] is None
    assert mss.addresses(False, "0.0.0.0", "srv1") == {"publish": "0.0.0.0", "probe": "127.0.0.1", "endpoint": "srv1"}


def test_memory_binding_single_model_mount_user_and_nproc():
    single = dict(SOURCE, mode="single")
    got = mss.instance_spec(role(bind_memory=True, model_name="m", model_path="llm", nproc=4096, nproc_raw=4096,
                                 user="1000:1000", settings=dict(ROLE["settings"], model_name="m")),
                            single, INSTANCE)
    assert got["cpuset_mems"] == "0"
    assert got["mount"] == "/opt/ovms/models/llm:/model:ro"
    assert got["spec"]["ulimits"] == {"nofile": 16384, "nproc": 4096}
    assert got["engine_ulimits"]["docker"] == ["nofile:16384:16384", "nproc:4096:4096"]
    assert got["spec"]["user"] == "1000:1000"
    assert mss.mount(role(model_name="m", model_path="/abs/llm")) == "/abs/llm:/model:ro"


def test_every_component_changes_the_hash():
    base = mss.instance_spec(ROLE, SOURCE, INSTANCE)["config_hash"]
    variants = [
        (role(image="openvino/model_server:2026.4"), SOURCE, INSTANCE),
        (ROLE, dict(SOURCE, content_hash="other"), INSTANCE),
        (ROLE, SOURCE, dict(INSTANCE, cpuset_cpus="0")),
        (role(env={"A": "2"}), SOURCE, INSTANCE),
        (role(user="1000"), SOURCE, INSTANCE),
        (role(nofile_raw=8192, nofile=8192), SOURCE, INSTANCE),
        (ROLE, SOURCE, dict(INSTANCE, rest_port=18514)),
    ]
    hashes = {mss.instance_spec(*v)["config_hash"] for v in variants}
    assert base not in hashes and len(hashes) == len(variants)


def inspect_doc(spec, **changes):
    """A docker inspect document of the container `spec` describes."""
    ports = {}
    for entry in spec["published_ports"]:
        ip, host_port, cport = entry.rsplit(":", 2)
        ports.setdefault(cport + "/tcp", []).append({"HostIp": ip.strip("[]"), "HostPort": host_port})
    doc = {
        "Id": "c0ffee", "Name": "/" + spec["labels"]["io.numaserve.instance"].join(["ovms-", ""]),
        "Image": "sha256:1111", "State": {"Status": "running", "Running": True, "Pid": 42},
        "Config": {"Image": spec["image"], "Cmd": list(spec["command"]), "User": spec["user"],
                   "Labels": dict(spec["labels"]),
                   "Env": ["%s=%s" % kv for kv in spec["env"].items()] + ["PATH=/usr/bin"]},
        "HostConfig": {"CpusetCpus": spec["cpuset_cpus"], "CpusetMems": spec["cpuset_mems"], "PortBindings": ports,
                       "Ulimits": [{"Name": n, "Soft": v, "Hard": v} for n, v in spec["ulimits"].items()],
                       "RestartPolicy": {"Name": "unless-stopped"}, "LogConfig": {"Type": "json-file"}},
        "Mounts": [{"Source": v.split(":")[0], "Destination": v.split(":")[1], "RW": False} for v in spec["volumes"]],
    }
    for path, value in changes.items():
        node = doc
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return doc


def test_observe_a_matching_container_gives_no_reason():
    want = mss.instance_spec(ROLE, SOURCE, INSTANCE)
    seen = mss.observe(inspect_doc(want["spec"]))
    assert seen["name"] == "ovms-node0" and seen["running"] and seen["pid"] == 42
    assert seen["rest_port"] == 18513 and seen["grpc_port"] == 18600
    assert "s3" not in json.dumps(seen)
    assert mss.differences(want, seen, "sha256:1111") == []


def test_each_difference_is_named():
    want = mss.instance_spec(ROLE, SOURCE, INSTANCE)
    spec = want["spec"]
    cases = {
        "image": {"Config.Image": "openvino/model_server:2026.2"},
        "command": {"Config.Cmd": spec["command"][:-1]},
        "cpuset": {"HostConfig.CpusetCpus": "0"},
        "ports": {"HostConfig.PortBindings": {"18513/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18513"}]}},
        "mount": {"Mounts": []},
        "env": {"Config.Env": ["A=1", "B=x", "S=other"]},
        "ulimits": {"HostConfig.Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 1024}]},
        "labels": {"Config.Labels": dict(spec["labels"], **{"io.numaserve.host": "h2"})},
        "source": {"Config.Labels": dict(spec["labels"], **{"io.numaserve.config-hash": "0" * 16})},
    }
    for reason, change in cases.items():
        assert mss.differences(want, mss.observe(inspect_doc(spec, **change))) == [reason], reason
    assert mss.differences(want, mss.observe(inspect_doc(spec)), "sha256:2222") == ["image"]


def test_podman_inspect_spellings():
    want = mss.instance_spec(role(image="localhost/ovms:1"), SOURCE, INSTANCE)
    doc = inspect_doc(want["spec"], Image="1111")
    doc["Config"]["Image"] = "localhost/ovms:1"
    doc["HostConfig"]["Ulimits"] = [{"Name": "RLIMIT_NOFILE", "Soft": 16384, "Hard": 16384},
                                    {"Name": "RLIMIT_NPROC", "Soft": 4194304, "Hard": 4194304}]
    assert mss.differences(want, mss.observe(doc), "1111") == []
    hub = mss.instance_spec(ROLE, SOURCE, INSTANCE)
    doc = inspect_doc(hub["spec"])
    doc["Config"]["Image"] = "docker.io/openvino/model_server:2026.3"
    assert mss.differences(hub, mss.observe(doc), "") == []


def test_probe_result_running_moved_absent_and_stale():
    plan = [INSTANCE, dict(INSTANCE, name="node1", cpuset_cpus="2-3", rest_port=18520, grpc_port=None),
            dict(INSTANCE, name="node2", cpuset_cpus="4-5", rest_port=18530, grpc_port=None)]
    wanted = [mss.instance_spec(ROLE, SOURCE, i) for i in plan]
    same = mss.observe(inspect_doc(wanted[0]["spec"]))
    # node1 runs on its old port 18514.
    old = mss.instance_spec(ROLE, SOURCE, dict(plan[1], rest_port=18514))
    moved = mss.observe(dict(inspect_doc(old["spec"]), Name="/ovms-node1"))
    stale = mss.observe(dict(inspect_doc(mss.instance_spec(ROLE, SOURCE, dict(INSTANCE, name="node9"))["spec"]),
                             Name="/ovms-node9", Id="dead"))
    foreign = mss.observe(dict(inspect_doc(wanted[0]["spec"]), Name="/lb", Id="beef",
                               Config={"Labels": {"io.numaserve.managed": "true", "io.numaserve.host": "h1"}}))
    got = mss.probe_result(wanted, [same, moved, stale, foreign], "h1", "sha256:1111")
    first, second, third = got["instances"]
    assert (first["replace"], first["reasons"], first["port_moved"]) == (False, [], False)
    assert first["endpoint"]["port"] == 18513
    assert second["replace"] and "ports" in second["reasons"] and second["port_moved"]
    assert second["endpoint"]["port"] == 18514 and second["url"] == "http://127.0.0.1:18514"
    assert (third["running"], third["replace"], third["reasons"], third["endpoint"]) == (False, True, ["absent"], {})
    # What a rollback puts back: the image the existing container runs; none for an absent one.
    assert (first["image"], second["image"], third["image"]) == (ROLE["image"], ROLE["image"], "")
    assert got["stale"] == [{"container": "ovms-node9", "image": ROLE["image"], "endpoint": {
        "host": "h1", "instance": "node9", "container": "ovms-node9", "address": "127.0.0.1", "port": 18513,
        "grpc_port": 18600, "nodes": [], "cpuset_cpus": "0-1", "cpus": 2}}]
    # Only the REST port moves, the gRPC port stays: they cannot run side by side, replaced in place.
    grpc_old = mss.instance_spec(ROLE, SOURCE, dict(INSTANCE, rest_port=18514))
    grpc_seen = mss.observe(inspect_doc(grpc_old["spec"]))
    in_place = mss.probe_result(wanted[:1], [grpc_seen], "h1")["instances"][0]
    assert in_place["replace"] and "ports" in in_place["reasons"] and not in_place["port_moved"]
    assert in_place["endpoint"]["port"] == 18514
    assert in_place["url"] == "http://127.0.0.1:18514", "the probe polls it where it serves now"
    published = mss.probe_gated(got, [])
    assert published["instances"][0]["endpoint"] == {}
    assert published["instances"][1]["endpoint"]["port"] == 18514
    assert "url" not in published["instances"][0]
    assert mss.probe_gated(got, ["node0"])["instances"][0]["endpoint"]["port"] == 18513
    # A replaced instance that was gated too serves only when it passed (the failed one of a halted update).
    assert mss.probe_gated(got, ["node0"], ["node1"])["instances"][1]["endpoint"] == {}
    assert mss.probe_gated(got, ["node0", "node1"], ["node1"])["instances"][1]["endpoint"]["port"] == 18514


STATUS = """Name:\tovms
Umask:\t0022
State:\tS (sleeping)
Uid:\t5000\t5000\t5000\t5000
NoNewPrivs:\t1
CapEff:\t0000000000000000
Cpus_allowed:\t3
Cpus_allowed_list:\t0-1
Mems_allowed_list:\t0
"""


def test_proc_status():
    status = mss.parse_proc_status(STATUS)
    assert status == {"Uid": "5000\t5000\t5000\t5000", "NoNewPrivs": "1", "CapEff": "0000000000000000",
                      "Cpus_allowed_list": "0-1", "Mems_allowed_list": "0"}
    assert mss.proc_problems(status, "0,1", [0]) == []
    assert mss.proc_problems(status, "0-2", "0-1") == ["cpus", "mems"]
    bad = dict(status, Uid="0\t0\t0\t0", NoNewPrivs="0", CapEff="00000000a80425fb")
    assert mss.proc_problems(bad, "0-1", [0]) == ["uid", "no_new_privs", "capabilities"]


def test_image_checks():
    assert mss.image_checks("openvino/model_server:2026.3") == {"valid": True, "pinned": True}
    assert mss.image_checks("registry.local:5000/ovms/model_server@sha256:" + "a" * 64)["pinned"]
    assert mss.image_checks("openvino/model_server:latest") == {"valid": True, "pinned": False}
    assert mss.image_checks("openvino/model_server:latest-gpu")["pinned"] is False
    assert mss.image_checks("openvino/model_server") == {"valid": True, "pinned": False}
    assert mss.image_checks("OpenVINO/Model_Server:1")["valid"] is False
    assert mss.image_checks(None) == {"valid": False, "pinned": False}


def test_probe_image_is_the_reference_the_container_was_created_with():
    # Compared without "localhost/" (Podman expands short names), given back as created: a rollback
    # hands it to the engine again.
    wanted = [mss.instance_spec(dict(ROLE, image="localhost/numaserve/ovms:v1"), SOURCE, INSTANCE)]
    have = mss.observe(inspect_doc(wanted[0]["spec"]))
    assert (have["image"], have["image_ref"]) == ("numaserve/ovms:v1", "localhost/numaserve/ovms:v1")
    got = mss.probe_result(wanted, [have], "h1")
    assert got["instances"][0]["image"] == "localhost/numaserve/ovms:v1"
