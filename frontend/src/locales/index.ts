/**
 * vue-i18n: zh-CN by default, English on request; the choice is remembered per browser.
 * A browser without a choice of its own takes the person's stored language once signed
 * in (adopt.ts), and remembers it as taken, not chosen.
 */
import { createI18n } from 'vue-i18n';
import { setApiLocale } from '@/api/client';
import { localeToAdopt, type LocalChoice, type StoredLanguage } from './adopt';
import en from './en';
import zhCN from './zh-CN';

export type Locale = 'zh-CN' | 'en';
export type MessageSchema = typeof zhCN;
export const LOCALES: readonly Locale[] = ['zh-CN', 'en'];
const STORAGE_KEY = 'ib.locale';
// Set when the remembered locale was taken from the person's stored language, not chosen
// in this browser: the next stored language replaces it.
const ADOPTED_KEY = 'ib.localeAdopted';

function localChoice(): LocalChoice {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'zh-CN' || saved === 'en') return { locale: saved, adopted: localStorage.getItem(ADOPTED_KEY) === '1' };
  } catch {
    // storage can be off (private mode); fall through to the default
  }
  return { locale: null, adopted: false };
}

function initialLocale(): Locale {
  return localChoice().locale ?? 'zh-CN';
}

export const i18n = createI18n<[MessageSchema], Locale, false>({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
  missingWarn: false,
  fallbackWarn: false,
});

export function currentLocale(): Locale {
  return i18n.global.locale.value;
}

function show(locale: Locale): void {
  i18n.global.locale.value = locale;
  setApiLocale(locale);
  document.documentElement.lang = locale;
}

/** A choice made in this browser (the header switch): it wins over the stored language. */
export function setLocale(locale: Locale): void {
  show(locale);
  try {
    localStorage.setItem(STORAGE_KEY, locale);
    localStorage.removeItem(ADOPTED_KEY);
  } catch {
    // not remembered, still switched
  }
}

/** The signed-in person's stored language (`viewer.language`), shown unless this browser
 * has a choice of its own. */
export function adoptStoredLanguage(stored: StoredLanguage | null | undefined): void {
  const locale = localeToAdopt(stored, localChoice());
  if (locale === null) return;
  show(locale);
  try {
    localStorage.setItem(STORAGE_KEY, locale);
    localStorage.setItem(ADOPTED_KEY, '1');
  } catch {
    // shown, not remembered: taken again at the next page load
  }
}

setApiLocale(currentLocale());
