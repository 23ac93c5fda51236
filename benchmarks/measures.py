"""The figures the benchmarks and the load test print: percentiles and the process's peak memory.

One definition each, so that a p99 or a peak RSS means the same in every report of the README.
"""

from __future__ import annotations

import math
import resource


def percentile(values: list[int], share: float) -> int:
    """Nearest-rank percentile: a value that occurred, not an interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS; this runs on Linux servers).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
