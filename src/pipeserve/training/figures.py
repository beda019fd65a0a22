"""The model card's pictures, drawn when the bundle is built: the confusion matrix (a
classifier) or the residual plot (a regressor) and the pipeline's steps, as plain SVG.

They are files of the bundle (pinned by sha256 like every other), so a server shows them
without scikit-learn or a plotting library, and the same fitted pipeline and test results give
the same bytes. Hand-written SVG needs no dependency and renders under a strict
Content-Security-Policy: no script, no external font, no inline style attribute beyond SVG's own
presentation attributes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr  # nosec B406 - escapes the SVG; parses nothing

CONFUSION_FILE = "confusion.svg"
RESIDUALS_FILE = "residuals.svg"
PIPELINE_FILE = "pipeline.svg"

_FONT = 'font-family="system-ui, sans-serif"'
_CHAR = 7.2  # average glyph width at 12 px, for sizing boxes without a font engine
_INK = "#1f2933"
_ACCENT = "#2f6f9f"


def _svg(width: float, height: float, body: list[str], title: str) -> bytes:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" {_FONT} font-size="12">'
    )
    return "\n".join([head, f"<title>{escape(title)}</title>", *body, "</svg>", ""]).encode()


def _text(x: float, y: float, text: str, **attributes: str) -> str:
    extra = "".join(
        f" {name.replace('_', '-')}={quoteattr(value)}" for name, value in attributes.items()
    )
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>'


def confusion_svg(actual: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> bytes:
    """The confusion matrix of a test split: a row per actual class, a column per predicted
    class, each cell's count and shade by its share of the row."""
    index = {label: i for i, label in enumerate(classes)}
    counts = [[0] * len(classes) for _ in classes]
    for truth, guess in zip(actual, predicted, strict=True):
        if truth in index and guess in index:
            counts[index[truth]][index[guess]] += 1
    label_width = max(len(label) for label in classes) * _CHAR + 16
    cell = max(48.0, label_width * 0.8)
    left, top = label_width + 24, 56.0
    size = cell * len(classes)
    width, height = left + size + 16, top + size + 40
    body = [
        _text(left + size / 2, 18, "predicted", text_anchor="middle", fill=_INK),
        _text(
            14,
            top + size / 2,
            "actual",
            text_anchor="middle",
            fill=_INK,
            transform=f"rotate(-90 14 {top + size / 2:.1f})",
        ),
    ]
    for i, label in enumerate(classes):
        centre = left + cell * (i + 0.5)
        body.append(_text(centre, top - 10, label, text_anchor="middle", fill=_INK))
        body.append(
            _text(left - 8, top + cell * (i + 0.5) + 4, label, text_anchor="end", fill=_INK)
        )
    for i, row in enumerate(counts):
        total = sum(row) or 1
        for j, count in enumerate(row):
            share = count / total
            x, y = left + cell * j, top + cell * i
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell:.1f}" height="{cell:.1f}" '
                f'fill="{_ACCENT}" fill-opacity="{0.08 + 0.85 * share:.3f}" stroke="#ffffff"/>'
            )
            ink = "#ffffff" if share > 0.5 else _INK
            body.append(
                _text(x + cell / 2, y + cell / 2 + 5, str(count), text_anchor="middle", fill=ink)
            )
    n = sum(map(sum, counts))
    body.append(_text(left, height - 12, f"{n} test rows", fill=_INK))
    return _svg(width, height, body, "Confusion matrix on the test split")


# --- the residual plot --------------------------------------------------------------------

