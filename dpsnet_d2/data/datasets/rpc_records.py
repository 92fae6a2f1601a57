"""
Reading a JSON annotation file and checking its records column by column, for the RPC loader
(rpc_format.py): :class:`RPCFormatError`, :class:`Section` and small helpers.

A column check looks at all records at once (``set(map(type, column))``, numpy); only when it
fails is the first bad record looked for, to name it in the error.
"""
import contextlib
import gc
import itertools
import json
import reprlib
from operator import itemgetter

import numpy as np

from ...utils.cli import FileFormatError

__all__ = [
    "DICT",
    "INT",
    "LIST",
    "NUMBER",
    "STR",
    "RPCFormatError",
    "Section",
    "find_list",
    "float_array",
    "gc_paused",
    "show",
]

# Allowed Python types of JSON values.
INT = frozenset({int})
NUMBER = frozenset({int, float})
STR = frozenset({str})
LIST = frozenset({list})
DICT = frozenset({dict})


class RPCFormatError(FileFormatError):
    """
    A malformed RPC annotation file. ``str(err)`` is ``"<json_file>: <record>: <reason>"``, e.g.
    ``".../instances_val2019.json: annotations[17] (id=123): bbox [10.0, 5.0, 0.0, 8.0] has
    non-positive width"``; the parts are the attributes ``json_file``, ``record``, ``reason``.
    A user error: tools print it as one line (:func:`dpsnet_d2.utils.cli.run_cli`).
    """

    def __init__(self, json_file, record, reason):
        super().__init__(json_file, record, reason)
        self.json_file = self.path


class Section:
    """
    The records of one top-level list of an RPC file ("images", "annotations" or "categories"),
    checked column by column. Every failed check raises :class:`RPCFormatError` for the first bad
    record, named as ``"<section>[<index>] (id=<id>)"``.
    """

    def __init__(self, json_file, data, name):
        self.json_file, self.name = json_file, name
        if name not in data:
            raise RPCFormatError(json_file, "top level", f"missing key {name!r}")
        self.records = data[name]
        if type(self.records) is not list:
            self.fail_top(f"{name!r} must be a list, got {show(self.records)}")
        self._check_types(self.records, DICT, "an object")

    def __len__(self):
        return len(self.records)

    def fail_top(self, reason):
        """Raise RPCFormatError for the section as a whole."""
        raise RPCFormatError(self.json_file, "top level", reason)

    def fail(self, index, reason):
        """Raise RPCFormatError for record ``index`` of this section."""
        record = self.records[index]
        ident = record.get("id") if type(record) is dict else None
        where = f"{self.name}[{index}]"
        if type(ident) in (int, str):
            where += f" (id={reprlib.repr(ident)})"
        raise RPCFormatError(self.json_file, where, reason)

    def _check_types(self, values, types, what, rows=None, key=None):
        if set(map(type, values)) <= types:
            return
        j = next(j for j, v in enumerate(values) if type(v) not in types)
        prefix = "record" if key is None else repr(key)
        self.fail(j if rows is None else rows[j], f"{prefix} must be {what}, got {show(values[j])}")

    def rows_with(self, key):
        """Indices of the records that have ``key``."""
        return [i for i, record in enumerate(self.records) if key in record]

    def column(self, key, types, what, rows=None):
        """
        The values of ``key``, each of a type in ``types`` (``what`` names them for errors).
        ``rows`` (indices of records known to have the key) selects records; default all, and
        then the key is required.
        """
        if rows is None:
            try:
                values = list(map(itemgetter(key), self.records))
            except KeyError:
                first = next(i for i, r in enumerate(self.records) if key not in r)
                self.fail(first, f"missing key {key!r}")
        else:
            values = [self.records[i][key] for i in rows]
        self._check_types(values, types, what, rows, key)
        return values

    def unique(self, values, key):
        """Check that no two records share a value of ``key``."""
        if len(set(values)) == len(values):
            return
        seen = {}
        for i, value in enumerate(values):
            if value in seen:
                also = f"{self.name}[{seen[value]}]"
                self.fail(i, f"duplicate {key} {reprlib.repr(value)} (also {also})")
            seen[value] = i

    def numbers(self, key, length, rows=None):
        """
        ``key`` holds a list of ``length`` finite numbers in each record.

        Returns: float64 array, R x ``length`` (R: the records, or ``len(rows)``).
        """
        values = self.column(key, LIST, f"a list of {length} numbers", rows)
        where = range(len(values)) if rows is None else rows
        if set(map(len, values)) - {length}:
            j = next(j for j, v in enumerate(values) if len(v) != length)
            self.fail(where[j], f"{key!r} must have {length} numbers, got {show(values[j])}")
        flat = list(itertools.chain.from_iterable(values))
        if set(map(type, flat)) - NUMBER:
            j = next(j for j, v in enumerate(values) if set(map(type, v)) - NUMBER)
            self.fail(where[j], f"{key!r} must hold numbers, got {show(values[j])}")
        array = float_array(flat).reshape(len(values), length)
        finite = np.isfinite(array).all(axis=1)
        if not finite.all():
            j = int(np.flatnonzero(~finite)[0])
            self.fail(where[j], f"{key!r} must hold finite numbers, got {show(values[j])}")
        return array

    def check(self, ok, reason):
        """Fail at the first record where ``ok`` (bool array, R) is False, saying ``reason(j)``."""
        if not ok.all():
            j = int(np.flatnonzero(~ok)[0])
            self.fail(j, reason(j))


def _as_float(value):
    """A JSON number as float, inf when it is too large for a float."""
    try:
        return float(value)
    except OverflowError:
        return float("inf")


def show(value):
    """A short description of a JSON value for error messages."""
    return f"{type(value).__name__} {reprlib.repr(value)}"


def find_list(buffer, key):
    """
    The JSON list that follows the first ``key`` (quoted) holding a list in ``buffer`` (bytes-like),
    or None when there is none or it does not parse.

    Quotes inside JSON strings are escaped, so a quoted match followed by ``:`` is an object key.
    It is not checked to be a top-level key: a nested key of the same name holding a list, earlier
    in the file, would be taken (RPC files have none; ``load_rpc_json(dataset_name=...)`` checks
    the metadata against the full parse).
    """
    decoder = json.JSONDecoder()
    pos = buffer.find(key)
    while pos >= 0:
        end = pos + len(key)
        head = bytes(buffer[end : end + 64]).lstrip()
        if head.startswith(b":") and head[1:].lstrip().startswith(b"["):
            size = 1 << 20
            while True:
                chunk = bytes(buffer[end : end + size]).decode("utf-8", errors="replace")
                text = chunk.lstrip().removeprefix(":").lstrip()
                try:
                    value, _ = decoder.raw_decode(text)
                    return value
                except (ValueError, RecursionError):
                    if end + size >= len(buffer):
                        return None
                    size *= 4
        pos = buffer.find(key, pos + 1)
    return None


@contextlib.contextmanager
def gc_paused():
    """
    Pause Python's cyclic garbage collector. Loading creates millions of acyclic objects, and the
    collections they trigger scan everything parsed so far again and again (2-3x the load time).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def float_array(values):
    """JSON numbers as a float64 array (inf for integers too large for a float)."""
    try:
        return np.array(values, dtype=np.float64)
    except OverflowError:
        return np.array([_as_float(v) for v in values], dtype=np.float64)
