"""The ``degrade`` command line. Each subcommand lives in ``degrade/commands/<name>.py``.

User errors (bad recipe, missing file, bad parameter) print one line ``error: ...`` on
stderr and exit with status 2; no traceback. Ctrl-C and SIGTERM (``kill``, ``timeout``,
SLURM, Kubernetes) stop a command the same way: its worker processes stopped, its store's
lease released, one line ``error: interrupted`` / ``error: terminated``, exit status 130 / 143.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import signal
import sys

from . import __version__, commands
from ._errors import DegradeError


def _command_modules() -> dict:
    return {m.name: importlib.import_module(f"{commands.__name__}.{m.name}")
            for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="degrade",
        description="Manufacture training pairs for image-restoration models from clean "
                    "images with YAML recipes of degradation operators.",
        epilog="Run 'degrade COMMAND --help' for the options of one command.")
    parser.add_argument("--version", action="version", version=f"degrade {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in sorted(_command_modules().items()):
        cmd = sub.add_parser(name, help=module.HELP, description=module.__doc__ or module.HELP,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so that the same
    clean-up runs (``finally`` blocks: workers stopped, the lease released)."""


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)   # a second SIGTERM ends the clean-up
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    previous = None
    with contextlib.suppress(ValueError):      # not the main thread: leave SIGTERM alone
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(args._run(args) or 0)
    except DegradeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Terminated:
        print("error: terminated (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:              # e.g. `degrade inspect STORE | head`: not an error
        try:                             # the exit-time flush of stdout must not fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
