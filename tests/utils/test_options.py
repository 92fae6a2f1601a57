"""--output with old spellings as aliases printing one deprecation line."""
import argparse

import pytest

from dpsnet_d2.utils.options import add_deprecated_alias, add_output_argument


def parser(required):
    p = argparse.ArgumentParser()
    add_output_argument(p, "--out", "--output-dir", required=required, default="x")
    return p


def test_output_and_its_old_spellings(capsys):
    assert parser(False).parse_args(["--output", "a"]).output == "a"
    assert capsys.readouterr().err == ""
    assert parser(False).parse_args([]).output == "x"
    assert parser(True).parse_args(["--out", "b"]).output == "b"
    assert capsys.readouterr().err == "--out is deprecated: use --output\n"
    assert parser(True).parse_args(["--output-dir", "c"]).output == "c"
    with pytest.raises(SystemExit):
        parser(True).parse_args([])


def test_deprecated_opts_alias(capsys):
    p = argparse.ArgumentParser()
    add_deprecated_alias(p, "--opts", "trailing KEY VALUE pairs", dest="legacy_opts",
                         nargs="*", default=[])
    assert p.parse_args(["--opts", "A.B", "1"]).legacy_opts == ["A.B", "1"]
    assert "--opts is deprecated: use trailing KEY VALUE pairs" in capsys.readouterr().err
