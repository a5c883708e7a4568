"""Tiny throughput loop: non-streaming chat completions over keep-alive connections.

    python3 tests/standin/throughput.py --url http://127.0.0.1:8003 --requests 3000 --concurrency 4

Prints requests/s. Standard library only, so it also runs in the stand-in images. It is bounded by
--requests and meant for loopback addresses (the stand-in, or nginx in front of it).
"""

import argparse
import http.client
import json
import threading
import time
import urllib.parse


def worker(url, model, count, results):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
    body = json.dumps({"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hello there"}]})
    ok = 0
    for _request in range(count):
        conn.request("POST", parts.path.rstrip("/") + "/v3/chat/completions", body=body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        ok += resp.status == 200
    conn.close()
    results.append(ok)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8003")
    parser.add_argument("--model", default="m")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    results = []
    per_worker = max(1, args.requests // args.concurrency)
    threads = [threading.Thread(target=worker, args=(args.url, args.model, per_worker, results))
               for _worker in range(args.concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    total = per_worker * args.concurrency
    print(f"{total} requests ({sum(results)} ok), concurrency {args.concurrency}: {elapsed:.2f} s, "
          f"{total / elapsed:.0f} requests/s")
    return 0 if sum(results) == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
