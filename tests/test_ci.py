"""CI runs the README's test command: the two must not drift apart."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_commands():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        return re.findall(r"^    (python3 -m venv .*)$", handle.read(), flags=re.MULTILINE)


def test_readme_has_exactly_two_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert commands[0].endswith("examples/tutorial.py")
    assert commands[1].endswith("-m pytest")


def test_ci_runs_the_readme_test_command():
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as handle:
        lines = [line.strip() for line in handle]
    assert readme_commands()[1] in lines
