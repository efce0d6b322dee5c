// Sesame's web shell: the FQL-notation renderer (a port of sesame_fql::render::render_fql,
// held to it by crates/sesame-fql/tests/render_golden.json) and the page's behaviour.
// The secret lives in this closure's memory and the password field only: it is sent only in
// the Authorization header of POST /query/1, never stored, put in a URL or logged.
"use strict";
(function () {
  // ---- FQL notation (keep in step with crates/sesame-fql/src/render.rs) ----
  function isDisplay(u) {
    return !(u <= 0x08 || (u >= 0x0e && u <= 0x1f) || u === 0x7f ||
      (u >= 0x2000 && u <= 0x200f) || (u >= 0x2028 && u <= 0x202f) ||
      (u >= 0x2060 && u <= 0x206f) || u === 0xfeff || (u >= 0xfff0 && u <= 0xffff));
  }
  function quote(s) {
    let out = '"';
    for (const c of s) {
      const u = c.codePointAt(0);
      if (c === '"') out += '\\"';
      else if (c === "\\") out += "\\\\";
      else if (c === "#") out += "\\#";
      else if (c === "\n") out += "\\n";
      else if (c === "\r") out += "\\r";
      else if (c === "\t") out += "\\t";
      else if (u < 0x20 || !isDisplay(u)) out += "\\u{" + u.toString(16) + "}";
      else out += c;
    }
    return out + '"';
  }
  function key(k) { return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : quote(k); }
  // The server's JSON objects are key-sorted (byte order of UTF-8 = code point order).
  function cmp(a, b) {
    const x = Array.from(a), y = Array.from(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const d = x[i].codePointAt(0) - y[i].codePointAt(0);
      if (d !== 0) return d;
    }
    return x.length - y.length;
  }
  function keysOf(m) { return Object.keys(m).sort(cmp); }
  function isObj(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }
  function has(m, k) { return Object.prototype.hasOwnProperty.call(m, k); }
  function fields(m, depth, ks) {
    ks = ks || keysOf(m);
    if (ks.length === 0) return "{}";
    return "{ " + ks.map(function (k) { return key(k) + ": " + render(m[k], depth + 1); }).join(", ") + " }";
  }
  function ordered(m, first, depth) {
    const ks = first.filter(function (k) { return has(m, k); })
      .concat(keysOf(m).filter(function (k) { return first.indexOf(k) < 0; }));
    return fields(m, depth, ks);
  }
  function collName(v) {
    if (isObj(v)) return typeof v["@mod"] === "string" ? v["@mod"] : "?";
    if (typeof v === "string") return v;
    return "?";
  }
  function reference(m) {
    const coll = collName(has(m, "coll") ? m.coll : undefined);
    let out;
    if (typeof m.id === "string" && has(m, "id")) out = coll + "(" + quote(m.id) + ")";
    else if (typeof m.name === "string" && has(m, "name")) out = coll + ".byName(" + quote(m.name) + ")";
    else out = "null";
    if (has(m, "exists") && m.exists === false) {
      out += " /* " + (typeof m.cause === "string" ? m.cause : "not found") + " */";
    }
    return out;
  }
  function render(v, depth) {
    if (depth > 128) return "...";
    if (v === null) return "null";
    if (v === true) return "true";
    if (v === false) return "false";
    if (typeof v === "number") return String(v);
    if (typeof v === "string") return quote(v);
    if (Array.isArray(v)) return "[" + v.map(function (x) { return render(x, depth + 1); }).join(", ") + "]";
    const ks = keysOf(v);
    if (ks.length === 1) {
      const t = ks[0], x = v[t];
      if (typeof x === "string") {
        switch (t) {
          case "@int": case "@long": return x;
          case "@double":
            return x === "Infinity" ? "Math.Infinity" : x === "-Infinity" ? "-Math.Infinity" : x === "NaN" ? "Math.NaN" : x;
          case "@time": return "Time(" + quote(x) + ")";
          case "@date": return "Date(" + quote(x) + ")";
          case "@bytes": return "Bytes(" + quote(x) + ")";
          case "@mod": return x;
          case "@set": return "Set.paginate(" + quote(x) + ")";
        }
      } else if (isObj(x)) {
        switch (t) {
          case "@ref": return reference(x);
          case "@doc": return ordered(x, ["id", "name", "coll", "ts", "ttl"], depth);
          case "@object": return fields(x, depth);
          case "@set": return ordered(x, ["data", "after"], depth);
        }
      }
    }
    return fields(v, depth, ks);
  }
  function renderFql(v) { return render(v, 0); }

  // An answer of /query/1 as the shells print it: the value or the error with its summary.
  function renderAnswer(body) {
    if (isObj(body) && has(body, "data")) return { ok: true, text: renderFql(body.data) };
    const e = isObj(body) && isObj(body.error) ? body.error : {};
    let text = (e.code || "error") + ": " + (e.message || "");
    if (isObj(body) && typeof body.summary === "string" && body.summary !== "") text += "\n" + body.summary;
    return { ok: false, text: text };
  }
  function renderStats(body) {
    if (!isObj(body) || !isObj(body.stats)) return "";
    return keysOf(body.stats).map(function (k) { return k + ": " + JSON.stringify(body.stats[k]); }).join(", ");
  }

  if (typeof module !== "undefined" && module.exports) {
    module.exports = { renderFql: renderFql, renderAnswer: renderAnswer, renderStats: renderStats };
  }
  if (typeof document === "undefined") return;

  // ---- The page ----
  function $(id) { return document.getElementById(id); }
  const secrets = { key: "", secret: "" };
  const labels = { key: "", secret: "" };
  const history = [];
  let at = 0;
  let mode = "key";

  function post(secret, query) {
    return fetch("/query/1", {
      method: "POST",
      headers: { "Authorization": "Bearer " + secret, "X-Format": "tagged", "Content-Type": "application/json" },
      body: JSON.stringify({ query: query }),
      cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer", redirect: "error",
    }).then(function (r) {
      return r.text().then(function (t) {
        try { return { status: r.status, body: JSON.parse(t), text: t }; }
        catch (_) { return { status: r.status, body: { error: { code: "http_" + r.status, message: t } }, text: t }; }
      });
    });
  }

  function showWho() {
    const s = secrets[mode];
    $("who").textContent = !s ? "no secret" : labels[mode] ? labels[mode] : "not yet used";
  }

  // Once a secret has answered, say honestly what it is: Query.token() is null for keys (whose
  // role a query cannot reveal) and the token itself for token secrets.
  function label(forMode, secret) {
    post(secret, "Query.token()").then(function (a) {
      if (secrets[forMode] !== secret || !isObj(a.body) || !has(a.body, "data")) return;
      const d = a.body.data;
      let l;
      if (d === null) l = "authenticated: a key (its role is the server's to know)";
      else if (isObj(d) && isObj(d["@doc"])) {
        const doc = d["@doc"];
        l = "authenticated: token " + quote(String(doc.id)) + (doc.document ? " of " + renderFql(doc.document) : "");
      } else l = "authenticated";
      labels[forMode] = l;
      if (forMode === mode) showWho();
    }, function () {});
  }

  function entry(query, answer) {
    const div = document.createElement("div");
    div.className = "entry";
    const q = document.createElement("pre");
    q.className = "q";
    q.textContent = query;
    const out = document.createElement("pre");
    const r = renderAnswer(answer.body);
    out.className = r.ok ? "out" : "out err";
    out.textContent = r.text;
    const st = document.createElement("div");
    st.className = "stats";
    st.textContent = renderStats(answer.body);
    const raw = document.createElement("pre");
    raw.className = "raw";
    let pretty = answer.text;
    try { pretty = JSON.stringify(JSON.parse(answer.text), null, 2); } catch (_) { /* as is */ }
    raw.textContent = pretty;
    div.append(q, out, st, raw);
    $("results").append(div);
    div.scrollIntoView({ block: "nearest" });
  }

  function run() {
    const query = $("editor").value.trim();
    if (!query) return;
    secrets[mode] = $("secret").value.trim();
    const secret = secrets[mode];
    if (history[history.length - 1] !== query) history.push(query);
    at = history.length;
    const results = $("results");
    const done = function (answer) {
      entry(query, answer);
      results.dataset.runs = String(Number(results.dataset.runs) + 1);
      if (answer.status === 401) labels[mode] = "";
      else if (has(answer.body || {}, "data") && !labels[mode] && secret) label(mode, secret);
      showWho();
    };
    post(secret, query).then(done, function (e) {
      done({ status: 0, body: { error: { code: "network_error", message: String(e) } }, text: String(e) });
    });
  }

  function init() {
    const ed = $("editor");
    ed.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); run(); }
      else if (ev.altKey && ev.key === "ArrowUp" && at > 0) { ev.preventDefault(); at--; ed.value = history[at]; }
      else if (ev.altKey && ev.key === "ArrowDown" && at < history.length) {
        ev.preventDefault(); at++; ed.value = at < history.length ? history[at] : "";
      }
    });
    $("run").addEventListener("click", run);
    $("clear").addEventListener("click", function () { $("results").textContent = ""; });
    $("raw").addEventListener("change", function (ev) { document.body.classList.toggle("showraw", ev.target.checked); });
    $("secret").addEventListener("input", function (ev) {
      secrets[mode] = ev.target.value.trim();
      labels[mode] = "";
      showWho();
    });
    document.querySelectorAll("input[name=mode]").forEach(function (r) {
      r.addEventListener("change", function (ev) {
        secrets[mode] = $("secret").value.trim();
        mode = ev.target.value;
        $("secret").value = secrets[mode];
        $("secret").placeholder = mode === "key" ? "paste an admin or server key secret" : "paste a token or key secret";
        showWho();
      });
    });
    showWho();
    ed.focus();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
