# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""load_balancer_files: the balancer's directory, TLS files and API key file in one run, idempotent, check mode."""

import json
import os
import stat
from unittest import mock

import pytest
from ansible.module_utils import _internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.numaserve.ovms.plugins.modules import load_balancer_files

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the module makes the files owned by root")


def run(capsys, check_mode=False, diff=False, **args):
    with mock.patch.object(_internal, "is_controller", False), \
            patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)):
        with pytest.raises(SystemExit):
            load_balancer_files.main()
    return json.loads(capsys.readouterr().out)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def pem(tmp_path):
    (tmp_path / "src").mkdir()
    certificate, key = tmp_path / "src/cert.pem", tmp_path / "src/key.pem"
    certificate.write_text("CERT\n")
    key.write_text("KEY\n")
    return str(certificate), str(key)


def test_creates_everything_with_the_modes_then_changes_nothing(capsys, tmp_path, pem):
    conf = tmp_path / "nginx"
    args = {"config_dir": str(conf), "tls_certificate": pem[0], "tls_certificate_key": pem[1],
            "api_key_conf": '"Bearer s3cret" 1;\n'}
    first = run(capsys, **args)
    assert first["changed"] and first["files_changed"]
    assert mode(conf) == 0o755 and mode(conf / "tls") == 0o700
    assert (conf / "tls/certificate.pem").read_text() == "CERT\n" and mode(conf / "tls/certificate.pem") == 0o644
    assert (conf / "tls/certificate.key").read_text() == "KEY\n" and mode(conf / "tls/certificate.key") == 0o600
    assert (conf / "api_key.conf").read_text() == '"Bearer s3cret" 1;\n' and mode(conf / "api_key.conf") == 0o600
    assert "s3cret" not in json.dumps(first)
    again = run(capsys, **args)
    assert not again["changed"] and not again["files_changed"] and again["changes"] == []


def test_check_mode_reports_without_writing_and_diff_hides_the_secrets(capsys, tmp_path, pem):
    conf = tmp_path / "nginx"
    result = run(capsys, check_mode=True, diff=True, config_dir=str(conf), tls_certificate=pem[0],
                 tls_certificate_key=pem[1], api_key_conf="SECRET")
    assert result["changed"] and result["files_changed"]
    assert not conf.exists()
    shown = json.dumps(result["diff"])
    assert "CERT" in shown and "KEY\\n" not in shown and "SECRET" not in shown
    assert str(conf / "api_key.conf") + " created" in result["changes"]


def test_turning_tls_and_the_key_off_removes_their_files(capsys, tmp_path, pem):
    conf = tmp_path / "nginx"
    run(capsys, config_dir=str(conf), tls_certificate=pem[0], tls_certificate_key=pem[1], api_key_conf="K")
    result = run(capsys, config_dir=str(conf))
    assert result["changed"] and result["files_changed"]  # the API key file nginx included is gone
    assert not (conf / "tls").exists() and not (conf / "api_key.conf").exists() and conf.is_dir()


def test_a_new_certificate_or_a_loosened_mode_is_put_right(capsys, tmp_path, pem):
    conf = tmp_path / "nginx"
    args = {"config_dir": str(conf), "tls_certificate": pem[0], "tls_certificate_key": pem[1]}
    run(capsys, **args)
    os.chmod(conf / "tls/certificate.key", 0o644)
    loosened = run(capsys, **args)
    assert loosened["changed"] and mode(conf / "tls/certificate.key") == 0o600
    with open(pem[0], "w", encoding="utf-8") as handle:
        handle.write("CERT 2\n")
    renewed = run(capsys, **args)
    assert renewed["files_changed"] and (conf / "tls/certificate.pem").read_text() == "CERT 2\n"


def test_bad_input_names_the_variable(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    assert "load_balancer_config_dir" in run(capsys, config_dir=str(tmp_path / "file"))["msg"]
    missing = run(capsys, config_dir=str(tmp_path / "nginx"), tls_certificate=str(tmp_path / "none.pem"),
                  tls_certificate_key=str(tmp_path / "none.key"))
    assert missing["failed"] and "load_balancer_tls_certificate:" in missing["msg"]
    assert not (tmp_path / "nginx").exists()  # nothing changed before the failure
    no_key = run(capsys, config_dir=str(tmp_path / "nginx"), tls_certificate=str(tmp_path / "file"))
    assert "load_balancer_tls_certificate_key" in no_key["msg"]
