/**
 * A list that failed to load is not an empty list: its table says the request failed
 * ("无法加载：无法连接服务器…") instead of "暂无订单".
 */
import { errorText } from '@/api/notify';
import { i18n } from '@/locales';

/** The table's empty text: the failure when the last load failed, else `empty`. */
export function emptyOr(error: unknown, empty: string): string {
  if (!error) return empty;
  return i18n.global.t('errors.loadFailed', { reason: errorText(error) });
}
