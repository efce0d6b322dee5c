"""User-defined roles through Fauna's official Python driver: the shop example.

Customers (role `customer`, membership `Customer`) read the `Product` catalogue, read and
create their own `Order`s, update their own profile but not its `email`, and never see another
customer's orders; a manager role with the membership predicate `m => m.active` loses access
on the very next request after `active` is set false.

Reads SESAME_ENDPOINT and SESAME_ADMIN_SECRET. Collections and roles get a random suffix, so
re-runs against one server do not collide. Every value goes in through `fql` templates. Prints
one line per step and exits non-zero on any failure.
"""

import os
import secrets
import sys

from fauna import fql
from fauna.client import Client
from fauna.errors import ServiceError
from fauna.query.models import Document, Module, NullDocument

STEP = [0]


def step(what, detail=""):
    STEP[0] += 1
    print(f"ok {STEP[0]:2} - {what}{': ' + detail if detail else ''}", flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def denied(client, query, what, code="permission_denied"):
    try:
        res = client.query(query)
    except ServiceError as e:
        check(e.code == code, f"{what}: code {e.code!r}, want {code!r} ({e})")
        return
    raise AssertionError(f"{what}: succeeded with {res.data!r}, want {code}")


def main():
    endpoint = os.environ["SESAME_ENDPOINT"]
    admin = Client(endpoint=endpoint, secret=os.environ["SESAME_ADMIN_SECRET"])
    sfx = secrets.token_hex(4)
    names = {k: f"{k}_{sfx}" for k in ["Customer", "Product", "Order", "Manager", "Report"]}
    m = {k: Module(v) for k, v in names.items()}
    customer_role, manager_role = f"customer_{sfx}", f"manager_{sfx}"

    for n in names.values():
        admin.query(fql("Collection.create({ name: ${n} })", n=n))
    admin.query(fql("${p}.create({ name: 'lamp', price: 30 })\n${p}.create({ name: 'desk', price: 120 })", p=m["Product"]))
    people = {}
    for first, email in [("Jane", "jane@example.com"), ("John", "john@example.com")]:
        doc = admin.query(
            fql("${c}.create({ firstName: ${f}, email: ${e} })", c=m["Customer"], f=first, e=email)
        ).data
        admin.query(fql("Credential.create({ document: ${d}, password: 'sekret-pw' })", d=doc))
        people[first] = doc
    step("collections, products, customers")

    role = admin.query(
        fql(
            """Role.create({
              name: ${name},
              membership: { resource: ${customer} },
              privileges: [
                { resource: ${product}, actions: { read: true } },
                { resource: ${order}, actions: {
                    read: "o => o.customer == Query.identity()",
                    create: "o => o.customer == Query.identity()" } },
                { resource: ${customer}, actions: {
                    read: "c => c == Query.identity()",
                    write: "(old, new) => old == Query.identity() && new.email == old.email" } }
              ]
            })""",
            name=customer_role,
            customer=names["Customer"],
            product=names["Product"],
            order=names["Order"],
        )
    ).data
    check(role.name == customer_role, f"role: {role!r}")
    check(role["membership"] == {"resource": names["Customer"]}, f"membership echoed: {role!r}")
    check(isinstance(role["privileges"], list) and len(role["privileges"]) == 3, f"{role!r}")
    step("Role.create", customer_role)

    denied(admin, fql("Role.create({ name: ${n}, membership: { resource: ${c}, predicate: 'not a lambda' } })", n="bad_" + sfx, c=names["Customer"]), "an invalid predicate", "constraint_failure")
    check(admin.query(fql("Role.byName(${n}) == null", n="bad_" + sfx)).data is True, "nothing written")
    step("an invalid predicate is refused, nothing written")

    tokens = {}
    for first, doc in people.items():
        t = admin.query(fql("Credential.byDocument(${d})!.login('sekret-pw')", d=doc)).data
        tokens[first] = Client(endpoint=endpoint, secret=t["secret"])
    jane, john = tokens["Jane"], tokens["John"]
    step("both customers log in")

    products = jane.query(fql("${p}.all().toArray().map(p => p.name)", p=m["Product"])).data
    check(sorted(products) == ["desk", "lamp"], f"catalogue: {products!r}")
    denied(jane, fql("${p}.create({ name: 'free', price: 0 })", p=m["Product"]), "a customer adding a product")
    step("Jane reads the catalogue and cannot change it")

    mine = jane.query(fql("${o}.create({ customer: Query.identity(), item: 'lamp' })", o=m["Order"])).data
    check(isinstance(mine, Document) and mine["item"] == "lamp", f"her order: {mine!r}")
    his = john.query(fql("${o}.create({ customer: Query.identity(), item: 'desk' })", o=m["Order"])).data
    denied(jane, fql("${o}.create({ customer: ${john}, item: 'desk' })", o=m["Order"], john=people["John"]), "an order in someone else's name")
    step("customers create their own orders only")

    seen = jane.query(fql("${o}.all().toArray().map(o => o.item)", o=m["Order"])).data
    check(seen == ["lamp"], f"Jane sees only her orders: {seen!r}")
    other = jane.query(fql("${o}.byId(${id})", o=m["Order"], id=his.id)).data
    check(isinstance(other, NullDocument) and other.cause == "permission denied", f"{other!r}")
    denied(jane, fql("${o}.byId(${id})!.item", o=m["Order"], id=his.id), "reading John's order", "null_value")
    step("Jane never sees John's order", f"NullDocument {other.cause}")

    me = jane.query(fql("Query.identity()!.update({ firstName: 'Janet' })")).data
    check(me["firstName"] == "Janet", f"{me!r}")
    denied(jane, fql("Query.identity()!.update({ email: 'new@example.com' })"), "changing her email")
    denied(jane, fql("${d}.update({ firstName: 'X' })", d=people["John"]), "changing John's profile")
    email = admin.query(fql("${d}!.email", d=people["Jane"])).data
    check(email == "jane@example.com", f"email unchanged: {email!r}")
    step("Jane updates her profile, not its email, not John's")

    boss = admin.query(fql("${m}.create({ active: true })", m=m["Manager"])).data
    admin.query(fql("Credential.create({ document: ${d}, password: 'sekret-pw' })", d=boss))
    admin.query(fql("${r}.create({ quarter: 1 })", r=m["Report"]))
    admin.query(
        fql(
            "Role.create({ name: ${n}, membership: { resource: ${mgr}, predicate: 'm => m.active' }, privileges: { resource: ${rep}, actions: { read: true } } })",
            n=manager_role,
            mgr=names["Manager"],
            rep=names["Report"],
        )
    )
    t = admin.query(fql("Credential.byDocument(${d})!.login('sekret-pw')", d=boss)).data
    manager = Client(endpoint=endpoint, secret=t["secret"])
    n = manager.query(fql("${r}.all().count()", r=m["Report"])).data
    check(n == 1, f"an active manager reads reports: {n!r}")
    admin.query(fql("${d}.update({ active: false })", d=boss))
    denied(manager, fql("${r}.all().count()", r=m["Report"]), "a deactivated manager")
    step("a manager loses access on the very next request after `active` is set false")

    print(f"{STEP[0]} steps passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - the test harness reads the message
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
