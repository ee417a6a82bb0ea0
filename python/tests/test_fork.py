"""Issue 10, point 7: after os.fork() (the lab app forks helpers) the guest
time limit still holds in the child, which inherits no threads, so not the
epoch ticker either: the package starts one there on the child's next call."""
from __future__ import annotations

import os
import signal
import time

import pytest

import exlab_cache
from exlab_cache import NotFoundError, PolicyError

from conftest import EQUIPMENT, equipment
from test_sandbox import fixture

# What the child reports through its exit status.
STOPPED, NOT_STOPPED, CRASHED = 0, 1, 2


def run_in_child(child) -> int:
    """Forks; the child runs `child()` and exits with its status. Waits at
    most 20 s for it (then kills it: a hang fails instead of stalling)."""
    pid = os.fork()
    if pid == 0:
        status = CRASHED
        try:
            status = child()
        finally:
            os._exit(status)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(wait_status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's runaway policy was not stopped within 20 s")


# The ticker thread exists by design: this is the fork the lab app makes.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("instance", ["reused", "fresh"])
def test_p7_the_time_limit_holds_in_a_forked_child(root, instance):
    runaway = exlab_cache.Cache(root, policy=fixture("loop-forever"), time_limit=0.2)
    # The parent used the package: the ticker runs here, and this thread
    # holds an idle instance of the runaway policy, which the child inherits.
    with pytest.raises(NotFoundError):
        runaway.read_equipment(EQUIPMENT)

    def child() -> int:
        cache = runaway
        if instance == "fresh":
            cache = exlab_cache.Cache(root, policy=fixture("loop-forever"), time_limit=0.2)
        started = time.monotonic()
        try:
            cache.write_equipment(EQUIPMENT, equipment())
        except PolicyError as e:
            in_time = time.monotonic() - started < 5
            return STOPPED if in_time and "out of time" in e.message else NOT_STOPPED
        return NOT_STOPPED

    assert run_in_child(child) == STOPPED
    # And the parent's limit still holds too.
    with pytest.raises(PolicyError):
        runaway.write_equipment(EQUIPMENT, equipment())
    assert list(root.rglob("*.tmp")) == []
