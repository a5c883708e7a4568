"""ovms_bench: a small serving benchmark for OpenAI-compatible endpoints (OVMS ``/v3``).

It measures what ``vllm bench serve`` (formerly ``benchmark_serving.py``) measures, with the same
definitions and the same result block, using only ``httpx`` (plus ``matplotlib`` for plots). It can
also drive ``vllm bench serve`` or ``guidellm`` and parse their output. Part of the numaserve.ovms
collection (``tools/``); run it with ``PYTHONPATH=tools python -m ovms_bench --help``.
"""

__version__ = "1.0.0"
