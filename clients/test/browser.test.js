// A page in headless Chromium (Debian's chromium, driven by puppeteer-core), served from
// another origin than the API: it logs in, lists clients, uploads a CSV and shows the import's
// progress from the subscription. The test reads the page's DOM at each step.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";
import { PASSWORD, addClient, confirmedProvider, server } from "../lib/api.js";
import { startStaticServer } from "../lib/static-server.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CSV = path.join(here, "..", "fixtures", "headway-template.csv");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const STEP_MS = 20_000;

/** The display names the CSV should add: "First Last" of each data row. */
function namesInCsv() {
  const [, ...rows] = readFileSync(CSV, "utf8").trim().split(/\r?\n/);
  return rows.map((row) => row.split(",").slice(0, 2).join(" "));
}

/** Debian's chromium, headless, with a fresh profile; closed (and the profile removed) after `t`. */
async function launch(t) {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  const profile = await mkdtemp(path.join(tmpdir(), "caseload-e2e-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  t.after(async () => {
    await browser.close();
    await rm(profile, { recursive: true, force: true });
  });
  return browser;
}

test("a page on another origin logs in, lists clients, uploads a file and shows live progress", async (t) => {
  const { url: apiUrl } = server();
  const provider = await confirmedProvider("browser");
  await addClient(provider.token, "Fay", "Fisher");
  await addClient(provider.token, "Gil", "Grant");

  const pageServer = await startStaticServer();
  const browser = await launch(t);
  t.after(() => pageServer.close());
  const seen = [];
  const apiResponses = [];

  const page = await browser.newPage();
  page.on("console", (message) => seen.push(`console.${message.type()}: ${message.text()}`));
  page.on("requestfailed", (request) => seen.push(`failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`));
  page.on("response", (response) => {
    if (response.url().startsWith(apiUrl)) {
      apiResponses.push({
        method: response.request().method(),
        status: response.status(),
        allowOrigin: response.headers()["access-control-allow-origin"],
      });
    }
  });
  const pageOrigin = `http://localhost:${pageServer.port}`;
  assert.notEqual(pageOrigin, new URL(apiUrl).origin);

  /** Waits for `condition` (an expression in the page), failing at once when the page shows an error. */
  async function step(name, condition) {
    const settled = `(${condition}) || document.querySelector("#errors").textContent !== ""`;
    let problem = null;
    try {
      await page.waitForFunction(settled, { timeout: STEP_MS });
    } catch (error) {
      problem = error.message;
    }
    const errors = await page.$eval("#errors", (el) => el.textContent);
    if (problem || errors) {
      const body = await page.$eval("body", (el) => el.innerText);
      assert.fail(`${name}: ${problem ?? "the page shows an error"}\npage:\n${body}\nlog:\n${seen.join("\n")}`);
    }
  }

  await page.goto(`${pageOrigin}/?api=${encodeURIComponent(apiUrl)}`, { waitUntil: "load" });
  assert.equal(await page.title(), "Caseload clients (e2e page)");

  // log in
  await page.type("#email", provider.email);
  await page.type("#password", PASSWORD);
  await page.click("#log-in");
  await step("signed in", `document.querySelector("#status").dataset.state === "signed-in"`);
  assert.equal(await page.$eval("#status", (el) => el.textContent), "Signed in as PROVIDER");

  // the list
  await step("two clients listed", `document.querySelector("#clients").dataset.count === "2"`);
  assert.deepEqual(await page.$$eval("#clients li", (items) => items.map((li) => li.textContent)), [
    "Fay Fisher",
    "Gil Grant",
  ]);

  // upload, then progress from the subscription
  const input = await page.$("#file");
  await input.uploadFile(CSV);
  await page.click("#start-import");
  await step("import finished", `document.querySelector("#import-status").dataset.done === "true"`);
  assert.equal(await page.$eval("#import-status", (el) => el.textContent), "COMPLETED");
  const progress = await page.$$eval("#progress li", (items) => items.map((li) => li.textContent));
  assert.ok(progress.length >= 1, "no progress shown");
  assert.equal(progress.at(-1), "COMPLETED 5/5 created 5");

  // the list again, with the imported clients
  await step("seven clients listed", `document.querySelector("#clients").dataset.count === "7"`);
  const listed = await page.$$eval("#clients li", (items) =>
    items.map((li) => ({ name: li.textContent, via: li.dataset.addedVia })),
  );
  const imported = listed.filter((c) => c.via === "IMPORT").map((c) => c.name);
  assert.deepEqual(imported.sort(), namesInCsv().sort());
  assert.equal(await page.$eval("#errors", (el) => el.textContent), "");

  // every API answer the page read carried CORS for the page's origin
  const read = apiResponses.filter((r) => r.method === "POST");
  assert.ok(read.length >= 4, JSON.stringify(apiResponses));
  assert.ok(read.every((r) => r.status === 200 && r.allowOrigin === pageOrigin), JSON.stringify(apiResponses));
});

test("GraphiQL at /graphql renders from the server's own files, with no other host reached", async (t) => {
  const { url: apiUrl } = server();
  const browser = await launch(t);
  const page = await browser.newPage();
  const elsewhere = [];
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    const target = request.url();
    if (target.startsWith("data:") || new URL(target).origin === new URL(apiUrl).origin) {
      request.continue();
    } else {
      elsewhere.push(target); // a CDN, say: this machine has no internet, and CI neither
      request.abort();
    }
  });
  const introspection = page.waitForResponse(
    (response) => response.url() === apiUrl && (response.request().postData() ?? "").includes("__schema"),
    { timeout: STEP_MS },
  );
  introspection.catch(() => {}); // awaited below; a page that never asks fails there
  await page.goto(apiUrl, { waitUntil: "load" });
  try {
    await page.waitForFunction(
      `document.querySelector("#graphiql, .graphiql-container")?.querySelector(".graphiql-editor, .graphiql-query-editor, .CodeMirror, .cm-editor") !== null`,
      { timeout: STEP_MS },
    );
  } catch (error) {
    const body = await page.$eval("body", (el) => el.innerText).catch(() => "?");
    assert.fail(`GraphiQL did not render: ${error.message}\nother hosts asked: ${elsewhere.join(", ")}\npage: ${body}`);
  }
  assert.deepEqual(elsewhere, []);
  const answer = await introspection;
  assert.equal(answer.status(), 200);
  assert.ok((await answer.json()).data.__schema, "GraphiQL's introspection got no schema");
});
