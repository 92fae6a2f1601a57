"""
What every command-line tool does with bad input: check it before any long work, and stop with
one line on stderr and a non-zero exit, without a traceback.

A tool's entry point::

    from dpsnet_d2.utils.cli import UserError, add_debug_flag, check_output_dir, run_cli

    def main(argv=None):
        parser = argparse.ArgumentParser(...)
        add_debug_flag(parser)
        args = parser.parse_args(argv)
        check_output_dir(args.output_dir, "--output-dir")      # before the long work
        ...
        raise UserError(f"{path}: images[3] (id=7): ...")       # any bad input found later

    if __name__ == "__main__":
        sys.exit(run_cli(main))

:func:`run_cli` prints a :class:`UserError` (and so the loader's ``RPCFormatError``) as
``error: <message>`` and returns 1; any other exception is a bug and keeps its traceback.
``--debug`` on the command line or ``DPSNET_DEBUG=1`` in the environment shows the traceback of
user errors too. The ``check_*`` helpers return the absolute path or raise :class:`UserError`
naming the option or file; :func:`int_at_least` is an argparse ``type`` for counts.
"""
import argparse
import json
import os
import reprlib
import sys
import tempfile

__all__ = [
    "DEBUG_ENV",
    "FileFormatError",
    "UserError",
    "add_debug_flag",
    "check_input_dir",
    "check_input_file",
    "check_output_dir",
    "check_output_file",
    "error_line",
    "float_in",
    "int_at_least",
    "read_json",
    "run_cli",
]

# Environment variable that shows tracebacks of user errors (also set by --debug, so that tools
# started by a tool show theirs).
DEBUG_ENV = "DPSNET_DEBUG"


class UserError(ValueError):
    """
    Bad input from the user (arguments, files, configs): ``str(err)`` is one line naming the file
    or option and the record, e.g. ``"configs/x.yaml: unknown config key MODEL.FOO"``.
    A ValueError, so library callers that catch ValueError keep working.
    """


class FileFormatError(UserError):
    """
    A file whose content is wrong: ``str(err)`` is ``"<path>: <record>: <reason>"``; the parts
    are the attributes ``path``, ``record`` and ``reason``.
    """

    def __init__(self, path, record, reason):
        self.path, self.record, self.reason = str(path), record, reason
        super().__init__(f"{path}: {record}: {reason}")

    def __reduce__(self):
        return type(self), (self.path, self.record, self.reason)


def add_debug_flag(parser):
    """Add ``--debug`` (show tracebacks of user errors) to an argparse parser; return it."""
    parser.add_argument(
        "--debug", action="store_true",
        help=f"show the traceback of a user error (or set {DEBUG_ENV}=1)",
    )
    return parser


def int_at_least(minimum):
    """An argparse ``type``: an integer >= ``minimum`` (argparse reports anything else)."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def float_in(low, high, *, low_open=False, high_open=False):
    """An argparse ``type``: a float in [low, high] (``low_open`` / ``high_open``: excluded)."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        above = low < value if low_open else low <= value
        below = value < high if high_open else value <= high
        if not (above and below):
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"must lie in {left}{low}, {high}{right}, got {value}")
        return value

    parse.__name__ = f"number in [{low}, {high}]"
    return parse


def error_line(error):
    """
    The one line a tool prints for ``error``: its message with whitespace folded. An error
    re-raised from a worker process (PyTorch's data loader puts the worker's traceback into the
    message: "Caught X in DataLoader worker process 0. Original Traceback ...") gives the
    worker's own last line, without the traceback.
    """
    text = str(error)
    if "Original Traceback" in text:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        last = lines[-1].strip()
        # "pkg.module.DomainError: message" -> "message"
        name, sep, rest = last.partition(": ")
        text = rest if sep and name.split(".")[-1] == type(error).__name__ else last
    return " ".join(text.split())


