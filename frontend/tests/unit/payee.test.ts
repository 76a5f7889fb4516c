import { describe, expect, it } from 'vitest';
import { accountDigits, groupAccountNumber, transferLines } from '@/utils/payee';

describe('groupAccountNumber', () => {
  it('groups digits in fours, the last group holding what is left', () => {
    expect(groupAccountNumber('6222020012345678901')).toBe('6222 0200 1234 5678 901');
    expect(groupAccountNumber('12345678')).toBe('1234 5678');
    expect(groupAccountNumber('123456789')).toBe('1234 5678 9');
  });

  it('regroups a number that already has spaces', () => {
    expect(groupAccountNumber('6222 02 0012345678')).toBe('6222 0200 1234 5678');
  });
});

describe('accountDigits', () => {
  it('drops spaces and hyphens a person types between groups', () => {
    expect(accountDigits(' 6222-0200 1234 5678 901 ')).toBe('6222020012345678901');
  });
});

describe('transferLines', () => {
  it('names payee, bank, grouped account, amount and the order number as the reference', () => {
    const lines = transferLines({ name: '示例云影像科技有限公司', bank: '示例银行', accountNumber: '6222020012345678901' }, 'IB202612020001', '¥7,200.00', (k) => k);
    expect(lines.map((l) => [l.label, l.value])).toEqual([
      ['pay.payeeName', '示例云影像科技有限公司'],
      ['pay.payeeBank', '示例银行'],
      ['pay.payeeAccount', '6222 0200 1234 5678 901'],
      ['pay.amount', '¥7,200.00'],
      ['pay.remittanceReference', 'IB202612020001'],
    ]);
    expect(lines.filter((l) => l.copy).map((l) => l.label)).toEqual(['pay.payeeAccount', 'pay.remittanceReference']);
  });
});
