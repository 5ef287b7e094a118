// Apollo Client 4 with the possibleTypes that GraphQL Code Generator made from schema.graphql:
// sign up, confirm through the e-mail, log in, add clients (union results by __typename), list.
import assert from "node:assert/strict";
import test from "node:test";
import { CombinedGraphQLErrors, ServerError, gql } from "@apollo/client";
import { PASSWORD, server, uniqueEmail } from "../lib/api.js";
import { apolloClient, possibleTypes } from "../lib/apollo.js";
import { waitForLinkToken } from "../lib/mail.js";

const AUTH = `
  __typename
  ... on AuthSuccess { token viewer { id role provider { id displayName } } }
  ... on MutationError { code message }
`;
const SIGN_UP = gql`mutation SignUp($input: SignUpProviderInput!) { signUpProvider(input: $input) { ${AUTH} } }`;
const VERIFY = gql`mutation Verify($input: VerifyEmailInput!) { verifyEmail(input: $input) { ${AUTH} } }`;
const LOG_IN = gql`mutation LogIn($input: LogInInput!) { logIn(input: $input) { ${AUTH} } }`;
const ME = gql`query Me { me { id role provider { id displayName } } }`;
const ADD_CLIENT = gql`
  mutation AddClient($input: AddClientInput!) {
    addClient(input: $input) {
      __typename
      ... on AddClientSuccess { alreadyInList client { id displayName addedVia } }
      ... on InputError { fields { field message } }
      ... on MutationError { code message }
    }
  }
`;
// `...NodeId` is a fragment on an interface: the cache fills it only if possibleTypes says that
// Client implements Node.
const LIST = gql`
  fragment NodeId on Node { id }
  query Clients($first: Int, $after: String) {
    clients(first: $first, after: $after, orderBy: NAME_ASC) {
      edges { cursor node { __typename ...NodeId displayName } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const RELAY_LIST = gql`
  query RelayClients($first: Int, $after: String) {
    clients(first: $first, after: $after, orderBy: NAME_ASC) {
      totalCount
      edges { cursor node { id displayName } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;

const { url, mailDir } = server();
const auth = {};
const client = apolloClient({ url, auth });
const email = uniqueEmail("apollo");
const names = [
  ["Ada", "Adams"],
  ["Ben", "Brown"],
  ["Cy", "Clark"],
];
const added = [];

test("possibleTypes from codegen list each union's and interface's members", () => {
  const types = possibleTypes();
  assert.deepEqual([...types.AddClientResult].sort(), ["AddClientSuccess", "AuthError", "InputError"]);
  assert.ok(types.MutationError.includes("InputError"), JSON.stringify(types.MutationError));
  assert.ok(types.Node.includes("Client"), JSON.stringify(types.Node));
});

test("Apollo: sign up a provider, confirm through the e-mail link, log in", async () => {
  const input = { email, password: PASSWORD, displayName: "Dr. Apollo", practiceName: "Link Practice" };
  const signedUp = (await client.mutate({ mutation: SIGN_UP, variables: { input } })).data.signUpProvider;
  assert.equal(signedUp.__typename, "AuthSuccess", JSON.stringify(signedUp));
  assert.equal(signedUp.viewer.role, "PROVIDER");

  const linkToken = await waitForLinkToken(mailDir, email);
  const verified = (
    await client.mutate({ mutation: VERIFY, variables: { input: { token: linkToken, password: PASSWORD } } })
  ).data.verifyEmail;
  assert.equal(verified.__typename, "AuthSuccess", JSON.stringify(verified));

  const wrong = (
    await client.mutate({ mutation: LOG_IN, variables: { input: { email, password: "not the password" } } })
  ).data.logIn;
  assert.equal(wrong.__typename, "AuthError");
  assert.equal(wrong.code, "INVALID_CREDENTIALS");

  const loggedIn = (await client.mutate({ mutation: LOG_IN, variables: { input: { email, password: PASSWORD } } }))
    .data.logIn;
  assert.equal(loggedIn.__typename, "AuthSuccess", JSON.stringify(loggedIn));
  auth.token = loggedIn.token;
  const { data } = await client.query({ query: ME, fetchPolicy: "network-only" });
  assert.equal(data.me.role, "PROVIDER");
  assert.equal(data.me.provider.displayName, "Dr. Apollo");
});

test("Apollo: addClient answers a union read by __typename (success and InputError)", async () => {
  for (const [firstName, lastName] of names) {
    const input = { firstName, lastName, email: uniqueEmail(firstName.toLowerCase()) };
    const result = (await client.mutate({ mutation: ADD_CLIENT, variables: { input } })).data.addClient;
    assert.equal(result.__typename, "AddClientSuccess", JSON.stringify(result));
    assert.equal(result.alreadyInList, false);
    assert.equal(result.client.addedVia, "MANUAL");
    added.push(result.client);
  }
  const bad = { firstName: "No", lastName: "Address", email: "not-an-address" };
  const refused = (await client.mutate({ mutation: ADD_CLIENT, variables: { input: bad } })).data.addClient;
  assert.equal(refused.__typename, "InputError", JSON.stringify(refused));
  assert.equal(refused.code, "INVALID_INPUT");
  assert.deepEqual(
    refused.fields.map((f) => f.field),
    ["email"],
  );
});

test("Apollo: clients come back through the cache with pageInfo, page by page", async () => {
  const first = (await client.query({ query: LIST, variables: { first: 2 }, fetchPolicy: "network-only" })).data
    .clients;
  assert.equal(first.edges.length, 2);
  assert.equal(first.pageInfo.hasNextPage, true);
  assert.equal(first.pageInfo.endCursor, first.edges[1].cursor);
  // the interface fragment was filled from the cache: possibleTypes at work
  assert.ok(first.edges.every((edge) => typeof edge.node.id === "string" && edge.node.__typename === "Client"));

  const second = (
    await client.query({
      query: LIST,
      variables: { first: 2, after: first.pageInfo.endCursor },
      fetchPolicy: "network-only",
    })
  ).data.clients;
  assert.equal(second.edges.length, 1);
  assert.equal(second.pageInfo.hasNextPage, false);
  const listed = [...first.edges, ...second.edges].map((edge) => edge.node.id);
  const expected = [...added].sort((a, b) => a.displayName.localeCompare(b.displayName)).map((c) => c.id);
  assert.deepEqual(listed, expected);
});

test("Apollo: Relay pageInfo (hasPreviousPage, startCursor) and totalCount per the contract", async () => {
  const first = (await client.query({ query: RELAY_LIST, variables: { first: 2 }, fetchPolicy: "network-only" }))
    .data.clients;
  assert.equal(first.totalCount, names.length);
  assert.equal(first.pageInfo.hasPreviousPage, false);
  assert.equal(first.pageInfo.startCursor, first.edges[0].cursor);
  assert.equal(first.pageInfo.endCursor, first.edges[1].cursor);
  const second = (
    await client.query({
      query: RELAY_LIST,
      variables: { first: 2, after: first.pageInfo.endCursor },
      fetchPolicy: "network-only",
    })
  ).data.clients;
  assert.equal(second.totalCount, names.length);
  assert.equal(typeof second.pageInfo.hasPreviousPage, "boolean");
  assert.equal(second.pageInfo.startCursor, second.edges[0].cursor);
  assert.equal(second.pageInfo.hasNextPage, false);
});

/**
 * The code of a top-level error as Apollo reports it: CombinedGraphQLErrors when the body was
 * parsed (2xx, or application/graphql-response+json), else a ServerError whose body must still be
 * GraphQL JSON, never plain text.
 */
function topLevelCode(error) {
  if (CombinedGraphQLErrors.is(error)) return error.errors[0]?.extensions?.code;
  if (ServerError.is(error)) {
    let body;
    try {
      body = JSON.parse(error.bodyText);
    } catch {
      assert.fail(`HTTP ${error.statusCode} with a body that is not JSON: ${error.bodyText}`);
    }
    return body.errors?.[0]?.extensions?.code;
  }
  throw error;
}

test("Apollo: top-level errors carry extensions.code", async () => {
  const unknownField = gql`query Broken { me { id notAField } }`;
  await assert.rejects(client.query({ query: unknownField, fetchPolicy: "network-only" }), (error) => {
    assert.equal(topLevelCode(error), "GRAPHQL_VALIDATION_FAILED", String(error));
    return true;
  });
  const stranger = apolloClient({ url, auth: { token: "not-a-session-token" } });
  await assert.rejects(stranger.query({ query: ME, fetchPolicy: "network-only" }), (error) => {
    assert.equal(topLevelCode(error), "UNAUTHENTICATED", String(error));
    return true;
  });
});
