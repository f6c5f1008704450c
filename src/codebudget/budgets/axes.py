"""Budget axes, their threshold grids, and the price table that turns time or tokens into money.

Every per-problem budget except `samples` is applied the same way: a sample is cut at the
largest number of generated tokens whose cost stays within the threshold, and the cut
program is judged. `samples` is pass@k: k samples per problem, each at the full budget.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from codebudget.errors import UserError

Axis = Literal["tokens", "samples", "flops", "seconds", "dollars", "energy"]
AXES: tuple[Axis, ...] = ("tokens", "samples", "flops", "seconds", "dollars", "energy")

DEFAULT_TOKEN_GRID: tuple[float, ...] = (64, 128, 256, 512, 1024, 2048, 4096)
DEFAULT_SAMPLE_GRID: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100)

# The unit a cost on each axis is reported in, and the scale PER is quoted per.
COST_UNITS: dict[Axis, str] = {
    "tokens": "completion tokens", "samples": "completion tokens", "flops": "FLOPs",
    "seconds": "seconds", "dollars": "USD", "energy": "joules",
}
PER_SCALES: dict[Axis, tuple[float, str]] = {
    "tokens": (1e3, "per 1k tokens"), "samples": (1e3, "per 1k tokens"), "flops": (1e12, "per TFLOP"),
    "seconds": (1.0, "per second"), "dollars": (1e-3, "per $0.001"), "energy": (1e3, "per kJ"),
}
# What a number on each axis is: stated in the report next to the grid.
EXACTNESS: dict[Axis, str] = {
    "tokens": "exact for greedy decoding (the first B tokens are what a run with max_new_tokens=B "
              "generates); exact in distribution when sampling",
    "samples": "unbiased pass@k estimator (Chen et al. 2021) over the n samples per problem",
    "flops": "exact under the FLOPs model (models/flops.py): cut at the most tokens within the budget",
    "seconds": "estimated: cut on the measured per-token time curve of each sample",
    "dollars": "derived from the price table (per machine-hour on the time curve, or per 1M tokens)",
    "energy": "estimated: measured energy per sample spread over its time curve",
}


def nice_grid(low: float, high: float) -> tuple[float, ...]:
    """1-2-5 steps per decade covering [low, high]: thresholds a reader can say aloud."""
    if not (low > 0 and high > 0) or not (math.isfinite(low) and math.isfinite(high)):
        return ()
    if high < low:
        low, high = high, low
    out: list[float] = []
    exponent = math.floor(math.log10(low))
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0 ** exponent
            if value >= low * (1 - 1e-9) and (not out or value > out[-1]):
                out.append(float(f"{value:.6g}"))
            if value >= high:
                return tuple(out)
        exponent += 1


def parse_grid(text: str) -> dict[Axis, tuple[float, ...]]:
    """`tokens=64,128;seconds=1,2,5` (the `--grid` option) as thresholds per axis."""
    grids: dict[Axis, tuple[float, ...]] = {}
    for part in (p.strip() for p in text.split(";") if p.strip()):
        name, _, values = part.partition("=")
        axis = name.strip()
        if axis not in AXES or not values.strip():
            raise UserError(f"--grid: {part!r} is not AXIS=V1,V2,...",
                            f"axes are {', '.join(AXES)}; e.g. --grid 'tokens=64,128,256;seconds=1,5,10'")
        try:
            numbers = sorted({float(v) for v in values.split(",") if v.strip()})
        except ValueError:
            raise UserError(f"--grid: {part!r} has a value that is not a number",
                            "write the thresholds as numbers separated by commas") from None
        if not numbers or numbers[0] <= 0:
            raise UserError(f"--grid: {part!r}: thresholds must be positive", "e.g. tokens=64,128,256")
        grids[axis] = tuple(numbers)  # type: ignore[index]
    return grids


@dataclass(frozen=True)
class Price:
    """How a sample's cost becomes dollars: by machine time, or by tokens (hosted APIs)."""

    usd_per_hour: float | None = None
    usd_per_million_input: float | None = None
    usd_per_million_output: float | None = None

    @property
    def by_tokens(self) -> bool:
        return self.usd_per_million_output is not None

    def describe(self) -> str:
        if self.by_tokens:
            return (f"${self.usd_per_million_input or 0:g}/1M input + "
                    f"${self.usd_per_million_output:g}/1M output tokens")
        return f"${self.usd_per_hour:g}/machine-hour"

    def dollars(self, prompt_tokens: int, completion_tokens: int, seconds: float | None) -> float | None:
        if self.by_tokens:
            assert self.usd_per_million_output is not None
            return (prompt_tokens * (self.usd_per_million_input or 0.0)
                    + completion_tokens * self.usd_per_million_output) / 1e6
        if self.usd_per_hour is None or seconds is None:
            return None
        return seconds * self.usd_per_hour / 3600.0


