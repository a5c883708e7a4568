# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""scripts/check_private_vars.py: the make test check that parts meet only at public interfaces."""

import importlib.util
import os
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("check_private_vars", os.path.join(ROOT, "scripts", "check_private_vars.py"))
check_private_vars = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_private_vars)


def write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def tree(tmp_path):
    write(tmp_path, "roles/alpha/tasks/main.yml", "- ansible.builtin.set_fact:\n    __alpha_x: 1\n")
    write(tmp_path, "roles/alpha/meta/argument_specs.yml", "argument_specs:\n  main: {}\n  probe: {}\n")
    write(tmp_path, "roles/beta/tasks/main.yml", "- ansible.builtin.debug:\n    msg: '{{ __beta_y }}'\n")
    write(tmp_path, "roles/_inner/tasks/run.yml", "- ansible.builtin.debug:\n    msg: '{{ _inner_name }} {{ __inner_z }}'\n")
    write(tmp_path, "roles/_inner/meta/argument_specs.yml", "argument_specs:\n  run: {}\n")
    return tmp_path


def test_own_private_variables_and_public_entry_points_pass(tree):
    write(tree, "playbooks/ok.yml", """\
        - name: Probe
          ansible.builtin.include_role:
            name: numaserve.ovms.alpha
            tasks_from: probe.yml
          vars:
            alpha_public: 1
        """)
    write(tree, "roles/beta/tasks/other.yml", """\
        - name: Inner
          ansible.builtin.include_role:
            name: numaserve.ovms._inner
            tasks_from: run.yml
          vars:
            _inner_name: x
        """)
    assert check_private_vars.check(tree) == []


def test_a_role_reading_another_roles_private_variable_fails(tree):
    write(tree, "roles/beta/tasks/leak.yml", "- ansible.builtin.debug:\n    msg: '{{ __alpha_x }}'\n")
    problems = check_private_vars.check(tree)
    assert len(problems) == 1
    assert "roles/beta/tasks/leak.yml:2: __alpha_x is private to role alpha; role beta must use" in problems[0]


def test_a_playbook_setting_a_private_variable_fails(tree):
    write(tree, "playbooks/bad.yml", "- hosts: all\n  vars:\n    __alpha_instance: {}\n")
    assert any("playbooks/bad.yml:3: __alpha_instance is private to role alpha" in p for p in check_private_vars.check(tree))


def test_tests_and_scenarios_count_too(tree):
    write(tree, "extensions/molecule/s/verify.py", "x = host_vars['__inner_z']\n")
    assert any("__inner_z is private to role _inner" in p for p in check_private_vars.check(tree))


def test_tasks_from_a_file_without_an_entry_point_fails(tree):
    write(tree, "playbooks/bad.yml", """\
        - name: Internals
          ansible.builtin.include_role:
            name: numaserve.ovms.alpha
            tasks_from: instance.yml
        """)
    problems = check_private_vars.check(tree)
    assert problems == ["playbooks/bad.yml:4: tasks_from instance of role alpha is not an entry point of "
                        "roles/alpha/meta/argument_specs.yml; call a documented entry point (or add one with an argument spec)"]


def test_similar_names_of_other_things_are_not_private_variables(tree):
    write(tree, "plugins/x.py", "__all__ = []\nif __name__ == '__main__':\n    __alphabet_soup = 1\n")
    assert check_private_vars.check(tree) == []


def test_main_exit_code(tree, capsys):
    assert check_private_vars.main(["x", str(tree)]) == 0
    write(tree, "playbooks/bad.yml", "- hosts: all\n  vars:\n    __beta_y: 1\n")
    assert check_private_vars.main(["x", str(tree)]) == 1
    assert "1 violation(s)" in capsys.readouterr().out
