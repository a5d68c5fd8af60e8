// Relay: relay-compiler compiled relay/UserMeetings.js with
// schemaConfig.nodeInterfaceIdField "globalId" (relay.config.json); the
// store must be told getDataID: v => v.globalId. These tests run Relay's
// runtime with no React: its network layer, store and connection handler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import RelayRuntime from 'relay-runtime';
import UserMeetingsAllQuery from './relay/__generated__/UserMeetingsAllQuery.graphql.js';
import UserMeetingsPaginationQuery from './relay/__generated__/UserMeetingsPaginationQuery.graphql.js';
import UserMeetingsQuery from './relay/__generated__/UserMeetingsQuery.graphql.js';
import { expected, url, wrongCredential } from './suite.js';

const { ConnectionHandler, Environment, Network, RecordSource, Store, commitLocalUpdate, fetchQuery } = RelayRuntime;

// docs/frontend/clients.md's setting: globalId is unique across types, id is not.
const getDataID = (fieldValue) => fieldValue.globalId;

function newEnvironment({ byGlobalId = true, credential = expected.credential } = {}) {
  const payloads = [];
  const network = Network.create(async (params, variables) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: credential },
      body: JSON.stringify({ query: params.text, operationName: params.name, variables }),
    });
    const payload = await res.json();
    payloads.push(payload);
    return payload;
  });
  const env = new Environment({ network, store: new Store(new RecordSource()), ...(byGlobalId ? { getDataID } : {}) });
  return { env, payloads };
}

function recordsOf(env, typename) {
  const source = env.getStore().getSource();
  return source.getRecordIDs().map((id) => source.get(id)).filter((r) => r?.__typename === typename);
}

test('with getDataID by globalId, meetings and threads with the same id stay apart', async () => {
  const { env } = newEnvironment();
  await fetchQuery(env, UserMeetingsAllQuery, { ids: expected.all.userIds }).toPromise();
  const meetings = recordsOf(env, 'Meeting');
  const threads = recordsOf(env, 'Thread');
  assert.equal(meetings.length, expected.all.meetings);
  assert.equal(threads.length, expected.all.threads);
  for (const id of expected.all.sharedIds) {
    const m = meetings.find((r) => r.id === id);
    const t = threads.find((r) => r.id === id);
    assert.ok(m && t, `a meeting and a thread with id ${id}`);
    assert.notEqual(m.__id, t.__id);
    assert.ok('status' in m && !('status' in t) && 'name' in t);
  }
});

test("with Relay's default getDataID (id), they merge", async (t) => {
  // Relay warns about each record whose __typename changes; that warning
  // is the symptom this test shows, not a failure of the test.
  t.mock.method(console, 'error', () => {});
  const { env } = newEnvironment({ byGlobalId: false });
  await fetchQuery(env, UserMeetingsAllQuery, { ids: expected.all.userIds }).toPromise();
  const merged = recordsOf(env, 'Meeting').length + recordsOf(env, 'Thread').length;
  assert.equal(merged, expected.all.meetings + expected.all.threads - expected.all.sharedIds.length);
});

// The connection's edges, as the connection handler keeps them.
function connectionOf(env, userID) {
  let out;
  commitLocalUpdate(env, (store) => {
    const user = store.getRoot().getLinkedRecord('user', { id: userID });
    const conn = ConnectionHandler.getConnection(user, 'UserMeetings_meetings');
    out = {
      globalId: user.getDataID(),
      totalCount: conn.getValue('totalCount'),
      endCursor: conn.getLinkedRecord('pageInfo').getValue('endCursor'),
      meetings: conn.getLinkedRecords('edges').map((e) => {
        const node = e.getLinkedRecord('node');
        return { id: node.getValue('id'), status: node.getValue('status'), threadName: node.getLinkedRecord('thread')?.getValue('name') ?? null };
      }),
    };
  });
  return out;
}

test('@connection on meetings: the next page, through Query.node by globalId, joins the list', async () => {
  const { env } = newEnvironment();
  const user = expected.users[0];
  const want = (n) => user.meetings.slice(0, n).map((m) => ({ id: m.id, status: m.status, threadName: m.threadName }));
  await fetchQuery(env, UserMeetingsQuery, { id: user.id }).toPromise();
  const first = connectionOf(env, user.id);
  assert.equal(first.totalCount, user.meetingCount);
  assert.deepEqual(first.meetings, want(3));

  await fetchQuery(env, UserMeetingsPaginationQuery, { globalId: first.globalId, first: 3, after: first.endCursor }).toPromise();
  assert.deepEqual(connectionOf(env, user.id).meetings, want(6));
});

test('Relay: an upstream refusal, its code and path', async () => {
  const { env, payloads } = newEnvironment({ credential: wrongCredential });
  await fetchQuery(env, UserMeetingsQuery, { id: '1' }).toPromise();
  const err = payloads[0].errors[0];
  assert.equal(err.extensions.code, expected.codes.forbidden);
  assert.deepEqual(err.path, ['user', 'meetings']);
  let user;
  commitLocalUpdate(env, (store) => {
    user = store.getRoot().getLinkedRecord('user', { id: '1' });
  });
  assert.equal(user, null, 'meetings is non-null, so the user is null');
});