# A 2-vCPU general-purpose cloud VM (the machine class these CPU numbers come from) costs about
# $0.08/hour on demand; one H100 about $2.50/hour. Users override both in a price file.
DEFAULT_PRICES = {"cpu": Price(usd_per_hour=0.08), "cuda": Price(usd_per_hour=2.50)}


@dataclass(frozen=True)
class PriceTable:
    default: dict[str, Price]
    models: dict[str, Price]
    source: str

    def for_run(self, model: str, device: str) -> Price:
        if model in self.models:
            return self.models[model]
        return self.default.get("cuda" if device.startswith("cuda") else "cpu", DEFAULT_PRICES["cpu"])

    def describe(self) -> list[str]:
        lines = [f"default ({device}): {price.describe()}" for device, price in sorted(self.default.items())]
        lines += [f"{model}: {price.describe()}" for model, price in sorted(self.models.items())]
        return lines


def load_prices(path: Path | None) -> PriceTable:
    """The price table: built-in defaults, overridden by a TOML file the user edits:

        [default]
        cpu = { usd_per_hour = 0.08 }
        cuda = { usd_per_hour = 2.50 }
        [models."gpt-4o-mini"]
        usd_per_million_input = 0.15
        usd_per_million_output = 0.60
    """
    if path is None:
        return PriceTable(dict(DEFAULT_PRICES), {}, "built-in defaults")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the price file ({exc})", "check the path") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})", "fix the syntax at the position named") from None
    unknown = set(data) - {"default", "models"}
    if unknown:
        raise UserError(f"{path}: unknown section(s) {sorted(unknown)}", "use [default] and [models.\"NAME\"]")
    default = dict(DEFAULT_PRICES)
    for device, entry in data.get("default", {}).items():
        default[device] = _price(path, f"default.{device}", entry)
    models = {name: _price(path, f"models.{name}", entry) for name, entry in data.get("models", {}).items()}
    return PriceTable(default, models, str(path))


def _price(path: Path, where: str, entry: object) -> Price:
    fields = ("usd_per_hour", "usd_per_million_input", "usd_per_million_output")
    if not isinstance(entry, dict) or not entry or set(entry) - set(fields):
        raise UserError(f"{path}: [{where}] must be a table of {', '.join(fields)}",
                        "e.g. cpu = { usd_per_hour = 0.08 }")
    values: dict[str, float] = {}
    for key, value in entry.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise UserError(f"{path}: {where}.{key} = {value!r} is not a non-negative number", "write e.g. 0.08")
        values[key] = float(value)
    if "usd_per_hour" not in values and "usd_per_million_output" not in values:
        raise UserError(f"{path}: [{where}] needs usd_per_hour or usd_per_million_output", "add one of them")
    return Price(**values)


def grid_within(grid: Sequence[float], high: float) -> tuple[float, ...]:
    """The thresholds up to the first one that reaches `high` (beyond it nothing changes)."""
    out: list[float] = []
    for value in sorted(grid):
        out.append(value)
        if value >= high:
            break
    return tuple(out)
