// apollo-upload-client uploads a real CSV with startClientImport; graphql-ws follows
// clientImportProgress to completion and receives messageReceived; a bad token closes 4403.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { gql } from "@apollo/client";
import UploadHttpLink from "apollo-upload-client/UploadHttpLink.mjs";
import { confirmedClient, confirmedProvider, gql as post, server } from "../lib/api.js";
import { apolloClient } from "../lib/apollo.js";
import { collect, listen, wsClient } from "../lib/live.js";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures");
const START_IMPORT = gql`
  mutation StartImport($input: StartClientImportInput!) {
    startClientImport(input: $input) {
      __typename
      ... on StartClientImportSuccess { clientImport { id status fileName format dryRun } }
      ... on ImportFileError { missingColumns foundColumns }
      ... on MutationError { code message }
    }
  }
`;
const PROGRESS = `subscription Progress($id: ID!) {
  clientImportProgress(id: $id) {
    id status totalRows processedRows createdCount duplicateCount errorCount alreadyInListCount
  }
}`;
const RECEIVED = "subscription Received { messageReceived { id body senderRole } }";
const SEND = `mutation Send($input: SendMessageInput!) { sendMessage(input: $input) {
  __typename ... on MutationError { code message }
} }`;

const { url } = server();

async function csvFile(name) {
  return new File([await readFile(path.join(fixtures, name))], name, { type: "text/csv" });
}

function uploadClient(token) {
  // apollo-require-preflight: the server refuses multipart requests without it (CSRF guard)
  const terminating = new UploadHttpLink({ uri: url, headers: { "apollo-require-preflight": "true" } });
  return apolloClient({ url, auth: { token }, terminating });
}

let provider;
let importId;

test("apollo-upload-client: startClientImport with a real CSV", async () => {
  provider = await confirmedProvider("upload");
  const client = uploadClient(provider.token);
  const file = await csvFile("jane-patient-list.csv");
  const { data } = await client.mutate({ mutation: START_IMPORT, variables: { input: { file } } });
  const result = data.startClientImport;
  assert.equal(result.__typename, "StartClientImportSuccess", JSON.stringify(result));
  assert.equal(result.clientImport.fileName, "jane-patient-list.csv");
  assert.equal(result.clientImport.format, "CSV");
  assert.equal(result.clientImport.dryRun, false);
  importId = result.clientImport.id;
});

test("issuesReportUrl downloads the row-issues CSV without an Authorization header", async () => {
  assert.ok(importId, "needs the import started above");
  const client = wsClient(provider.token);
  try {
    await collect(client, { query: PROGRESS, variables: { id: importId } }); // until it is done
  } finally {
    await client.dispose();
  }
  const data = await post(
    `query($id: ID!) { clientImport(id: $id) { issuesReportUrl issues(first: 50) { totalCount } } }`,
    { id: importId },
    provider.token,
  );
  const link = new URL(data.clientImport.issuesReportUrl, url);
  const response = await fetch(link); // a plain link: no token, no headers
  assert.equal(response.status, 200, await response.clone().text());
  assert.match(response.headers.get("content-type") ?? "", /text\/csv/);
  const lines = (await response.text()).trim().split(/\r?\n/);
  assert.equal(lines.length, 1 + data.clientImport.issues.totalCount, lines.join("\n"));

  link.searchParams.set("signature", `x${link.searchParams.get("signature") ?? ""}`);
  const forged = await fetch(link);
  assert.equal(forged.status, 403);
  const refusal = await forged.json(); // a refusal is GraphQL-style JSON with a code
  assert.equal(typeof refusal.errors[0].extensions.code, "string", JSON.stringify(refusal));
});

test("apollo-upload-client: a file without an e-mail column is an ImportFileError naming it", async () => {
  const client = uploadClient(provider.token);
  const csv = "First Name,Last Name,Mobile Phone\nMia,Garcia,(462) 555-1931\n";
  const file = new File([csv], "no-email.csv", { type: "text/csv" });
  const { data } = await client.mutate({ mutation: START_IMPORT, variables: { input: { file } } });
  const result = data.startClientImport;
  assert.equal(result.__typename, "ImportFileError", JSON.stringify(result));
  assert.equal(result.code, "MISSING_REQUIRED_COLUMNS");
  assert.deepEqual(result.missingColumns, ["Email"]);
  assert.deepEqual(result.foundColumns, ["First Name", "Last Name", "Mobile Phone"]);
});

