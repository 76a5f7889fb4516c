/** Ledger entry types in the order people read them, and their tag colours. */
import type { LedgerEntryType } from '@/api/generated/graphql';

export const LEDGER_TYPES: LedgerEntryType[] = ['PURCHASE', 'CONSUMPTION', 'ARREARS', 'SETTLEMENT', 'EXPIRY', 'VOID', 'ADJUSTMENT'];

export const LEDGER_THEMES: Record<LedgerEntryType, 'primary' | 'success' | 'warning' | 'danger' | 'default'> = {
  PURCHASE: 'success',
  CONSUMPTION: 'primary',
  ARREARS: 'danger',
  SETTLEMENT: 'success',
  EXPIRY: 'warning',
  VOID: 'default',
  ADJUSTMENT: 'warning',
};

/** `+1,234` / `-5` / `0`, grouped in the console's language. */
export function signed(n: number, locale: string): string {
  return `${n > 0 ? '+' : ''}${n.toLocaleString(locale)}`;
}
