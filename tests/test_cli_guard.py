"""The CLI guard: a UserError becomes ``error: ...`` on stderr and exit code 2."""
from __future__ import annotations

import sys

import pytest

from ignite_zoo.registry.cli import EXIT_USER_ERROR, main_guard
from ignite_zoo.registry.errors import CheckpointError, DataError, RecipeError, RunError, UserError


def raising(exc):
    def main(argv):
        raise exc

    return main


@pytest.mark.parametrize("result, code", [(0, 0), (None, 0), (3, 3), (1, 1)])
def test_returns_mains_exit_code(result, code, capsys):
    seen = []

    def main(argv):
        seen.append(argv)
        return result

    assert main_guard(main, ["a", "--flag", "b"]) == code
    assert seen == [["a", "--flag", "b"]]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "exc",
    [
        RecipeError("model.head.type: unknown head 'fcn8'; did you mean 'fcn8s'?"),
        DataError("data/sat: no images found"),
        CheckpointError("ckpt.pt: not a checkpoint"),
        RunError("loss is NaN at iteration 3"),
        UserError("plain user error"),
    ],
)
def test_user_error_is_one_line_and_exit_2(exc, capsys):
    assert main_guard(raising(exc), []) == EXIT_USER_ERROR == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == f"error: {exc.args[0]}"  # the message as written, no quotes
    assert "Traceback" not in err
    assert err.splitlines() == [f"error: {exc.args[0]}"]  # the whole story: no hint to run again


def test_debug_shows_the_traceback_and_is_not_passed_on(capsys):
    seen = []

    def main(argv):
        seen.append(argv)
        raise RecipeError("train.epochs: missing required key")

    assert main_guard(main, ["--debug", "recipe.yaml"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "error: train.epochs: missing required key" in err
    assert seen == [["recipe.yaml"]]


def test_argv_defaults_to_sys_argv(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "argv", ["tool", "x", "--debug"])
    assert main_guard(lambda argv: seen.append(argv) or 5) == 5
    assert seen == [["x"]]


def test_other_errors_propagate_with_their_traceback():
    with pytest.raises(ZeroDivisionError):
        main_guard(raising(ZeroDivisionError("a bug")), [])


def test_keyboard_interrupt(capsys):
    assert main_guard(raising(KeyboardInterrupt()), []) == 130
    assert "interrupted" in capsys.readouterr().err


def test_disk_full_anywhere_is_a_one_line_error(capsys):
    import errno as _errno

    from ignite_zoo.registry.cli import main_guard

    def main(argv):
        raise OSError(_errno.ENOSPC, "No space left on device", "runs/x/history.csv")

    assert main_guard(main, []) == 2
    err = capsys.readouterr().err
    assert "No space left on device: runs/x/history.csv" in err and "Traceback" not in err


def test_other_os_errors_are_not_hidden():
    import errno as _errno

    from ignite_zoo.registry.cli import main_guard

    def main(argv):
        raise OSError(_errno.EIO, "I/O error")

    with pytest.raises(OSError):
        main_guard(main, [])
