"""check_keys: the words every backend uses for a dict (params, an optimizer state) with the wrong keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from symdl.backends.runtime_keys import check_keys

NAMES = st.lists(st.sampled_from(["W1", "b1", "W2", "b2", "t", "m_W1", "v_b2", "gamma"]), unique=True, max_size=6)


@given(keys=NAMES, given_keys=NAMES)
def test_raises_exactly_when_the_keys_differ_and_names_both_sides(keys, given_keys):
    given_dict = dict.fromkeys(given_keys, 0)
    if set(keys) == set(given_keys):
        assert check_keys("params", keys, given_dict, "expected text") is None
        return
    missing = [k for k in keys if k not in given_keys]  # in the order the module needs them
    extra = sorted(k for k in given_keys if k not in keys)
    want = f"params: missing {missing or 'none'}, unexpected {extra or 'none'}; expected expected text"
    with pytest.raises(ValueError) as caught:
        check_keys("params", keys, given_dict, "expected text")
    assert str(caught.value) == want


def test_a_key_that_is_not_a_string_is_named_by_str_and_sorted_with_the_others():
    with pytest.raises(ValueError, match=r"^state: missing \['t'\], unexpected \['1', 'z'\]; expected t \(from init_state\)$"):
        check_keys("state", ["t"], {"z": 0, 1: 0}, "t (from init_state)")
