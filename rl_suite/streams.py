"""Standard normals of R random streams, drawn ahead in blocks and served as if drawn step by step.

A NumPy ``Generator`` gives the same standard normals, and ends in the same state, whether ``m`` of them are
drawn in one call or in several calls that add up to ``m``: ``standard_normal`` fills its output one number
after the other from the bit stream (NumPy's ziggurat, after Marsaglia & Tsang, J. Stat. Softw. 5(8), 2000).
So R streams that each need a few normals a step — a vector env's rounds, a seed-batched agent's noise — can
draw them a block at a time, one call per stream per block instead of one per step. Before a generator's
state is read, or before it makes any other kind of draw, :meth:`NormalBlocks.settle` puts it back exactly
where drawing step by step would have left it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Normals a stream draws at once (at least; more when one step takes more than a sixteenth of this).
BLOCK_NORMALS = 1024


class NormalBlocks:
    """The standard normals of R generators, drawn :data:`BLOCK_NORMALS` at a time.

    Attributes:
        generators: The R generators, stream ``i`` drawing from ``generators[i]``.
        served: Normals of the current block handed out. It may be set back (to a value it had since the
            block was drawn) to hand the normals after it out again.
    """

    def __init__(self, generators: Sequence[np.random.Generator], block: int = BLOCK_NORMALS) -> None:
        self.generators = list(generators)
        self.served = 0
        self._size = block
        self._block: np.ndarray | None = None  # (R, width)
        self._start: list[Mapping[str, Any]] = []  # each generator's state before the block was drawn

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` normals of every stream, a new ``(R, n)`` array.

        Row ``i`` is what ``generators[i].standard_normal(n)`` would give at this point.
        """
        block, at = self._block, self.served
        if block is None or at + n > block.shape[1]:
            self.settle()
            self._start = [g.bit_generator.state for g in self.generators]
            block = np.empty((len(self.generators), max(self._size, 16 * n)))
            for g, row in zip(self.generators, block, strict=True):
                g.standard_normal(out=row)
            self._block, at = block, 0
        self.served = at + n
        return block[:, at : at + n].copy()

    def settle(self) -> list[np.random.Generator]:
        """Drop the block: every generator is left as if it had drawn only the normals served from it."""
        block = self._block
        if block is not None and self.served < block.shape[1]:  # (all served: they are where they must be)
            for g, start in zip(self.generators, self._start, strict=True):
                g.bit_generator.state = start
                g.standard_normal(self.served)
        self._block = None
        self.served = 0
        return self.generators
