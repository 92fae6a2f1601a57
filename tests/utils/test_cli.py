"""dpsnet_d2.utils.cli: one-line user errors, --debug, and the input / output checks."""
import argparse
import os
import sys

import pytest

from dpsnet_d2.utils.cli import (
    DEBUG_ENV,
    FileFormatError,
    UserError,
    check_input_dir,
    check_input_file,
    check_output_dir,
    check_output_file,
    int_at_least,
    read_json,
    run_cli,
)


def _failing(error):
    def main(argv):
        raise error

    return main


def test_user_error_is_one_line_on_stderr_and_status_1(capsys, monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    assert run_cli(_failing(UserError("x.json: images[3]: bad\n  width")), []) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == "error: x.json: images[3]: bad width\n"


def test_results_and_statuses(capsys, monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    assert run_cli(lambda argv: 3, []) == 3
    assert run_cli(lambda argv: {"report": 1}, []) == 0
    assert run_cli(lambda argv: True, []) == 0
    assert run_cli(_failing(KeyboardInterrupt()), []) == 130
    assert capsys.readouterr().err == "error: interrupted\n"


def test_bugs_keep_their_traceback(monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    with pytest.raises(ZeroDivisionError):
        run_cli(_failing(ZeroDivisionError("bug")), [])
    with pytest.raises(KeyError):  # not a UserError: a bug, raised as it is
        run_cli(_failing(KeyError("k")), [])


def test_debug_flag_or_environment_raises_user_errors(monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    with pytest.raises(UserError, match="bad"):
        run_cli(_failing(UserError("bad")), ["--debug"])
    assert os.environ[DEBUG_ENV] == "1"  # tools started from here show theirs too
    monkeypatch.setenv(DEBUG_ENV, "0")
    assert run_cli(_failing(UserError("bad")), ["--", "--debug"]) == 1  # after --: an override
    monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(UserError):
        run_cli(_failing(UserError("bad")), [])


def test_argv_defaults_to_the_command_line(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["tool", "a", "b"])
    assert run_cli(lambda argv: len(argv), None) == 2


def test_input_checks(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    assert check_input_file(str(tmp_path / "f.txt"), "--x") == str(tmp_path / "f.txt")
    with pytest.raises(UserError, match=r"^--x .*nope: cannot be read \(No such file"):
        check_input_file(str(tmp_path / "nope"), "--x")
    with pytest.raises(UserError, match="is a folder, expected a file"):
        check_input_file(str(tmp_path), "--x")
    with pytest.raises(UserError, match="no file given"):
        check_input_file("", "--x")
    assert check_input_dir(str(tmp_path), "--d") == str(tmp_path)
    with pytest.raises(UserError, match="is a file, expected a folder"):
        check_input_dir(str(tmp_path / "f.txt"), "--d")
    with pytest.raises(UserError, match="no such folder"):
        check_input_dir(str(tmp_path / "nope"), "--d")


def test_output_checks_create_nothing(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    new = tmp_path / "a" / "b"
    assert check_output_dir(str(new), "--out") == str(new)
    assert os.listdir(tmp_path) == ["f.txt"]  # nothing created, no test file left
    with pytest.raises(UserError, match=r"f.txt: is a file, expected a folder"):
        check_output_dir(str(tmp_path / "f.txt"), "--out")
    with pytest.raises(UserError, match=r"f.txt/x/y: is under a file \(.*f.txt\)"):
        check_output_dir(str(tmp_path / "f.txt" / "x" / "y"), "--out")
    with pytest.raises(UserError, match="must end with one of .jpg, .png"):
        check_output_file(str(tmp_path / "p.txt"), "--preview", (".jpg", ".png"))
    with pytest.raises(UserError, match="is a folder"):
        check_output_file(str(tmp_path), "--preview")
    assert check_output_file(str(tmp_path / "p.PNG"), "--p", (".png",)).endswith("p.PNG")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_unwritable_output_folder():
    # /proc takes no new files, even for root
    with pytest.raises(UserError, match=r"--out /proc/self/x: cannot write in /proc/self"):
        check_output_dir("/proc/self/x", "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(tmp_path):
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o555)
    try:
        with pytest.raises(UserError, match="cannot write in"):
            check_output_dir(str(tmp_path / "ro" / "out"), "--out")
    finally:
        os.chmod(tmp_path / "ro", 0o755)


@pytest.mark.parametrize("content,where", [
    (b'{"a": [1,', "line 1 column 10: invalid JSON"),
    (b"\xff\xfe{", "invalid JSON"),
    (b"", "line 1 column 1: invalid JSON"),
])
def test_read_json_names_the_file_and_place(tmp_path, content, where):
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=rf"x.json: .*{where}") as info:
        read_json(str(path))
    assert info.value.path == str(path)
    with pytest.raises(FileFormatError, match=r"nope.json: file: cannot be read"):
        read_json(str(tmp_path / "nope.json"))


def test_int_at_least():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int_at_least(1))
    assert parser.parse_args(["--n", "3"]).n == 3
    for bad in ("0", "-2", "x", "1.5"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--n", bad])
