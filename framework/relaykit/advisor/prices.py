"""Prices as data: the dated AWS price table shipped with relaykit, overridable by a file.

``prices.json`` holds list prices per region with the date they are as of, the pages they come
from and the keys whose value is least certain (``unsure``). ``load_prices(path)`` merges an
override file on top (JSON, or TOML when the name ends in ``.toml``): any key may be replaced,
at any depth, for example ``{"regions": {"us-east-1": {"fargate": {"vcpu_hour": {"arm64":
0.03}}}}}``. The advisor prints ``as_of``, ``source`` and the override file it used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relaykit.errors import ConfigError

DEFAULT_REGION = "us-east-1"
GIB = 1024.0**3


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(below, value)
        else:
            merged[key] = value
    return merged


def _read(path: Path) -> dict[str, Any]:
    try:
        if path.suffix == ".toml":
            import tomllib

            with path.open("rb") as handle:
                data: Any = tomllib.load(handle)
        else:
            data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError("--prices", f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("--prices", f"{path} must hold a JSON object or TOML table")
    return data


@dataclass(frozen=True)
class PriceBook:
    """The prices of one region, with where they came from."""

    region: str
    as_of: str
    source: str
    values: Mapping[str, Any]
    unsure: Sequence[str] = ()
    override: str | None = None
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def get(self, dotted: str) -> Any:
        """The value at ``a.b.c``; a ``ConfigError`` names a missing key."""
        value: Any = self.values
        for part in dotted.split("."):
            if not isinstance(value, Mapping) or part not in value:
                raise ConfigError(f"prices.{self.region}.{dotted}", "is missing from the table")
            value = value[part]
        return value

    def num(self, dotted: str) -> float:
        value = self.get(dotted)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"prices.{self.region}.{dotted}", f"is not a number: {value!r}")
        return float(value)

    @property
    def hours(self) -> float:
        """Hours in a billing month (AWS uses 730)."""
        return self.num("hours_per_month")

    def is_unsure(self, dotted: str) -> bool:
        return dotted in self.unsure

    def describe(self) -> str:
        text = f"AWS {self.region} list prices as of {self.as_of} ({self.source.split()[0]} ...)"
        if self.override:
            text += f", overridden by {self.override}"
        return text


def load_prices(path: str | Path | None = None, region: str = DEFAULT_REGION) -> PriceBook:
    """The shipped table, with the file at ``path`` merged on top, for ``region``."""
    data = json.loads(Path(__file__).with_name("prices.json").read_text())
    if path is not None:
        data = _merge(data, _read(Path(path)))
    regions = data.get("regions", {})
    if region not in regions:
        known = ", ".join(sorted(regions)) or "none"
        raise ConfigError("--region", f"no prices for {region!r}", known)
    return PriceBook(
        region=region,
        as_of=str(data.get("as_of", "unknown")),
        source=str(data.get("source", "unknown")),
        values=regions[region],
        unsure=tuple(data.get("unsure", ())),
        override=str(path) if path is not None else None,
        note=str(data.get("note", "")),
    )


def tiered(amount: float, tiers: Sequence[Sequence[Any]]) -> float:
    """Cost of ``amount`` units under ``[[width, unit_price], ..., [None, unit_price]]``."""
    total, left = 0.0, max(0.0, amount)
    for width, price in tiers:
        used = left if width is None else min(left, float(width))
        total += used * float(price)
        left -= used
        if left <= 0:
            break
    return total
