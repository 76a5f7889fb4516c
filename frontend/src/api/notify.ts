/** Errors the user must see go through TDesign's MessagePlugin, in the console's language. */
import { MessagePlugin } from 'tdesign-vue-next';
import { i18n } from '@/locales';
import { ApiError } from './client';
import { Deduper } from './dedupe';

const ERROR_MS = 5000;
const SUCCESS_MS = 3000;
// As long as a toast stays up, the same words are not stacked under it.
const shownErrors = new Deduper(ERROR_MS);
const shownSuccesses = new Deduper(SUCCESS_MS);

export function errorText(error: unknown): string {
  const { t } = i18n.global;
  if (error instanceof ApiError) {
    if (error.network) return t('errors.network');
    if (error.code === 'THROTTLED') return t('errors.throttled');
    if (error.code === 'FORBIDDEN') return t('errors.forbidden');
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Show an error, except a lost session: the router is already on its way to /login. */
export function reportError(error: unknown): void {
  if (error instanceof ApiError && error.unauthenticated) return;
  const text = errorText(error);
  if (!shownErrors.admit(text, Date.now())) return;
  void MessagePlugin.error({ content: text, duration: ERROR_MS });
}

export function reportSuccess(text: string): void {
  if (!shownSuccesses.admit(text, Date.now())) return;
  void MessagePlugin.success({ content: text, duration: SUCCESS_MS });
}
