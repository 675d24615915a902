"""The demo loaders' progress bar: on stderr, and only at a terminal, so that the accounts
and keys they print on stdout stay clean in a file or a pipe."""

from rich.console import Console
from rich.progress import Progress


def progress_bar() -> Progress:
    stderr = Console(stderr=True)
    return Progress(console=stderr, transient=True, disable=not stderr.is_terminal)
