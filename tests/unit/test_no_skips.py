"""The suite fails when anything skips."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _quiet_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def test_a_skipped_test_fails_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_fine():
            pass

        def test_needs_something():
            pytest.skip("something is missing")
        """
    )
    result = pytester.runpytest("-p", "tests.plugins.no_skips", "-p", "no:xvfb")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 test(s) skipped*nothing may skip*"])


def test_a_run_without_skips_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_fine():\n    pass\n")
    assert (
        pytester.runpytest("-p", "tests.plugins.no_skips", "-p", "no:xvfb").ret
        == pytest.ExitCode.OK
    )
