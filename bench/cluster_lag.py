#!/usr/bin/env python3
"""Write latency and replication lag of a Portcullis cluster, over HTTP.

  cluster_lag.py --writer URL [--reader URL] --token T [--writes N] [--rate R]
                 [--group group:ID] [--clients C]

Writes N bindings at the writer (one at a time, keep-alive), paced at R
writes/s (0: as fast as one client goes), and reports the write latency
(request sent -> acknowledged) percentiles. With --reader, after each
acknowledged write it asks the reader a check with at_least_revision set to
the write's revision: the reader answers once its replica holds the write,
so that answer's latency (from the acknowledgement) bounds the replication
lag from above (it includes one request's round trip). With --clients C,
C threads share the writes and the rate (each its own connections and
users). Prints one JSON line.
"""
import argparse
import http.client
import json
import threading
import time
import urllib.parse


def connect(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def request(conn, method, path, body, token):
    conn.request(method, path, body=body,
                 headers={"Authorization": "Bearer " + token,
                          "Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def client(a, index, write_ms, lag_ms, errors):
    """One client's share: writes index, index + C, ... paced at rate / C."""
    w = connect(a.writer)
    r = connect(a.reader) if a.reader else None
    rate = a.rate / a.clients if a.rate > 0 else 0
    start = time.perf_counter()
    for k, i in enumerate(range(index, a.writes, a.clients)):
        if rate > 0:
            due = start + k / rate
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
        user = "user:bench%d_%d" % (index, i % a.users)
        roles = '["member"]' if (i // a.users) % 2 == 0 else "[]"
        body = ('{"subject":"%s","resource":"%s","roles":%s}'
                % (user, a.group, roles))
        t0 = time.perf_counter()
        status, data = request(w, "PUT", "/v1/bindings", body, a.token)
        t1 = time.perf_counter()
        if status != 200:
            errors.append("write %d: %d %s" % (i, status, data[:200]))
            return
        write_ms.append((t1 - t0) * 1000)
        if r is not None:
            rev = json.loads(data)["revision"]
            check = ('{"subject":"%s","action":"view","resource":'
                     '"%s","at_least_revision":"%s"}' % (user, a.group, rev))
            status, data = request(r, "POST", "/v1/check", check, a.token)
            t2 = time.perf_counter()
            if status != 200:
                errors.append("read %d: %d %s" % (i, status, data[:200]))
                return
            lag_ms.append((t2 - t1) * 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--writer", required=True)
    ap.add_argument("--reader")
    ap.add_argument("--token", required=True)
    ap.add_argument("--writes", type=int, default=500)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--group", default="group:project_x",
                    help="the group the bindings are written on")
    a = ap.parse_args()
    write_ms, lag_ms, errors = [], [], []
    start = time.perf_counter()
    threads = [threading.Thread(target=client,
                                args=(a, c, write_ms, lag_ms, errors))
               for c in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(errors[0])
    out = {
        "writes": a.writes,
        "clients": a.clients,
        "rate_target": a.rate,
        "rate_achieved": round(a.writes / elapsed, 1),
        "write_ms_p50": round(percentile(write_ms, 50), 3),
        "write_ms_p99": round(percentile(write_ms, 99), 3),
    }
    if lag_ms:
        out["lag_ms_p50"] = round(percentile(lag_ms, 50), 3)
        out["lag_ms_p99"] = round(percentile(lag_ms, 99), 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
