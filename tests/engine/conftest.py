# Copyright (c) 2026, numaserve.ovms developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tests/engine run INSIDE localhost/numaserve/ovms-standin-tests (bash tests/engine/run.sh), with no
network: OpenVINO GenAI as installed in the stand-in image, llm_engine.py from /ovms/bin, the test-model
builder mounted at /opt/test_models."""

import os
import sys

import pytest

ENGINE_DIR = os.environ.get("OVMS_STANDIN_DIR", "/ovms/bin")
BUILDER_DIR = os.environ.get("NUMASERVE_TEST_MODELS_DIR", "/opt/test_models")
for path in (ENGINE_DIR, BUILDER_DIR):
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """The tiny test model's converted folder (built once per session in a fresh cache)."""
    import build  # pylint: disable=import-outside-toplevel

    return build.build_here("tiny", cache=tmp_path_factory.mktemp("cache"))
