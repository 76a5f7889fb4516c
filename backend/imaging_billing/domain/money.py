"""Money (R-GEN-3): CNY as whole fen in Python ints; never floats."""

from __future__ import annotations

MAX_FEN = 10**15  # ten trillion yuan: anything larger is a typo, not an order
