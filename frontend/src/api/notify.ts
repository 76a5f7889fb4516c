/** Errors the user must see go through TDesign's MessagePlugin, in the console's language. */
import { MessagePlugin } from 'tdesign-vue-next';
import { i18n } from '@/locales';
import { ApiError } from './client';

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
  void MessagePlugin.error({ content: errorText(error), duration: 5000 });
}

export function reportSuccess(text: string): void {
  void MessagePlugin.success({ content: text, duration: 3000 });
}
