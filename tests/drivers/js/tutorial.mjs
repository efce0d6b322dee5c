// The seed tutorial ("Log in and log out") through Fauna's official JavaScript driver.
//
// Runs against a Sesame server with the driver unchanged: under Node it speaks HTTP/2 only,
// so over http:// this is h2c with prior knowledge. Reads the endpoint from SESAME_ENDPOINT
// (e.g. http://127.0.0.1:8787) and an admin secret from SESAME_ADMIN_SECRET. Every value goes
// into the query through `fql` template interpolation, never by string concatenation; the
// collection is interpolated as a Module so that re-runs against the same server use a fresh
// collection. Prints one line per step and exits non-zero on any failure.

import { randomBytes } from "node:crypto";
import {
  AuthenticationError,
  Client,
  ConstraintFailureError,
  Document,
  DocumentReference,
  Module,
  NamedDocument,
  NullDocument,
  QueryRuntimeError,
  ServiceError,
  TimeStub,
  fql,
} from "fauna";

let n = 0;
const clients = [];

function step(what, detail = "") {
  n += 1;
  console.log(`ok ${String(n).padStart(2)} - ${what}${detail ? ": " + detail : ""}`);
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

const show = (v) =>
  JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));

function client(secret) {
  const c = new Client({ endpoint: new URL(process.env.SESAME_ENDPOINT), secret });
  clients.push(c);
  return c;
}

/** Runs `query`, which must fail with the driver error class `cls` and error `code`. */
async function expectError(c, query, cls, code, what) {
  let res;
  try {
    res = await c.query(query);
  } catch (e) {
    if (!(e instanceof cls)) {
      throw new Error(
        `${what}: ${e.constructor.name} (${e.httpStatus} ${e.code}: ${e.message}), want ${cls.name} ${code}`,
      );
    }
    check(e.code === code, `${what}: code ${e.code}, want ${code} (${e.message})`);
    return e;
  }
  throw new Error(`${what}: succeeded with ${show(res.data)}, want ${cls.name} ${code}`);
}

const sameRef = (r, coll, id) =>
  r instanceof DocumentReference && r.id === id && r.coll instanceof Module && r.coll.name === coll;

