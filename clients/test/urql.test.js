// urql as it comes: its default exchanges send queries as GET (mutations as POST); graphcache,
// schema-aware from the repo's schema.graphql, lists clients and answers again from its cache.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { Client, cacheExchange, fetchExchange, gql } from "@urql/core";
import { cacheExchange as graphcache } from "@urql/exchange-graphcache";
import { buildSchema, introspectionFromSchema } from "graphql";
import { addClient, confirmedProvider, server, uniqueEmail } from "../lib/api.js";
import { recordingFetch } from "../lib/apollo.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const schemaFile = path.join(here, "..", "..", "schema.graphql");
const LIST = gql`
  query UrqlClients($first: Int) {
    clients(first: $first, orderBy: NAME_ASC) {
      edges { cursor node { id displayName } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const ADD = gql`
  mutation UrqlAdd($input: AddClientInput!) {
    addClient(input: $input) {
      __typename
      ... on AddClientSuccess { client { id displayName } }
      ... on MutationError { code message }
    }
  }
`;

const { url } = server();
let provider;

function urql(exchanges, recorder) {
  return new Client({
    url,
    exchanges,
    fetch: recorder.fetch,
    fetchOptions: () => ({ headers: { authorization: `Bearer ${provider.token}` } }),
  });
}

/** No error on a result; the message is urql's, not a dump of the Response object. */
function ok(result) {
  assert.ok(result.error === undefined, `urql: ${result.error?.message}`);
}

function names(data) {
  return data.clients.edges.map((edge) => edge.node.displayName);
}

test.before(async () => {
  provider = await confirmedProvider("urql");
  await addClient(provider.token, "Ann", "Archer");
  await addClient(provider.token, "Bo", "Baker");
});

test("urql with its default exchanges sends the query as GET and lists clients", async () => {
  const recorder = recordingFetch();
  const client = urql([cacheExchange, fetchExchange], recorder);
  const result = await client.query(LIST, { first: 10 }).toPromise();
  ok(result);
  assert.deepEqual(names(result.data), ["Ann Archer", "Bo Baker"]);
  assert.equal(result.data.clients.pageInfo.hasNextPage, false);
  assert.deepEqual(
    recorder.requests.map((r) => [r.method, r.status]),
    [["GET", 200]],
  );
  assert.match(recorder.requests[0].url, /[?&]query=/);
});

test("urql with graphcache: lists clients, answers again from the cache, POSTs a mutation", async () => {
  const schema = introspectionFromSchema(buildSchema(readFileSync(schemaFile, "utf8")));
  const cache = graphcache({
    schema,
    // connection wrappers have no id of their own: embedded in their parent
    keys: { ClientConnection: () => null, ClientEdge: () => null, PageInfo: () => null },
    updates: {
      Mutation: {
        addClient(result, _args, cache) {
          if (result.addClient?.__typename !== "AddClientSuccess") return;
          // every cached page of the list, whatever its arguments
          for (const field of cache.inspectFields("Query")) {
            if (field.fieldName === "clients") cache.invalidate("Query", field.fieldName, field.arguments);
          }
        },
      },
    },
  });
  const recorder = recordingFetch();
  const client = urql([cache, fetchExchange], recorder);

  const first = await client.query(LIST, { first: 10 }).toPromise();
  ok(first);
  assert.deepEqual(names(first.data), ["Ann Archer", "Bo Baker"]);
  const again = await client.query(LIST, { first: 10 }, { requestPolicy: "cache-only" }).toPromise();
  assert.deepEqual(names(again.data), ["Ann Archer", "Bo Baker"]);
  assert.equal(recorder.requests.length, 1, "the second read came from graphcache");

  const input = { firstName: "Cat", lastName: "Carter", email: uniqueEmail("cat") };
  const added = await client.mutation(ADD, { input }).toPromise();
  ok(added);
  assert.equal(added.data.addClient.__typename, "AddClientSuccess");
  const refreshed = await client.query(LIST, { first: 10 }).toPromise();
  ok(refreshed);
  assert.deepEqual(names(refreshed.data), ["Ann Archer", "Bo Baker", "Cat Carter"]);
  assert.deepEqual(
    recorder.requests.map((r) => [r.method, r.status]),
    [
      ["GET", 200],
      ["POST", 200],
      ["GET", 200],
    ],
  );
});