def _debug(argv):
    argv = list(argv)
    before = argv[: argv.index("--")] if "--" in argv else argv
    return "--debug" in before or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def run_cli(main, argv=None):
    """
    Run a tool's ``main(argv)`` (``argv`` default ``sys.argv[1:]``) and return its exit status:
    ``main``'s int result, 0 for any other result, 1 after a :class:`UserError` (printed as one
    line ``error: <message>`` on stderr) and 130 after Ctrl-C. With ``--debug`` in ``argv`` or
    ``DPSNET_DEBUG=1`` user errors are raised with their traceback.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = _debug(argv)
    if debug:
        os.environ[DEBUG_ENV] = "1"
    try:
        result = main(argv)
    except UserError as e:
        if debug:
            raise
        print("error: " + error_line(e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if debug:
            raise
        print("error: interrupted", file=sys.stderr)
        return 130
    return result if type(result) is int else 0


def _reason(error):
    """An OSError in a few words ("No such file or directory")."""
    return error.strerror or str(error)


def check_input_file(path, what):
    """``path`` is a readable file; ``what`` names it in the error ("--config-file", ...)."""
    if not path:
        raise UserError(f"{what}: no file given")
    if os.path.isdir(path):
        raise UserError(f"{what} {path}: is a folder, expected a file")
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise UserError(f"{what} {path}: cannot be read ({_reason(e)})") from e
    return os.path.abspath(path)


def check_input_dir(path, what):
    """``path`` is an existing folder."""
    if not os.path.exists(path):
        raise UserError(f"{what} {path}: no such folder")
    if not os.path.isdir(path):
        raise UserError(f"{what} {path}: is a file, expected a folder")
    return os.path.abspath(path)


def _check_writable(folder, what, shown):
    """A file can be written in ``folder`` (existing or not); errors name ``shown``."""
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = "is a file, expected a folder" if existing == shown else \
            f"is under a file ({existing})"
        raise UserError(f"{what} {shown}: {where}")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".write-test."):
            pass
    except OSError as e:
        raise UserError(f"{what} {shown}: cannot write in {existing} ({_reason(e)})") from e


def check_output_dir(path, what):
    """
    ``path`` is a folder that exists or can be created, and a file can be written in it. Creates
    nothing: the test file goes into the nearest existing folder and is removed at once.
    """
    if not path:
        raise UserError(f"{what}: no folder given")
    path = os.path.abspath(path)
    _check_writable(path, what, path)
    return path


def check_output_file(path, what, suffixes=()):
    """
    ``path`` is a file that can be written: not a folder, in a folder that exists or can be
    created and is writable, and, when ``suffixes`` are given (".jpg", ...), ending with one.
    """
    if not path:
        raise UserError(f"{what}: no file given")
    if suffixes and not path.lower().endswith(tuple(suffixes)):
        raise UserError(f"{what} {path}: must end with one of {', '.join(suffixes)}")
    if os.path.isdir(path):
        raise UserError(f"{what} {path}: is a folder, expected a file")
    _check_writable(os.path.dirname(os.path.abspath(path)), what, path)
    return os.path.abspath(path)


def read_json(path, error=FileFormatError, *, object_only=False):
    """
    Parse the JSON file ``path``. Any failure raises ``error(path, where, reason)`` (default
    :class:`FileFormatError`), e.g. ``"x.json: line 3 column 5: invalid JSON (Expecting ',')"``;
    with ``object_only`` a top level that is not a JSON object is one too.
    """
    data = _parse_json(path, error)
    if object_only and type(data) is not dict:
        shown = f"{type(data).__name__} {reprlib.repr(data)}"
        raise error(path, "top level", f"must be a JSON object, got {shown}")
    return data


def _parse_json(path, error):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except OSError as e:
        raise error(path, "file", f"cannot be read ({_reason(e)})") from e
    except json.JSONDecodeError as e:
        raise error(path, f"line {e.lineno} column {e.colno}", f"invalid JSON ({e.msg})") from e
    except UnicodeDecodeError as e:
        raise error(path, f"byte {e.start}", "invalid JSON (not UTF-8 text)") from e
    except (ValueError, RecursionError) as e:
        raise error(path, "file", f"invalid JSON ({e})") from e
