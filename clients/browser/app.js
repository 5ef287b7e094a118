// The page a front end would be: plain fetch for queries and the multipart upload, graphql-ws
// (served from node_modules, no CDN) for the import's live progress. The API is on another
// origin, given as ?api=http://host:port/graphql.
import { createClient } from "/vendor/graphql-ws/client.js";

const api = new URL(window.location.href).searchParams.get("api");
const wsUrl = api.replace(/^http/, "ws");
let token = null;

const $ = (selector) => document.querySelector(selector);

function showError(text) {
  $("#errors").textContent += `${text}\n`;
}
window.addEventListener("error", (event) => showError(`error: ${event.message}`));
window.addEventListener("unhandledrejection", (event) => showError(`rejection: ${event.reason}`));

async function graphql(query, variables = {}) {
  const response = await fetch(api, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(body.errors.map((e) => e.message).join("; "));
  return body.data;
}

async function loadClients() {
  const data = await graphql(
    "{ clients(first: 100, orderBy: NAME_ASC) { edges { node { id displayName addedVia } } } }",
  );
  const list = $("#clients");
  list.replaceChildren(
    ...data.clients.edges.map(({ node }) => {
      const item = document.createElement("li");
      item.dataset.id = node.id;
      item.dataset.addedVia = node.addedVia;
      item.textContent = node.displayName;
      return item;
    }),
  );
  list.dataset.count = String(data.clients.edges.length);
}

$("#login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const data = await graphql(
      `mutation($input: LogInInput!) { logIn(input: $input) {
        __typename ... on AuthSuccess { token viewer { role } } ... on MutationError { code message }
      } }`,
      { input: { email: $("#email").value, password: $("#password").value } },
    );
    const result = data.logIn;
    if (result.__typename !== "AuthSuccess") throw new Error(`${result.code}: ${result.message}`);
    token = result.token;
    $("#status").textContent = `Signed in as ${result.viewer.role}`;
    $("#status").dataset.state = "signed-in";
    await loadClients();
  } catch (error) {
    showError(`log in: ${error.message}`);
  }
});

function followImport(id) {
  const client = createClient({ url: wsUrl, connectionParams: { authorization: `Bearer ${token}` } });
  client.subscribe(
    {
      query: `subscription($id: ID!) { clientImportProgress(id: $id) {
        status processedRows totalRows createdCount errorCount
      } }`,
      variables: { id },
    },
    {
      next({ data, errors }) {
        if (errors) return showError(`progress: ${errors.map((e) => e.message).join("; ")}`);
        const p = data.clientImportProgress;
        const step = document.createElement("li");
        step.textContent = `${p.status} ${p.processedRows}/${p.totalRows ?? "?"} created ${p.createdCount}`;
        $("#progress").append(step);
        $("#import-status").textContent = p.status;
      },
      error(error) {
        showError(`progress socket: ${error?.code ?? ""} ${error?.reason ?? error}`);
      },
      async complete() {
        client.dispose();
        await loadClients();
        $("#import-status").dataset.done = "true";
      },
    },
  );
}

$("#import").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const form = new FormData();
    form.append(
      "operations",
      JSON.stringify({
        query: `mutation($input: StartClientImportInput!) { startClientImport(input: $input) {
          __typename ... on StartClientImportSuccess { clientImport { id status } }
          ... on MutationError { code message }
        } }`,
        variables: { input: { file: null } },
      }),
    );
    form.append("map", JSON.stringify({ 0: ["variables.input.file"] }));
    form.append("0", $("#file").files[0]);
    const response = await fetch(api, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "apollo-require-preflight": "true" },
      body: form,
    });
    const body = await response.json();
    if (body.errors) throw new Error(body.errors.map((e) => e.message).join("; "));
    const result = body.data.startClientImport;
    if (result.__typename !== "StartClientImportSuccess") throw new Error(`${result.code}: ${result.message}`);
    $("#import-status").textContent = result.clientImport.status;
    $("#import-status").dataset.id = result.clientImport.id;
    followImport(result.clientImport.id);
  } catch (error) {
    showError(`import: ${error.message}`);
  }
});
