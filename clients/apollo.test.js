// Apollo Client (4), as web frontends configure it: InMemoryCache with
// relayStylePagination for the connections, PersistedQueryLink (APQ), and
// BatchHttpLink against a server with batching on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, NetworkStatus, gql } from '@apollo/client';
import { Defer20220824Handler, GraphQL17Alpha9Handler } from '@apollo/client/incremental';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { relayStylePagination } from '@apollo/client/utilities';
import { batchURL, expected, recordingFetch, url, wrongCredential } from './suite.js';

const headers = { Authorization: expected.credential };

// The cache policy docs/frontend/clients.md gives: every connection keeps its pages in
// one list, whatever first/after or last/before asked; filter, orderBy and
// status tell lists apart.
function newCache() {
  return new InMemoryCache({
    typePolicies: {
      User: {
        fields: {
          meetings: relayStylePagination(['filter', 'orderBy']),
          threads: relayStylePagination(['status']),
        },
      },
    },
  });
}

function newClient(link) {
  return new ApolloClient({ link, cache: newCache() });
}

const USER_MEETINGS = gql`
  query ApolloUserMeetings($id: ID!, $first: Int!, $after: String) {
    user(id: $id) {
      id
      meetings(first: $first, after: $after) {
        totalCount
        edges {
          cursor
          node {
            id
            status
            thread {
              id
              name
            }
          }
        }
        pageInfo {
          endCursor
          hasNextPage
        }
      }
    }
  }
`;

const USER_THREADS = gql`
  query ApolloUserThreads($id: ID!) {
    user(id: $id) {
      id
      threads(first: 2) {
        totalCount
        nodes {
          id
          name
        }
      }
    }
  }
`;

const ALL = gql`
  query ApolloAll($ids: [ID!]!) {
    users(ids: $ids) {
      id
      meetings(first: 100) {
        nodes {
          id
          status
        }
      }
      threads(first: 100) {
        nodes {
          id
          name
        }
      }
    }
  }
`;

function assertMeetings(edges, want) {
  assert.deepEqual(
    edges.map((e) => ({ id: e.node.id, status: e.node.status, threadName: e.node.thread?.name ?? null })),
    want.map((m) => ({ id: m.id, status: m.status, threadName: m.threadName })),
  );
}

test('InMemoryCache merges the pages of a connection', async () => {
  const client = newClient(new HttpLink({ uri: url, headers }));
  const user = expected.users[0];
  const first = await client.query({ query: USER_MEETINGS, variables: { id: user.id, first: 3 } });
  assert.equal(first.data.user.meetings.totalCount, user.meetingCount);
  assertMeetings(first.data.user.meetings.edges, user.meetings.slice(0, 3));
  assert.equal(first.data.user.meetings.pageInfo.hasNextPage, user.meetingCount > 3);

  // The next page, from the network (fetchMore does the same in a UI):
  // the field policy merges it into the cached list.
  await client.query({
    query: USER_MEETINGS,
    variables: { id: user.id, first: 3, after: first.data.user.meetings.pageInfo.endCursor },
    fetchPolicy: 'network-only',
  });
  // Both pages, in order, under one field of the cached user.
  const merged = client.readQuery({ query: USER_MEETINGS, variables: { id: user.id, first: 3 } });
  assertMeetings(merged.user.meetings.edges, user.meetings.slice(0, 6));
});

// docs/frontend/clients.md's warning: relayStylePagination merges `edges`. A query that
// selects only `nodes` gets no list of pages: the cached connection holds
// the last page fetched.
test('relayStylePagination appends pages of edges, not of nodes', async () => {
  const NODES = gql`
    query ApolloUserMeetingNodes($id: ID!, $first: Int!, $after: String) {
      user(id: $id) {
        id
        meetings(first: $first, after: $after) {
          nodes {
            id
          }
          pageInfo {
            endCursor
          }
        }
      }
    }
  `;
  const client = newClient(new HttpLink({ uri: url, headers }));
  const user = expected.users[0];
  const first = await client.query({ query: NODES, variables: { id: user.id, first: 3 } });
  await client.query({
    query: NODES,
    variables: { id: user.id, first: 3, after: first.data.user.meetings.pageInfo.endCursor },
    fetchPolicy: 'network-only',
  });
  const cached = client.readQuery({ query: NODES, variables: { id: user.id, first: 3 } });
  assert.deepEqual(
    cached.user.meetings.nodes.map((m) => m.id),
    user.meetings.slice(3, 6).map((m) => m.id),
    'the second page replaced the first',
  );
});

