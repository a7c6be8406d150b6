"""Bounds on what one parsed feed may hand on. No I/O."""

from __future__ import annotations

# Entries read per feed per poll: a feed lists tens; 50,000 would hold the store thread for
# a minute and queue as many alerts. The first ones are read (feeds list newest first).
MAX_ENTRIES = 1_000


def too_many_entries(n: int) -> str:
    """The warning kept on a feed that lists more than :data:`MAX_ENTRIES` entries."""
    return f"the feed lists {n} entries: only the first {MAX_ENTRIES} are read"
