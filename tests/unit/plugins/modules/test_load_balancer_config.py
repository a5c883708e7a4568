# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""load_balancer_config: nginx.conf replaced only after the validator accepted it, then endpoints.json."""

import json
import os
import stat
from unittest import mock

import pytest
from ansible.module_utils import _internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.numaserve.ovms.plugins.modules import load_balancer_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the module makes the files owned by root")

# A validator in the shape of the role's (a command with %s for the candidate): accepts a file that says "good".
ACCEPT_GOOD = "grep -q good %s"


def run(capsys, tmp_path, check_mode=False, diff=False, **args):
    with mock.patch.object(_internal, "is_controller", False), \
            patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff,
                                   _ansible_tmpdir=str(tmp_path / "moduletmp"))):
        (tmp_path / "moduletmp").mkdir(exist_ok=True)
        with pytest.raises(SystemExit):
            load_balancer_config.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "nginx"
    path.mkdir()
    return path


def test_writes_an_accepted_config_and_its_endpoints_then_changes_nothing(capsys, tmp_path, conf):
    args = {"config_dir": str(conf), "nginx_conf": "good v1\n", "validate": ACCEPT_GOOD, "endpoints_json": "[1]\n"}
    first = run(capsys, tmp_path, **args)
    assert first["changed"] and first["config_changed"] and first["endpoints_changed"]
    assert (conf / "nginx.conf").read_text() == "good v1\n" and (conf / "endpoints.json").read_text() == "[1]\n"
    assert stat.S_IMODE(os.stat(conf / "nginx.conf").st_mode) == 0o644
    assert sorted(os.listdir(conf)) == ["endpoints.json", "nginx.conf"]  # no candidate left where nginx reads
    again = run(capsys, tmp_path, **args)
    assert not again["changed"] and not again["config_changed"] and not again["endpoints_changed"]


def test_a_rejected_candidate_leaves_the_live_files_as_they_were(capsys, tmp_path, conf):
    run(capsys, tmp_path, config_dir=str(conf), nginx_conf="good v1\n", validate=ACCEPT_GOOD, endpoints_json="[1]\n")
    rejected = run(capsys, tmp_path, config_dir=str(conf), nginx_conf="bad v2\n", validate=ACCEPT_GOOD,
                   endpoints_json="[2]\n")
    assert rejected["failed"] and rejected["msg"] == "failed to validate" and rejected["rc"] == 1
    assert (conf / "nginx.conf").read_text() == "good v1\n" and (conf / "endpoints.json").read_text() == "[1]\n"
    assert os.listdir(tmp_path / "moduletmp") == []


def test_endpoints_alone_change_without_a_new_config(capsys, tmp_path, conf):
    run(capsys, tmp_path, config_dir=str(conf), nginx_conf="good\n", validate=ACCEPT_GOOD, endpoints_json="[1]\n")
    result = run(capsys, tmp_path, config_dir=str(conf), nginx_conf="good\n", validate="false %s",
                 endpoints_json="[1, 2]\n")
    assert result["changed"] and not result["config_changed"] and result["endpoints_changed"]
    untouched = run(capsys, tmp_path, config_dir=str(conf), nginx_conf="good\n")
    assert not untouched["changed"] and (conf / "endpoints.json").read_text() == "[1, 2]\n"


def test_check_mode_predicts_without_validating_or_writing_and_shows_the_diff(capsys, tmp_path, conf):
    (conf / "nginx.conf").write_text("good v1\n")
    result = run(capsys, tmp_path, check_mode=True, diff=True, config_dir=str(conf), nginx_conf="good v2\n",
                 validate="false %s", endpoints_json="[]\n")
    assert result["changed"] and result["config_changed"] and "failed" not in result
    assert (conf / "nginx.conf").read_text() == "good v1\n" and not (conf / "endpoints.json").exists()
    [config_diff, endpoints_diff] = result["diff"]
    assert (config_diff["before"], config_diff["after"]) == ("good v1\n", "good v2\n")
    assert endpoints_diff["after_header"].endswith("endpoints.json")


def test_a_loosened_mode_is_put_right_and_counts_as_a_config_change(capsys, tmp_path, conf):
    run(capsys, tmp_path, config_dir=str(conf), nginx_conf="good\n", validate=ACCEPT_GOOD)
    os.chmod(conf / "nginx.conf", 0o666)
    result = run(capsys, tmp_path, config_dir=str(conf), nginx_conf="good\n", validate=ACCEPT_GOOD)
    assert result["config_changed"] and stat.S_IMODE(os.stat(conf / "nginx.conf").st_mode) == 0o644


def test_a_missing_directory_names_the_variable_except_in_check_mode(capsys, tmp_path):
    result = run(capsys, tmp_path, config_dir=str(tmp_path / "absent"), nginx_conf="good\n")
    assert result["failed"] and "load_balancer_config_dir" in result["msg"]
    # --check of a first deployment: the configure phase would have created the directory.
    predicted = run(capsys, tmp_path, check_mode=True, config_dir=str(tmp_path / "absent"), nginx_conf="good\n",
                    endpoints_json="[]\n")
    assert predicted["config_changed"] and predicted["endpoints_changed"] and not (tmp_path / "absent").exists()
