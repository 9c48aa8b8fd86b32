"""The closing words of a test run about what it skipped (tests/conftest.py)."""

from __future__ import annotations

from tests.conftest import LOCAL_POSTGRES_URL, skip_summary

PG = "HOMEVISIT_TEST_POSTGRES_URL is not set: the PostgreSQL variant needs a server (CI sets it)"
BROWSER = "needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"


def test_skips_are_counted_by_reason_and_end_with_the_command_that_runs_them() -> None:
    """A newcomer sees how many tests each missing piece skipped and one command for the rest."""
    lines = skip_summary([PG] * 240 + [BROWSER] * 12 + ["shared benchmark data not present"])
    assert lines[0] == "253 tests skipped, by reason:"
    assert lines[1] == f"    240  {PG}"
    assert lines[2] == f"     12  {BROWSER}"
    assert lines[4] == (
        "To run them too: apt-get install chromium && "
        f"HOMEVISIT_TEST_POSTGRES_URL={LOCAL_POSTGRES_URL} make test"
    )
    assert "1 need the published benchmark instances" in lines[-1]


def test_a_run_that_skipped_nothing_says_nothing() -> None:
    """No closing section when the whole suite ran."""
    assert skip_summary([]) == []
