"""Lazy public names (resbench._lazy): imported on first use, unknown names an AttributeError."""

import pytest

from resbench._lazy import lazy_getattr


def test_a_name_is_imported_when_first_asked_for_and_others_are_refused():
    get = lazy_getattr("pkg", {"dumps": ("json", "dumps")})
    import json

    assert get("dumps") is json.dumps
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'loads'"):
        get("loads")
