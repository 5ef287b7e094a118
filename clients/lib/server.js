// Starts one real `caseload serve` (embedded default: SQLite, embedded Redis, one worker, mail as
// .eml files) in a temporary data dir on a free port, and stops it with SIGTERM.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..", "..");
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

/** A port nobody listens on right now (the server binds it a moment later). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The environment of the server: ours, less every CASELOAD_* that would change the default. */
function serverEnv(dataDir, port) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("CASELOAD_")),
  );
  return {
    ...env,
    CASELOAD_HOST: "127.0.0.1",
    CASELOAD_PORT: String(port),
    CASELOAD_DATA_DIR: dataDir,
    CASELOAD_PUBLIC_URL: `http://127.0.0.1:${port}`,
    CASELOAD_EMAIL_BACKEND: "file",
    // small batches, so a few thousand rows report progress several times
    CASELOAD_IMPORT_BATCH_ROWS: "500",
  };
}

async function waitUntilReady(base, child, logPath) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`caseload serve exited (${child.exitCode ?? child.signalCode}) before ready`);
    }
    try {
      const response = await fetch(`${base}/readyz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`caseload serve not ready after ${READY_TIMEOUT_MS} ms; log: ${logPath}`);
}

/** Waits for the child to exit; SIGKILL if SIGTERM did not end it in time. */
async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill("SIGTERM");
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
  });
  const outcome = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    child.kill("SIGKILL");
    await exited;
    return "killed";
  }
  return outcome;
}

/**
 * Starts the server; retries on another port if the one picked was taken in between.
 * Returns { url, base, dataDir, mailDir, logPath, stop(), logTail() }.
 */
export async function startServer({ attempts = 3 } = {}) {
  const caseload = path.join(repoRoot, ".venv", "bin", "caseload");
  let lastError;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    const dataDir = await mkdtemp(path.join(tmpdir(), "caseload-e2e-"));
    const port = await freePort();
    const logPath = path.join(dataDir, "serve.log");
    const log = createWriteStream(logPath);
    const child = spawn(caseload, ["serve"], {
      cwd: dataDir,
      env: serverEnv(dataDir, port),
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    const spawnFailed = new Promise((_, reject) => child.once("error", reject));
    const base = `http://127.0.0.1:${port}`;
    try {
      await Promise.race([waitUntilReady(base, child, logPath), spawnFailed]);
    } catch (error) {
      lastError = error;
      await stopChild(child);
      process.stderr.write(`attempt ${attempt}: ${error.message}\n${await tail(logPath)}\n`);
      await rm(dataDir, { recursive: true, force: true });
      continue;
    }
    return {
      base,
      url: `${base}/graphql`,
      dataDir,
      mailDir: path.join(dataDir, "mail"),
      logPath,
      logProblems: () => problems(logPath),
      async stop({ keep = false } = {}) {
        const code = await stopChild(child);
        log.end();
        if (!keep) await rm(dataDir, { recursive: true, force: true });
        return code;
      },
    };
  }
  throw lastError;
}

async function tail(file, lines = 40) {
  try {
    return (await readFile(file, "utf8")).split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** The log's WARNING/ERROR records with their traceback lines (the rest is routine INFO). */
async function problems(file, lines = 120) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return "(no log)";
  }
  const kept = [];
  let inRecord = false;
  for (const line of text.split("\n")) {
    if (/^\d{4}-\d\d-\d\d /.test(line) || /^[A-Z]+: /.test(line)) inRecord = /WARNING|ERROR|CRITICAL/.test(line);
    if (inRecord) kept.push(line);
  }
  return kept.length ? kept.slice(-lines).join("\n") : "(none)";
}
