import { describe, expect, it } from 'vitest';
import { forfeitLines, runOutHint, type Forecast } from '@/pages/overview/dashboard/forecast';
import en from '@/locales/en';
import zh from '@/locales/zh-CN';

function translator(messages: Record<string, unknown>) {
  return (key: string, values: Record<string, string> = {}) => {
    const text = key.split('.').reduce<unknown>((m, k) => (m as Record<string, unknown>)[k], messages) as string;
    return text.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? '');
  };
}

const expiring: Forecast = {
  reason: 'LAST_LOT_EXPIRES',
  daysLeft: 366,
  on: '2027-12-02',
  projectedForfeitTotal: 9_605,
  lots: [{ expiresAt: '2027-12-02T00:00:00+00:00', projectedForfeit: 9_605 }],
};

describe('run-out forecast sentences (R-GEN-9)', () => {
  it('says the last lot expires, with what is forfeited, instead of a date years away', () => {
    const zhText = runOutHint(expiring, translator(zh), 'zh-CN');
    expect(zhText).toBe('按近 30 天用量，最后一批资源将于 2027-12-02 到期，届时约 9,605 例未用作废');
    expect(runOutHint(expiring, translator(en), 'en')).toContain('expires on 2027-12-02 with about 9,605 exams unused');
  });

  it('says when a lot is used up before it expires', () => {
    const usedUp: Forecast = { ...expiring, reason: 'USED_UP', daysLeft: 30, on: '2026-12-31', projectedForfeitTotal: 0, lots: [] };
    expect(runOutHint(usedUp, translator(zh), 'zh-CN')).toBe('按近 30 天用量，约 30 天后（2026-12-31）用完');
  });

  it('speaks of arrears when nothing is available, and of expiry when nothing is used', () => {
    const none: Forecast = { reason: 'NOTHING_AVAILABLE', daysLeft: 0, on: '2026-12-01', projectedForfeitTotal: 0, lots: [] };
    expect(runOutHint(none, translator(en), 'en')).toBe(en.figures.ranOut);
    const idle: Forecast = { ...expiring, reason: 'NO_USAGE', daysLeft: null, on: null };
    expect(runOutHint(idle, translator(zh), 'zh-CN')).toBe(zh.figures.noUsageForecast);
  });

  it('lists each lot that will forfeit exams, in Shanghai days', () => {
    const forecast: Forecast = {
      ...expiring,
      lots: [
        { expiresAt: '2027-11-12T16:00:00+00:00', projectedForfeit: 19_542 },
        { expiresAt: '2028-01-01T00:00:00+00:00', projectedForfeit: 0 },
      ],
    };
    expect(forfeitLines(forecast, translator(zh), 'zh-CN')).toEqual(['19,542 例将于 2027-11-13 到期作废']);
    expect(forfeitLines(null, translator(zh), 'zh-CN')).toEqual([]);
  });
});
