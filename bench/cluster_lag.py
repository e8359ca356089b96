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
C client processes (not threads: one interpreter would be the bottleneck
at thousands of requests per second) share the writes and the rate, each
with its own connections and users. Prints one JSON line.
"""
import argparse
import json
import multiprocessing
import socket
import time
import urllib.parse


class Conn:
    """One keep-alive HTTP/1.1 connection over a plain socket: a fraction of
    http.client's CPU per request, so that the clients are not what limits
    the rate on a small machine. Answers must carry Content-Length (every
    non-streamed Portcullis answer does)."""

    def __init__(self, url, token):
        u = urllib.parse.urlparse(url)
        self.host = "%s:%d" % (u.hostname, u.port)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.token = token
        self.buf = b""

    def request(self, method, path, body):
        data = body.encode()
        head = ("%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (method, path, self.host, self.token, len(data)))
        self.sock.sendall(head.encode() + data)
        while b"\r\n\r\n" not in self.buf:
            self.more()
        end = self.buf.index(b"\r\n\r\n") + 4
        header = self.buf[:end].decode("latin-1")
        status = int(header.split(" ", 2)[1])
        length = 0
        for line in header.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        while len(self.buf) < end + length:
            self.more()
        body = self.buf[end:end + length]
        self.buf = self.buf[end + length:]
        return status, body

    def more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk


def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def client(a, index, out):
    """One client's share: writes index, index + C, ... paced at rate / C.
    Puts (write_ms, lag_ms, errors) on the queue `out`."""
    write_ms, lag_ms, errors = [], [], []
    try:
        run(a, index, write_ms, lag_ms, errors)
    except Exception as e:  # a dropped connection, a timeout
        errors.append("client %d: %r" % (index, e))
    out.put((write_ms, lag_ms, errors))


def run(a, index, write_ms, lag_ms, errors):
    w = Conn(a.writer, a.token)
    r = Conn(a.reader, a.token) if a.reader else None
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
        status, data = w.request("PUT", "/v1/bindings", body)
        t1 = time.perf_counter()
        if status != 200:
            errors.append("write %d: %d %s" % (i, status, data[:200]))
            return
        write_ms.append((t1 - t0) * 1000)
        if r is not None:
            rev = json.loads(data)["revision"]
            check = ('{"subject":"%s","action":"view","resource":'
                     '"%s","at_least_revision":"%s"}' % (user, a.group, rev))
            status, data = r.request("POST", "/v1/check", check)
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
    queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client, args=(a, c, queue))
             for c in range(a.clients)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for _ in procs:
        w, l, e = queue.get()
        write_ms += w
        lag_ms += l
        errors += e
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
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
