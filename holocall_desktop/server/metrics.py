"""Counters, gauges and a latency histogram, rendered in the Prometheus text format (0.0.4)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


class Metrics:
    def __init__(self) -> None:
        self._counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        self._help: dict[str, tuple[str, str]] = {}
        self._gauges: dict[str, Callable[[], float]] = {}
        self._bucket_counts = [0] * (len(_LATENCY_BUCKETS) + 1)
        self._hist_sum = 0.0
        self._hist_count = 0

    def describe(self, name: str, kind: str, text: str) -> None:
        self._help[name] = (kind, text)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        series = self._counters[name]
        series[key] = series.get(key, 0.0) + amount

    def value(self, name: str, **labels: str) -> float:
        return self._counters.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def total(self, name: str) -> float:
        return sum(self._counters.get(name, {}).values())

    def gauge(self, name: str, text: str, read: Callable[[], float]) -> None:
        self._gauges[name] = read
        self._help[name] = ("gauge", text)

    def observe_handling(self, seconds: float) -> None:
        self._bucket_counts[bisect.bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        self._hist_sum += seconds
        self._hist_count += 1

    def render(self) -> str:
        lines: list[str] = []
        for name, read in sorted(self._gauges.items()):
            kind, text = self._help[name]
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {read():g}"]
        for name, series in sorted(self._counters.items()):
            kind, text = self._help.get(name, ("counter", name))
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            for key, value in sorted(series.items()):
                lines.append(f"{name}{_labels(key)} {value:g}")
        name = "holocall_signal_message_handling_seconds"
        lines += [
            f"# HELP {name} Time to validate and route one client message.",
            f"# TYPE {name} histogram",
        ]
        cumulative = 0
        for bound, count in zip(_LATENCY_BUCKETS, self._bucket_counts, strict=False):
            cumulative += count
            lines.append(f'{name}_bucket{{le="{bound:g}"}} {cumulative}')
        lines.append(f'{name}_bucket{{le="+Inf"}} {self._hist_count}')
        lines.append(f"{name}_sum {self._hist_sum:g}")
        lines.append(f"{name}_count {self._hist_count}")
        return "\n".join(lines) + "\n"
