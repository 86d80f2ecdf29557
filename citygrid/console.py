"""What every `citygrid` command shares: the consoles, domain errors turned into messages, and
help rendered the way click renders it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption

from citygrid.errors import CitygridError, ImportRejected

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """An exit with the message on stderr; raise what it returns."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def print_rejection(error: ImportRejected) -> None:
    """Every problem of a rejected import as a table: index, code, reason."""
    table = Table(title=error.message)
    for column in ("index", "code", "reason"):
        table.add_column(column)
    for problem in error.problems:
        table.add_row(
            str(problem.get("index", "")), str(problem.get("code") or ""), problem["reason"]
        )
    err_console.print(table)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a domain error into a readable message on stderr and exit status 1."""
    try:
        yield
    except ImportRejected as error:
        print_rejection(error)
        raise typer.Exit(1) from error
    except CitygridError as error:
        raise fail(error.message) from error


# Typer's own labels (`<str>`, `<int range>`) as click names its types in help.
CLICK_TYPE_NAMES = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "FLOAT",
    "bool": "BOOLEAN",
    "file": "FILENAME",
    "list[str]": "TEXT",
}


def click_type_name(typer_label: str, *, is_choice: bool) -> str:
    """`<int range>` → `INTEGER RANGE`, `<a|b>` → `[a|b]`, `<path>` → `PATH`."""
    inner = typer_label.removeprefix("<").removesuffix(">")
    if is_choice:
        return f"[{inner}]"
    words = inner.split(" ")
    return " ".join(CLICK_TYPE_NAMES.get(word, word.upper()) for word in words)


class ClickStyleArgument(TyperArgument):
    """An argument shown as click shows it: FILE in the usage line, its type as PATH or TEXT."""

    def _usage_display_name(self) -> str:
        name = self.metavar or (self.name or "").upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type(self, ctx: _click.Context) -> str:
        label = super().display_type(ctx)
        return click_type_name(label, is_choice=self.type_descriptor.is_choice)


class ClickStyleOption(TyperOption):
    """An option shown as click shows it: no type after a flag, TEXT or [a|b] after the rest."""

    def display_type(self, ctx: _click.Context) -> str:
        if self.is_flag:
            return ""
        label = super().display_type(ctx)
        return click_type_name(label, is_choice=self.type_descriptor.is_choice)


def use_click_style_help(command: _click.Command) -> None:
    """Render the help of command and of every command below it as click does."""
    for param in command.params:
        if type(param) is TyperArgument:
            param.__class__ = ClickStyleArgument
        elif type(param) is TyperOption:
            param.__class__ = ClickStyleOption
    help_option = command.get_help_option(_click.Context(command))
    if type(help_option) is TyperOption:
        help_option.__class__ = ClickStyleOption
    for sub_command in getattr(command, "commands", {}).values():
        use_click_style_help(sub_command)


class ClickStyleHelpGroup(TyperGroup):
    """The root group: before it parses a command line, every command's help is made click-style.

    Typer 0.2x labels types its own way (`{file}` for a required argument, `<bool>` even after
    --help); the subclasses above only change how a parameter is displayed, never parsing. It
    happens here rather than at construction because Typer adds the completion options later.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: _click.Context | None = None,
        **extra: Any,
    ) -> _click.Context:
        use_click_style_help(self)
        return super().make_context(info_name, args, parent, **extra)
