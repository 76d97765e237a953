"""Session-wide test set-up: one compute thread, nothing reaches for the network."""

from __future__ import annotations

import os

for _name, _value in {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}.items():
    os.environ.setdefault(_name, _value)

pytest_plugins: list[str] = ["tests.fixtures.redis_server", "tests.fixtures.models"]
