// Reads the .eml files that the server's file mail backend writes under CASELOAD_DATA_DIR/mail.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

function decodeQuotedPrintable(text) {
  const bytes = [];
  const soft = text.replace(/=\r?\n/g, "");
  for (let i = 0; i < soft.length; i += 1) {
    const hex = soft.slice(i + 1, i + 3);
    if (soft[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(soft[i], "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** A single-part message as the server writes it: { headers (lower-case keys), text }. */
export function parseEml(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split).replace(/\r?\n[ \t]+/g, " ");
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, "");
  const headers = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const encoding = (headers["content-transfer-encoding"] ?? "7bit").toLowerCase();
  let text = body;
  if (encoding === "quoted-printable") text = decodeQuotedPrintable(body);
  if (encoding === "base64") text = Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  return { headers, text };
}

async function messagesTo(mailDir, address) {
  let names;
  try {
    names = (await readdir(mailDir)).filter((name) => name.endsWith(".eml")).sort();
  } catch (error) {
    if (error.code === "ENOENT") return [];
    throw error;
  }
  const found = [];
  for (const name of names) {
    const message = parseEml(await readFile(path.join(mailDir, name), "utf8"));
    if ((message.headers.to ?? "").toLowerCase().includes(address.toLowerCase())) {
      found.push(message);
    }
  }
  return found;
}

/**
 * The token of the first link with `token=` in a message to this address, waiting for the
 * worker to deliver it (the outbox sends after the sign-up commits).
 */
export async function waitForLinkToken(mailDir, address, { timeoutMs = 20_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const message of await messagesTo(mailDir, address)) {
      const link = message.text.match(/https?:\/\/\S+?[?&]token=([^&\s]+)/);
      if (link) return decodeURIComponent(link[1]);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`no e-mail with a link arrived in ${mailDir} within ${timeoutMs} ms`);
}
