"""docs/protocol.md documents every command and event type, and every server setting."""

import re
from pathlib import Path

from app import protocol
from app.web.settings import Settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
HEADINGS = set(re.findall(r"^### `(\w+)`", DOC, re.M))


def test_every_command_type_is_documented() -> None:
    missing = set(protocol.COMMAND_TYPES) - HEADINGS
    assert not missing, f"docs/protocol.md lacks a '### `type`' section for commands {sorted(missing)}"


def test_every_event_type_is_documented() -> None:
    missing = set(protocol.EVENT_TYPES) - HEADINGS
    assert not missing, f"docs/protocol.md lacks a '### `type`' section for events {sorted(missing)}"


def test_every_documented_example_is_valid() -> None:
    commands = re.search(r"## Commands(.*?)## Events", DOC, re.S)
    assert commands
    examples = re.findall(r"```json\n(.*?)\n```", commands.group(1), re.S)
    assert len(examples) >= len(protocol.COMMAND_TYPES)
    for text in examples:
        protocol.parse_command(text)  # raises on an invalid example


def test_every_setting_is_documented() -> None:
    missing = [name for name in Settings.model_fields if f"DELTAFLOW_{name.upper()}" not in DOC]
    assert not missing, f"docs/protocol.md lacks the settings {missing}"


def test_every_documented_default_is_the_settings_default() -> None:
    table = dict(re.findall(r"^\| `DELTAFLOW_(\w+)` \| ([^|]+?) \|", DOC.split("## Server settings", 1)[1], re.M))
    defaults = Settings.model_construct()
    for name in Settings.model_fields:
        documented = table[name.upper()]
        value = getattr(defaults, name)
        if documented == "(none)":
            assert not value, name
        elif isinstance(value, bool):
            assert documented == str(value).lower(), name
        elif isinstance(value, int | float):
            assert float(documented) == value, name
        else:
            assert documented == str(value), name
