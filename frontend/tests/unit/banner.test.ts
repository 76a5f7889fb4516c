import { describe, expect, it } from 'vitest';
import { banner, bannerTone, nextExpiry } from '@/components/banner';
import en from '@/locales/en';
import zh from '@/locales/zh-CN';

function translator(messages: Record<string, unknown>) {
  return (key: string, values: Record<string, string | number> = {}) => {
    const text = key.split('.').reduce<unknown>((m, k) => (m as Record<string, unknown>)[k], messages) as string;
    return text.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ''));
  };
}
const NOW = new Date('2026-12-01T04:00:00Z');

describe('status banner (R-ARR-1..3, R-ARR-2 low balance)', () => {
  it('shows low balance, not "resources sufficient", when available is at or below the threshold', () => {
    const input = { status: 'ACTIVE' as const, available: 9_970, lowBalanceThreshold: 20_000, nextExpiry: { amount: 9_970, at: '2027-12-01T16:00:00Z' } };
    expect(bannerTone(input)).toBe('LOW_BALANCE');
    const shown = banner(input, translator(zh), 'zh-CN', NOW);
    expect(shown.theme).toBe('warning');
    expect(shown.title).toBe('可用资源不足');
    expect(shown.message).toBe('可用 9,970 例，已不高于提醒阈值 20,000 例，请及时购买。最近一批剩余 9,970 例将于 2027-12-02 00:00（北京时间）到期。');
    expect(shown.message).not.toContain('充足');
  });

  it('keeps "good standing" above the threshold and names the next expiry', () => {
    const shown = banner({ status: 'ACTIVE', available: 30_000, lowBalanceThreshold: 20_000, nextExpiry: { amount: 10_000, at: '2027-06-01T00:00:00Z' } }, translator(en), 'en', NOW);
    expect(shown.tone).toBe('ACTIVE');
    expect(shown.message).toContain('10,000 exams left and expires at 2027-06-01 08:00');
  });

  it('does not call an account with nothing available sufficient', () => {
    const shown = banner({ status: 'ACTIVE', available: 0, lowBalanceThreshold: 1_000 }, translator(zh), 'zh-CN', NOW);
    expect(shown.tone).toBe('NONE_AVAILABLE');
    expect(shown.message).toContain('欠费');
  });

  it('says since when uploads are suspended', () => {
    const shown = banner({ status: 'SUSPENDED', arrears: 12, suspendsAt: '2026-11-30T02:00:00Z' }, translator(zh), 'zh-CN', NOW);
    expect(shown.theme).toBe('error');
    expect(shown.message).toContain('自 2026-11-30 10:00（北京时间）起');
    expect(shown.message).toContain('12 例');
  });

  it('finds the soonest-expiring lot that still has exams', () => {
    const lots = [
      { expiresAt: '2027-01-01T00:00:00Z', remaining: 0, expired: false },
      { expiresAt: '2026-11-01T00:00:00Z', remaining: 500, expired: true },
      { expiresAt: '2027-03-01T00:00:00Z', remaining: 700, expired: false },
      { expiresAt: '2027-02-01T00:00:00Z', remaining: 300, expired: false },
    ];
    expect(nextExpiry(lots)).toEqual({ amount: 300, at: '2027-02-01T00:00:00Z' });
    expect(nextExpiry([])).toBeNull();
  });
});
