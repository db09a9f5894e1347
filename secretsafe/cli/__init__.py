"""The `secretsafe` command line.

The CLI only parses arguments, calls the API and prints. :func:`main` is the one place where
errors become output and exit codes. Subcommands are imported lazily so that each command pays
only for what it uses; ``secretsafe run`` skips click entirely on its fast path because it is
on the critical path of every container start.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script. Returns (or exits with) the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    from secretsafe.errors import SecretsafeError

    try:
        if args and args[0] == "run":
            from secretsafe.cli.run import fast_main

            code = fast_main(args[1:])
            if code is not None:
                return _exit(code, argv)
        from secretsafe.cli.app import cli

        rc = cli.main(args=args, prog_name="secretsafe", standalone_mode=False)
        return _exit(rc if isinstance(rc, int) else 0, argv)
    except SecretsafeError as err:
        print_error(err)
        return _exit(err.exit_code, argv)
    except KeyboardInterrupt:
        print("secretsafe: interrupted", file=sys.stderr)
        return _exit(130, argv)
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        return _exit(_click_or_internal(exc), argv)


def print_error(err: BaseException) -> None:
    """The error on stderr. Messages are built to be free of secret values; paths and names
    in them may come from a repository someone else wrote (a branch's file names, a file's
    recipients), so control characters are escaped: no terminal escape sequence, and one line
    - or, for an error that lists problems (``multiline``), one line per problem."""
    text = str(err)
    if not text.isprintable():
        lines = text.split("\n") if getattr(err, "multiline", False) else [text]
        text = "\n".join(
            "".join(c if c.isprintable() else repr(c)[1:-1] for c in line) for line in lines
        )
    print(f"secretsafe: error: {text}", file=sys.stderr)


def _click_or_internal(exc: Exception) -> int:
    import click

    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        exc.show()
        return exc.exit_code
    if isinstance(exc, click.exceptions.Abort):
        print("secretsafe: aborted", file=sys.stderr)
        return 130
    # An unexpected error is a bug. Its text could quote a value, so only the type is shown
    # unless the user asks for the traceback explicitly.
    if os.environ.get("SECRETSAFE_DEBUG") == "1":
        import traceback

        traceback.print_exception(exc)
    else:
        print(
            f"secretsafe: internal error ({type(exc).__name__}); "
            "re-run with SECRETSAFE_DEBUG=1 for details and report it",
            file=sys.stderr,
        )
    return 1


def _exit(code: int, argv: Sequence[str] | None) -> int:
    if argv is None:
        sys.stdout.flush()
        raise SystemExit(code)
    return code