// Paging backwards: the last threads, then fetchMore with `before` the
// first cursor shown; relayStylePagination puts the earlier page in front.
test('fetchMore pages backwards: the earlier page goes in front', async () => {
  const BACK = gql`
    query ApolloUserThreadsBack($id: ID!, $last: Int!, $before: String) {
      user(id: $id) {
        id
        threads(last: $last, before: $before) {
          totalCount
          edges {
            cursor
            node {
              id
              name
            }
          }
          pageInfo {
            startCursor
            hasPreviousPage
          }
        }
      }
    }
  `;
  const client = newClient(new HttpLink({ uri: url, headers }));
  const user = expected.users.find((u) => u.threads.length >= 5);
  assert.ok(user, 'a user with five threads');
  const observable = client.watchQuery({ query: BACK, variables: { id: user.id, last: 2 } });
  const results = [];
  const complete = new Promise((resolve) => {
    const sub = observable.subscribe((r) => {
      results.push(r);
      if (!r.loading && r.data?.user) resolve(sub);
    });
  });
  const sub = await complete;
  const first = results.at(-1).data.user.threads;
  const n = user.threads.length;
  assert.deepEqual(first.edges.map((e) => e.node.id), user.threads.slice(n - 2).map((t) => t.id));
  assert.equal(first.pageInfo.hasPreviousPage, true);

  await observable.fetchMore({ variables: { last: 3, before: first.pageInfo.startCursor } });
  const merged = client.readQuery({ query: BACK, variables: { id: user.id, last: 2 } });
  assert.deepEqual(
    merged.user.threads.edges.map((e) => e.node.id),
    user.threads.slice(n - 5).map((t) => t.id),
    'the three before, then the two last',
  );
  sub.unsubscribe();
});

test('InMemoryCache keeps a meeting and a thread with the same id apart', async () => {
  const client = newClient(new HttpLink({ uri: url, headers }));
  await client.query({ query: ALL, variables: { ids: expected.all.userIds } });
  const keys = Object.keys(client.cache.extract());
  assert.equal(keys.filter((k) => k.startsWith('Meeting:')).length, expected.all.meetings);
  assert.equal(keys.filter((k) => k.startsWith('Thread:')).length, expected.all.threads);
  const shared = expected.all.sharedIds[0];
  assert.ok(keys.includes(`Meeting:${shared}`) && keys.includes(`Thread:${shared}`), `Meeting:${shared} and Thread:${shared}`);
});

test('PersistedQueryLink sends the hash, then the document once, then only the hash', async () => {
  // docs/frontend/clients.md's hash function: Web Crypto, in browsers and in Node alike.
  const sha256 = async (text) =>
    Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))), (b) =>
      b.toString(16).padStart(2, '0'),
    ).join('');
  const user = expected.users[1];
  const run = async () => {
    const rec = recordingFetch();
    const client = newClient(new PersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: url, headers, fetch: rec })));
    const res = await client.query({ query: USER_THREADS, variables: { id: user.id } });
    assert.equal(res.data.user.threads.totalCount, user.threadCount);
    assert.deepEqual(res.data.user.threads.nodes.map((t) => t.name), user.threads.slice(0, 2).map((t) => t.name));
    return rec.calls;
  };
  const first = await run();
  assert.equal(first.length, 2, 'the unknown hash, then the hash with the document');
  assert.ok(first[0].body.extensions.persistedQuery.sha256Hash && first[0].body.query === undefined);
  assert.ok(first[1].body.query.includes('ApolloUserThreads'));
  const second = await run(); // a new client with an empty cache
  assert.equal(second.length, 1);
  assert.equal(second[0].body.query, undefined, 'the server knows the hash now');
});

test('BatchHttpLink sends one request for several operations', async () => {
  const rec = recordingFetch();
  const client = newClient(new BatchHttpLink({ uri: batchURL, headers, fetch: rec, batchMax: 3, batchInterval: 20 }));
  const users = expected.users.slice(0, 3);
  const results = await Promise.all(users.map((u) => client.query({ query: USER_THREADS, variables: { id: u.id } })));
  assert.equal(rec.calls.length, 1);
  assert.equal(rec.calls[0].body.length, 3);
  results.forEach((res, i) => {
    assert.equal(res.data.user.id, users[i].id);
    assert.equal(res.data.user.threads.totalCount, users[i].threadCount);
    assert.deepEqual(res.data.user.threads.nodes.map((t) => t.id), users[i].threads.slice(0, 2).map((t) => t.id));
  });
});

