"""config/README.md, written from the config schema: every key, by stage, with its default.

    .venv/bin/python tests/config_readme.py > config/README.md

(tests/test_layout.py checks that the file is what this writes.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
STAGES = {
    "conference": "the conference", "corpus": "corpus", "model": "model", "softconf": "conference",
    "coi": "conference", "viability": "conference", "matching": "matching", "calibration": "calibration",
    "affinity_jobs": "affinity",
}
HEADER = """# Configuration

`config/config.yaml` is the demo conference; a conference of your own is a file with what
differs from it (`snakemake --configfile config/config.yaml my-conference.yaml`). Every key is
checked against `workflow/schemas/config.schema.yaml` before any job runs (unknown keys and
wrong types are errors) and missing keys take the defaults below. `model.preset:
acl-reference` loads `config/presets/acl-reference.yaml` under your settings.

This page is written from the schema (`tests/config_readme.py`); change the schema's
descriptions, not this page.
"""


def _type(node: dict) -> str:
    if "enum" in node:
        return ", ".join(f"`{value}`" for value in node["enum"])
    kind = node.get("type", "")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _default(node: dict) -> str:
    if "default" not in node or node["default"] in ({}, None) and node.get("type") == "object":
        return ""
    return f"`{json.dumps(node['default'])}`"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def rows(node: dict, path: list[str]) -> list[str]:
    """One table row per key under ``node``, nested keys dotted, in the schema's order."""
    out = []
    for key, child in (node.get("properties") or {}).items():
        dotted = ".".join([*path, key])
        out.append(f"| `{dotted}` | {_cell(_type(child))} | {_default(child)} | {_cell(child.get('description', ''))} |")
        out += rows(child, [*path, key])
    return out


def render(schema: dict) -> str:
    """The page for ``schema``."""
    parts = [HEADER]
    for section, node in schema["properties"].items():
        stage = STAGES.get(section, section)
        parts.append(f"\n## `{section}` ({stage})\n\n{_cell(node.get('description', ''))}\n")
        table = rows(node, [section])
        if section == "affinity_jobs":
            entry = node.get("additionalProperties") or {}
            table = rows(entry.get("then", entry), [f"{section}.<name>"])
        if table:
            parts.append("\n| key | type | default | what it sets |\n|---|---|---|---|\n" + "\n".join(table) + "\n")
        else:
            parts.append(f"\nType: {_type(node)}; default: {_default(node) or 'none (required)'}.\n")
    return "".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render(yaml.safe_load(SCHEMA.read_text())))
