/**
 * The one urql client. Requests go to the same origin with the session cookie, as
 * `application/json` POSTs (the server's CSRF rule for cookie sessions), with
 * `Accept-Language` set to the console's language so `userErrors.message` matches it.
 * A 401 anywhere means the session is gone: the handler sends the user to /login.
 */
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
  exchanges: [fetchExchange],
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

export async function query<D, V extends AnyVariables>(document: DocumentInput<D, V>, variables: V): Promise<D> {
  return unwrap(await client.query(document, variables).toPromise());
}

export async function mutate<D, V extends AnyVariables>(document: DocumentInput<D, V>, variables: V): Promise<D> {
  return unwrap(await client.mutation(document, variables).toPromise());
}
