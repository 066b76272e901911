"""The layout a newcomer relies on: rooms in alerts/ small enough to read, and a README map
that names every module they will find beyond the rooms every subject has."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("alerts", "geo", "notifier", "kit", "fcm_sandbox")
MAX_LINES = 500
# The rooms every subject of alerts/ has; the README says so once, before its map.
ROOMS = {"endpoints", "schemas", "service", "repository", "tasks"}


def _modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.name != "__init__.py"
    )


def _code_map() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"```\nalerts/\n(.*?)```", readme, re.DOTALL)
    assert found, "the README's map of the code starts with a block that opens with alerts/"
    return found.group(1)


@pytest.mark.parametrize(
    "module",
    [p for p in _modules() if p.is_relative_to(ROOT / "alerts")],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_module_is_under_the_line_limit(module: Path) -> None:
    lines = len(module.read_text().splitlines())
    assert lines <= MAX_LINES, f"{module.relative_to(ROOT)} has {lines} lines; split it by concept"


def test_the_readme_map_names_every_module() -> None:
    code_map = _code_map()
    missing = [
        str(path.relative_to(ROOT))
        for path in _modules()
        if path.stem != "__main__"
        and not (path.parent.parent.name == "alerts" and path.stem in ROOMS)
        and not re.search(rf"\b{path.stem}\b", code_map)
    ]
    assert not missing, f"the README's map of the code does not name {missing}"
