"""Typed errors (resbench.errors): the exit codes the README documents, and errors that cross processes whole."""

import pickle

import pytest

from resbench import errors


@pytest.mark.parametrize("kind, code", [
    (errors.UsageError, 2), (errors.SpecError, 2), (errors.DeviceError, 2), (errors.StoreError, 2),
    (errors.ResbenchError, 1), (errors.WriteFailed, 1), (errors.BenchmarkFailed, 4), (errors.Interrupted, 130),
])
def test_each_error_carries_its_documented_exit_code(kind, code):
    assert kind("x").exit_code == code


def test_a_config_error_names_its_field_and_survives_pickling():
    e = errors.ConfigError("epochs", "must be at least 1, got 0")
    assert str(e) == "`epochs` must be at least 1, got 0" and e.exit_code == 2
    back = pickle.loads(pickle.dumps(e))
    assert (type(back), back.field, back.message, str(back)) == (errors.ConfigError, "epochs", e.message, str(e))


def test_a_reader_gone_is_no_oserror():
    """click handles EPIPE OSErrors itself (a silent exit 1): ReaderGone must not be one."""
    assert not issubclass(errors.ReaderGone, OSError)
