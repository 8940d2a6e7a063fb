"""A run with a skipped test fails: every component a test needs is installed by setup.

(A test that cannot find its component fails with a message naming it; this catches any skip
that slips in anyway, for example from a plugin or a ``skipif``.)
"""

from __future__ import annotations

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == pytest.ExitCode.OK:
        names = ", ".join(sorted({r.nodeid for r in skipped})[:5])
        reporter.write_line(f"FAILED: {len(skipped)} test(s) skipped ({names}); nothing may skip")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
