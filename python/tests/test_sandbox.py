"""A policy that runs away is stopped with PolicyError, its locks are
released, and the package keeps serving (the fixture guests of
tests/guests, built by the Rust tests into target/)."""
from __future__ import annotations

import glob
import os

import pytest

import exlab_cache
from exlab_cache import PolicyError

from conftest import EQUIPMENT, REPO, equipment


def fixture(name: str) -> str:
    target = os.environ.get("CARGO_TARGET_DIR") or str(REPO / "target")
    found = glob.glob(os.path.join(target, "*", "build", "exlab-cache-test-guests-*", "out", f"{name}.wasm"))
    if not found:
        pytest.skip(f"fixture guest {name}.wasm not built (the Rust tests build it)")
    return max(found, key=os.path.getmtime)


@pytest.mark.parametrize(
    "name,limits,why",
    [
        ("loop-forever", {"time_limit": 0.2}, "out of time"),
        ("grow-memory", {"memory_limit": 16 << 20}, "out of memory"),
        ("trap-holding-lock", {}, "panicked while holding the lock"),
    ],
)
def test_a_runaway_policy_is_stopped_and_the_lock_released(make_cache, root, name, limits, why):
    bad = make_cache(root, policy=fixture(name), lock_timeout=0, **limits)
    with pytest.raises(PolicyError) as caught:
        bad.write_equipment(EQUIPMENT, equipment())
    assert why in caught.value.message and caught.value.code == "policy_error"
    # The lock is free again (lock_timeout 0: one try), and serving goes on.
    good = make_cache(root, lock_timeout=0)
    assert good.write_equipment(EQUIPMENT, equipment())["id"] == "CONFOCAL_01"
    assert bad.read_equipment(EQUIPMENT)["id"] == "CONFOCAL_01"
    assert [p.name for p in (root / EQUIPMENT).parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_policy_of_another_interface_is_refused(root):
    with pytest.raises(PolicyError) as caught:
        exlab_cache.Cache(root, policy=fixture("wrong-interface"))
    assert exlab_cache.INTERFACE in caught.value.message
    assert list(root.iterdir()) == []


def test_limits_are_settable(root):
    c = exlab_cache.Cache(root, time_limit=1.5, memory_limit=32 << 20)
    assert (c.time_limit, c.memory_limit) == (1.5, 32 << 20)
    with pytest.raises(ValueError):
        exlab_cache.Cache(root, time_limit=-1)


def test_a_policy_built_for_1_0_serves_the_1_0_files_but_no_kinds(root):
    # The real policy built for the frozen exlab:cache@1.0.0 world.
    old = exlab_cache.Cache(root, policy=fixture("policy-v1-0"))
    assert old.policy_info()["interface"] == "exlab:cache@1.0.0"
    assert old.write_equipment(EQUIPMENT, equipment())["id"] == "CONFOCAL_01"
    with pytest.raises(PolicyError) as caught:
        old.kinds()
    assert "exlab:cache@1.0.0" in caught.value.message
    assert exlab_cache.INTERFACE in caught.value.message
    with pytest.raises(PolicyError):
        old.read_creation("P/.exlab-wizard/creation.json")
    assert not (root / "P").exists()
