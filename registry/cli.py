"""The one place that turns a ``UserError`` into a short message and an exit code."""
from __future__ import annotations

import sys
import traceback
from typing import Callable, Sequence

from registry.errors import UserError

EXIT_USER_ERROR = 2


def main_guard(main: Callable[[Sequence[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)``; a ``UserError`` prints ``error: ...`` (no traceback) and exits 2.

    ``--debug`` anywhere in argv keeps it out of ``main``'s arguments and shows the full
    traceback instead, for reporting bugs.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        return int(main(argv) or 0)
    except UserError as e:
        if debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        if not debug:
            print("(run again with --debug for the traceback)", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
