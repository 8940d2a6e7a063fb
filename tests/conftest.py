"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

pytest_plugins = ["tests.plugins.no_skips"]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def d435_bag() -> Path:
    """Real D435 recording (ROS1 bag), librealsense unit-test resource, Apache-2.0."""
    return FIXTURES / "librealsense_single_depth_color_640x480.bag"


@pytest.fixture(scope="session")
def d435_db3() -> Path:
    """The same recording converted to rosbag2 (.db3) by pyrealsense2 2.59.1."""
    return FIXTURES / "librealsense_single_depth_color_640x480_converted.db3"
