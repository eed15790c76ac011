"""Per-user limits on a shared server: analyses and training at once, upload volume per hour, under threads."""

from __future__ import annotations

import threading
from contextlib import ExitStack

import pytest

from detector.serving import LimitReached, Limiter, UserLimits
from detector.serving.limits import ANALYSIS, MIB, TRAINING


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_analyses_at_once_are_limited_per_user_and_freed_when_done():
    limiter = Limiter(UserLimits(concurrent_analyses=2))
    with limiter.analysis("ana"), limiter.analysis("ana"):
        with pytest.raises(LimitReached, match="You already have 2 analyses running on this server, the most one "
                                               "person may run at once. Wait until one has finished"):
            with limiter.analysis("ana"):
                pass
        with limiter.analysis("bo"):  # someone else is not held up
            assert limiter.running("bo", ANALYSIS) == 1
        assert limiter.running("ana", ANALYSIS) == 2
    assert limiter.running("ana", ANALYSIS) == 0
    with limiter.analysis("ana"):
        pass


def test_a_slot_is_freed_when_the_work_fails():
    limiter = Limiter(UserLimits(concurrent_analyses=1))
    with pytest.raises(ValueError):
        with limiter.analysis("ana"):
            raise ValueError("the decoder failed")
    assert limiter.running("ana", ANALYSIS) == 0


def test_nobody_is_limited_on_ones_own_machine():
    limiter = Limiter(UserLimits(concurrent_analyses=1, upload_mib_per_hour=1, training_jobs=1))
    with ExitStack() as stack:
        for _ in range(5):
            stack.enter_context(limiter.analysis(None))
            stack.enter_context(limiter.training(None))
            limiter.charge_upload(None, 100 * MIB, "big")


def test_one_training_job_per_user():
    limiter = Limiter(UserLimits())
    with limiter.training("ana"):
        with pytest.raises(LimitReached, match="You are already training a classifier on this server"):
            with limiter.training("ana"):
                pass
        with limiter.training("bo"), limiter.analysis("ana"):  # training does not block analysing
            assert limiter.running("bo", TRAINING) == 1


def test_sixteen_threads_racing_for_two_slots_get_exactly_two():
    limiter = Limiter(UserLimits(concurrent_analyses=2))
    start, hold = threading.Barrier(16), threading.Event()
    got, refused = [], []

    def work(i: int) -> None:
        start.wait()
        try:
            with limiter.analysis("ana"):
                got.append(i)
                hold.wait(10)
        except LimitReached:
            refused.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    while len(got) + len(refused) < 16:
        threading.Event().wait(0.01)
    assert len(got) == 2 and len(refused) == 14 and limiter.running("ana", ANALYSIS) == 2
    hold.set()
    for t in threads:
        t.join(10)
    assert limiter.running("ana", ANALYSIS) == 0


def test_upload_volume_per_hour_with_a_time_to_try_again():
    clock = Clock()
    limiter = Limiter(UserLimits(upload_mib_per_hour=1000), clock=clock)
    limiter.charge_upload("ana", 600 * MIB, "first")
    clock.now += 600  # ten minutes later
    limiter.charge_upload("ana", 300 * MIB, "second")
    limiter.charge_upload("ana", 300 * MIB, "second")  # the same file again (a rerun): counted once
    assert limiter.uploaded("ana") == 900 * MIB
    with pytest.raises(LimitReached) as refused:
        limiter.charge_upload("ana", 200 * MIB, "third")
    text = str(refused.value)
    assert "This upload (200.0 MiB) would take your uploads in the last hour to 1,100.0 MiB" in text
    assert "the limit on this server is 1,000 MiB per hour per person" in text
    assert "Try again in about 50 minutes." in text  # when the first upload leaves the window
    limiter.charge_upload("bo", 900 * MIB, "theirs")  # another user has their own volume
    clock.now += 3000
    limiter.charge_upload("ana", 200 * MIB, "third")
    assert limiter.uploaded("ana") == 500 * MIB


def test_one_file_over_the_hourly_volume_says_so():
    limiter = Limiter(UserLimits(upload_mib_per_hour=10))
    with pytest.raises(LimitReached, match="This one file is larger than that; ask the operator to raise the limit"):
        limiter.charge_upload("ana", 11 * MIB, "huge")


def test_concurrent_uploads_never_pass_the_volume():
    limiter = Limiter(UserLimits(upload_mib_per_hour=100))
    start = threading.Barrier(12)
    accepted = []

    def work(i: int) -> None:
        start.wait()
        try:
            limiter.charge_upload("ana", 30 * MIB, f"file-{i}")
            accepted.append(i)
        except LimitReached:
            pass

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(accepted) == 3 and limiter.uploaded("ana") == 90 * MIB


def test_users_without_recent_uploads_are_forgotten():
    clock = Clock()
    limiter = Limiter(UserLimits(), clock=clock)
    for i in range(50):
        limiter.charge_upload(f"user-{i}", MIB, "x")
    clock.now += 3601
    limiter.charge_upload("late", MIB, "y")
    limiter.charge_upload("later", MIB, "z")
    assert limiter.tracked_users() == 2
