/**
 * Walk a Relay connection to its end (for exports), pacing itself under the API's
 * query-cost budget: a THROTTLED answer waits and tries the same page again.
 */
import { ApiError } from '@/api/client';

export interface Page<T> {
  nodes: T[];
  hasNextPage: boolean;
  endCursor: string | null | undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function fetchAll<T>(
  load: (after: string | null) => Promise<Page<T>>,
  { limit = 20_000, onProgress }: { limit?: number; onProgress?: (count: number) => void } = {},
): Promise<{ items: T[]; truncated: boolean }> {
  const items: T[] = [];
  let after: string | null = null;
  for (let tries = 0; ; ) {
    let page: Page<T>;
    try {
      page = await load(after);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'THROTTLED' && tries < 10) {
        tries += 1;
        await sleep(1500 * tries);
        continue;
      }
      throw e;
    }
    tries = 0;
    items.push(...page.nodes);
    onProgress?.(items.length);
    if (items.length >= limit) return { items: items.slice(0, limit), truncated: page.hasNextPage || items.length > limit };
    if (!page.hasNextPage || !page.endCursor) return { items, truncated: false };
    after = page.endCursor;
  }
}
