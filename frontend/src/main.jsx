// accessgraph GraphiQL entry point. Bundled by ../build.mjs into
// src/accessgraph/static/graphiql/graphiql.{js,css}; everything (code, CSS,
// fonts, Monaco web workers) is served from our own origin - no CDN.
import { GraphiQL } from 'graphiql';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import '@graphiql/react/font/roboto.css';
import '@graphiql/react/font/fira-code.css';

// Folder this script was loaded from (".../static/graphiql/"); the Monaco
// workers sit next to it in "workers/". Falls back to the canonical mount.
const ASSET_BASE = new URL(
  '.',
  (document.currentScript && document.currentScript.src) ||
    new URL('/static/graphiql/graphiql.js', window.location.href).href,
);

const WORKERS = {
  json: 'json.worker.js',
  graphql: 'graphql.worker.js',
  editor: 'editor.worker.js',
};

// Monaco asks for a worker per language; all three are bundled locally
// (see build.mjs) and loaded as classic same-origin workers.
globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const file = WORKERS[label] || WORKERS.editor;
    return new Worker(new URL(`workers/${file}`, ASSET_BASE), {
      name: `monaco-${label}`,
    });
  },
};

const GRAPHQL_URL = new URL('/graphql', window.location.href).href;

// Minimal HTTP fetcher: JSON POST to /graphql on this origin. The session
// cookie set by the `login` mutation is sent (credentials: 'same-origin');
// headers typed into the Headers tab (e.g. Authorization: Bearer ...) are
// merged in. No websockets / multipart needed for this API.
async function fetcher(graphQLParams, opts) {
  const response = await fetch(GRAPHQL_URL, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json;q=0.9',
      ...(opts && opts.headers),
    },
    body: JSON.stringify(graphQLParams),
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return {
      errors: [
        {
          message: `Non-JSON response (HTTP ${response.status} ${response.statusText})`,
          extensions: { body: text.slice(0, 2000) },
        },
      ],
    };
  }
}

// Keep GraphiQL's localStorage keys apart from other GraphiQL instances on
// the same origin.
const NAMESPACE = 'accessgraph:graphiql';
const storage = {
  get length() {
    return localStorage.length;
  },
  key: (i) => localStorage.key(i),
  clear: () => {
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const k = localStorage.key(i);
      if (k && k.startsWith(`${NAMESPACE}:`)) localStorage.removeItem(k);
    }
  },
  getItem: (key) => localStorage.getItem(`${NAMESPACE}:${key}`),
  setItem: (key, value) => localStorage.setItem(`${NAMESPACE}:${key}`, value),
  removeItem: (key) => localStorage.removeItem(`${NAMESPACE}:${key}`),
};

const DEFAULT_QUERY = `# Welcome to the accessgraph GraphQL API.
#
# Log in first: the login mutation sets an httpOnly
# session cookie that this page sends with every request.
# (Or put a token in the Headers tab below, e.g.
#  {"Authorization": "Bearer <token>"}.)
#
# mutation Login {
#   login(input: {email: "you@example.com", password: "..."}) {
#     viewer { email }
#     errors { code message }
#   }
# }
#
# Then ask who you are:

query Viewer {
  viewer {
    email
    role
  }
}
`;

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    storage={storage}
    defaultQuery={DEFAULT_QUERY}
    defaultHeaders={'{}'}
    isHeadersEditorEnabled
    defaultEditorToolsVisibility="headers"
    shouldPersistHeaders={false}
  />,
);
