# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s_ovms: the OVMS v2026.3 command line of the Kubernetes pods (built by model_server_config's
ovms_command, checked here with the k8s_manifests_* names)."""

import pytest

from ansible_collections.numaserve.ovms.plugins.module_utils.k8s_ovms import OvmsArgsError, ovms_args


def test_config_mode():
    assert ovms_args("/models") == ["--config_path", "/models/config.json", "--rest_port", "8000", "--rest_workers",
                                    "128", "--file_system_poll_wait_seconds", "0", "--metrics_enable"]
    # a monitoring section in config.json: OVMS refuses --metrics_enable as well
    assert "--metrics_enable" not in ovms_args("/models", metrics_enable=False)


def test_single_model_mode_on_a_graph_directory_passes_no_other_model_setting():
    args = ovms_args("/models", model_name="llm", model_path="models/llm", grpc_port=9000)
    assert args[:4] == ["--model_name", "llm", "--model_path", "/models/models/llm"]
    assert "--target_device" not in args and args[args.index("--port") + 1] == "9000"


@pytest.mark.parametrize("kwargs, message", [
    ({"extra_args": ["--rest_workers=4"]}, "k8s_manifests_extra_args repeats --rest_workers"),
    ({"model_name": "llm", "model_path": "m", "extra_args": ["--nireq", "2"]}, "k8s_manifests_extra_args has --nireq"),
    ({"model_name": "llm"}, "k8s_manifests_model_name and k8s_manifests_model_path go together"),
    ({"rest_workers": 1}, "k8s_manifests_rest_workers must be an integer from 2 to 10000"),
    ({"grpc_port": 8000}, "k8s_manifests_grpc_port and k8s_manifests_rest_port are both 8000"),
    ({"plugin_config": {"NUM_STREAMS": 1}}, "k8s_manifests_plugin_config applies to single-model mode"),
])
def test_refusals_name_the_variable(kwargs, message):
    with pytest.raises(OvmsArgsError, match=message):
        ovms_args("/models", **kwargs)
