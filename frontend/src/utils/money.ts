/**
 * Money is whole fen (R-GEN-3). Formatting and parsing use integer arithmetic only
 * (BigInt), so no amount is ever rounded through a float.
 */

export type FenValue = number | string | bigint;

function toBigInt(value: FenValue): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`not a whole number of fen: ${value}`);
    return BigInt(value);
  }
  if (!/^-?\d+$/.test(value)) throw new RangeError(`not a whole number of fen: ${value}`);
  return BigInt(value);
}

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `123456` fen → `¥1,234.56`; negative amounts get a leading minus: `-¥0.05`. */
export function formatFen(value: FenValue): string {
  const fen = toBigInt(value);
  const negative = fen < 0n;
  const abs = negative ? -fen : fen;
  const yuan = groupThousands((abs / 100n).toString());
  const cents = (abs % 100n).toString().padStart(2, '0');
  return `${negative ? '-' : ''}¥${yuan}.${cents}`;
}

/** Same as formatFen, or a dash for a missing amount. */
export function formatFenOrDash(value: FenValue | null | undefined): string {
  return value === null || value === undefined ? '—' : formatFen(value);
}

/**
 * Parse what a person types as yuan (`1,234.5`, `¥12`, `0.07`) into whole fen.
 * Returns null for anything that is not a non-negative amount with at most two decimals.
 */
export function parseYuanToFen(input: string): number | null {
  const text = input.trim().replace(/^¥/, '').replace(/,/g, '');
  const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(text);
  if (!match) return null;
  const fen = BigInt(match[1] ?? '0') * 100n + BigInt((match[2] ?? '').padEnd(2, '0'));
  if (fen > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return Number(fen);
}

/** Whole fen → yuan as text with two decimals and no symbol, for form inputs. */
export function fenToYuanText(value: FenValue): string {
  return formatFen(value).replace('¥', '').replace(/,/g, '');
}
