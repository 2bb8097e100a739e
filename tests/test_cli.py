"""The revmatch command on the demo's START exports."""

import json

import pytest

from revmatch.cli import main
from revmatch.io import read_jsonl
from tests.conftest import DEMO

START = DEMO / "start"


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert "revmatch" in capsys.readouterr().out


def test_extract_then_viability(tmp_path, capsys):
    out = tmp_path / "conf"
    rc = main([
        "extract", "--profiles", str(START / "Profile_Information.csv"),
        "--submissions", str(START / "Submission_Information.csv"),
        "--bids", str(START / "Bid_Information.csv"), "--out", str(out),
    ])
    assert rc == 0
    reviewers = read_jsonl(out / "reviewers.jsonl")
    submissions = read_jsonl(out / "submissions.jsonl")
    assert len(reviewers) > 250 and len(submissions) > 130
    assert json.loads((out / "extraction_report.json").read_text())
    rc = main([
        "viability", "--reviewers", str(out / "reviewers.jsonl"),
        "--submissions", str(out / "submissions.jsonl"),
        "--quotas", str(START / "quotas.csv"), "--out", str(tmp_path / "viability"),
    ])
    assert rc == 0
    assert "Track:" in capsys.readouterr().out


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "Profile_Information.csv"
    bad.write_text("Username,Email\nx,y\n")
    rc = main([
        "extract", "--profiles", str(bad),
        "--submissions", str(START / "Submission_Information.csv"), "--out", str(tmp_path / "o"),
    ])
    assert rc == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "Roles" in err
    assert not (tmp_path / "o" / "reviewers.jsonl").exists()


def _options(parser, prefix=()):
    """(command path, action) for every option of every subcommand."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _options(child, (*prefix, name))
        elif action.option_strings and action.dest not in ("help", "version"):
            yield prefix, action


def test_options_are_the_config_keys_they_set_with_the_schema_defaults():
    """CLI = config: an option tagged [section] is that section's key, spelled with hyphens,
    with the schema's default; every other option names a file or folder (``revmatch match``:
    openreview-matcher's own options, as its users type them; ``revmatch serve``: the service's
    address, token and state; ``revmatch run --resume``); each has help."""
    import re

    import yaml

    from revmatch.cli import MATCHER_OPTIONS, PATH_OPTIONS, RUN_OPTIONS, SERVICE_OPTIONS, build_parser
    from tests.conftest import REPO

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())["properties"]
    for command, action in _options(build_parser()):
        where = f"revmatch {' '.join(command)} {action.option_strings[0]}"
        assert action.help, where
        tagged = re.match(r"\[(\w+)\]", action.help)
        if not tagged:
            own = {("match",): MATCHER_OPTIONS, ("serve",): SERVICE_OPTIONS, ("run",): RUN_OPTIONS}
            known = PATH_OPTIONS | own.get(command, set())
            assert action.dest in known, f"{where}: neither a config key, a path nor a matcher option"
            continue
        section = schema[tagged.group(1)]
        key = section["properties"].get(action.dest)
        assert key is not None, f"{where}: no key {tagged.group(1)}.{action.dest}"
        assert action.option_strings[0] == "--" + action.dest.replace("_", "-"), where
        if action.required or "default" not in key or "object" in key.get("type", ()):
            continue  # JSON options (objects) default to the schema's own
        default = key["default"]
        assert action.default == default or (default is None and action.default in (None, [])), where


def test_every_command_says_what_it_does():
    import argparse

    from revmatch.cli import build_parser

    def commands(parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield name, child
                    yield from commands(child)

    for name, parser in commands(build_parser()):
        assert parser.description and len(parser.description) > 30, name
