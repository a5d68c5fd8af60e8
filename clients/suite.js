// What TestClientSuite (clients_test.go) hands every test: the URLs of two
// salesgraph servers started as `go run .` starts them, and the values the
// tests expect, which the Go test computes from the fake upstream's dataset
// (restclient/fakeapi), never from a client's output.
import { readFileSync } from 'node:fs';

function env(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run the suite with go test -run TestClientSuite .`);
  }
  return v;
}

/** The GraphQL endpoint of a server in demo mode's defaults (batching off). */
export const url = env('SALESGRAPH_URL') + '/graphql';
/** The GraphQL endpoint of a server with -batching=true -max-batch-size=3. */
export const batchURL = env('SALESGRAPH_BATCH_URL') + '/graphql';
/** Values from the dataset; see expectedValues in clients_test.go. */
export const expected = JSON.parse(readFileSync(env('SALESGRAPH_EXPECTED'), 'utf8'));
/** A credential the upstream refuses: the error case of every client. */
export const wrongCredential = 'Bearer wrong';

/**
 * A fetch that records each request (method, URL, headers, parsed body)
 * before sending it, so that tests can assert what a client put on the wire.
 */
export function recordingFetch() {
  const calls = [];
  const f = async (input, init = {}) => {
    const headers = Object.fromEntries(new Headers(init.headers ?? {}).entries());
    let body;
    if (typeof init.body === 'string') {
      body = JSON.parse(init.body);
    }
    calls.push({ method: init.method ?? 'GET', url: String(input), headers, body });
    return fetch(input, init);
  };
  f.calls = calls;
  return f;
}
