#!/usr/bin/env python3
"""Test HTTP server for tests/test_fetch.c (standard library only).

usage: httpd.py ROOT LOG
Binds 127.0.0.1 on a free port, prints the port on stdout, and serves ROOT/NAME at
  /file/NAME       honest: ETag, Range (206 + Content-Range), If-Range
  /cutonce/NAME    first request per full path: headers for the whole file, then a
                   third of the body and a closed connection; later requests as /file
  /norange/NAME    always 200 with the whole body, ignoring Range
  /redirect/NAME   302 to /file/NAME on this server
  /hub/NAME        302 to /file/NAME with X-Linked-Etag/X-Linked-Size (as the HF hub does)
  /hubbad/NAME     the same with a wrong X-Linked-Etag
  /stall/NAME      headers and 100 bytes, then silence for 30 s
Every request is appended to LOG as: PATH range=<Range|-> if-range=<If-Range|-> status=<N>
"""
import hashlib
import http.server
import os
import sys
import threading
import time

ROOT, LOG = sys.argv[1], sys.argv[2]
cut_seen = set()
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def note(self, status):
        with lock, open(LOG, "a") as f:
            f.write("%s range=%s if-range=%s status=%d\n" % (
                self.path, self.headers.get("Range", "-"), self.headers.get("If-Range", "-"), status))

    def do_GET(self):
        parts = self.path.split("?")[0].split("/")
        if len(parts) != 3 or "/" in parts[2] or parts[2].startswith("."):
            return self.fail(404)
        mode, name = parts[1], parts[2]
        path = os.path.join(ROOT, name)
        if not os.path.isfile(path):
            return self.fail(404)
        with open(path, "rb") as f:
            body = f.read()
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        if mode in ("redirect", "hub", "hubbad"):
            self.note(302)
            self.send_response(302)
            if mode != "redirect":
                sha = hashlib.sha256(body).hexdigest() if mode == "hub" else "0" * 64
                self.send_header("X-Linked-Etag", '"%s"' % sha)
                self.send_header("X-Linked-Size", str(len(body)))
            self.send_header("Location", "http://127.0.0.1:%d/file/%s" % (self.server.server_port, name))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "cutonce":
            with lock:
                first = self.path not in cut_seen
                cut_seen.add(self.path)
            if first:
                self.note(200)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body[: len(body) // 3])
                self.wfile.flush()
                self.close_connection = True
                return
            mode = "file"
        if mode == "stall":
            self.note(200)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:100])
            self.wfile.flush()
            time.sleep(30)
            return
        drip = mode == "drip"   # "file" sent slowly (8 KiB every 20 ms): time to kill the client
        if drip:
            mode = "file"
        if mode not in ("file", "norange"):
            return self.fail(404)
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if mode == "file" and rng and rng.startswith("bytes=") and (if_range is None or if_range == etag):
            start = int(rng[6:].split("-")[0])
            if start >= len(body):
                self.note(416)
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(body))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.note(206)
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(body) - 1, len(body)))
            self.send_header("Content-Length", str(len(body) - start))
            self.send_header("ETag", etag)
            self.end_headers()
            self.send_body(body[start:], drip)
            return
        self.note(200)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.send_body(body, drip)

    def send_body(self, data, drip):
        if not drip:
            self.wfile.write(data)
            return
        try:
            for i in range(0, len(data), 8192):
                self.wfile.write(data[i: i + 8192])
                self.wfile.flush()
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):   # the client was killed: expected
            self.close_connection = True

    def fail(self, status):
        self.note(status)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
os.write(1, b"%d\n" % server.server_port)  # one write: the test reads up to the newline
server.serve_forever()
