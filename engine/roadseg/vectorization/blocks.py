"""Block layout: cores that tile the raster, read with a margin around them (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from rasterio.windows import Window


@dataclass(frozen=True, slots=True)
class Block:
    """One block of a raster.

    Attributes:
        row0: First row of the core.
        col0: First column of the core.
        rows: Rows of the core.
        cols: Columns of the core.
        margin: Margin read around the core (clipped at the raster's edges).
        height: Raster rows.
        width: Raster columns.

    """

    row0: int
    col0: int
    rows: int
    cols: int
    margin: int
    height: int
    width: int

    @property
    def core(self) -> Window:
        """The core window (what this block owns)."""
        return Window(self.col0, self.row0, self.cols, self.rows)

    @property
    def outer(self) -> Window:
        """The core plus the margin, clipped to the raster."""
        r0 = max(0, self.row0 - self.margin)
        c0 = max(0, self.col0 - self.margin)
        r1 = min(self.height, self.row0 + self.rows + self.margin)
        c1 = min(self.width, self.col0 + self.cols + self.margin)
        return Window(c0, r0, c1 - c0, r1 - r0)

    @property
    def local_core(self) -> tuple[int, int, int, int]:
        """(row_start, row_stop, col_start, col_stop) of the core inside :attr:`outer`.

        >>> Block(128, 0, 128, 128, 16, 512, 512).local_core
        (16, 144, 0, 128)
        """
        o = self.outer
        r = self.row0 - int(o.row_off)
        c = self.col0 - int(o.col_off)
        return (r, r + self.rows, c, c + self.cols)


def block_layout(width: int, height: int, size: int, margin: int) -> list[Block]:
    """Blocks of ``size`` pixels (the last ones smaller) covering a raster, row by row.

    >>> [(b.row0, b.col0, b.rows, b.cols) for b in block_layout(300, 200, 128, 8)][:4]
    [(0, 0, 128, 128), (0, 128, 128, 128), (0, 256, 128, 44), (128, 0, 72, 128)]
    """
    if size <= 0:
        raise ValueError("block size must be positive")
    out = []
    for r in range(0, height, size):
        for c in range(0, width, size):
            out.append(
                Block(r, c, min(size, height - r), min(size, width - c), margin, height, width)
            )
    return out
