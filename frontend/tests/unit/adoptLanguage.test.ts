import { describe, expect, it } from 'vitest';
import { localeToAdopt } from '@/locales/adopt';

const nothingLocal = { locale: null, adopted: false } as const;

describe('the language a browser adopts from the person', () => {
  it('takes the stored language when this browser has no choice of its own', () => {
    expect(localeToAdopt('EN', nothingLocal)).toBe('en');
    expect(localeToAdopt('ZH_CN', { locale: 'en', adopted: true })).toBe('zh-CN');
  });

  it('keeps a choice made in this browser over the stored language', () => {
    expect(localeToAdopt('EN', { locale: 'zh-CN', adopted: false })).toBeNull();
    expect(localeToAdopt('ZH_CN', { locale: 'en', adopted: false })).toBeNull();
  });

  it('keeps following the stored language once taken, until a choice is made here', () => {
    // taken from the person before, and they chose again elsewhere since
    expect(localeToAdopt('ZH_CN', { locale: 'en', adopted: true })).toBe('zh-CN');
    // already showing it: nothing to switch
    expect(localeToAdopt('EN', { locale: 'en', adopted: true })).toBeNull();
  });

  it('changes nothing for a person who never chose', () => {
    expect(localeToAdopt(null, nothingLocal)).toBeNull();
    expect(localeToAdopt(undefined, { locale: 'en', adopted: true })).toBeNull();
  });
});

describe('the console adopting the stored language (storage of this browser)', () => {
  it('shows and remembers it without a local choice; a choice made after that wins', async () => {
    localStorage.clear();
    const { adoptStoredLanguage, currentLocale, setLocale } = await import('@/locales');
    // a browser that never chose: the person's English is shown and remembered
    adoptStoredLanguage('EN');
    expect(currentLocale()).toBe('en');
    expect(localStorage.getItem('ib.locale')).toBe('en');
    expect(document.documentElement.lang).toBe('en');
    // the person then picks Chinese in this browser: stored as now, and it wins
    setLocale('zh-CN');
    adoptStoredLanguage('EN');
    expect(currentLocale()).toBe('zh-CN');
    expect(localStorage.getItem('ib.locale')).toBe('zh-CN');
  });
});
