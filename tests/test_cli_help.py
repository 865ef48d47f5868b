"""The CLI's help is Chinese first, English second, for every command, group and parameter of
the Typer app (walked, not listed); it shows clean metavars; and `act` makes its actions
discoverable: `--list` names them, an unknown one is refused with the valid names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cli import app
from web.labels import ACTIONS

runner = CliRunner()
CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_LETTER = re.compile(r"[A-Za-z]")


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from walk(sub, (*path, name))


COMMANDS = list(walk(typer.main.get_command(app)))


def chinese_first(text: str | None) -> bool:
    """A CJK character comes before the first ASCII letter."""
    if not text:
        return False
    cjk, letter = CJK.search(text), ASCII_LETTER.search(text)
    return cjk is not None and (letter is None or cjk.start() < letter.start())


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    # a few known ones, to show the walk reaches top-level commands and subcommands alike
    assert {"act", "sweep", "serve", "audit verify", "user add", "outbox retry"} <= names
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("path", [" ".join(path) or "decisionflow" for path, _ in COMMANDS])
def test_every_command_and_parameter_help_is_chinese_first(path: str) -> None:
    command = {" ".join(p) or "decisionflow": c for p, c in COMMANDS}[path]
    assert chinese_first(command.help), f"{path}: {command.help!r}"
    # the line a command list shows, when it is not the whole help: Chinese / English too
    assert command.short_help is None or (
        chinese_first(command.short_help) and " / " in command.short_help
    ), f"{path}: {command.short_help!r}"
    for param in command.params:
        assert chinese_first(param.help), f"{path} {param.name}: {param.help!r}"


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS])
def test_help_shows_no_python_type_metavar(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "显示本帮助并退出" in result.output
    assert not re.search(r"<[a-z][a-z \[\]|,]*>", result.output), result.output
    assert "9223372036854775807" not in result.output
    # metavars are upper case: `{file}` or `{user}` in the usage line would be lower
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    assert not re.search(r"\{[a-z_]+\}", usage), usage


def test_docstring_line_breaks_do_not_reach_the_help() -> None:
    """Each paragraph is one line, so the terminal (not the source) decides where to wrap."""
    for path, command in COMMANDS:
        for paragraph in (command.help or "").split("\n\n"):
            assert "\n" not in paragraph, f"{' '.join(path)}: {paragraph!r}"


def test_act_list_names_every_action_in_chinese_and_english() -> None:
    from flows.service import REGISTRY

    result = runner.invoke(app, ["act", "--list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == list(REGISTRY)
    zh, en = ACTIONS["register_decision"]
    assert f"register_decision  {zh} / {en}" in lines


def test_act_help_says_where_the_actions_are_listed() -> None:
    result = runner.invoke(app, ["act", "--help"], terminal_width=200)
    assert "decisionflow act --list" in result.output


def test_an_unknown_action_is_refused_with_the_valid_ones() -> None:
    result = runner.invoke(app, ["act", "no_such_action", "--actor", "li", "--database", "sqlite://"])
    assert result.exit_code == 2
    assert "error INPUT [action]: 未知操作 'no_such_action'" in result.output
    assert "unknown action 'no_such_action'; the actions are:" in result.output
    for name in ("register_decision", "submit_draft", "publish_decision"):
        assert name in result.output
