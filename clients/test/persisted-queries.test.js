// Apollo's automatic persisted queries: the first request sends only the hash and is told
// PERSISTED_QUERY_NOT_FOUND, the link registers the query with its hash, and the next client's
// hash-only request is answered (over POST, and over GET with useGETForHashedQueries).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import test from "node:test";
import { gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { addClient, confirmedProvider, server } from "../lib/api.js";
import { apolloClient, recordingFetch } from "../lib/apollo.js";

const { url } = server();
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
let provider;

test.before(async () => {
  provider = await confirmedProvider("apq");
  await addClient(provider.token, "Dee", "Dunn");
});

function persistedClient(options = {}) {
  const recorder = recordingFetch();
  const client = apolloClient({
    url,
    auth: { token: provider.token },
    links: [new PersistedQueryLink({ sha256, ...options })],
    fetch: recorder.fetch,
  });
  return { client, requests: recorder.requests };
}

/** What each request carried: the method, whether the query text went along, the hash. */
function wire(requests) {
  return requests.map((r) => {
    const params = new URL(r.url).searchParams;
    const hasQuery = r.body ? "query" in r.body : params.has("query");
    const extensions = r.body?.extensions ?? JSON.parse(params.get("extensions") ?? "null");
    return { method: r.method, hasQuery, hash: extensions?.persistedQuery?.sha256Hash ?? null };
  });
}

function errorCodes(request) {
  assert.ok(request.answer, `HTTP ${request.status} answer is not JSON`);
  return (request.answer.errors ?? []).map((e) => e.extensions?.code);
}

async function missRegisterHit(query, options) {
  const first = persistedClient(options);
  const missed = await first.client.query({ query, fetchPolicy: "network-only" });
  assert.deepEqual(missed.data.clients.edges.map((e) => e.node.displayName), ["Dee Dunn"]);
  const [miss, register] = first.requests;
  assert.equal(first.requests.length, 2, JSON.stringify(wire(first.requests)));
  assert.deepEqual(errorCodes(miss), ["PERSISTED_QUERY_NOT_FOUND"]);
  assert.equal(register.status, 200);
  // the hash is the SHA-256 of the very text the link registered
  const hash = sha256(register.body.query);

  const second = persistedClient(options); // a new client: its link has not sent this hash yet
  const hit = await second.client.query({ query, fetchPolicy: "network-only" });
  assert.deepEqual(hit.data.clients.edges.map((e) => e.node.displayName), ["Dee Dunn"]);
  assert.equal(second.requests.length, 1, JSON.stringify(wire(second.requests)));
  assert.deepEqual(errorCodes(second.requests[0]), []);
  return { hash, wire: [...wire(first.requests), ...wire(second.requests)] };
}

test("persisted-query link over POST: a miss, the registration, then a hit by hash alone", async () => {
  const query = gql`query ApqPost { clients(first: 5) { edges { node { id displayName } } } }`;
  const { hash, wire: sent } = await missRegisterHit(query, {});
  assert.deepEqual(sent, [
    { method: "POST", hasQuery: false, hash },
    { method: "POST", hasQuery: true, hash },
    { method: "POST", hasQuery: false, hash },
  ]);
});

test("persisted-query link with useGETForHashedQueries: the hit is a GET by hash", async () => {
  const query = gql`query ApqGet { clients(first: 5) { edges { node { displayName } } } }`;
  const { hash, wire: sent } = await missRegisterHit(query, { useGETForHashedQueries: true });
  assert.deepEqual(sent, [
    { method: "GET", hasQuery: false, hash },
    { method: "POST", hasQuery: true, hash }, // the link always sends the full text by POST
    { method: "GET", hasQuery: false, hash },
  ]);
});
