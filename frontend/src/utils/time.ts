/** Times are stored in UTC and shown in Asia/Shanghai (R-GEN-6). */

export const ZONE = 'Asia/Shanghai';
const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000; // no daylight saving since 1991

const partsFormatter = new Intl.DateTimeFormat('en-CA', {
  timeZone: ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

function parts(date: Date): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of partsFormatter.formatToParts(date)) out[p.type] = p.value;
  return out;
}

function toDate(value: string | Date): Date {
  return value instanceof Date ? value : new Date(value);
}

/** `2026-03-01T16:05:00Z` → `2026-03-02 00:05` (Asia/Shanghai); a dash for nothing. */
export function formatDateTime(value: string | Date | null | undefined, seconds = false): string {
  if (value === null || value === undefined || value === '') return '—';
  const p = parts(toDate(value));
  const time = seconds ? `${p.hour}:${p.minute}:${p.second}` : `${p.hour}:${p.minute}`;
  return `${p.year}-${p.month}-${p.day} ${time}`;
}

/** A date-time with the zone said in words ("…（北京时间）"), `t` being the console's translate. */
export function formatZoned(
  value: string | Date | null | undefined,
  t: (key: string, values: Record<string, string>) => string,
  seconds = false,
): string {
  if (value === null || value === undefined || value === '') return '—';
  return t('common.zonedTime', { time: formatDateTime(value, seconds) });
}

/** The Asia/Shanghai calendar day of an instant, `YYYY-MM-DD`. */
export function shanghaiDay(value: string | Date): string {
  const p = parts(toDate(value));
  return `${p.year}-${p.month}-${p.day}`;
}

/** A date-time or a plain `YYYY-MM-DD` date, shown as a Shanghai day; a dash for nothing. */
export function formatDate(value: string | Date | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  return shanghaiDay(value);
}

/** The UTC instant (ISO) at which a Shanghai day `YYYY-MM-DD` begins. */
export function shanghaiDayStart(day: string): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1) - SHANGHAI_OFFSET_MS).toISOString();
}

/** The `n` Shanghai days ending with the day of `now`, oldest first. */
export function lastDays(n: number, now: Date): string[] {
  const today = shanghaiDayStart(shanghaiDay(now));
  const start = new Date(today).getTime();
  const days: string[] = [];
  for (let i = n - 1; i >= 0; i -= 1) days.push(shanghaiDay(new Date(start - i * 86_400_000 + 3_600_000)));
  return days;
}

/** Whole hours (rounded up) from `now` until `until`; 0 once passed. */
export function hoursUntil(until: string | Date, now: Date): number {
  const ms = toDate(until).getTime() - now.getTime();
  return ms <= 0 ? 0 : Math.ceil(ms / 3_600_000);
}

/** `YYYY-MM-DD` plus `n` days. */
export function addDays(day: string, n: number): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + n)).toISOString().slice(0, 10);
}

/** A picked range of Shanghai days as the API's half-open [since, until) instants. */
export function dayRange(range: readonly string[] | null | undefined): { since: string | null; until: string | null } {
  const [from, to] = range ?? [];
  return {
    since: from ? shanghaiDayStart(from) : null,
    until: to ? shanghaiDayStart(addDays(to, 1)) : null,
  };
}
