"""How library calls talk back (resbench.hooks): to the callables given, or warnings.warn."""

import pytest

from resbench.hooks import Hooks


def test_given_hooks_hear_progress_warnings_and_notes():
    heard = []
    h = Hooks(progress=lambda *a: heard.append(("progress", *a)), warn=lambda m: heard.append(("warn", m)),
              note=lambda m: heard.append(("note", m)))
    h.report("epoch", 1, 3)
    h.warning("slow")
    h.say("plan")
    assert heard == [("progress", "epoch", 1, 3), ("warn", "slow"), ("note", "plan")]


def test_without_hooks_progress_and_notes_are_silent_and_a_warning_is_a_python_warning():
    h = Hooks()
    h.report("epoch", 1, 3)
    h.say("plan")
    with pytest.warns(UserWarning, match="slow"):
        h.warning("slow")
