"""The README's ready-to-paste producer ACL is the one the code (and its tests) use."""

from __future__ import annotations

from pathlib import Path

from worker.app.broker_acl import acl_setuser_command, producer_rules

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_quotes_the_producer_acl_the_tests_prove() -> None:
    line = acl_setuser_command("producer-acme", "CHANGE-ME", producer_rules())
    assert line in README.read_text(encoding="utf-8").splitlines()
