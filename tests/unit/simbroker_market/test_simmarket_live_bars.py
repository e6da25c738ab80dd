"""The sim broker's historical minute bars, for the time it has been streaming, are the bars
it streamed (so a client filling a gap after a reconnect gets what a connected one saw)."""

from datetime import UTC, datetime

from pyrt.domain.clock import datetime_to_ns
from pyrt.domain.market import Bar
from pyrt.simbroker.market import SyntheticMarket
from pyrt.simbroker.sources import SyntheticSource

MIN = 60_000_000_000
T0 = datetime_to_ns(datetime(2024, 3, 5, 15, 0, tzinfo=UTC))  # 10:00 in New York, a session


def test_streamed_bars_are_served_as_history_and_older_ones_come_from_the_generator():
    source = SyntheticSource(SyntheticMarket(["AAPL"], seed=3, tick_interval_ns=1_000_000_000))
    streamed = []
    for i in range(1, 6 * 60 + 1):  # six minutes, a tick per second
        streamed += [e for e in source.step(T0 + i * 1_000_000_000, 1) if isinstance(e, Bar)]
    assert [b.ts_ns for b in streamed] == [T0 + k * MIN for k in range(6)]
    served = source.bars("AAPL", "1Min", T0 - 10 * MIN, T0 + 10 * MIN, 1000)
    assert served[-6:] == streamed  # exactly what went out on the stream
    older = served[:-6]
    assert older and all(b.ts_ns < T0 for b in older)  # before streaming began: generated history
    assert [b.ts_ns for b in older] == sorted(b.ts_ns for b in older)
    assert source.bars("AAPL", "1Min", T0 + 2 * MIN, T0 + 3 * MIN, 1000) == streamed[2:4]
    assert source.bars("AAPL", "1Min", T0 - 10 * MIN, T0 + 10 * MIN, 3) == served[:3]