_PLOT_W, _PLOT_H = 420.0, 260.0
_MAX_POINTS = 2000  # beyond this a plot shows nothing more, and the file only grows


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values spanning ``[low, high]`` (1, 2 or 5 times a power of 10)."""
    span = high - low
    raw = span / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _span(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high - low < 1e-12:  # a constant: give the axis some width
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.05
    return low - pad, high + pad


def residual_svg(actual: Sequence[float], predicted: Sequence[float]) -> bytes:
    """Residuals (actual minus predicted) of a test split against the predicted value, with
    the zero line: a good regressor's points scatter evenly around it; a curve or a funnel
    shows what the model misses. At most 2000 points are drawn (every k-th row)."""
    pairs = [(p, a - p) for a, p in zip(actual, predicted, strict=True)]
    if not pairs:
        pairs = [(0.0, 0.0)]
    step = max(1, math.ceil(len(pairs) / _MAX_POINTS))
    shown = pairs[::step]
    x_low, x_high = _span([p for p, _ in pairs])
    residuals = [r for _, r in pairs]
    bound = max(abs(min(residuals)), abs(max(residuals))) or 1.0
    y_low, y_high = -bound * 1.05, bound * 1.05
    left, top = 64.0, 16.0
    width, height = left + _PLOT_W + 16, top + _PLOT_H + 56

    def x_of(value: float) -> float:
        return left + (value - x_low) / (x_high - x_low) * _PLOT_W

    def y_of(value: float) -> float:
        return top + (y_high - value) / (y_high - y_low) * _PLOT_H

    body = [
        f'<rect x="{left:.1f}" y="{top:.1f}" width="{_PLOT_W:.1f}" height="{_PLOT_H:.1f}" '
        'fill="#ffffff" stroke="#9fb3c8"/>'
    ]
    for tick in _ticks(x_low, x_high):
        x = x_of(tick)
        body.append(_text(x, top + _PLOT_H + 16, f"{tick:.6g}", text_anchor="middle", fill=_INK))
    for tick in _ticks(y_low, y_high):
        y = y_of(tick)
        body.append(
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + _PLOT_W:.1f}" y2="{y:.1f}" '
            'stroke="#e4ebf1"/>'
        )
        body.append(_text(left - 6, y + 4, f"{tick:.6g}", text_anchor="end", fill=_INK))
    zero = y_of(0.0)
    body.append(
        f'<line x1="{left:.1f}" y1="{zero:.1f}" x2="{left + _PLOT_W:.1f}" y2="{zero:.1f}" '
        f'stroke="{_INK}" stroke-dasharray="5 3"/>'
    )
    body.append(f'<g fill="{_ACCENT}" fill-opacity="0.55">')
    body.extend(f'<circle cx="{x_of(p):.1f}" cy="{y_of(r):.1f}" r="2.5"/>' for p, r in shown)
    body.append("</g>")
    body.append(
        _text(left + _PLOT_W / 2, top + _PLOT_H + 34, "predicted", text_anchor="middle", fill=_INK)
    )
    body.append(
        _text(
            14,
            top + _PLOT_H / 2,
            "actual - predicted",
            text_anchor="middle",
            fill=_INK,
            transform=f"rotate(-90 14 {top + _PLOT_H / 2:.1f})",
        )
    )
    drawn = f" ({len(shown)} drawn)" if step > 1 else ""
    body.append(_text(left, height - 4, f"{len(actual)} test rows{drawn}", fill=_INK))
    return _svg(width, height, body, "Residuals on the test split")


# --- the pipeline diagram --------------------------------------------------------------------

_BOX_H = 40.0
_GAP = 18.0
_PAD = 10.0


@dataclass
class _Node:
    """A step (``children`` empty), a sequence, or parallel branches (``parallel``)."""

    label: str
    detail: str = ""
    children: list[_Node] = field(default_factory=list)
    parallel: bool = False

    def size(self) -> tuple[float, float]:
        if not self.children:
            return max(len(self.label), len(self.detail)) * _CHAR + 2 * _PAD, _BOX_H
        sizes = [child.size() for child in self.children]
        header = _BOX_H + _GAP if self.label else 0.0
        if self.parallel:
            width = sum(w for w, _ in sizes) + _GAP * (len(sizes) - 1) + 2 * _PAD
            own = max(len(self.label), len(self.detail)) * _CHAR + 2 * _PAD
            return max(width, own), header + max(h for _, h in sizes) + _PAD
        width = max(w for w, _ in sizes)
        return width, header + sum(h for _, h in sizes) + _GAP * (len(sizes) - 1)


def _describe(step: Any, name: str) -> _Node:
    """The diagram of one fitted step, looking into pipelines and column transformers."""
    if isinstance(step, str):  # "passthrough" or "drop" in a ColumnTransformer
        return _Node(name, step)
    steps = getattr(step, "steps", None)
    if isinstance(steps, list):
        return _Node("", children=[_describe(child, child_name) for child_name, child in steps])
    transformers = getattr(step, "transformers_", None) or getattr(step, "transformer_list", None)
    if isinstance(transformers, list):
        branches = []
        for entry in transformers:
            branch_name, branch = entry[0], entry[1]
            if isinstance(branch, str) and branch == "drop":
                continue
            columns = entry[2] if len(entry) > 2 else None
            node = _describe(branch, branch_name)
            head = _Node(branch_name, _columns(columns))
            branches.append(_Node("", children=[head, node]) if node.label != branch_name else node)
        return _Node(f"{name}: {type(step).__name__}", "in parallel", branches, parallel=True)
    estimator = getattr(step, "estimator", None)  # CalibratedClassifierCV and similar wrappers
    detail = type(step).__name__
    if estimator is not None and hasattr(estimator, "fit"):
        detail += f" ({type(estimator).__name__})"
    return _Node(name, detail)


def _columns(columns: Any) -> str:
    if columns is None:
        return ""
    if isinstance(columns, list | tuple):
        text = ", ".join(str(column) for column in columns)
    else:
        text = str(columns)
    return text if len(text) <= 48 else text[:47] + "…"


def _draw(node: _Node, x: float, y: float, width: float, body: list[str]) -> float:
    """Draw ``node`` centred in ``[x, x + width]`` from ``y``; return the y below it."""
    node_w, node_h = node.size()
    if not node.children:
        left = x + (width - node_w) / 2
        body.append(
            f'<rect x="{left:.1f}" y="{y:.1f}" width="{node_w:.1f}" height="{_BOX_H:.1f}" '
            f'rx="6" fill="#eef4f8" stroke="{_ACCENT}"/>'
        )
        centre = x + width / 2
        label_y = y + 16 if node.detail else y + _BOX_H / 2 + 4
        body.append(
            _text(centre, label_y, node.label, text_anchor="middle", fill=_INK, font_weight="600")
        )
        if node.detail:
            body.append(_text(centre, y + 32, node.detail, text_anchor="middle", fill=_INK))
        return y + _BOX_H
    centre = x + width / 2
    if node.label:
        y = _draw(_Node(node.label, node.detail), x, y, width, body) + _GAP
    if node.parallel:
        left = x + (width - node_w) / 2 + _PAD
        bottom = y
        frame_h = node_h - (_BOX_H + _GAP if node.label else 0)
        body.append(
            f'<rect x="{left - _PAD / 2:.1f}" y="{y - _GAP / 2:.1f}" '
            f'width="{node_w - _PAD:.1f}" height="{frame_h:.1f}" '
            f'rx="8" fill="none" stroke="#9fb3c8" stroke-dasharray="4 3"/>'
        )
        for child in node.children:
            child_w, _ = child.size()
            bottom = max(bottom, _draw(child, left, y, child_w, body))
            left += child_w + _GAP
        return bottom + _PAD / 2
    for index, child in enumerate(node.children):
        if index:
            body.append(
                f'<line x1="{centre:.1f}" y1="{y - _GAP:.1f}" x2="{centre:.1f}" '
                f'y2="{y - 3:.1f}" stroke="{_INK}" marker-end="url(#arrow)"/>'
            )
        y = _draw(child, x, y, width, body)
        y += _GAP if index < len(node.children) - 1 else 0
    return y


def pipeline_svg(pipeline: Any, inputs: Sequence[str]) -> bytes:
    """The fitted pipeline's steps from the raw ``inputs`` to the prediction, top to bottom."""
    root = _describe(pipeline, "pipeline")
    shown = ", ".join(inputs)
    start = _Node("input", shown if len(shown) <= 60 else shown[:59] + "…")
    chain = _Node("", children=[start, *(root.children or [root]), _Node("prediction")])
    width, height = chain.size()
    width += 2 * _PAD
    body = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{_INK}"/></marker>'
        "</defs>"
    ]
    _draw(chain, _PAD, _PAD, width - 2 * _PAD, body)
    return _svg(width, height + 2 * _PAD, body, "Pipeline steps")
