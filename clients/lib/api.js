// What every check shares: where the server is, plain GraphQL over fetch for set-up, and
// accounts made the way a person makes them (sign up, then open the link in the e-mail).
import { randomUUID } from "node:crypto";
import { waitForLinkToken } from "./mail.js";

/** The server that run.js started (see run.js), from the environment of this test process. */
export function server() {
  const url = process.env.CASELOAD_E2E_URL;
  const mailDir = process.env.CASELOAD_E2E_MAIL_DIR;
  if (!url || !mailDir) {
    throw new Error("run the suite with `npm test` (run.js starts caseload serve)");
  }
  return { url, mailDir, wsUrl: url.replace(/^http/, "ws") };
}

// One per test process, long and random, so any strength check (length, zxcvbn) accepts it.
export const PASSWORD = `e2e-${randomUUID()}`;

export function uniqueEmail(label) {
  return `${label}-${randomUUID().slice(0, 8)}@example.org`;
}

/** A GraphQL POST; throws on top-level errors so a set-up step never fails silently. */
export async function gql(query, variables = {}, token = null) {
  const { url } = server();
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const AUTH_FIELDS = `
  __typename
  ... on AuthSuccess { token viewer { id role provider { id } client { id } } }
  ... on MutationError { code message }
`;
export const SIGN_UP_PROVIDER = `mutation SignUpProvider($input: SignUpProviderInput!) {
  signUpProvider(input: $input) { ${AUTH_FIELDS} } }`;
export const SIGN_UP_CLIENT = `mutation SignUpClient($input: SignUpClientInput!) {
  signUpClient(input: $input) { ${AUTH_FIELDS} } }`;
export const VERIFY_EMAIL = `mutation VerifyEmail($input: VerifyEmailInput!) {
  verifyEmail(input: $input) { ${AUTH_FIELDS} } }`;
export const LOG_IN = `mutation LogIn($input: LogInInput!) { logIn(input: $input) { ${AUTH_FIELDS} } }`;

function success(result, what) {
  if (result.__typename !== "AuthSuccess") {
    throw new Error(`${what}: ${result.__typename} ${result.code}: ${result.message}`);
  }
  return result;
}

/**
 * Confirms an account through the link of the e-mail the server sent it. Harmless where
 * confirmation is not required yet; required where providers must confirm before adding clients
 * or importing. The password is sent too: a link for an account that has one may ask for it.
 */
export async function confirmThroughMail(email, password = PASSWORD) {
  const token = await waitForLinkToken(server().mailDir, email);
  const data = await gql(VERIFY_EMAIL, { input: { token, password } });
  return success(data.verifyEmail, "verifyEmail");
}

/** A provider who signed up and confirmed their e-mail: { email, token, userId, providerId }. */
export async function confirmedProvider(label = "provider") {
  const email = uniqueEmail(label);
  const input = { email, password: PASSWORD, displayName: "Dr. E2E", practiceName: "E2E Practice" };
  success((await gql(SIGN_UP_PROVIDER, { input })).signUpProvider, "signUpProvider");
  const confirmed = await confirmThroughMail(email);
  return {
    email,
    token: confirmed.token,
    userId: confirmed.viewer.id,
    providerId: confirmed.viewer.provider.id,
  };
}

/** A client account (a person), signed up and confirmed: { email, token, userId, clientId }. */
export async function confirmedClient(label = "client") {
  const email = uniqueEmail(label);
  const input = { email, password: PASSWORD, firstName: "Robin", lastName: "Client" };
  success((await gql(SIGN_UP_CLIENT, { input })).signUpClient, "signUpClient");
  const confirmed = await confirmThroughMail(email);
  return {
    email,
    token: confirmed.token,
    userId: confirmed.viewer.id,
    clientId: confirmed.viewer.client?.id,
  };
}

export const ADD_CLIENT = `mutation AddClient($input: AddClientInput!) { addClient(input: $input) {
  __typename
  ... on AddClientSuccess { client { id displayName } }
  ... on MutationError { code message }
} }`;

/** Adds a client by hand through plain fetch and returns its id. */
export async function addClient(token, firstName, lastName) {
  const input = { firstName, lastName, email: uniqueEmail(firstName.toLowerCase()) };
  const result = (await gql(ADD_CLIENT, { input }, token)).addClient;
  if (result.__typename !== "AddClientSuccess") {
    throw new Error(`addClient: ${result.__typename} ${result.code}: ${result.message}`);
  }
  return result.client.id;
}
