/**
 * One toast per message: when several requests fail together (the network is down and a
 * page has three queries), the same words are shown once while the first is still up.
 * Pure: the caller passes the time, so it is tested without timers.
 */
export class Deduper {
  private readonly until = new Map<string, number>();

  constructor(private readonly windowMs: number) {}

  /** True when `text` should be shown now; false while the same text is still showing. */
  admit(text: string, nowMs: number): boolean {
    for (const [key, end] of this.until) if (end <= nowMs) this.until.delete(key);
    if (this.until.has(text)) return false;
    this.until.set(text, nowMs + this.windowMs);
    return true;
  }
}
