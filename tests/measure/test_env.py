"""What a record says about where it ran (resbench.measure.env)."""

import torch

from resbench.measure.env import collect_env, git_state


def test_the_environment_names_versions_threads_and_the_cpu():
    env = collect_env(torch.device("cpu"))
    assert env["torch"] == torch.__version__ and env["threads"] == torch.get_num_threads()
    assert env["device"] == "cpu" and env["device_name"] == env["cpu"] and env["cpu"]
    assert env["timestamp"].endswith("+00:00")  # UTC, so runs from several machines sort together
    assert collect_env()["device_name"] is None


def test_outside_a_git_checkout_there_is_no_commit(tmp_path):
    state = git_state(str(tmp_path))
    assert state.get("commit") is None
