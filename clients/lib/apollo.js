// Apollo Client as a front end sets it up: an InMemoryCache with the possibleTypes that GraphQL
// Code Generator wrote from the repo's schema.graphql, a bearer token, and a terminating link.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The generated possibleTypes (run.js runs codegen first; see codegen.yml). */
export function possibleTypes() {
  const file = path.join(here, "..", "generated", "possible-types.json");
  return JSON.parse(readFileSync(file, "utf8")).possibleTypes;
}

/** A fetch that remembers each request (method, url, body) and its answer, to check the wire. */
export function recordingFetch() {
  const requests = [];
  const recorded = async (input, init = {}) => {
    const url = typeof input === "string" ? input : input.url;
    let body = null;
    if (typeof init.body === "string") body = JSON.parse(init.body);
    const method = (init.method ?? "GET").toUpperCase();
    const response = await fetch(input, init);
    let answer = null;
    try {
      answer = JSON.parse(await response.clone().text());
    } catch {
      // not JSON: kept as null; a check on the answer then says so
    }
    requests.push({ method, url, body, status: response.status, answer });
    return response;
  };
  return { fetch: recorded, requests };
}

/**
 * An ApolloClient. `auth` is an object whose `token` is read per request (so logging in later
 * takes effect); `links` come before the terminating link (`terminating`, else an HttpLink).
 */
export function apolloClient({ url, auth = {}, links = [], terminating, fetch: fetchImpl } = {}) {
  const authLink = new SetContextLink(({ headers }) => ({
    headers: auth.token ? { ...headers, authorization: `Bearer ${auth.token}` } : headers,
  }));
  const last = terminating ?? new HttpLink({ uri: url, fetch: fetchImpl ?? fetch });
  return new ApolloClient({
    link: ApolloLink.from([authLink, ...links, last]),
    cache: new InMemoryCache({ possibleTypes: possibleTypes() }),
  });
}
