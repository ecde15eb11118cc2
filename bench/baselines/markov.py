"""The Markov benchmark's reference: ``channelattribution`` (a Monte-Carlo estimate; GPL-3, so
it lives only in the benchmark's own environment, never in hutong's). Reads the path table
(``path, total_conversions, total_null``), fits ``markov_model`` at the given order with its
defaults (one core, ``conv_par`` 0.05) and prints one JSON object: seconds (median of the
rounds) and each channel's attributed conversions.

    python bench/baselines/markov.py PATHS.parquet ORDER ROUNDS
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import sys
import time

import pandas as pd
from peak import peak_rss_mb


def main() -> None:
    source, order, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = pd.read_parquet(source)
    with contextlib.redirect_stdout(io.StringIO()):  # its banner and progress
        import ChannelAttribution as ca

    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            result = ca.markov_model(
                data,
                "path",
                "total_conversions",
                var_null="total_null",
                order=order,
                verbose=False,
                flg_pro=False,
            )
        times.append(time.perf_counter() - start)
    assert result is not None
    table = result if isinstance(result, pd.DataFrame) else result["result"]
    conversions = dict(zip(table["channel_name"], table["total_conversions"], strict=True))
    peak_mb = peak_rss_mb()
    print(
        json.dumps(
            {"seconds": statistics.median(times), "conversions": conversions, "peak_mb": peak_mb}
        )
    )


if __name__ == "__main__":
    main()
