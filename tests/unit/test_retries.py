"""Retry policies (``jobhub.retries``): what a type may declare, the delays, what is retried."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from jobhub.errors import (
    ConfigurationError,
    DoNotRetry,
    InvalidInput,
    InvalidParameters,
    JobCancelled,
)
from jobhub.retries import (
    MAX_ATTEMPTS,
    NO_RETRY,
    Backoff,
    BackoffKind,
    RetryPolicy,
    failed_text,
    waiting_text,
)

S = timedelta(seconds=1)

# -- what a policy may say -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: RetryPolicy(attempts=0), "at least 1 attempt"),
        (lambda: RetryPolicy(attempts=MAX_ATTEMPTS + 1), f"at most {MAX_ATTEMPTS} attempts"),
        (lambda: RetryPolicy(attempts=3, retry_on=(ValueError, "x")), "not an exception type"),
        (lambda: RetryPolicy(attempts=3, never_retry=(int,)), "not an exception type"),
        (lambda: Backoff.fixed(-S), "cannot be negative"),
        (lambda: Backoff.exponential(-S), "cannot be negative"),
        (lambda: Backoff.exponential(10 * S, cap=5 * S), "cap must be at least its base"),
        (lambda: Backoff.exponential(S, jitter=1.5), "jitter is a fraction between 0 and 1"),
        (lambda: Backoff.fixed(S, jitter=-0.1), "jitter is a fraction between 0 and 1"),
    ],
    ids=[
        "no-attempt",
        "too-many-attempts",
        "retry-on-not-exception",
        "never-retry-not-exception",
        "negative-fixed",
        "negative-base",
        "cap-below-base",
        "jitter-above-1",
        "negative-jitter",
    ],
)
def test_a_policy_that_cannot_work_is_a_configuration_error(make: Any, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        make()


def test_the_default_policy_is_one_attempt() -> None:
    assert NO_RETRY.attempts == 1
    assert RetryPolicy().attempts == 1
    assert RetryPolicy(attempts=MAX_ATTEMPTS).attempts == MAX_ATTEMPTS


# -- the delays ----------------------------------------------------------------------------------


def test_fixed_backoff_has_the_same_bounds_after_every_failure() -> None:
    backoff = Backoff.fixed(10 * S, jitter=0.1)

    assert backoff.kind is BackoffKind.FIXED
    assert {backoff.bounds(failed) for failed in range(1, 8)} == {(9 * S, 11 * S)}


def test_exponential_backoff_doubles_from_its_base_up_to_its_cap_with_jitter_around() -> None:
    backoff = Backoff.exponential(S, cap=4 * S, jitter=0.2)

    assert [backoff.bounds(failed) for failed in range(1, 6)] == [
        (0.8 * S, 1.2 * S),
        (1.6 * S, 2.4 * S),
        (3.2 * S, 4.8 * S),
        (3.2 * S, 4.8 * S),  # capped from here on
        (3.2 * S, 4.8 * S),
    ]


def test_exponential_backoff_without_jitter_is_exact() -> None:
    backoff = Backoff.exponential(2 * S, cap=timedelta(minutes=1), jitter=0)

    assert [backoff.bounds(failed)[0] for failed in range(1, 8)] == [
        2 * S,
        4 * S,
        8 * S,
        16 * S,
        32 * S,
        60 * S,
        60 * S,
    ]
    assert all(low == high for low, high in map(backoff.bounds, range(1, 8)))


def test_a_very_long_run_of_failures_stays_at_the_cap() -> None:
    backoff = Backoff.exponential(S, cap=timedelta(minutes=10), jitter=0)

    assert backoff.bounds(MAX_ATTEMPTS) == (timedelta(minutes=10), timedelta(minutes=10))


def test_the_delay_is_drawn_between_the_bounds_ends_included() -> None:
    backoff = Backoff.exponential(S, cap=4 * S, jitter=0.2)

    assert backoff.delay(2, rand=lambda: 0.0) == 1.6 * S
    assert backoff.delay(2, rand=lambda: 0.5) == 2 * S
    assert 2.39 * S < backoff.delay(2, rand=lambda: 0.999999) < 2.4 * S


def test_jitter_spreads_the_delays_over_the_whole_range_and_never_outside() -> None:
    backoff = Backoff.fixed(10 * S, jitter=0.5)
    draw = random.Random(12).random

    delays = [backoff.delay(1, rand=draw) for _ in range(2000)]

    assert all(5 * S <= delay <= 15 * S for delay in delays)
    assert min(delays) < 6 * S
    assert max(delays) > 14 * S
    assert len(set(delays)) > 1900  # jobs that failed together do not return in step


# -- what is retried -----------------------------------------------------------------------------


class Flaky(RuntimeError):
    pass


class Network(ConnectionError):
    pass


def test_by_default_every_exception_is_retried_but_the_few_that_never_help() -> None:
    policy = RetryPolicy(attempts=3)

    assert policy.retries(Flaky("boom"))
    assert policy.retries(ValueError("bad value in a row"))
    assert policy.retries(TimeoutError())
    assert not policy.retries(DoNotRetry("give up"))
    assert not policy.retries(InvalidParameters("x.y", {"day": "not a date"}))
    assert not policy.retries(InvalidInput("bad"))
    assert not policy.retries(KeyboardInterrupt())  # not an Exception


def test_a_job_that_says_do_not_retry_is_not_retried_even_if_the_policy_names_it() -> None:
    policy = RetryPolicy(attempts=3, retry_on=(DoNotRetry, InvalidInput, JobCancelled))

    assert not policy.retries(DoNotRetry())
    assert not policy.retries(InvalidInput())
    assert policy.retries(JobCancelled())  # the cancel request itself stops a retry


def test_never_retry_adds_to_the_errors_that_end_the_job() -> None:
    policy = RetryPolicy(attempts=3, never_retry=(KeyError, Network))

    assert not policy.retries(KeyError("missing"))
    assert not policy.retries(Network())
    assert policy.retries(ConnectionError())  # only the subclass was named
    assert policy.retries(LookupError())


def test_retry_on_limits_retries_to_those_errors_and_their_subclasses() -> None:
    policy = RetryPolicy(attempts=3, retry_on=(ConnectionError,), never_retry=(Network,))

    assert policy.retries(ConnectionError())
    assert policy.retries(ConnectionRefusedError())
    assert not policy.retries(Network())  # never_retry wins
    assert not policy.retries(ValueError())


@pytest.mark.parametrize(
    ("name", "retried"),
    [
        ("WorkerLost", True),
        ("RunnerLost", True),
        ("TimeLimitExceeded", True),
        ("ResultNotSerializable", False),
        ("ResultNotStored", False),
    ],
)
def test_failures_known_only_by_name_are_retried_unless_no_attempt_can_fix_them(
    name: str, retried: bool
) -> None:
    # a lost worker counts as a failed attempt, whatever errors the policy names
    assert RetryPolicy(attempts=3, retry_on=(ConnectionError,)).retries(name) is retried


# -- the attempts a start asks for ---------------------------------------------------------------


def test_a_start_gets_the_policys_attempts_or_fewer_never_more() -> None:
    policy = RetryPolicy(attempts=5)

    assert policy.attempts_for(None) == 5
    assert [policy.attempts_for(n) for n in (1, 3, 5)] == [1, 3, 5]
    for wrong in (0, -1, 6):
        with pytest.raises(InvalidInput, match="between 1 and 5"):
            policy.attempts_for(wrong)


# -- what a waiting job says ---------------------------------------------------------------------


def test_a_waiting_job_says_which_attempt_is_next_and_when_in_utc() -> None:
    due = datetime(2030, 1, 1, 12, 3, 10, 600_000, tzinfo=UTC)
    local = due.astimezone(timezone(timedelta(hours=2)))

    assert waiting_text(2, 5, due) == "attempt 2 of 5 at 12:03:10 UTC"
    assert waiting_text(2, 5, local) == "attempt 2 of 5 at 12:03:10 UTC"
    assert failed_text(1, 5, "FlakyError", "boom") == "attempt 1 of 5 failed: FlakyError: boom"
