"""The one place that turns a ``UserError`` into a short message and an exit code."""
from __future__ import annotations

import argparse
import contextlib
import contextvars
import errno
import re
import signal
import sys
import traceback
from typing import Any, Callable, Iterator, Sequence

from ignite_zoo.registry.errors import UserError

EXIT_USER_ERROR = 2
#: what the disk or file system says that is the user's to fix: full, over quota, read-only, no permission
USER_OS_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES})

# torch's DataLoader re-raises an error from a worker process as the same type with the
# worker's whole traceback as its message; the user needs the original message only.
_WORKER_ERROR = re.compile(r"Caught \w+ (?P<where>in DataLoader worker process \d+)\.\n"
                           r"Original Traceback \(most recent call last\):\n")

_PROG: contextvars.ContextVar[str | None] = contextvars.ContextVar("ignite_zoo_prog", default=None)


@contextlib.contextmanager
def command_name(prog: str) -> Iterator[None]:
    """Tools' usage and help name ``prog`` (``ignite-zoo run``) instead of their script
    (``tools/run.py``) while the ``ignite-zoo`` command runs them."""
    token = _PROG.set(prog)
    try:
        yield
    finally:
        _PROG.reset(token)


def tool_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The argument parser every tool starts from: its module docstring's first paragraph
    is the description and the rest (the examples) the epilog, printed as written."""
    doc = doc or ""
    return argparse.ArgumentParser(prog=_PROG.get() or prog, description=doc.split("\n\n")[0],
                                   epilog="\n".join(doc.split("\n")[2:]),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def user_message(e: BaseException) -> str:
    """The message of a user error, without a DataLoader worker's traceback around it."""
    text = str(e)
    m = _WORKER_ERROR.match(text)
    if not m:
        return text
    body = text[m.end():].rpartition("Traceback (most recent call last):\n")[2]  # the last of a chain
    lines = body.splitlines()
    # traceback frames are indented; the exception ("module.Class: message") is not
    first = next((i for i, line in enumerate(lines) if line and not line.startswith(" ")), None)
    if first is None:
        return text
    original = "\n".join(lines[first:]).strip()
    head, sep, rest = original.partition(": ")
    if sep and re.fullmatch(r"[\w.]+", head):
        original = rest
    return f"{original} ({m['where']})"


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler's or ``kill``'s stop) ends the command like Ctrl-C: a
    ``KeyboardInterrupt`` unwinds it, so what it was writing is cleaned up as on Ctrl-C
    (a run keeps its checkpoints; a half-generated set or report is removed)."""
    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals to the caller
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def disk_error_message(e: OSError, then: str = "run the command again") -> str:
    """The one wording of a disk or file system refusal: what the system said, the file,
    and what to do; ``then``: how to go on (a run continues with ``resume=auto``)."""
    where = f": {e.filename}" if e.filename else ""
    todo = "free some space" if e.errno in (errno.ENOSPC, errno.EDQUOT) else "make it writable"
    return f"{e.strerror or e}{where}; {todo} or choose another folder, then {then}"


def main_guard(main: Callable[[Sequence[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)``; a ``UserError`` prints ``error: ...`` (no traceback) and exits 2.

    A user error's message is the whole story, so it comes without a hint; ``--debug``
    anywhere in argv keeps it out of ``main``'s arguments and shows the full traceback too,
    for reporting bugs. Anything else is a bug in the project and propagates with its
    traceback. SIGTERM ends every command as Ctrl-C does: one line, exit code 130.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        with sigterm_as_interrupt():
            return int(main(argv) or 0)
    except UserError as e:
        if debug:
            traceback.print_exc()
        print(f"error: {user_message(e) if not debug else e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as e:
        # The disk or the file system said no (full, read-only, no permission): that is the
        # user's to fix, and the file name says where.
        if debug or e.errno not in USER_OS_ERRORS:
            raise
        print(f"error: {disk_error_message(e)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (engines.launch turns it into one)
        print(f"interrupted{f' ({e})' if str(e) else ''}", file=sys.stderr)
        return 130
