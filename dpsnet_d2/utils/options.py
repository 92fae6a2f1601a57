"""
Command-line spellings shared by the tools: ``--output`` for every output (Detectron2's demo
spelling), old spellings kept as aliases that print one deprecation line.

    add_output_argument(parser, "--out", required=True, help="folder for ...")
    add_deprecated_alias(parser, "--opts", "trailing KEY VALUE pairs", dest="legacy_opts",
                         nargs="*", default=[])
"""
import argparse
import re
import sys
from typing import List, Optional, Sequence, Tuple

__all__ = ["DeprecatedAlias", "add_deprecated_alias", "add_output_argument",
           "parse_with_overrides"]

# A config key as written on a command line (MODEL.WEIGHTS, INPUT.SYNTHESIS.SEED).
_CONFIG_KEY = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+$")


class DeprecatedAlias(argparse.Action):
    """An old spelling: stores like the new one and prints ``OLD is deprecated: use NEW``."""

    def __init__(self, option_strings, dest, *, replacement: str, **kwargs):
        self.replacement = replacement
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{option_string} is deprecated: use {self.replacement}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_deprecated_alias(parser, spelling: str, replacement: str, **kwargs):
    """Add ``spelling`` (hidden from --help) as a deprecated alias of ``replacement``."""
    return parser.add_argument(spelling, action=DeprecatedAlias, replacement=replacement,
                               help=argparse.SUPPRESS, **kwargs)


def add_output_argument(parser, *old_spellings: str, required: bool = False, **kwargs):
    """
    ``--output`` (stored as ``args.output``) plus each old spelling as a deprecated alias;
    ``required``: one of them must be given.
    """
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--output", **kwargs)
    for spelling in old_spellings:
        add_deprecated_alias(group, spelling, "--output", dest="output")
    return group


def parse_with_overrides(parser: argparse.ArgumentParser,
                         argv: Optional[Sequence[str]] = None) -> Tuple[argparse.Namespace, List[str]]:
    """
    Parse ``argv`` (default ``sys.argv[1:]``) whose trailing ``KEY VALUE`` config overrides start
    at the first config key: an option taking several values (``--sizes 320 256``) would
    otherwise swallow them. Returns (args, overrides).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((i for i, w in enumerate(argv) if _CONFIG_KEY.match(w)), len(argv))
    return parser.parse_args(argv[:first]), argv[first:]
