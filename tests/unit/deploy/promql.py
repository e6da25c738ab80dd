"""Metric names and selector labels in PromQL expressions (enough of PromQL for our own
alert rules and dashboards), and the names the py_rt services really expose."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import CollectorRegistry

from pyrt.config import SERVICE_NAMES
from pyrt.observability.metrics import service_metrics

PROMETHEUS_SERIES = {"up": {"job", "instance"}}
"""Series Prometheus itself adds to every target."""
TARGET_LABELS = {"job", "instance"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
            "offset", "inf", "nan", "Inf", "NaN"}
_NAME = r"[A-Za-z_:][A-Za-z0-9_:]*"
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
             "summary": ("", "_sum", "_count", "_created"), "info": ("_info",)}


def _strip(expr: str) -> str:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return re.sub(r"'(?:[^'\\]|\\.)*'", "''", expr)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (functions, keywords and labels excluded)."""
    text = _strip(expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery durations
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"(?<![A-Za-z_:])\d+(\.\d+)?([eE][+-]?\d+)?", " ", text)  # numbers such as 800e6
    names = set()
    for match in re.finditer(_NAME, text):
        if text[match.end():].lstrip().startswith("(") or match.group() in KEYWORDS:
            continue
        names.add(match.group())
    return names


def selector_labels(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names matched in its braces) of each `name{...}` selector."""
    found = []
    for match in re.finditer(rf"({_NAME})\s*\{{([^}}]*)\}}", _strip(expr)):
        labels = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", match.group(2)))
        found.append((match.group(1), labels))
    return found


def _exposed(registry: CollectorRegistry) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
        for suffix in _SUFFIXES.get(family.type, ("",)):
            names.setdefault(family.name + suffix, set())
    collectors: dict[Any, list[str]] = getattr(registry, "_collector_to_names", {})
    for collector, sample_names in collectors.items():
        labelnames = tuple(getattr(collector, "_labelnames", ()) or ())
        for name in sample_names:
            names.setdefault(name, set()).update(labelnames)
            if name.endswith("_bucket"):
                names[name].add("le")
    return names


def exposed_metrics() -> dict[str, set[str]]:
    """{sample name: label names} over the registries of the four services (what
    Prometheus scrapes), plus the series Prometheus adds itself."""
    merged: dict[str, set[str]] = {k: set(v) for k, v in PROMETHEUS_SERIES.items()}
    for service in SERVICE_NAMES:
        for name, labels in _exposed(service_metrics(service).registry).items():
            merged.setdefault(name, set()).update(labels)
    return merged
