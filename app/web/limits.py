"""Rate limits: a token bucket per connection (messages) and per client address (connections)."""

import time
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """Holds up to `burst` tokens and gains `rate` a second; each message spends one."""

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = burst
        self.at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def take(self) -> bool:
        """Spend a token; False (spending nothing) when there is none."""
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def full(self) -> bool:
        self._refill()
        return self.tokens >= self.burst


class AddressLimiter:
    """One bucket per client address, for new connections.

    A classroom may share one address behind a NAT, so the burst is generous; the table of
    addresses is bounded by forgetting those whose bucket has refilled (they owe nothing).
    """

    def __init__(self, per_minute: float, burst: float, max_addresses: int = 4096, clock: Clock = time.monotonic):
        self.rate, self.burst, self.clock = per_minute / 60, burst, clock
        self.max_addresses = max_addresses
        self.buckets: dict[str, TokenBucket] = {}

    def allow(self, address: str) -> bool:
        b = self.buckets.get(address)
        if b is None:
            if len(self.buckets) >= self.max_addresses:
                self._forget()
            b = self.buckets[address] = TokenBucket(self.rate, self.burst, self.clock)
        return b.take()

    def _forget(self) -> None:
        for a in [a for a, b in self.buckets.items() if b.full()]:
            del self.buckets[a]
        if len(self.buckets) >= self.max_addresses:  # all busy: drop the oldest half
            for a in list(self.buckets)[: len(self.buckets) // 2]:
                del self.buckets[a]
