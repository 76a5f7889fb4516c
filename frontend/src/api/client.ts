/**
 * The one urql client. Requests go to the same origin with the session cookie, as
 * `application/json` POSTs (the server's CSRF rule for cookie sessions), with
 * `Accept-Language` set to the console's language so `userErrors.message` matches it.
 * A 401 anywhere means the session is gone: the handler sends the user to /login.
 * Subscriptions go over a WebSocket (api/live.ts).
 */
import { cacheKey, FreshCache } from './fresh';
import { liveExchange } from './live';
import { Client, fetchExchange, type AnyVariables, type CombinedError, type DocumentInput, type OperationResult } from '@urql/core';

export type ApiLocale = 'zh-CN' | 'en';

let locale: ApiLocale = 'zh-CN';
let sessionLost: () => void = () => undefined;

export function setApiLocale(value: ApiLocale): void {
  locale = value;
}

export function onSessionLost(handler: () => void): void {
  sessionLost = handler;
}

export class ApiError extends Error {
  readonly code: string | null;
  readonly unauthenticated: boolean;
  readonly network: boolean;

  constructor(message: string, code: string | null, unauthenticated = false, network = false) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.unauthenticated = unauthenticated;
    this.network = network;
  }
}

async function fetchWithSession(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  if (response.status === 401) sessionLost();
  return response;
}

export const client = new Client({
  url: '/graphql',
  exchanges: [liveExchange({ language: () => locale, sessionLost: () => sessionLost() }), fetchExchange],
  preferGetMethod: false,
  requestPolicy: 'network-only',
  fetch: fetchWithSession,
  fetchOptions: () => ({ credentials: 'same-origin', headers: { 'Accept-Language': locale } }),
});

export function toApiError(error: CombinedError): ApiError {
  const first = error.graphQLErrors[0];
  const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : null;
  const status = (error.response as Response | undefined)?.status;
  const unauthenticated = code === 'UNAUTHENTICATED' || status === 401;
  if (first) return new ApiError(first.message, code, unauthenticated);
  return new ApiError(error.networkError?.message ?? error.message, code, unauthenticated, true);
}

function unwrap<D>(result: OperationResult<D>): D {
  if (result.error) throw toApiError(result.error);
  if (result.data === undefined || result.data === null) throw new ApiError('Empty response', null);
  return result.data;
}

const fresh = new FreshCache();
// Answers asked for ahead of the page that will show them, each taken once (PRIMED_MS).
const primed = new Map<string, { at: number; answer: Promise<unknown> }>();
const PRIMED_MS = 10_000;

/** Ask now for what a page about to open will ask: its own request then takes this answer. */
export function prefetch<D, V extends AnyVariables>(document: DocumentInput<D, V>, variables: V): void {
  const answer = client.query(document, variables).toPromise().then(unwrap);
  answer.catch(() => undefined); // the page asks again and reports it
  primed.set(cacheKey(document, variables), { at: Date.now(), answer });
}

function takePrimed<D>(key: string): Promise<D> | undefined {
  const entry = primed.get(key);
  primed.delete(key);
  return entry && Date.now() - entry.at <= PRIMED_MS ? (entry.answer as Promise<D>) : undefined;
}

/** Ask the server; with `maxAgeMs`, an answer that old or younger is shown again instead. */
export async function query<D, V extends AnyVariables>(document: DocumentInput<D, V>, variables: V, maxAgeMs = 0): Promise<D> {
  const waiting = primed.size > 0 ? takePrimed<D>(cacheKey(document, variables)) : undefined;
  if (waiting) {
    try {
      return await waiting;
    } catch {
      // asked again below
    }
  }
  const key = maxAgeMs > 0 ? cacheKey(document, variables) : null;
  const cached = key ? fresh.get<D>(key, maxAgeMs) : undefined;
  if (cached !== undefined) return cached;
  const data = unwrap(await client.query(document, variables).toPromise());
  if (key) fresh.set(key, data);
  return data;
}

export async function mutate<D, V extends AnyVariables>(document: DocumentInput<D, V>, variables: V): Promise<D> {
  fresh.clear();
  primed.clear();
  try {
    return unwrap(await client.mutation(document, variables).toPromise());
  } finally {
    // Also after: a query answered while the mutation ran may hold the state before it.
    fresh.clear();
  }
}
