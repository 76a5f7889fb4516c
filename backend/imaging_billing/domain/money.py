"""Money (R-GEN-3): CNY as whole fen in Python ints; never floats."""

from __future__ import annotations

from decimal import Decimal

MAX_FEN = 10**15  # ten trillion yuan: anything larger is a typo, not an order


def yuan(fen: int) -> Decimal:
    """Exact yuan for display and export."""
    return Decimal(fen).scaleb(-2)


def format_cny(fen: int) -> str:
    """¥1,234.50 style, for notices and exports."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"