// A refused batch is answered once per operation, so each operation gets
// the code rather than a length mismatch.
for (const c of [
  { name: 'batching off', uri: url, n: 2, code: expected.codes.batchingDisabled },
  { name: 'over -max-batch-size', uri: batchURL, n: 4, code: expected.codes.batchTooLarge },
]) {
  test(`BatchHttpLink shows the code of a refused batch: ${c.name}`, async () => {
    const client = newClient(new BatchHttpLink({ uri: c.uri, headers, batchMax: 10, batchInterval: 20 }));
    const ids = expected.all.userIds.slice(0, c.n);
    const runs = ids.map((id) => client.query({ query: USER_THREADS, variables: { id } }));
    const settled = await Promise.allSettled(runs);
    assert.equal(settled.length, c.n);
    for (const s of settled) {
      assert.equal(s.status, 'rejected');
      assert.ok(CombinedGraphQLErrors.is(s.reason), `${s.reason}`);
      assert.equal(s.reason.errors[0].extensions.code, c.code);
    }
  });
}

test('Apollo: an upstream refusal, its code and path', async () => {
  const client = newClient(ApolloLink.from([new HttpLink({ uri: url, headers: { Authorization: wrongCredential } })]));
  const res = await client.query({ query: USER_MEETINGS, variables: { id: '1', first: 3 }, errorPolicy: 'all' });
  assert.ok(CombinedGraphQLErrors.is(res.error), `${res.error}`);
  assert.equal(res.error.errors[0].extensions.code, expected.codes.forbidden);
  assert.deepEqual(res.error.errors[0].path, ['user', 'meetings']);
  assert.equal(res.data.user, null, 'meetings is non-null, so the user is null');
});

// @defer: meetings (a slow upstream list) after the user. Apollo Client 4
// needs an incremental handler, one per wire format; each asks for its own
// (Accept), and salesgraph answers in it.
const USER_DEFERRED = gql`
  query ApolloUserDeferred($id: ID!) {
    user(id: $id) {
      id
      ... @defer(label: "meetings") {
        meetings(first: 3) {
          totalCount
          nodes {
            id
            status
          }
        }
      }
    }
  }
`;

for (const c of [
  { handler: Defer20220824Handler, name: 'Defer20220824Handler', spec: 'deferSpec=20220824' },
  { handler: GraphQL17Alpha9Handler, name: 'GraphQL17Alpha9Handler', spec: 'incrementalSpec=v0.2' },
]) {
  test(`Apollo @defer with ${c.name}: streaming without meetings, then complete with them`, async () => {
    const contentTypes = [];
    const rec = recordingFetch();
    const fetchAndRecord = async (input, init) => {
      const res = await rec(input, init);
      contentTypes.push(res.headers.get('content-type'));
      return res;
    };
    const client = new ApolloClient({
      link: new HttpLink({ uri: url, headers, fetch: fetchAndRecord }),
      cache: newCache(),
      incrementalHandler: new c.handler(),
    });
    const user = expected.users[0];
    const results = [];
    await new Promise((resolve, reject) => {
      const sub = client.watchQuery({ query: USER_DEFERRED, variables: { id: user.id } }).subscribe({
        next(r) {
          results.push(r);
          if (r.dataState === 'complete' || r.error) {
            sub.unsubscribe();
            resolve();
          }
        },
        error: reject,
      });
    });
    assert.equal(rec.calls.length, 1);
    assert.ok(rec.calls[0].headers.accept.includes(`multipart/mixed;${c.spec}`), rec.calls[0].headers.accept);
    assert.match(contentTypes[0], new RegExp(`^multipart/mixed;.*${c.spec.replace('.', '\\.')}`), 'answered in the format asked for');

    const last = results.at(-1);
    assert.equal(last.error, undefined, `${last.error}`);
    assert.equal(last.dataState, 'complete');
    assert.equal(last.data.user.id, user.id);
    assert.equal(last.data.user.meetings.totalCount, user.meetingCount);
    assert.deepEqual(
      last.data.user.meetings.nodes.map((m) => ({ id: m.id, status: m.status })),
      user.meetings.slice(0, 3).map((m) => ({ id: m.id, status: m.status })),
    );
    const streaming = results.filter((r) => r.dataState === 'streaming');
    assert.ok(streaming.length > 0, `states: ${results.map((r) => r.dataState)}`);
    assert.equal(streaming[0].data.user.id, user.id);
    assert.equal(streaming[0].data.user.meetings, undefined, 'meetings is not there yet, rather than null');
    for (const r of results) {
      assert.ok(r.dataState !== 'complete' || r.data.user.meetings, 'never complete without meetings');
    }
  });
}

