"""``--chart FILE``: each option's monthly cost against the mean request rate, log-log.

A ``.svg`` file is written by hand (text and all). A ``.png`` file uses matplotlib when it is
installed; otherwise relaykit draws it itself (zlib and a 3x5 pixel font), so the chart never
needs an extra. Ruled-out options are left out; the profile's own rate is a vertical line.
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from pathlib import Path

from relaykit.advisor.advise import Advice, curve
from relaykit.advisor.prices import PriceBook

Colour = tuple[int, int, int]
COLOURS: tuple[Colour, ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)  # fmt: skip
W, H, LEFT, RIGHT, TOP, BOTTOM = 900, 560, 70, 230, 30, 50
# 3x5 glyphs, one row per 3-bit number (bit 4 = left pixel).
_FONT = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 3, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 1, 1),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), "-": (0, 0, 7, 0, 0), ".": (0, 0, 0, 0, 2),
    "$": (3, 6, 2, 3, 6), "/": (1, 1, 2, 4, 4), "_": (0, 0, 0, 0, 7), " ": (0, 0, 0, 0, 0),
    "a": (2, 5, 7, 5, 5), "b": (6, 5, 6, 5, 6), "c": (7, 4, 4, 4, 7), "d": (6, 5, 5, 5, 6),
    "e": (7, 4, 6, 4, 7), "f": (7, 4, 6, 4, 4), "g": (7, 4, 5, 5, 7), "h": (5, 5, 7, 5, 5),
    "i": (7, 2, 2, 2, 7), "j": (1, 1, 1, 5, 7), "k": (5, 5, 6, 5, 5), "l": (4, 4, 4, 4, 7),
    "m": (5, 7, 7, 5, 5), "n": (6, 5, 5, 5, 5), "o": (7, 5, 5, 5, 7), "p": (7, 5, 7, 4, 4),
    "q": (7, 5, 5, 7, 1), "r": (6, 5, 6, 5, 5), "s": (7, 4, 7, 1, 7), "t": (7, 2, 2, 2, 2),
    "u": (5, 5, 5, 5, 7), "v": (5, 5, 5, 5, 2), "w": (5, 5, 7, 7, 5), "x": (5, 5, 2, 5, 5),
    "y": (5, 5, 2, 2, 2), "z": (7, 1, 2, 4, 7), "(": (1, 2, 2, 2, 1), ")": (4, 2, 2, 2, 4),
    ":": (0, 2, 0, 2, 0),
}  # fmt: skip
Series = dict[str, list[float | None]]


def rates_around(rps: float, points: int = 60) -> list[float]:
    low, high = max(rps / 1000.0, 1e-5), max(rps * 1000.0, 1.0)
    return [low * (high / low) ** (k / (points - 1)) for k in range(points)]


class Canvas:
    def __init__(self) -> None:
        self.pixels = bytearray(b"\xff" * (W * H * 3))

    def dot(self, x: int, y: int, colour: tuple[int, int, int]) -> None:
        if 0 <= x < W and 0 <= y < H:
            at = (y * W + x) * 3
            self.pixels[at : at + 3] = bytes(colour)

    def line(
        self, a: tuple[float, float], b: tuple[float, float], colour: tuple[int, int, int]
    ) -> None:
        steps = int(max(abs(b[0] - a[0]), abs(b[1] - a[1]), 1))
        for k in range(steps + 1):
            x = a[0] + (b[0] - a[0]) * k / steps
            y = a[1] + (b[1] - a[1]) * k / steps
            for dx, dy in ((0, 0), (1, 0), (0, 1)):
                self.dot(int(x) + dx, int(y) + dy, colour)

    def text(self, x: int, y: int, text: str, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        for n, char in enumerate(text.lower()):
            rows = _FONT.get(char, _FONT[" "])
            for r, bits in enumerate(rows):
                for c in range(3):
                    if bits & (4 >> c):
                        for sx in range(2):
                            for sy in range(2):
                                self.dot(x + n * 8 + c * 2 + sx, y + r * 2 + sy, colour)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.pixels[y * W * 3 : (y + 1) * W * 3]) for y in range(H))

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def _scale(rates: list[float], series: Series) -> tuple[float, float, float, float]:
    costs = [c for values in series.values() for c in values if c is not None and c > 0]
    low, high = min(costs, default=0.01), max(costs, default=1.0)
    return (
        math.log10(rates[0]),
        math.log10(rates[-1]),
        math.log10(max(low, 0.01)),
        math.log10(max(high, 0.1)),
    )


def _position(
    rps: float, usd: float, box: tuple[float, float, float, float]
) -> tuple[float, float]:
    x0, x1, y0, y1 = box
    x = LEFT + (math.log10(rps) - x0) / (x1 - x0) * (W - LEFT - RIGHT)
    y = H - BOTTOM - (math.log10(max(usd, 10**y0)) - y0) / max(y1 - y0, 1e-9) * (H - TOP - BOTTOM)
    return x, y


def draw_png(advice: Advice, rates: list[float], series: Series) -> bytes:
    canvas, box = Canvas(), _scale(rates, series)
    for px in range(LEFT, W - RIGHT):
        canvas.dot(px, H - BOTTOM, (0, 0, 0))
    for py in range(TOP, H - BOTTOM):
        canvas.dot(LEFT, py, (0, 0, 0))
    for exp in range(math.floor(box[0]), math.ceil(box[1]) + 1):
        x, _ = _position(10.0**exp, 10 ** box[2], box)
        if LEFT <= x <= W - RIGHT:
            canvas.text(int(x) - 8, H - BOTTOM + 8, f"{10.0**exp:g}")
    for exp in range(math.floor(box[2]), math.ceil(box[3]) + 1):
        _, y = _position(rates[0], 10.0**exp, box)
        if TOP <= y <= H - BOTTOM:
            canvas.text(4, int(y) - 5, f"${10.0**exp:g}")
    canvas.text(LEFT, H - 20, f"{advice.handler}: monthly cost vs mean req/s")
    x_now, _ = _position(advice.profile.mean_rps, 10 ** box[2], box)
    canvas.line((x_now, TOP), (x_now, H - BOTTOM), (190, 190, 190))
    for n, (name, values) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = [(r, c) for r, c in zip(rates, values, strict=True) if c is not None]
        for (r1, c1), (r2, c2) in itertools.pairwise(points):
            canvas.line(_position(r1, c1, box), _position(r2, c2, box), colour)
        canvas.line((W - RIGHT + 10, TOP + 14 * n + 4), (W - RIGHT + 24, TOP + 14 * n + 4), colour)
        canvas.text(W - RIGHT + 30, TOP + 14 * n, name)
    return canvas.png()


def draw_svg(advice: Advice, rates: list[float], series: Series) -> str:
    box = _scale(rates, series)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}">']
    parts.append(f'<rect width="{W}" height="{H}" fill="white"/>')
    parts.append(
        f'<text x="{LEFT}" y="{H - 10}">{advice.handler}: monthly cost (USD) vs mean req/s</text>'
    )
    for n, (name, values) in enumerate(series.items()):
        r, g, b = COLOURS[n % len(COLOURS)]
        pts = " ".join(
            "{:.1f},{:.1f}".format(*_position(rate, c, box))
            for rate, c in zip(rates, values, strict=True)
            if c is not None
        )
        parts.append(
            f'<polyline fill="none" stroke="rgb({r},{g},{b})" stroke-width="2" points="{pts}"/>'
        )
        y = TOP + 16 * n + 10
        parts.append(f'<text x="{W - RIGHT + 10}" y="{y}" fill="rgb({r},{g},{b})">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_chart(path: str | Path, advice: Advice, prices: PriceBook) -> Path:
    """Write the chart of ``advice`` to ``path`` (``.png`` or ``.svg``)."""
    file = Path(path)
    rates = rates_around(advice.profile.mean_rps or 1.0)
    full = curve(advice.workload, advice.profile, prices, rates)
    series = {name: values for name, values in full.items() if any(v is not None for v in values)}
    if file.suffix == ".svg":
        file.write_text(draw_svg(advice, rates, series))
        return file
    try:
        import matplotlib  # type: ignore[import-not-found,unused-ignore]

        matplotlib.use("Agg")
        from matplotlib import pyplot  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        file.write_bytes(draw_png(advice, rates, series))
        return file
    figure, axes = pyplot.subplots(figsize=(9, 5.6))
    for name, values in series.items():
        axes.plot(rates, [float("nan") if v is None else v for v in values], label=name)
    axes.set(xscale="log", yscale="log", xlabel="mean requests per second", ylabel="USD / month")
    axes.axvline(advice.profile.mean_rps, color="grey", linewidth=0.8)
    axes.set_title(f"{advice.handler}: monthly cost by option")
    axes.legend(fontsize=8)
    figure.savefig(file, dpi=100)
    pyplot.close(figure)
    return file
