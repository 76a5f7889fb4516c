/** JSON details (notices, audit arguments) as short `key value` pairs for a table cell. */
export function detailPairs(detail: unknown, max = 6): [string, string][] {
  if (!detail || typeof detail !== 'object' || Array.isArray(detail)) return [];
  return Object.entries(detail as Record<string, unknown>)
    .slice(0, max)
    .map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]);
}
