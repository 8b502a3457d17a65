"""Retry policies: how many attempts a job type's run may take, and how long between them.

A job type declares one (``@job(retry=RetryPolicy(attempts=5))``); a start may ask for
fewer attempts (``max_attempts``), never more. When an attempt fails with an error the
policy retries, or its worker is lost, the job goes back to Created with the time its
next attempt is due (``jobhub.housekeeping.due`` publishes it then); when the attempts are
spent it ends CompletedWithErrors. The delays are never held in a broker message.

Errors that no other attempt can fix are never retried: ``DoNotRetry`` (a job says so),
``InvalidParameters`` and the rest of ``InvalidInput``, and a result that is not JSON.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from jobhub.errors import ConfigurationError, DoNotRetry, InvalidInput

NEVER_RETRIED: tuple[type[BaseException], ...] = (DoNotRetry, InvalidInput)
"""Errors no policy retries: another attempt would fail the same way."""

NEVER_RETRIED_NAMES = frozenset({"ResultNotSerializable", "ResultNotStored"})
"""Failures jobhub itself records by name (not as exceptions) that are not retried."""


class BackoffKind(enum.StrEnum):
    FIXED = "fixed"
    """The same delay before every attempt."""
    EXPONENTIAL = "exponential"
    """``base``, then twice that, four times, ... never more than ``cap``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """The delay before the next attempt, with jitter so failed jobs do not return in step."""

    kind: BackoffKind = BackoffKind.EXPONENTIAL
    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=10)
    """Where the doubling stops (exponential only); the jitter still spreads around it."""
    jitter: float = 0.1
    """A fraction of the delay, added or taken at random: 0.1 gives 0.9x to 1.1x."""

    def __post_init__(self) -> None:
        if self.base < timedelta(0):
            raise ConfigurationError("a backoff's base delay cannot be negative")
        if self.cap < self.base:
            raise ConfigurationError("a backoff's cap must be at least its base delay")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError("a backoff's jitter is a fraction between 0 and 1")

    @classmethod
    def fixed(cls, delay: timedelta, *, jitter: float = 0.1) -> Backoff:
        return cls(kind=BackoffKind.FIXED, base=delay, cap=max(delay, timedelta(0)), jitter=jitter)

    @classmethod
    def exponential(
        cls, base: timedelta, *, cap: timedelta = timedelta(minutes=10), jitter: float = 0.1
    ) -> Backoff:
        return cls(kind=BackoffKind.EXPONENTIAL, base=base, cap=cap, jitter=jitter)

    def bounds(self, failed: int) -> tuple[timedelta, timedelta]:
        """The shortest and longest delay after the ``failed``-th failed attempt of a run."""
        middle = self.base
        if self.kind is BackoffKind.EXPONENTIAL:
            for _ in range(failed - 1):  # doubled step by step: 2**99 seconds overflows
                if middle >= self.cap:
                    break
                middle *= 2
            middle = min(middle, self.cap)
        return middle * (1 - self.jitter), middle * (1 + self.jitter)

    def delay(self, failed: int, rand: Callable[[], float] = random.random) -> timedelta:
        """A delay within ``bounds(failed)``, drawn with ``rand`` (uniform in [0, 1))."""
        low, high = self.bounds(failed)
        return low + (high - low) * rand()


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How many attempts a run of a job type may take, and the delay between them."""

    attempts: int = 1
    """Attempts in all, the first one included: 1 never retries."""
    backoff: Backoff = field(default_factory=Backoff)
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    """Errors that are retried (besides a lost worker), unless in ``never_retry``."""
    never_retry: tuple[type[BaseException], ...] = ()
    """Errors that end the job at once, on top of ``NEVER_RETRIED``."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError("a retry policy allows at least 1 attempt")
        if self.attempts > MAX_ATTEMPTS:
            raise ConfigurationError(f"a retry policy allows at most {MAX_ATTEMPTS} attempts")
        for kind in (*self.retry_on, *self.never_retry):
            if not (isinstance(kind, type) and issubclass(kind, BaseException)):
                raise ConfigurationError(f"{kind!r} in a retry policy is not an exception type")

    def retries(self, error: BaseException | str) -> bool:
        """Whether a failure with ``error`` (an exception, or a failure's type name) may be
        retried, attempts permitting."""
        if isinstance(error, str):
            return error not in NEVER_RETRIED_NAMES
        if isinstance(error, NEVER_RETRIED + self.never_retry):
            return False
        return isinstance(error, self.retry_on)

    def attempts_for(self, requested: int | None) -> int:
        """The attempts a start gets: what it asks for, within what the policy allows."""
        if requested is None:
            return self.attempts
        if not 1 <= requested <= self.attempts:
            raise InvalidInput(
                f"max attempts must be between 1 and {self.attempts} (its type's retry policy)"
            )
        return requested


MAX_ATTEMPTS = 100
"""More attempts than this is a loop, not a policy."""

NO_RETRY = RetryPolicy()
"""The default: one attempt."""


def waiting_text(attempt: int, max_attempts: int, due_at: datetime) -> str:
    """The status text of a job waiting for its next attempt: "attempt 2 of 5 at 12:03:10"."""
    return f"attempt {attempt} of {max_attempts} at {due_at.astimezone(UTC):%H:%M:%S} UTC"


def failed_text(attempt: int, max_attempts: int, error_type: str, message: str) -> str:
    """The event of an attempt that failed and will be retried."""
    return f"attempt {attempt} of {max_attempts} failed: {error_type}: {message}"
