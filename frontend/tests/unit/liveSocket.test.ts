import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import { socketOptions, TOO_MANY_SOCKETS_CLOSE, UNAUTHENTICATED_CLOSE } from '@/api/live';

/** A server that accepts the socket and closes it with `code` at `connection_init`. */
function refusingServer(code: number) {
  const opened: FakeSocket[] = [];
  class FakeSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    readyState = FakeSocket.CONNECTING;
    onopen: (() => void) | null = null;
    onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null = null;
    onerror: ((error: unknown) => void) | null = null;
    onmessage: ((event: { data: string }) => void) | null = null;
    constructor() {
      opened.push(this);
      setTimeout(() => {
        this.readyState = FakeSocket.OPEN;
        this.onopen?.();
      }, 0);
    }
    send(data: string): void {
      if ((JSON.parse(data) as { type: string }).type === 'connection_init') setTimeout(() => this.close(code, 'refused'), 0);
    }
    close(closeCode = 1000, reason = ''): void {
      if (this.readyState === FakeSocket.CLOSED) return;
      this.readyState = FakeSocket.CLOSED;
      this.onclose?.({ code: closeCode, reason, wasClean: true });
    }
  }
  return { opened, FakeSocket };
}

async function attemptsUntilGivenUp(code: number): Promise<{ attempts: number; lost: number }> {
  const { opened, FakeSocket } = refusingServer(code);
  let lost = 0;
  const client = createClient({
    ...socketOptions({ language: () => 'en', sessionLost: () => (lost += 1) }),
    url: 'ws://console.test/graphql',
    webSocketImpl: FakeSocket,
    retryWait: () => Promise.resolve(), // the backoff's length is not what is tested
  });
  await new Promise<void>((done) => {
    client.subscribe({ query: 'subscription { accountChanged(accountId: "1") { accountId } }' }, { next: () => undefined, error: () => done(), complete: () => done() });
  });
  await client.dispose();
  return { attempts: opened.length, lost };
}

describe('the live socket refused by the server', () => {
  it('is not opened again when the person has too many sockets (4429)', async () => {
    expect(await attemptsUntilGivenUp(TOO_MANY_SOCKETS_CLOSE)).toEqual({ attempts: 1, lost: 0 });
  });

  it('is not opened again when the session is over (4401), and the console signs out', async () => {
    expect(await attemptsUntilGivenUp(UNAUTHENTICATED_CLOSE)).toEqual({ attempts: 1, lost: 1 });
  });

  it('is opened again, a bounded number of times, when the server went away', async () => {
    expect(await attemptsUntilGivenUp(1001)).toEqual({ attempts: 9, lost: 0 });
  });
});
