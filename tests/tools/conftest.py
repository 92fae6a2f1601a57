"""Fixtures for the tests of tools/ (scripts, not a package)."""
import functools
import importlib.util
import logging
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@functools.lru_cache(maxsize=None)
def _load(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_tool():
    """A function ``name -> module`` of ``tools/<name>.py``, loaded once."""
    return _load


@pytest.fixture
def run_tool(load_tool, capsys):
    """
    A function ``(name, argv, entry="main") -> (exit status, stdout, stderr)`` running
    ``tools/<name>.py``'s ``entry`` in this process as its command line does
    (:func:`dpsnet_d2.utils.cli.run_cli`); argparse's exits give their status too.
    """
    from detectron2.utils.logger import setup_logger

    from dpsnet_d2.utils.cli import run_cli

    def run(name, argv, entry="main"):
        capsys.readouterr()
        # the tools' loggers print to this call's captured streams, not to an earlier call's
        loggers = [logging.getLogger(n) for n in ("dpsnet_d2", "detectron2", "fvcore")]
        handlers = [list(log.handlers) for log in loggers]
        setup_logger.cache_clear()
        try:
            code = run_cli(getattr(load_tool(name), entry), [str(a) for a in argv])
        except SystemExit as e:
            code = e.code
        finally:
            for log, old in zip(loggers, handlers):
                log.handlers[:] = old
            setup_logger.cache_clear()
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_clear_error(code, err, *fragments):
    """A user error: non-zero status, no traceback, a last stderr line saying error: and naming
    each of ``fragments``."""
    assert code not in (0, None), err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") or ": error: " in last, last
    for fragment in fragments:
        assert str(fragment) in last, (fragment, last)
    return last


def forbid(monkeypatch, module, *names):
    """Replace ``module.<name>`` for each name by a function that fails the test if called (the
    long work a tool must not start on bad input)."""

    def fail(*args, **kwargs):
        raise AssertionError(f"{module.__name__} started its work on bad input")

    for name in names:
        monkeypatch.setattr(module, name, fail)
