"""Click spam and duplicates, judged in memory at click time (the Redis-free default).

Per process: a click from the same device on the same link within the dedup window is a
duplicate of the first; an address over its per-minute rate, or a device tapping two different
links faster than a person can, is flagged as a bot. Flagged and duplicate clicks are logged but
never billed. With several server processes a duplicate that lands on another process is not
caught here (README, Limits).

This runs on every click and holds an entry per device seen in the window (millions at peak),
so it is built for two things. Few big-dict operations per click: one visit record per address
carries both the rate counter and the last tap, and windows expire whole generations at a time
instead of entry by entry. Keys are 64-bit integers taken from the keyed hashes (an int key's
hash sits in the dict's entry, so a miss never reads the key object: a string key costs a
cache miss more per probe). And nothing the garbage collector must walk: values are plain
strings (a tuple or an object per entry makes every full collection walk the whole map, a pause
of tens of milliseconds on every request in flight).
"""

from __future__ import annotations

import hashlib

HUMAN_GAP_SECONDS = 1.0  # two different links tapped by one device faster than this: scripted
VISIT_SPAN_SECONDS = 60.0
STAMP = 12  # hex digits of a time in ms at the start of event ids and visit records
UA_KEY = 16  # hex digits of a User-Agent key


def stamp_ms(value: str) -> int:
    """The time in ms at the start of an event id or a visit record."""
    return int(value[:STAMP], 16)


def key_of(hex_digest: str) -> int:
    """A map key from the first 64 bits of a (keyed) hash in hex."""
    return int(hex_digest[:16], 16)


def salt_of(text: str) -> int:
    """64 bits that stand for ``text`` in combined keys (XOR-ed with a keyed device hash)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class Generations:
    """A map whose entries live between one and two spans: two dicts, swapped every span.

    Expiry costs O(1) (the old generation is dropped whole), so no sweep ever walks millions
    of entries on the hot path.
    """

    def __init__(self, span: float) -> None:
        self.span = span
        self.current: dict[int, str] = {}
        self.previous: dict[int, str] = {}
        self._started = 0.0

    def get(self, key: int, now: float) -> str | None:
        """The entry for ``key``, from either generation; retires one if a span has passed."""
        if now - self._started >= self.span:
            self.previous = self.current if now - self._started < 2 * self.span else {}
            self.current = {}
            self._started = now
        found = self.current.get(key)
        if found is None and self.previous:
            found = self.previous.get(key)
        return found


FLOOD = "flood"


class ClickGuard:
    def __init__(
        self, dedup_seconds: int, rate_per_minute: int, flood_per_minute: int = 10**9
    ) -> None:
        self.dedup_seconds = dedup_seconds
        self.rate_per_minute = rate_per_minute
        self.flood_per_minute = flood_per_minute
        # device and link (key_of(device) ^ salt_of(link)) -> the event id of the click that
        # opened the window
        self._seen = Generations(max(dedup_seconds, 1))
        # address (key_of(address hash)) -> visit record: last tap's time (ms, 12 hex), the
        # clicks in that tap's clock minute (6 hex), its User-Agent key (16 hex), its link code
        self._visits = Generations(VISIT_SPAN_SECONDS)
        self._misses: dict[str, int] = {}
        self._misses_minute = 0

    def duplicate_of(self, key: int, event_id: str, now: float) -> str:
        """The first event id if this device clicked this link within the window, else ``""``
        (and this event opens the window). ``key`` stands for the device and the link;
        event ids start with their time in ms (12 hex)."""
        first = self._seen.get(key, now)
        if first is not None and int(now * 1000) < stamp_ms(first) + self.dedup_seconds * 1000:
            return first
        self._seen.current[key] = event_id
        return ""

    def bot_reason(self, address: int, ua_key: str, code: str, now: float) -> str:
        """``"rate"`` or ``"timing"`` when this tap looks scripted, ``"flood"`` when it must
        not even be served, else ``""``.

        Rate: more than ``rate_per_minute`` clicks from one address in a clock minute. Flood:
        more than ``flood_per_minute`` (far above: a carrier's NAT puts many phones behind one
        address). Timing: the same address and User-Agent (one device) tapping a different
        link within ``HUMAN_GAP_SECONDS`` of its last tap.
        """
        ms = int(now * 1000)
        last = self._visits.get(address, now)
        count = 1
        scripted = False
        if last is not None:
            last_ms = stamp_ms(last)
            if last_ms // 60_000 == ms // 60_000:
                count = int(last[STAMP : STAMP + 6], 16) + 1
            scripted = (
                last[STAMP + 6 : STAMP + 6 + UA_KEY] == ua_key
                and last[STAMP + 6 + UA_KEY :] != code
                and ms - last_ms < HUMAN_GAP_SECONDS * 1000
            )
        self._visits.current[address] = f"{ms:012x}{min(count, 0xFFFFFF):06x}{ua_key}{code}"
        if count > self.rate_per_minute:
            return FLOOD if count > self.flood_per_minute else "rate"
        return "timing" if scripted else ""

    def over_rate(self, key: str, now: float) -> bool:
        """A plain per-minute counter for ``key`` (passcode guessing from one address)."""
        minute = int(now // 60)
        if minute != self._misses_minute:
            self._misses, self._misses_minute = {}, minute
        count = self._misses.get(key, 0) + 1
        self._misses[key] = count
        return count > self.rate_per_minute
