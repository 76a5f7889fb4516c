import { describe, expect, it } from 'vitest';
import { cacheKey, FreshCache } from '@/api/fresh';

describe('fresh answers', () => {
  it('shows an answer again until it is older than asked, then asks', () => {
    // given an answer cached at t=0
    let now = 0;
    const cache = new FreshCache(() => now);
    cache.set('AccountHeader {"id":"A"}', { status: 'ACTIVE' });
    // then it is served while young enough, and forgotten once older
    now = 60_000;
    expect(cache.get('AccountHeader {"id":"A"}', 60_000)).toEqual({ status: 'ACTIVE' });
    now = 60_001;
    expect(cache.get('AccountHeader {"id":"A"}', 60_000)).toBeUndefined();
  });

  it('forgets everything when told (after any mutation)', () => {
    const cache = new FreshCache(() => 0);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.clear();
    expect(cache.get('a', 1_000)).toBeUndefined();
    expect(cache.get('b', 1_000)).toBeUndefined();
  });

  it('keys an operation by its name and variables', () => {
    const document = { kind: 'Document', definitions: [{ kind: 'OperationDefinition', name: { kind: 'Name', value: 'AccountHeader' } }] };
    expect(cacheKey(document, { id: 'A' })).toBe('AccountHeader {"id":"A"}');
    expect(cacheKey(document, { id: 'B' })).not.toBe(cacheKey(document, { id: 'A' }));
  });
});
