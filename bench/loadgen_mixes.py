#!/usr/bin/env python3
"""Writes the request mixes of the benchmark as loadgen mix files.

Each mix is a JSON Lines file of request templates (see bench/loadgen_core.h):
  healthz            GET /healthz, the daemon's cheapest endpoint
  check_hit          POST /v1/check that the policy allows
  check_miss         POST /v1/check that it denies (no binding on the path)
  check_deep         POST /v1/check on a resource 6-8 levels below the binding
  check_override     POST /v1/check on a file with a per-file raise/restriction
  check_condition    POST /v1/check whose rule carries a condition (context)
  batch_10           POST /v1/check/batch of 10 checks drawn from the above
  batch_100          POST /v1/check/batch of 100 checks
  actions            POST /v1/actions
  lookup_small       POST /v1/lookup/resources with a few results
  lookup_large       POST /v1/lookup/resources with many results
  authzen_evaluation POST /access/v1/evaluation (AuthZEN 1.0)

The entities come from a refs file (--refs, JSON): an object whose keys are
the mix names above (check_*, actions, lookup_*), each a list of request
objects in the native API's shape, e.g.
  {"check_hit": [{"subject": "user:u1", "action": "view",
                  "resource": "file:f1"}], ...}
written by the data generator for its dataset. Kinds missing from the refs
file (or every kind, without --refs) get synthetic entities (user:u<N>,
file:f<N>), which is what the constant-answer server needs and what the
harness's own test uses.

The selection is deterministic (--seed).
"""
import argparse
import json
import os
import random
import sys

CHECK_KINDS = ["check_hit", "check_miss", "check_deep", "check_override",
               "check_condition"]
MIX_NAMES = ["healthz"] + CHECK_KINDS + [
    "batch_10", "batch_100", "actions", "lookup_small", "lookup_large",
    "authzen_evaluation"]


def synthetic_refs(rng, n):
    refs = {}
    for kind in CHECK_KINDS:
        items = []
        for _ in range(n):
            item = {"subject": "user:u%d" % rng.randrange(1000),
                    "action": rng.choice(["view", "edit", "comment"]),
                    "resource": "file:f%d" % rng.randrange(100000)}
            if kind == "check_condition":
                item["context"] = {"ip": "10.0.0.%d" % rng.randrange(256)}
            items.append(item)
        refs[kind] = items
    refs["actions"] = [{"subject": "user:u%d" % rng.randrange(1000),
                        "resource": "file:f%d" % rng.randrange(100000)}
                       for _ in range(n)]
    refs["lookup_small"] = [{"subject": "user:u%d" % rng.randrange(1000),
                             "action": "view", "type": "file",
                             "limit": 100} for _ in range(n)]
    refs["lookup_large"] = [{"subject": "user:u%d" % rng.randrange(1000),
                             "action": "view", "type": "file",
                             "limit": 10000} for _ in range(n)]
    return refs


def load_refs(path, rng, n):
    refs = synthetic_refs(rng, n)
    if not path:
        return refs, sorted(refs)
    with open(path, encoding="utf-8") as f:
        try:
            given = json.load(f)
        except json.JSONDecodeError as e:
            sys.exit("loadgen_mixes: %s: invalid JSON at line %d: %s"
                     % (path, e.lineno, e.msg))
    if not isinstance(given, dict):
        sys.exit("loadgen_mixes: %s: expected a JSON object" % path)
    synthetic = []
    for kind in refs:
        items = given.get(kind)
        if items is None:
            synthetic.append(kind)
            continue
        if not isinstance(items, list) or not items or not all(
                isinstance(i, dict) for i in items):
            sys.exit("loadgen_mixes: %s: \"%s\" must be a non-empty list of "
                     "objects" % (path, kind))
        refs[kind] = items
    unknown = sorted(set(given) - set(refs))
    if unknown:
        sys.exit("loadgen_mixes: %s: unknown kinds %s" % (path, unknown))
    return refs, synthetic


def split_ref(ref):
    t, _, i = ref.partition(":")
    return t, i


def authzen_body(check):
    st, si = split_ref(check["subject"])
    rt, ri = split_ref(check["resource"])
    body = {"subject": {"type": st, "id": si},
            "action": {"name": check["action"]},
            "resource": {"type": rt, "id": ri}}
    if "context" in check:
        body["context"] = check["context"]
    return body


def templates(name, refs, rng, n):
    """The templates of one mix, as dicts."""
    def tmpl(method, path, body=None, decisions=1):
        t = {"name": name, "method": method, "path": path}
        if body is not None:
            t["body"] = body
        if decisions != 1:
            t["decisions"] = decisions
        return t

    if name == "healthz":
        return [tmpl("GET", "/healthz")]
    if name in CHECK_KINDS:
        return [tmpl("POST", "/v1/check", c) for c in refs[name][:n]]
    if name.startswith("batch_"):
        size = int(name.split("_")[1])
        pool = [c for k in CHECK_KINDS for c in refs[k]]
        return [tmpl("POST", "/v1/check/batch",
                     {"checks": [rng.choice(pool) for _ in range(size)]},
                     decisions=size)
                for _ in range(max(1, n // 4))]
    if name == "actions":
        return [tmpl("POST", "/v1/actions", a) for a in refs["actions"][:n]]
    if name.startswith("lookup_"):
        return [tmpl("POST", "/v1/lookup/resources", q)
                for q in refs[name][:n]]
    if name == "authzen_evaluation":
        return [tmpl("POST", "/access/v1/evaluation", authzen_body(c))
                for c in refs["check_hit"][:n]]
    raise ValueError(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder for <mix>.jsonl")
    ap.add_argument("--refs", help="JSON file of real entities per kind")
    ap.add_argument("--per-mix", type=int, default=64,
                    help="templates per mix (default 64)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", help="comma-separated mix names to write")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    refs, synthetic = load_refs(args.refs, rng, args.per_mix)
    names = MIX_NAMES
    if args.only:
        names = [m for m in args.only.split(",") if m]
        bad = [m for m in names if m not in MIX_NAMES]
        if bad:
            sys.exit("loadgen_mixes: unknown mixes %s (known: %s)"
                     % (bad, ", ".join(MIX_NAMES)))
    os.makedirs(args.out, exist_ok=True)
    for name in names:
        path = os.path.join(args.out, name + ".jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for t in templates(name, refs, rng, args.per_mix):
                f.write(json.dumps(t, separators=(",", ":")) + "\n")
    meta = {"mixes": names, "synthetic_kinds": synthetic,
            "refs": args.refs or None, "seed": args.seed}
    with open(os.path.join(args.out, "mixes.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(" ".join(names))


if __name__ == "__main__":
    main()
