/**
 * GraphiQL for /graphql, bundled (no CDN). The page is served by the backend for a
 * browser's GET /graphql; requests go to the same origin with the session cookie, and
 * the headers pane still accepts `{"Authorization": "Bearer …"}` for operator tokens.
 */
import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/graphiql.css';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import en from '@/locales/en';
import zhCN from '@/locales/zh-CN';
import { operationNameFor } from './operation';

const sent = createGraphiQLFetcher({
  url: '/graphql',
  fetch: (input, init) => fetch(input, { ...init, credentials: 'same-origin' }),
});
// Never a stale operation name: the one the document now holds.
const fetcher: Fetcher = (params, options) => sent({ ...params, operationName: operationNameFor(params.query, params.operationName) }, options);

// The console's language, as the console remembered it (same origin).
function english(): boolean {
  try {
    return localStorage.getItem('ib.locale') === 'en';
  } catch {
    return false;
  }
}
const words = english() ? en.graphiql : zhCN.graphiql;
const back = createElement('a', { href: '/overview', 'data-testid': 'graphiql-back', style: { color: 'inherit' } }, words.back);

const defaultQuery = `# imaging-billing GraphQL API. Signed in to the console? Your session is used.
# Otherwise add {"Authorization": "Bearer <operator token>"} in the Headers pane.
query Me {
  viewer {
    role
    name
    account { id name status examFigures { available used arrears } }
  }
}
`;

const root = document.getElementById('graphiql');
if (root) {
  createRoot(root).render(
    createElement(GraphiQL, {
      fetcher,
      defaultQuery,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: 'headers',
    }, createElement(GraphiQL.Logo, null, back)),
  );
}
