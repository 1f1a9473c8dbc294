"""The machine-local cache folder (resbench.cache): the setting, or ~/.cache/resbench."""

from pathlib import Path

import pytest

from resbench.cache import cache_dir
from resbench.errors import UsageError


def test_the_setting_names_the_folder_and_its_absence_means_the_home_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESBENCH_CACHE", str(tmp_path / "new"))
    assert cache_dir() == tmp_path / "new"  # created when first written, not here
    monkeypatch.delenv("RESBENCH_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "resbench"


@pytest.mark.parametrize("value, fragment", [("", "set but empty"), ("  ", "set but empty"), ("FILE", "is a file")])
def test_a_setting_that_names_no_folder_is_refused(tmp_path, monkeypatch, value, fragment):
    (tmp_path / "FILE").write_text("x")
    monkeypatch.setenv("RESBENCH_CACHE", str(tmp_path / value) if value == "FILE" else value)
    with pytest.raises(UsageError, match=fragment):
        cache_dir()
