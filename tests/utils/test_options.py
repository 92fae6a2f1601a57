"""--output with old spellings as aliases printing one deprecation line; trailing overrides after
multi-value options."""
import argparse

import pytest

from dpsnet_d2.utils.options import add_deprecated_alias, add_output_argument, parse_with_overrides


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


def test_overrides_start_at_the_first_config_key():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[800])
    parser.add_argument("--layouts", nargs="+", choices=["a", "b"], default=["a"])
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args, overrides = parse_with_overrides(parser, [
        "--sizes", "800", "640", "--layouts", "a", "b", "MODEL.RPN.POST_NMS_TOPK_TEST", "300",
        "INPUT.FORMAT", "RGB"])
    assert args.sizes == [800, 640] and args.layouts == ["a", "b"] and args.opts == []
    assert overrides == ["MODEL.RPN.POST_NMS_TOPK_TEST", "300", "INPUT.FORMAT", "RGB"]
    args, overrides = parse_with_overrides(parser, ["--sizes", "512"])
    assert args.sizes == [512] and overrides == []
    with pytest.raises(SystemExit):  # what plain parse_args did with the same words
        parser.parse_args(["--layouts", "a", "MODEL.RPN.POST_NMS_TOPK_TEST", "300"])
