"""How a long operation tells its caller how far it is (a command's progress bar)."""

from collections.abc import Callable

OnProgress = Callable[[str, int, int], None]
"""Called with what is being done, how many are done and out of how many."""


def silent(_what: str, _done: int, _total: int) -> None:
    """The default: nobody is watching (the scheduler's jobs, the API)."""
