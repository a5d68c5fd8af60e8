// GraphQL Code Generator's client preset: typed documents generated from
// the served schema into codegen/gql/. tsc compiles this file, checking each
// use of the generated types, and node --test runs the output. The client is
// plain fetch: the types, not a client library, are under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { graphql } from './gql/index.js';

// What TestClientSuite passes (see suite.js), as far as this test reads it.
interface Expected {
  credential: string;
  users: { id: string; threadCount: number; threads: { id: string; name: string; number: string; contractValue: number }[] }[];
  codes: { forbidden: string };
}
const url = `${process.env.SALESGRAPH_URL}/graphql`;
const expected = JSON.parse(readFileSync(process.env.SALESGRAPH_EXPECTED ?? '', 'utf8')) as Expected;

const UserThreads = graphql(`
  query CodegenUserThreads($id: ID!, $first: Int) {
    user(id: $id) {
      id
      threads(first: $first) {
        totalCount
        nodes {
          id
          name
          number
          contractValue
          owner {
            id
          }
        }
      }
    }
  }
`);

interface GraphQLResponse<R> {
  data?: R | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[];
}

async function execute<R, V>(doc: TypedDocumentNode<R, V>, variables: V, credential: string): Promise<GraphQLResponse<R>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: credential },
    body: JSON.stringify({ query: print(doc), variables }),
  });
  return (await res.json()) as GraphQLResponse<R>;
}

// Never called: tsc must refuse each marked line, or the build fails, which
// proves the generated types are precise rather than any.
export async function typeChecks(): Promise<void> {
  // @ts-expect-error: first is an Int
  await execute(UserThreads, { id: '1', first: 'two' }, '');
  const res = await execute(UserThreads, { id: '1' }, '');
  const thread = res.data?.user?.threads.nodes[0];
  // @ts-expect-error: description is not selected
  void thread?.description;
  // @ts-expect-error: contractValue is a nullable Float
  const value: number = thread?.contractValue;
  void value;
  // @ts-expect-error: an entry is null for a thread the upstream sent without a usable id
  void res.data?.user?.threads.nodes.map((t) => t.id);
  // @ts-expect-error: owner is null when the upstream's id_user cannot be read
  void res.data?.user?.threads.nodes.map((t) => t?.owner.id);
}

test('GraphQL Code Generator: a typed nested query', async () => {
  for (const user of expected.users.slice(0, 2)) {
    const res = await execute(UserThreads, { id: user.id, first: 3 }, expected.credential);
    assert.equal(res.errors, undefined);
    const threads = res.data?.user?.threads;
    assert.equal(threads?.totalCount, user.threadCount);
    assert.deepEqual(
      threads?.nodes.map((t) => t && { id: t.id, name: t.name, number: t.number, contractValue: t.contractValue, owner: t.owner?.id }),
      user.threads.slice(0, 3).map((t) => ({ ...t, owner: user.id })),
    );
  }
});

test('GraphQL Code Generator: an upstream refusal, its code and path', async () => {
  const res = await execute(UserThreads, { id: '1', first: 3 }, 'Bearer wrong');
  assert.equal(res.errors?.[0]?.extensions?.code, expected.codes.forbidden);
  assert.deepEqual(res.errors?.[0]?.path, ['user', 'threads']);
  assert.equal(res.data?.user, null);
});