async function main() {
  const admin = client(process.env.SESAME_ADMIN_SECRET);
  const name = "Customer_" + randomBytes(4).toString("hex");
  const customers = new Module(name);

  // As the admin: the Customer collection with its byName index.
  let res = await admin.query(
    fql`Collection.create({ name: ${name}, indexes: { byName: { terms: [{ field: ".firstName" }, { field: ".lastName" }] } } })`,
  );
  const coll = res.data;
  check(coll instanceof NamedDocument && coll.name === name, `collection: ${show(coll)}`);
  check(coll.coll.name === "Collection", `collection coll: ${show(coll)}`);
  check(coll.indexes?.byName !== undefined, `collection indexes: ${show(coll)}`);
  step("Collection.create", name);

  // Customer.create({...})
  res = await admin.query(
    fql`${customers}.create({ firstName: ${"Jane"}, lastName: ${"Doe"}, email: ${"jane.doe@example.com"} })`,
  );
  const customer = res.data;
  check(customer instanceof Document, `customer is a Document: ${show(customer)}`);
  check(customer.coll.name === name, `customer coll: ${show(customer)}`);
  check(customer.ts instanceof TimeStub, `customer ts: ${show(customer)}`);
  check(customer.firstName === "Jane" && customer.lastName === "Doe", show(customer));
  check(customer.email === "jane.doe@example.com", show(customer));
  step("Customer.create", `${name}/${customer.id}`);

  // Credential.create({ document: customer, password: "sekret" })
  res = await admin.query(
    fql`Credential.create({ document: ${customer}, password: ${"sekret"} })`,
  );
  const cred = res.data;
  check(cred instanceof Document && cred.coll.name === "Credential", show(cred));
  check(sameRef(cred.document, name, customer.id), `credential document: ${show(cred)}`);
  check(!("password" in cred) && !("hashed_password" in cred), `no password: ${show(cred)}`);
  step("Credential.create", `Credential/${cred.id}`);

  // A second credential for the same document fails its unique constraint.
  let e = await expectError(
    admin,
    fql`Credential.create({ document: ${customer}, password: ${"other"} })`,
    ConstraintFailureError,
    "constraint_failure",
    "duplicate credential",
  );
  check(e.constraint_failures?.length > 0, `constraint_failures: ${show(e.constraint_failures)}`);
  step("duplicate Credential.create", `${e.constructor.name} ${e.code}`);

  // A wrong password does not log in.
  e = await expectError(
    admin,
    fql`Credential.byDocument(${customer})!.login(${"wrong"})`,
    QueryRuntimeError,
    "invalid_secret",
    "wrong password",
  );
  step("login with a wrong password", `${e.constructor.name} ${e.code}`);

  // Customer.byName("Jane", "Doe").first()
  res = await admin.query(fql`${customers}.byName(${"Jane"}, ${"Doe"}).first()`);
  const found = res.data;
  check(found instanceof Document && found.id === customer.id, `byName: ${show(found)}`);
  step("Customer.byName(...).first()", found.id);

  // Credential.byDocument(customer)!.login("sekret"): a token without ttl ...
  res = await admin.query(fql`Credential.byDocument(${customer})!.login(${"sekret"})`);
  const plain = res.data;
  check(plain instanceof Document && plain.coll.name === "Token", `token: ${show(plain)}`);
  check(typeof plain.secret === "string" && plain.secret.length > 0, show(plain));
  check(sameRef(plain.document, name, customer.id), `token document: ${show(plain)}`);
  check(plain.ttl === undefined, `no ttl: ${show(plain)}`);
  step("login", `Token/${plain.id}`);

  // ... and one for an hour.
  const before = Date.now();
  res = await admin.query(
    fql`Credential.byDocument(${customer})!.login(${"sekret"}, Time.now().add(1, "hour"))`,
  );
  const token = res.data;
  check(token instanceof Document && token.coll.name === "Token", `token: ${show(token)}`);
  const secret = token.secret;
  check(typeof secret === "string" && secret && secret !== plain.secret, show(token));
  check(token.ttl instanceof TimeStub, `ttl: ${show(token)}`);
  const ahead = token.ttl.toDate().getTime() - before;
  check(ahead > 3590e3 && ahead < 3610e3, `ttl ${token.ttl.isoString} is not an hour ahead`);
  step("login with a ttl", `Token/${token.id} until ${token.ttl.isoString}`);

  // Log out with the token's secret.
  const jane = client(secret);
  res = await jane.query(fql`Query.token()`);
  const me = res.data;
  check(me instanceof Document && me.coll.name === "Token", `Query.token(): ${show(me)}`);
  check(me.id === token.id, `Query.token() id ${me.id}, want ${token.id}`);
  check(!("secret" in me), `Query.token() shows no secret: ${show(me)}`);
  check(sameRef(me.document, name, customer.id), `token document: ${show(me)}`);
  step("Query.token()", `Token/${me.id}, no secret`);

  res = await jane.query(fql`Query.identity()`);
  const ident = res.data;
  let shown;
  if (ident instanceof Document) {
    check(ident.id === customer.id && ident.coll.name === name, `identity: ${show(ident)}`);
    shown = `${name}/${ident.id}`;
  } else {
    // Fauna's own baseline hides the identity document from a token without a role.
    check(ident instanceof NullDocument && ident.ref.id === customer.id, show(ident));
    shown = `NullDocument ${ident.cause}`;
  }
  step("Query.identity()", shown);

  e = await expectError(
    jane,
    fql`${customers}.create({ firstName: ${"Mallory"} })`,
    ServiceError,
    "permission_denied",
    "unprivileged write",
  );
  step("unprivileged write", `${e.constructor.name} ${e.code}`);

  res = await jane.query(fql`Query.token()!.delete()`);
  const gone = res.data;
  check(gone instanceof NullDocument, `delete returns a NullDocument: ${show(gone)}`);
  check(gone.ref.id === token.id && gone.ref.coll.name === "Token", show(gone));
  step("Query.token()!.delete()", `NullDocument ${gone.cause}`);

  e = await expectError(
    jane,
    fql`Query.token()`,
    AuthenticationError,
    "unauthorized",
    "the deleted token",
  );
  check(e.httpStatus === 401, `status ${e.httpStatus}`);
  step("Query.token() after logout", `${e.constructor.name} ${e.httpStatus} ${e.code}`);

  // The other token still works: logging out ends one session only.
  const other = client(plain.secret);
  res = await other.query(fql`Query.token()`);
  check(res.data instanceof Document && res.data.id === plain.id, show(res.data));
  step("the other session is still valid", `Token/${plain.id}`);

  console.log(`javascript fauna driver: all ${n} steps passed`);
}

try {
  await main();
} catch (err) {
  console.log(`not ok ${n + 1} - ${err.constructor?.name}: ${err.message}`);
  process.exitCode = 1;
} finally {
  for (const c of clients) c.close();
}
