"""The seed tutorial ("Log in and log out") through Fauna's official Python driver.

Runs against a Sesame server with the driver unchanged (HTTP/1.1). Reads the endpoint from
SESAME_ENDPOINT (e.g. http://127.0.0.1:8787) and an admin secret from SESAME_ADMIN_SECRET.
Every value goes into the query through `fql` template interpolation, never by string
concatenation; the collection is interpolated as a Module so that re-runs against the same
server use a fresh collection. Prints one line per step and exits non-zero on any failure.
"""

import os
import secrets
import sys
from datetime import datetime, timedelta, timezone

from fauna import fql
from fauna.client import Client
from fauna.errors import AuthenticationError, QueryRuntimeError, ServiceError
from fauna.query.models import (
    Document,
    DocumentReference,
    Module,
    NamedDocument,
    NullDocument,
)

STEP = [0]


def step(what, detail=""):
    STEP[0] += 1
    print(f"ok {STEP[0]:2} - {what}{': ' + detail if detail else ''}", flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(client, query, cls, code, what):
    """Runs `query`, which must fail with the driver exception `cls` and error `code`."""
    try:
        res = client.query(query)
    except cls as e:
        check(e.code == code, f"{what}: code {e.code!r}, want {code!r} ({e})")
        return e
    except ServiceError as e:
        raise AssertionError(
            f"{what}: {type(e).__name__} ({e.status_code} {e.code}), want {cls.__name__} {code}"
        ) from e
    raise AssertionError(f"{what}: succeeded with {res.data!r}, want {cls.__name__} {code}")


def main():
    endpoint = os.environ["SESAME_ENDPOINT"]
    admin = Client(endpoint=endpoint, secret=os.environ["SESAME_ADMIN_SECRET"])
    name = "Customer_" + secrets.token_hex(4)
    customers = Module(name)

    # As the admin: the Customer collection with its byName index.
    res = admin.query(
        fql(
            'Collection.create({ name: ${name}, indexes: { byName: { terms: [{ field: ".firstName" }, { field: ".lastName" }] } } })',
            name=name,
        )
    )
    coll = res.data
    check(isinstance(coll, NamedDocument) and coll.name == name, f"collection: {coll!r}")
    check(coll.coll == Module("Collection"), f"collection coll: {coll!r}")
    check("byName" in coll["indexes"], f"collection indexes: {coll!r}")
    step("Collection.create", name)

    # Customer.create({...})
    res = admin.query(
        fql(
            "${coll}.create({ firstName: ${first}, lastName: ${last}, email: ${email} })",
            coll=customers,
            first="Jane",
            last="Doe",
            email="jane.doe@example.com",
        )
    )
    customer = res.data
    check(isinstance(customer, Document), f"customer is a Document: {customer!r}")
    check(customer.coll == customers, f"customer coll: {customer.coll!r}")
    check(isinstance(customer.ts, datetime), f"customer ts: {customer.ts!r}")
    check(customer["firstName"] == "Jane" and customer["lastName"] == "Doe", f"{customer!r}")
    check(customer["email"] == "jane.doe@example.com", f"{customer!r}")
    step("Customer.create", f"{name}/{customer.id}")

    # Credential.create({ document: customer, password: "sekret" })
    res = admin.query(
        fql(
            "Credential.create({ document: ${customer}, password: ${password} })",
            customer=customer,
            password="sekret",
        )
    )
    cred = res.data
    check(isinstance(cred, Document) and cred.coll == Module("Credential"), f"{cred!r}")
    doc = cred["document"]
    check(
        isinstance(doc, DocumentReference) and doc.id == customer.id and doc.coll == customers,
        f"credential document: {doc!r}",
    )
    check("password" not in cred and "hashed_password" not in cred, f"no password: {cred!r}")
    step("Credential.create", f"Credential/{cred.id}")

    # A second credential for the same document fails its unique constraint.
    e = expect_error(
        admin,
        fql(
            "Credential.create({ document: ${customer}, password: ${password} })",
            customer=customer,
            password="other",
        ),
        QueryRuntimeError,
        "constraint_failure",
        "duplicate credential",
    )
    check(e.status_code == 400, f"duplicate credential status {e.status_code}")
    check(bool(e.constraint_failures), f"constraint_failures: {e.constraint_failures!r}")
    step("duplicate Credential.create", f"{type(e).__name__} {e.code}")

    # A wrong password does not log in.
    e = expect_error(
        admin,
        fql("Credential.byDocument(${customer})!.login(${password})", customer=customer,
            password="wrong"),
        QueryRuntimeError,
        "invalid_secret",
        "wrong password",
    )
    step("login with a wrong password", f"{type(e).__name__} {e.code}")

    # Customer.byName("Jane", "Doe").first()
    res = admin.query(
        fql("${coll}.byName(${first}, ${last}).first()", coll=customers, first="Jane",
            last="Doe")
    )
    found = res.data
    check(isinstance(found, Document) and found.id == customer.id, f"byName: {found!r}")
    step("Customer.byName(...).first()", found.id)

    # Credential.byDocument(customer)!.login("sekret"): a token without ttl ...
    res = admin.query(
        fql("Credential.byDocument(${customer})!.login(${password})", customer=customer,
            password="sekret")
    )
    plain = res.data
    check(isinstance(plain, Document) and plain.coll == Module("Token"), f"token: {plain!r}")
    check(isinstance(plain.get("secret"), str) and plain["secret"], f"token secret: {plain!r}")
    check(plain["document"] == DocumentReference(customers, customer.id), f"{plain!r}")
    check(plain.get("ttl") is None, f"no ttl: {plain!r}")
    step("login", f"Token/{plain.id}")

    # ... and one for an hour (an interpolated time).
    until = datetime.now(timezone.utc) + timedelta(hours=1)
    res = admin.query(
        fql(
            "Credential.byDocument(${customer})!.login(${password}, ${ttl})",
            customer=customer,
            password="sekret",
            ttl=until,
        )
    )
    token = res.data
    check(isinstance(token, Document) and token.coll == Module("Token"), f"token: {token!r}")
    secret = token.get("secret")
    check(isinstance(secret, str) and secret and secret != plain["secret"], f"{token!r}")
    ttl = token.get("ttl")
    check(isinstance(ttl, datetime) and abs((ttl - until).total_seconds()) < 1, f"ttl: {ttl!r}")
    step("login with a ttl", f"Token/{token.id} until {ttl.isoformat()}")

    # Log out with the token's secret.
    jane = Client(endpoint=endpoint, secret=secret)
    res = jane.query(fql("Query.token()"))
    me = res.data
    check(isinstance(me, Document) and me.coll == Module("Token"), f"Query.token(): {me!r}")
    check(me.id == token.id, f"Query.token() id {me.id}, want {token.id}")
    check("secret" not in me, f"Query.token() shows no secret: {me!r}")
    check(me["document"] == DocumentReference(customers, customer.id), f"{me!r}")
    step("Query.token()", f"Token/{me.id}, no secret")

    res = jane.query(fql("Query.identity()"))
    ident = res.data
    if isinstance(ident, Document):
        check(ident.id == customer.id and ident.coll == customers, f"identity: {ident!r}")
        shown = f"{name}/{ident.id}"
    else:
        # Fauna's own baseline hides the identity document from a token without a role.
        check(isinstance(ident, NullDocument) and ident.ref.id == customer.id, f"{ident!r}")
        shown = f"NullDocument {ident.cause}"
    step("Query.identity()", shown)

    e = expect_error(
        jane,
        fql("${coll}.create({ firstName: ${first} })", coll=customers, first="Mallory"),
        ServiceError,
        "permission_denied",
        "unprivileged write",
    )
    step("unprivileged write", f"{type(e).__name__} {e.code}")

    res = jane.query(fql("Query.token()!.delete()"))
    gone = res.data
    check(isinstance(gone, NullDocument), f"delete returns a NullDocument: {gone!r}")
    check(gone.ref.id == token.id and gone.ref.coll == Module("Token"), f"{gone!r}")
    step("Query.token()!.delete()", f"NullDocument {gone.cause}")

    e = expect_error(jane, fql("Query.token()"), AuthenticationError, "unauthorized",
                     "the deleted token")
    check(e.status_code == 401, f"status {e.status_code}")
    step("Query.token() after logout", f"{type(e).__name__} {e.status_code} {e.code}")

    # The other token still works: logging out ends one session only.
    other = Client(endpoint=endpoint, secret=plain["secret"])
    res = other.query(fql("Query.token()"))
    check(isinstance(res.data, Document) and res.data.id == plain.id, f"{res.data!r}")
    step("the other session is still valid", f"Token/{plain.id}")

    print(f"python fauna driver: all {STEP[0]} steps passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any failure is a failed step
        print(f"not ok {STEP[0] + 1} - {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
