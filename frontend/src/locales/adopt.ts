/**
 * Which language a browser shows: a choice made in this browser (the header switch) wins;
 * without one, the browser takes the language the person chose elsewhere and the server
 * keeps with them (`viewer.language`), and keeps following it while no local choice is made.
 * Pure: the caller reads and writes the storage.
 */
import type { Language } from '@/api/generated/graphql';
import type { Locale } from './index';

/** The server's `Language` (what `setMyLanguage` stored). */
export type StoredLanguage = Language;

/** What this browser remembers: the locale it shows, and whether it was taken from the
 * person's stored language (true) rather than chosen here (false). */
export interface LocalChoice {
  locale: Locale | null;
  adopted: boolean;
}

export function localeOf(language: StoredLanguage): Locale {
  return language === 'EN' ? 'en' : 'zh-CN';
}

/** The locale to switch to once the person's stored language is known; null: keep as is. */
export function localeToAdopt(stored: StoredLanguage | null | undefined, local: LocalChoice): Locale | null {
  if (!stored) return null; // the person never chose: this browser's default or choice stays
  if (local.locale !== null && !local.adopted) return null; // chosen in this browser
  const wanted = localeOf(stored);
  return local.locale === wanted ? null : wanted;
}
