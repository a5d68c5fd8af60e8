// urql (@urql/core, which the urql React/Vue/Svelte bindings wrap). Its
// default client sends queries as GET with no Content-Type, which CSRF
// prevention refuses; docs/frontend/clients.md gives the two settings that
// pass it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';
import { expected, recordingFetch, url, wrongCredential } from './suite.js';

const USER_MEETINGS = gql`
  query UrqlUserMeetings($id: ID!) {
    user(id: $id) {
      id
      meetings(first: 4) {
        totalCount
        nodes {
          id
          status
          thread {
            id
            name
          }
        }
      }
    }
  }
`;

function newClient(options, credential = expected.credential) {
  const fetch = recordingFetch();
  const client = new Client({
    url,
    exchanges: [cacheExchange, fetchExchange],
    fetch,
    ...options,
    fetchOptions: () => ({ headers: { Authorization: credential, ...(options.fetchOptions?.headers ?? {}) } }),
  });
  return { client, calls: fetch.calls };
}

test("urql's defaults: a GET without Content-Type, refused by CSRF prevention", async () => {
  const { client, calls } = newClient({});
  const res = await client.query(USER_MEETINGS, { id: '1' }).toPromise();
  assert.equal(calls[0].method, 'GET');
  assert.equal(res.data, undefined);
  assert.equal(res.error.graphQLErrors[0].extensions.code, expected.codes.csrf);
});

// docs/frontend/clients.md's settings: POST for everything, or GET with a header that a
// cross-site form or link cannot send.
for (const c of [
  { name: 'preferGetMethod: false', options: { preferGetMethod: false }, method: 'POST' },
  {
    name: 'GET with GraphQL-Require-Preflight',
    options: { fetchOptions: { headers: { 'GraphQL-Require-Preflight': '1' } } },
    method: 'GET',
  },
]) {
  test(`urql with ${c.name}`, async () => {
    const { client, calls } = newClient(c.options);
    for (const user of expected.users.slice(0, 2)) {
      const res = await client.query(USER_MEETINGS, { id: user.id }).toPromise();
      assert.equal(res.error, undefined, `${res.error}`);
      assert.equal(res.data.user.meetings.totalCount, user.meetingCount);
      assert.deepEqual(
        res.data.user.meetings.nodes.map((m) => [m.id, m.status, m.thread?.name ?? null]),
        user.meetings.slice(0, 4).map((m) => [m.id, m.status, m.threadName]),
      );
    }
    assert.deepEqual(calls.map((call) => call.method), [c.method, c.method]);
  });
}

test('urql: an upstream refusal, its code and path', async () => {
  const { client } = newClient({ preferGetMethod: false }, wrongCredential);
  const res = await client.query(USER_MEETINGS, { id: '1' }).toPromise();
  const err = res.error.graphQLErrors[0];
  assert.equal(err.extensions.code, expected.codes.forbidden);
  assert.deepEqual(err.path, ['user', 'meetings']);
  assert.equal(res.data.user, null);
});

// @defer: @urql/core 6 reads both incremental formats. Its own Accept names
// multipart/mixed without a format, which salesgraph answers in
// deferSpec=20220824; asking for incrementalSpec=v0.2 gets that one.
const USER_DEFERRED = gql`
  query UrqlUserDeferred($id: ID!) {
    user(id: $id) {
      id
      ... @defer {
        threads(first: 2) {
          totalCount
          nodes {
            id
            name
          }
        }
      }
    }
  }
`;

for (const c of [
  { name: "urql's own Accept", accept: undefined, spec: 'deferSpec=20220824' },
  { name: 'incrementalSpec=v0.2', accept: 'multipart/mixed;incrementalSpec=v0.2, application/json;q=0.9', spec: 'incrementalSpec=v0.2' },
]) {
  test(`urql @defer, ${c.name}: the user first, then the threads`, async () => {
    const user = expected.users[1];
    const contentTypes = [];
    const client = new Client({
      url,
      exchanges: [cacheExchange, fetchExchange],
      preferGetMethod: false,
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        contentTypes.push(res.headers.get('content-type'));
        return res;
      },
      fetchOptions: () => ({ headers: { Authorization: expected.credential, ...(c.accept ? { accept: c.accept } : {}) } }),
    });
    const results = await new Promise((resolve) => {
      const seen = [];
      const { unsubscribe } = client.query(USER_DEFERRED, { id: user.id }, { requestPolicy: 'network-only' }).subscribe((r) => {
        seen.push(r);
        if (!r.hasNext) {
          Promise.resolve().then(() => unsubscribe());
          resolve(seen);
        }
      });
    });
    assert.ok(contentTypes[0].includes(c.spec), contentTypes[0]);
    assert.ok(results.length >= 2, `${results.length} results`);
    assert.equal(results[0].hasNext, true);
    assert.equal(results[0].data.user.id, user.id);
    assert.equal(results[0].data.user.threads, undefined, 'threads is not there yet, rather than null');
    const last = results.at(-1);
    assert.equal(last.error, undefined, `${last.error}`);
    assert.equal(last.data.user.threads.totalCount, user.threadCount);
    assert.deepEqual(last.data.user.threads.nodes.map((t) => t.name), user.threads.slice(0, 2).map((t) => t.name));
  });
}

// Persisted documents (docs/frontend/graphql-over-http.md#persisted-documents-documentid):
// @urql/core sends documentId for a document node that carries one and no
// definitions. The suite's server has no allow-list, so the document is
// registered through APQ first, as a build step would register it.
test('urql sends documentId; the server runs the registered document', async () => {
  const user = expected.users[0];
  const text = 'query UrqlThreadCount($id: ID!) { user(id: $id) { threads { totalCount } } }';
  const hex = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
  const { client, calls } = newClient({ preferGetMethod: false });
  const persisted = { kind: 'Document', definitions: [], documentId: `sha256:${hex}` };
  // @urql/core's development build checks the operation's type in its
  // definitions, which a persisted document has none of; its production
  // build, which applications ship, does not. This file's tests run one
  // after another, so the setting is this test's alone.
  const query = async (vars) => {
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      return await client.query(persisted, vars, { requestPolicy: 'network-only' }).toPromise();
    } finally {
      process.env.NODE_ENV = env;
    }
  };

  const unknown = await query({ id: user.id });
  assert.equal(unknown.error.graphQLErrors[0].extensions.code, expected.codes.persistedQueryNotFound);
  assert.equal(calls[0].body.documentId, `sha256:${hex}`);
  assert.equal(calls[0].body.query, undefined);

  const register = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: expected.credential },
    body: JSON.stringify({ query: text, variables: { id: user.id }, extensions: { persistedQuery: { version: 1, sha256Hash: hex } } }),
  });
  assert.equal(register.status, 200);
  const res = await query({ id: user.id });
  assert.equal(res.error, undefined, `${res.error}`);
  assert.equal(res.data.user.threads.totalCount, user.threadCount);
});
