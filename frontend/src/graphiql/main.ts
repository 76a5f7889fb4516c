/**
 * GraphiQL for /graphql, bundled (no CDN). The page is served by the backend for a
 * browser's GET /graphql; requests go to the same origin with the session cookie, and
 * the headers pane still accepts `{"Authorization": "Bearer …"}` for operator tokens.
 */
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/graphiql.css';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';

const fetcher = createGraphiQLFetcher({
  url: '/graphql',
  fetch: (input, init) => fetch(input, { ...init, credentials: 'same-origin' }),
});

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
    }),
  );
}
