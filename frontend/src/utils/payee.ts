/**
 * Paying by bank transfer (R-ORD-1): the payee as people copy it onto a transfer, and
 * what an irreversible payment step says before it acts.
 */

/** `6222020012345678901` → `6222 0200 1234 5678 901`: groups of four, as on a bank card. */
export function groupAccountNumber(digits: string): string {
  return digits.replace(/\s+/g, '').replace(/(.{4})(?=.)/g, '$1 ');
}

/** What a person types: digits, spaces and hyphens between groups; the server checks it. */
export function accountDigits(typed: string): string {
  return typed.replace(/[\s-]+/g, '');
}

export interface TransferLine {
  label: string;
  value: string;
  /** Shown in a monospaced face and copied as is. */
  copy?: boolean;
}

export interface PayeeLike {
  name: string;
  bank: string;
  accountNumber: string;
}

type Translate = (key: string) => string;

/**
 * The lines of a transfer instruction, in the order a bank's form asks for them; the
 * order number is the reference to write so the operator matches the money to one order.
 */
export function transferLines(payee: PayeeLike, orderNumber: string, amount: string, t: Translate): TransferLine[] {
  return [
    { label: t('pay.payeeName'), value: payee.name },
    { label: t('pay.payeeBank'), value: payee.bank },
    { label: t('pay.payeeAccount'), value: groupAccountNumber(payee.accountNumber), copy: true },
    { label: t('pay.amount'), value: amount },
    { label: t('pay.remittanceReference'), value: orderNumber, copy: true },
  ];
}
