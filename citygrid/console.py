"""What every `citygrid` command shares: the consoles, domain errors turned into messages, and
help rendered the way click renders it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption

from citygrid.errors import CitygridError, ImportRejected

# Output to a pipe or a file is read by scripts: a table or a path broken over two lines breaks
# them, so there nothing wraps (a terminal still wraps to its width).
UNWRAPPED_WIDTH = 10_000


class ScriptFriendlyConsole(Console):
    """A rich console that wraps to the terminal's width, and never when writing to a pipe."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self.is_terminal or self._width is not None:
            return size
        return ConsoleDimensions(UNWRAPPED_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = ScriptFriendlyConsole()
err_console = ScriptFriendlyConsole(stderr=True)


# A long command's progress: (what it is doing now, how much of it is done, out of how much
# (None while unknown)).
ShowProgress = Callable[[str, int, "int | None"], None]
# Piped, a progress line at most this often (a log gets a heartbeat, not a flood).
PIPED_PROGRESS_EVERY_S = 5.0


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[ShowProgress]:
    """Show how far a long command has come, on stderr (stdout stays the command's answer).

    In a terminal a bar with the count and the time elapsed, gone when the work is done; piped
    or in a log, a line when a step starts and at most every PIPED_PROGRESS_EVERY_S seconds.
    """
    if err_console.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=err_console, transient=True) as bar:
            task = bar.add_task(description, total=total)

            def show_bar(step: str, done: int, out_of: int | None) -> None:
                bar.update(task, description=step, completed=done, total=out_of)

            yield show_bar
        return
    started = time.monotonic()
    last: dict[str, float | str] = {"at": 0.0, "step": ""}

    def show_line(step: str, done: int, out_of: int | None) -> None:
        now = time.monotonic()
        if step == last["step"] and now - float(last["at"]) < PIPED_PROGRESS_EVERY_S:
            return
        last.update(at=now, step=step)
        count = f"{done:,}/{out_of:,}" if out_of is not None else f"{done:,}"
        err_console.print(f"{step}: {count} ({now - started:.0f} s)", highlight=False)

    show_line(description, 0, total)
    yield show_line


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

    def make_metavar(self, ctx: _click.Context, *, usage: bool = False) -> str:
        # Click's plain help (piped output) names the argument as the usage line does.
        if usage:
            return self._usage_display_name()
        return self.metavar or (self.name or "").upper()

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


def use_click_style_help(command: _click.Command, *, to_terminal: bool = True) -> None:
    """Render the help of command and of every command below it as click does.

    Help read in a terminal comes in rich's boxes; piped, as click's plain text, unwrapped.
    """
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = "rich" if to_terminal else None
    for param in command.params:
        if type(param) is TyperArgument:
            param.__class__ = ClickStyleArgument
        elif type(param) is TyperOption:
            param.__class__ = ClickStyleOption
    help_option = command.get_help_option(_click.Context(command))
    if type(help_option) is TyperOption:
        help_option.__class__ = ClickStyleOption
    for sub_command in getattr(command, "commands", {}).values():
        use_click_style_help(sub_command, to_terminal=to_terminal)


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
        to_terminal = sys.stdout.isatty()
        use_click_style_help(self, to_terminal=to_terminal)
        if not to_terminal:
            extra.setdefault("terminal_width", UNWRAPPED_WIDTH)
            extra.setdefault("max_content_width", UNWRAPPED_WIDTH)
        return super().make_context(info_name, args, parent, **extra)
