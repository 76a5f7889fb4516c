/**
 * Answers that are still fresh enough to show again without asking: the header's status,
 * the names of institutions and people. Any mutation forgets them all (api/client.ts), so
 * a change the person made is never hidden behind a cached answer.
 */
export class FreshCache {
  private readonly entries = new Map<string, { at: number; data: unknown }>();

  constructor(private readonly now: () => number = () => Date.now()) {}

  get<D>(key: string, maxAgeMs: number): D | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.at > maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.data as D;
  }

  set(key: string, data: unknown): void {
    this.entries.set(key, { at: this.now(), data });
  }

  clear(): void {
    this.entries.clear();
  }
}

interface NamedDocument {
  definitions?: readonly { kind: string; name?: { value: string } }[];
}

/** The operation's name with its variables: one key per question asked. */
export function cacheKey(document: unknown, variables: unknown): string {
  const definitions = (document as NamedDocument).definitions ?? [];
  const name = definitions.find((d) => d.kind === 'OperationDefinition')?.name?.value ?? '?';
  return `${name} ${JSON.stringify(variables)}`;
}
