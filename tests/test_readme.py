"""The README starts with the two commands, and CI runs the second one."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```")[1::2]
    return [b.split("\n", 1)[1].strip() for b in blocks[:2]]


def test_readme_first_command_runs_the_scenario():
    first, _ = readme_commands()
    assert "python cli.py run scenario share_transfer" in first and "pip install" in first


def test_ci_runs_the_readme_test_command():
    _, second = readme_commands()
    assert "pytest" in second
    assert second in (ROOT / ".ci" / "run").read_text()
