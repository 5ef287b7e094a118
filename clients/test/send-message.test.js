// The natural sendMessage selection: `sentMessage` on success beside `code message` of
// MutationError. It must validate against schema.graphql (as codegen and every client validate)
// and work against the server.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { gql } from "@apollo/client";
import { buildSchema, validate } from "graphql";
import { addClient, confirmedProvider, server } from "../lib/api.js";
import { apolloClient } from "../lib/apollo.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const SEND = gql`
  mutation Send($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on MessageSuccess { sentMessage { id body senderRole } thread { id } }
      ... on MutationError { code message }
    }
  }
`;
const THREAD = gql`
  query Thread($id: ID!) { messageThread(id: $id) { id messages(first: 5) { edges { node { id body } } } } }
`;

test("the sendMessage selection with sentMessage and MutationError.message validates", () => {
  const schema = buildSchema(readFileSync(path.join(here, "..", "..", "schema.graphql"), "utf8"));
  assert.deepEqual(
    validate(schema, SEND).map((error) => error.message),
    [],
  );
});

test("Apollo: sendMessage answers sentMessage on success and code/message on an error", async () => {
  const provider = await confirmedProvider("sender");
  const clientId = await addClient(provider.token, "Eve", "Evans");
  const apollo = apolloClient({ url: server().url, auth: { token: provider.token } });

  const body = "Your first appointment is on Tuesday.";
  const sent = (await apollo.mutate({ mutation: SEND, variables: { input: { clientId, body } } })).data.sendMessage;
  assert.equal(sent.__typename, "MessageSuccess", JSON.stringify(sent));
  assert.equal(sent.sentMessage.body, body);
  assert.equal(sent.sentMessage.senderRole, "PROVIDER");
  const thread = (await apollo.query({ query: THREAD, variables: { id: sent.thread.id } })).data.messageThread;
  assert.deepEqual(
    thread.messages.edges.map((edge) => edge.node.id),
    [sent.sentMessage.id],
  );

  const refused = (await apollo.mutate({ mutation: SEND, variables: { input: { clientId, body: "   " } } })).data
    .sendMessage;
  assert.equal(refused.__typename, "InputError", JSON.stringify(refused));
  assert.equal(refused.code, "INVALID_INPUT");
  assert.equal(typeof refused.message, "string");
});
