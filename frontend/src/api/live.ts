/**
 * Live updates: GraphQL subscriptions over a WebSocket to /graphql (graphql-transport-ws).
 * The socket carries the session cookie like any request to the same origin. The
 * `graphql-ws` client is loaded only when the first subscription starts (after the page
 * has painted), so it costs nothing on a cold visit of the overview. Closed with 4401
 * means the session is over: the console signs out like on a 401. Closed with 4429, the
 * person has too many live sockets open (other tabs): this tab's pages work without
 * pushes, and it does not retry, which would only be refused again.
 */
import { subscriptionExchange, type Exchange } from '@urql/core';
import type { Client as SocketClient, ClientOptions } from 'graphql-ws';

export const UNAUTHENTICATED_CLOSE = 4401;
export const TOO_MANY_SOCKETS_CLOSE = 4429;

interface LiveOptions {
  language: () => string;
  sessionLost: () => void;
}

let socket: Promise<SocketClient> | null = null;

function socketUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === 'https:' ? 'wss:' : 'ws:'}//${host}/graphql`;
}

/** The graphql-ws client's options, but for the URL. */
export function socketOptions(options: LiveOptions): Omit<ClientOptions, 'url'> {
  return {
    // The server's messages (typed refusals) in the console's language.
    connectionParams: () => ({ lang: options.language() }),
    lazy: true,
    // Moving from one page to the next keeps the socket; an idle one is pinged so
    // proxies do not drop it.
    lazyCloseTimeout: 10_000,
    keepAlive: 30_000,
    // A restarted server: try again, a little later each time, for about a minute.
    // graphql-ws never retries 4401 nor 4429 (tests/unit/liveSocket.test.ts).
    retryAttempts: 8,
    on: {
      closed: (event) => {
        if ((event as CloseEvent | undefined)?.code === UNAUTHENTICATED_CLOSE) options.sessionLost();
      },
    },
  };
}

function open(options: LiveOptions): Promise<SocketClient> {
  socket ??= import('graphql-ws').then(({ createClient }) => createClient({ url: socketUrl(), ...socketOptions(options) }));
  return socket;
}

/** Close the socket (signing out): the next subscription opens a new one. */
export function closeLive(): void {
  const closing = socket;
  socket = null;
  void closing?.then((client) => client.dispose());
}

export function liveExchange(options: LiveOptions): Exchange {
  return subscriptionExchange({
    forwardSubscription(request) {
      const payload = { ...request, query: request.query ?? '' };
      return {
        subscribe(sink) {
          let stop: (() => void) | null = null;
          let stopped = false;
          open(options).then(
            (client) => {
              if (!stopped) stop = client.subscribe(payload, sink);
            },
            (error: unknown) => sink.error(error),
          );
          return {
            unsubscribe() {
              stopped = true;
              stop?.();
            },
          };
        },
      };
    },
  });
}
