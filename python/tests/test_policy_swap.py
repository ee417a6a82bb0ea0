"""set_policy: a running cache takes a new policy only after the
interface check and the conformance gate; a refused one leaves the old
one serving (the policy-update fixtures of tests/guests)."""
from __future__ import annotations

import pytest

from exlab_cache import PolicyError, ValidationError

from conftest import EQUIPMENT, equipment
from test_sandbox import fixture


def test_policy_1_1_swaps_in_and_its_rule_applies_to_the_next_call(make_cache, root):
    cache = make_cache(root)
    long_label = equipment(label="L" * 101)
    assert cache.write_equipment(EQUIPMENT, long_label)["label"] == "L" * 101
    info = cache.set_policy(fixture("policy-1-2"))
    assert info["version"] == "1.2.0"
    assert cache.policy_info()["version"] == "1.2.0"
    with pytest.raises(ValidationError) as caught:
        cache.write_equipment(EQUIPMENT, long_label)
    assert caught.value.field == "label"


def test_a_broken_policy_is_refused_by_the_gate_and_the_old_one_keeps_serving(make_cache, root):
    cache = make_cache(root)
    before = cache.policy_info()
    with open(fixture("rewrites-first-seen"), "rb") as f:
        broken = f.read()
    with pytest.raises(PolicyError) as caught:
        cache.set_policy(broken)
    assert "first_seen_at" in caught.value.message
    assert cache.policy_info() == before
    assert cache.write_equipment(EQUIPMENT, equipment())["id"] == "CONFOCAL_01"