test("graphql-ws: clientImportProgress runs to completion with the file's counts", async () => {
  assert.ok(importId, "needs the import started above");
  const client = wsClient(provider.token);
  try {
    const events = await collect(client, { query: PROGRESS, variables: { id: importId } });
    assert.ok(events.length >= 1, "at least the current state");
    const snapshots = events.map((event) => event.clientImportProgress);
    assert.ok(snapshots.every((s) => s.id === importId));
    const processed = snapshots.map((s) => s.processedRows);
    assert.deepEqual(processed, [...processed].sort((a, b) => a - b), "progress never goes back");
    const last = snapshots.at(-1);
    // jane-patient-list.csv: 7 rows, one without an e-mail, one repeating the first
    assert.deepEqual(
      {
        status: last.status,
        totalRows: last.totalRows,
        processedRows: last.processedRows,
        created: last.createdCount,
        duplicates: last.duplicateCount,
        errors: last.errorCount,
      },
      { status: "COMPLETED", totalRows: 7, processedRows: 7, created: 5, duplicates: 1, errors: 1 },
    );
  } finally {
    await client.dispose();
  }
  const listed = await post(
    "{ clients(first: 50) { edges { node { addedVia } } } }",
    {},
    provider.token,
  );
  const sources = listed.clients.edges.map((edge) => edge.node.addedVia);
  assert.deepEqual(sources, Array(5).fill("IMPORT"));
});

test("graphql-ws: a larger import is followed batch by batch to completion", async (t) => {
  const rows = 3000;
  const lines = ["First Name,Last Name,Email"];
  for (let i = 0; i < rows; i += 1) lines.push(`Row${i},Batch,row${i}.${importId.slice(0, 8)}@example.org`);
  const file = new File([`${lines.join("\n")}\n`], "large.csv", { type: "text/csv" });
  const upload = uploadClient(provider.token);
  const input = { file, sendInvitations: false };
  const started = (await upload.mutate({ mutation: START_IMPORT, variables: { input } })).data.startClientImport;
  assert.equal(started.__typename, "StartClientImportSuccess", JSON.stringify(started));

  const client = wsClient(provider.token);
  try {
    const events = await collect(client, { query: PROGRESS, variables: { id: started.clientImport.id } });
    const snapshots = events.map((event) => event.clientImportProgress);
    t.diagnostic(`snapshots: ${snapshots.map((s) => `${s.status} ${s.processedRows}`).join(", ")}`);
    // the current state when subscribing, then at least the batches that commit after it
    assert.ok(snapshots.length >= 2, `only ${JSON.stringify(snapshots)}`);
    const processed = snapshots.map((s) => s.processedRows);
    assert.deepEqual(processed, [...processed].sort((a, b) => a - b), "progress never goes back");
    const last = snapshots.at(-1);
    assert.equal(last.status, "COMPLETED");
    assert.equal(last.processedRows, rows);
    assert.equal(last.createdCount, rows);
  } finally {
    await client.dispose();
  }
});

test("graphql-ws: the provider receives a client's message with messageReceived", async () => {
  const person = await confirmedClient("writer");
  const client = wsClient(provider.token);
  const feed = listen(client, { query: RECEIVED });
  try {
    // The stream is live once the server has subscribed, which a client cannot see: send until
    // one arrives (bounded), then check it is one of ours.
    const sent = [];
    let received = null;
    for (let attempt = 1; attempt <= 10 && !received; attempt += 1) {
      const body = `Hello from the e2e suite, #${attempt}`;
      const result = (await post(SEND, { input: { providerId: provider.providerId, body } }, person.token))
        .sendMessage;
      assert.equal(result.__typename, "MessageSuccess", JSON.stringify(result));
      sent.push(body);
      try {
        received = (await feed.next(1_000)).messageReceived;
      } catch (error) {
        if (!error.timeout) throw error;
      }
    }
    assert.ok(received, "no message arrived over the WebSocket");
    assert.ok(sent.includes(received.body), `${received.body} not among ${sent}`);
    assert.equal(received.senderRole, "CLIENT");
  } finally {
    feed.close();
    await client.dispose();
  }
});

test("graphql-ws: an invalid token in connection_init is closed with 4403", async () => {
  const client = wsClient("not-a-session-token");
  try {
    await assert.rejects(collect(client, { query: RECEIVED }, { timeoutMs: 10_000 }), (event) => {
      assert.equal(event.code, 4403, `closed with ${event?.code} ${event?.reason}`);
      return true;
    });
  } finally {
    await client.dispose();
  }
});
