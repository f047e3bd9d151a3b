"""Shared test setup: offline hubs, the real sample data folder, small helpers."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # timm must never try the network
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
#: Real course samples (see SOURCES.md there); never copied into the repo.
SHARED_DATA = Path(os.environ.get("IGNITE_ZOO_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real satellite validation split and FCN32s predictions, or a skip saying why."""
    if not (SHARED_DATA / "sat512").is_dir():
        pytest.skip(
            f"real sample data not found at {SHARED_DATA} (set IGNITE_ZOO_SHARED_DATA to the folder "
            "holding sat512/ and sat512_pred_fcn32s/)"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