// The HTTP QUERY method (docs/frontend/graphql-over-http.md#the-query-method):
// HttpLink sends fetchOptions.method, with the body it would POST.
test('Apollo over QUERY: fetchOptions.method sends the body with QUERY', async () => {
  const user = expected.users[0];
  const rec = recordingFetch();
  const client = newClient(new HttpLink({ uri: url, headers, fetch: rec, fetchOptions: { method: 'QUERY' } }));
  const res = await client.query({ query: USER_THREADS, variables: { id: user.id } });
  assert.equal(rec.calls[0].method, 'QUERY');
  assert.ok(rec.calls[0].body.query.includes('ApolloUserThreads'));
  assert.equal(res.data.user.threads.totalCount, user.threadCount);
});

// ETags (docs/frontend/graphql-over-http.md#revalidation-etag-and-304): a
// browser revalidates by itself; outside one, a fetch that keeps the ETag
// does, and Apollo gets the kept answer back on 304.
test('Apollo over GET with a revalidating fetch: the second answer is a 304', async () => {
  const user = expected.users[2];
  const kept = new Map(); // URL → { etag, body }
  const statuses = [];
  const revalidating = async (input, init = {}) => {
    const key = String(input);
    const h = new Headers(init.headers ?? {});
    if (kept.has(key)) h.set('If-None-Match', kept.get(key).etag);
    const res = await fetch(input, { ...init, headers: h });
    statuses.push(res.status);
    if (res.status === 304) {
      return new Response(kept.get(key).body, { status: 200, headers: { 'content-type': 'application/graphql-response+json' } });
    }
    const body = await res.text();
    if (res.headers.get('etag')) kept.set(key, { etag: res.headers.get('etag'), body });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  const link = new HttpLink({ uri: url, useGETForQueries: true, headers: { ...headers, 'GraphQL-Require-Preflight': '1' }, fetch: revalidating });
  for (let i = 0; i < 2; i++) {
    const res = await newClient(link).query({ query: USER_THREADS, variables: { id: user.id } });
    assert.equal(res.data.user.threads.totalCount, user.threadCount);
  }
  assert.deepEqual(statuses, [200, 304]);
});

// @stream: the users list element by element. Apollo Client 4 reads stream
// items with both incremental handlers (each asks for its own format). A
// streamed list is never partial data to Apollo (dataState is "complete"
// from the first part on, unlike @defer's "streaming"): its networkStatus
// says whether more elements are coming.
const USERS_STREAMED = gql`
  query ApolloUsersStreamed($ids: [ID!]!) {
    users(ids: $ids) @stream(initialCount: 1) {
      id
      meetings(first: 1) {
        totalCount
      }
    }
  }
`;

for (const c of [
  { handler: Defer20220824Handler, name: 'Defer20220824Handler', spec: 'deferSpec=20220824' },
  { handler: GraphQL17Alpha9Handler, name: 'GraphQL17Alpha9Handler', spec: 'incrementalSpec=v0.2' },
]) {
  test(`Apollo @stream with ${c.name}: the first user, then the others in order`, async () => {
    const rec = recordingFetch();
    const client = new ApolloClient({
      link: new HttpLink({ uri: url, headers, fetch: rec }),
      cache: newCache(),
      incrementalHandler: new c.handler(),
    });
    const users = expected.users;
    const results = [];
    await new Promise((resolve, reject) => {
      const sub = client.watchQuery({ query: USERS_STREAMED, variables: { ids: users.map((u) => u.id) } }).subscribe({
        next(r) {
          results.push(r);
          if (r.networkStatus === NetworkStatus.ready || r.error) {
            sub.unsubscribe();
            resolve();
          }
        },
        error: reject,
      });
    });
    assert.equal(rec.calls.length, 1);
    assert.ok(rec.calls[0].headers.accept.includes(`multipart/mixed;${c.spec}`), rec.calls[0].headers.accept);
    const last = results.at(-1);
    assert.equal(last.error, undefined, `${last.error}`);
    assert.equal(last.dataState, 'complete');
    assert.deepEqual(
      last.data.users.map((u) => ({ id: u.id, totalCount: u.meetings.totalCount })),
      users.map((u) => ({ id: u.id, totalCount: u.meetingCount })),
    );
    const streaming = results.filter((r) => r.networkStatus === NetworkStatus.streaming);
    assert.ok(streaming.length > 0, `network statuses: ${results.map((r) => r.networkStatus)}`);
    assert.deepEqual(streaming[0].data.users.map((u) => u.id), [users[0].id], 'initialCount: 1, the first user alone');
  });
}
