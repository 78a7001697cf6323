"""Pictures of filters and activations, and tables for the notebooks."""

import html
import re
from math import ceil, sqrt

import numpy as np


def visualize_grid(Xs, ubound=255.0, padding=1):
    """Tile N small images into one grid image, each rescaled to [0, ubound].

    Inputs: Xs (N, H, W, C); padding pixels between tiles.
    Returns grid (G*(H+padding)-padding, G*(W+padding)-padding, C), G = ceil(sqrt(N)).
    """
    Xs = np.asarray(Xs)
    if Xs.ndim != 4:
        raise ValueError(f"visualize_grid: expected (N, H, W, C), got shape {Xs.shape}")
    N, H, W, C = Xs.shape
    G = int(ceil(sqrt(N)))
    grid = np.zeros((G * (H + padding) - padding, G * (W + padding) - padding, C))
    for k in range(N):
        r, c = divmod(k, G)
        img = Xs[k].astype(np.float64)
        lo, hi = img.min(), img.max()
        scale = ubound / (hi - lo) if hi > lo else 0.0  # a constant tile stays at 0
        y0, x0 = r * (H + padding), c * (W + padding)
        grid[y0 : y0 + H, x0 : x0 + W] = (img - lo) * scale
    return grid


def stable_format(value, digits=2, rel=1e-6, spec="e"):
    """`value` with at most `digits` significant digits that every value within a factor 1 +- rel
    shows the same way (fewer digits where `value` sits near a rounding boundary).

    For notebook output that must not depend on how the machine's BLAS rounds: rel is the
    relative difference two machines may see (about 1e-9 for float64 results, 1e-4 for float32).
    spec "e" gives 4.2e-05, "f" gives 0.82 (digits after the point, then).
    """
    def show(v, d):
        return f"{v:.{max(d - 1, 0)}e}" if spec == "e" else f"{v:.{d}f}"

    for d in range(digits, 0, -1):
        text = show(value, d)
        if show(value * (1 - rel), d) == text == show(value * (1 + rel), d):
            return text
    return show(value, 1)


_BLANK = ("", "-", "—")  # an empty cell in a column of numbers
_NUMBER = re.compile(r"^[<>≤≥~]?\s*[-+]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?\s*%?$",
                     re.IGNORECASE)


def _is_number(cell):
    return cell.strip() in _BLANK or bool(_NUMBER.match(cell.strip()))


class Table:
    """A small table for notebooks: HTML in JupyterLab, Markdown in the PDF, text elsewhere.

    columns: header strings; rows: lists of cells, already formatted as the reader should see
    them (a number is shown with str()).  Columns whose cells all read as numbers ("0.82",
    "< 1e-8", "12 %"; "—" for none) are right-aligned.  caption: a line above the table (HTML)
    or below it (PDF).
    """

    def __init__(self, columns, rows, caption=None):
        self.columns = [str(c) for c in columns]
        self.rows = [[str(cell) for cell in row] for row in rows]
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"Table: a row has {len(row)} cells for {len(self.columns)} "
                                 f"columns: {row}")
        self.caption = caption
        self.numeric = [bool(self.rows) and all(_is_number(r[k]) for r in self.rows)
                        for k in range(len(self.columns))]

    def _repr_html_(self):
        def cell(tag, text, k):
            align = "right" if self.numeric[k] else "left"
            return f'<{tag} style="text-align: {align}">{html.escape(text)}</{tag}>'

        head = "".join(cell("th", c, k) for k, c in enumerate(self.columns))
        body = "".join("<tr>" + "".join(cell("td", c, k) for k, c in enumerate(row)) + "</tr>"
                       for row in self.rows)
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def _repr_markdown_(self):
        def line(cells):
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        rule = ["---:" if numeric else ":---" for numeric in self.numeric]
        lines = [line(self.columns), "|" + "|".join(rule) + "|"] + [line(r) for r in self.rows]
        if self.caption:
            lines += ["", f"Table: {self.caption}"]
        return "\n".join(lines)

    def __str__(self):
        widths = [max(len(c), *(len(r[k]) for r in self.rows)) for k, c in enumerate(self.columns)]

        def line(cells):
            return "  ".join(c.rjust(w) if num else c.ljust(w)
                             for c, w, num in zip(cells, widths, self.numeric)).rstrip()

        text = [line(self.columns)] + [line(r) for r in self.rows]
        return "\n".join(([self.caption] if self.caption else []) + text)

    __repr__ = __str__
