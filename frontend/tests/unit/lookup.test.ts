import { describe, expect, it } from 'vitest';
import en from '@/locales/en';
import zh from '@/locales/zh-CN';
import { onlyLicensed, remainingPercent } from '@/pages/ai/reading/figures';
import { viewableText } from '@/pages/exams/lookup/viewable';
import { formatZoned } from '@/utils/time';
import { isStudyUid } from '@/utils/uid';

function translator(messages: Record<string, unknown>) {
  return (key: string, values: Record<string, string> = {}) => {
    const text = key.split('.').reduce<unknown>((m, k) => (m as Record<string, unknown>)[k], messages) as string;
    return text.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? '');
  };
}

describe('exam look-up words', () => {
  it('says a voided exam was voided, not that its storage ended', () => {
    const voided = { viewable: false, voidedAt: '2026-11-30T02:00:00Z' };
    expect(viewableText(voided, translator(zh))).toBe('不可调阅（已作废）');
    expect(viewableText(voided, translator(en))).toBe('Not viewable (voided)');
    expect(viewableText({ viewable: false, voidedAt: null }, translator(zh))).toBe('不可调阅（存储期已过）');
    expect(viewableText({ viewable: true }, translator(en))).toBe('Viewable / downloadable');
  });

  it('knows a DICOM UID as the server does (R-EXAM-4)', () => {
    expect(isStudyUid('1.2.840.113619.2.55.3')).toBe(true);
    expect(isStudyUid('12')).toBe(true);
    for (const bad of ['', '1.2.abc', '1..2', '.1', '1.', '1 2', '1'.repeat(65)]) expect(isStudyUid(bad), bad).toBe(false);
    expect(isStudyUid('1'.repeat(64))).toBe(true);
  });

  it('says the zone of a time in words', () => {
    expect(formatZoned('2026-03-01T16:05:00Z', translator(zh))).toBe('2026-03-02 00:05（北京时间）');
    expect(formatZoned('2026-03-01T16:05:00Z', translator(en))).toBe('2026-03-02 00:05 (China Standard Time)');
    expect(formatZoned(null, translator(en))).toBe('—');
  });
});

describe('AI figures (R-AI-4/5)', () => {
  it('shows a product held only by licence as unlimited, not 0 of 0', () => {
    expect(onlyLicensed({ remaining: 0, bought: 0, licensedInstitutions: 1, licenceReads: 40 })).toBe(true);
    expect(onlyLicensed({ remaining: 5, bought: 1000, licensedInstitutions: 1, licenceReads: 40 })).toBe(false);
    expect(onlyLicensed({ remaining: 0, bought: 0, licensedInstitutions: 0, licenceReads: 0 })).toBe(false);
    expect(remainingPercent({ remaining: 250, bought: 1000, licensedInstitutions: 0, licenceReads: 0 })).toBe(25);
    expect(remainingPercent({ remaining: 0, bought: 0, licensedInstitutions: 1, licenceReads: 0 })).toBe(0);
  });
});

describe('login form', async () => {
  const { missingLoginFields } = await import('@/pages/login/check');
  it('refuses empty fields before sending', () => {
    expect(missingLoginFields('', '')).toEqual(['email', 'password']);
    expect(missingLoginFields('  ', 'secret password')).toEqual(['email']);
    expect(missingLoginFields('a@b.cn', '   ')).toEqual(['password']);
    expect(missingLoginFields('a@b.cn', 'secret password')).toEqual([]);
  });
});
