// A tiny static server for the browser page, on its own port (so: another origin than the API).
// It serves browser/ and graphql-ws's ESM build from node_modules under /vendor/graphql-ws/.
import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const roots = [
  ["/vendor/graphql-ws/", path.join(here, "..", "node_modules", "graphql-ws", "dist")],
  ["/", path.join(here, "..", "browser")],
];
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };

function resolve(urlPath) {
  const wanted = urlPath === "/" ? "/index.html" : urlPath;
  for (const [prefix, dir] of roots) {
    if (!wanted.startsWith(prefix)) continue;
    const file = path.join(dir, path.normalize(wanted.slice(prefix.length)));
    if (file.startsWith(dir + path.sep)) return file;
  }
  return null;
}

/** Starts the server on 127.0.0.1 and a free port; resolves to { port, close() }. */
export function startStaticServer() {
  const server = http.createServer(async (request, response) => {
    const file = resolve(new URL(request.url, "http://page").pathname);
    try {
      if (!file) throw Object.assign(new Error("outside the roots"), { code: "ENOENT" });
      const body = await readFile(file);
      response.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
      response.end(body);
    } catch (error) {
      response.writeHead(error.code === "ENOENT" ? 404 : 500, { "content-type": "text/plain" });
      response.end(error.code === "ENOENT" ? "not found" : "error");
    }
  });
  return new Promise((resolveStarted, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      resolveStarted({
        port: server.address().port,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
