// The suite's entry point (`npm test`): generate possibleTypes from ../schema.graphql, start one
// real `caseload serve`, run every check with `node --test`, stop the server (SIGTERM), and
// print one closing line "e2e: N passed, N failed". Arguments name test files to run instead of
// all of test/.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "./lib/server.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const SUITE_TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_MS ?? 240_000);
const TEST_TIMEOUT_MS = 90_000;

function run(command, args, options = {}) {
  const child = spawn(command, args, { cwd: here, stdio: "inherit", ...options });
  const done = new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  return { child, done };
}

function testFiles() {
  const chosen = process.argv.slice(2);
  if (chosen.length) return chosen;
  return readdirSync(path.join(here, "test"))
    .filter((name) => name.endsWith(".test.js"))
    .sort()
    .map((name) => path.join("test", name));
}

async function counts(tapFile) {
  const tap = await readFile(tapFile, "utf8").catch(() => "");
  const number = (key) => Number(tap.match(new RegExp(`^# ${key} (\\d+)$`, "m"))?.[1] ?? 0);
  return { passed: number("pass"), failed: number("fail") + number("cancelled") };
}

async function main() {
  const started = Date.now();
  const codegen = run(path.join(here, "node_modules", ".bin", "graphql-codegen"), [
    "--config",
    "codegen.yml",
    "--silent",
  ]);
  if ((await codegen.done) !== 0) {
    console.error("e2e: GraphQL Code Generator failed");
    return 1;
  }

  const server = await startServer();
  console.log(`caseload serve ready at ${server.url} (data dir ${server.dataDir})`);
  const reports = await mkdtemp(path.join(tmpdir(), "caseload-e2e-report-"));
  const tapFile = path.join(reports, "results.tap");
  let tests;
  const stopAll = async () => {
    tests?.child.kill("SIGTERM");
    await server.stop();
  };
  const onSignal = (signal) => {
    stopAll().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let code;
  try {
    tests = run(
      process.execPath,
      [
        "--test",
        `--test-timeout=${TEST_TIMEOUT_MS}`,
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
        "--test-reporter=tap",
        `--test-reporter-destination=${tapFile}`,
        ...testFiles(),
      ],
      {
        env: {
          ...process.env,
          CASELOAD_E2E_URL: server.url,
          CASELOAD_E2E_MAIL_DIR: server.mailDir,
        },
      },
    );
    const timer = setTimeout(() => {
      console.error(`e2e: suite still running after ${SUITE_TIMEOUT_MS} ms; stopping it`);
      tests.child.kill("SIGTERM");
    }, SUITE_TIMEOUT_MS);
    code = await tests.done;
    clearTimeout(timer);
  } finally {
    if (code !== 0) {
      console.log(`---- caseload serve log, warnings and errors ----\n${await server.logProblems()}`);
    }
    // E2E_KEEP=1 keeps the data dir (serve.log, the SQLite file, mail/) for a look afterwards
    const keep = process.env.E2E_KEEP === "1";
    const stopped = await server.stop({ keep });
    console.log(`caseload serve stopped (exit ${stopped})${keep ? `; kept ${server.dataDir}` : ""}`);
  }
  const { passed, failed } = await counts(tapFile);
  await rm(reports, { recursive: true, force: true });
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(`e2e took ${seconds}s`);
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  return code === 0 && failed === 0 && passed > 0 ? 0 : 1;
}

process.exitCode = await main().catch((error) => {
  console.error(`e2e: ${error.stack ?? error}`);
  return 1;
});
