# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pytest set-up for tests/unit: the fixture-tree builder and the collection on sys.path."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if HERE not in sys.path:
    sys.path.insert(0, HERE)  # sysfs_fixture
_COLLECTIONS = os.path.join(ROOT, ".venv", "collections")
if os.path.isdir(_COLLECTIONS) and _COLLECTIONS not in sys.path:
    sys.path.append(_COLLECTIONS)  # without `source scripts/env.sh`

import sysfs_fixture  # noqa: E402


@pytest.fixture
def make_tree(tmp_path):
    """make_tree(machine, **write_tree options) -> path of a fresh sysfs tree in tmp_path."""
    counter = [0]

    def build(machine, **options):
        counter[0] += 1
        return sysfs_fixture.write_tree(machine, str(tmp_path / ("sys%d" % counter[0])), **options)

    return build
