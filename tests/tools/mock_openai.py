#!/usr/bin/env python3
"""tests/tools/mock_openai.py — an OpenAI-compatible chat-completions server for the
remote-backend tests (python3 standard library only, 127.0.0.1, a free port).

    mock_openai.py LOG [--script B1,B2,...] [--default B] [--probe B] [--no-logprobs]

Prints the port on stdout (one line). Every POST is appended to LOG as one JSON
line: the behaviour used, whether it was the text-only probe, the Authorization
header, the request fields and, for the image part, its position, MIME type and
size (read from the PNG header).

Behaviours: requests with an image take the next entry of --script, then --default
(default ok); the text-only probe takes --probe (default ok).
  ok          answer "Yes" or "No" (from a hash of the question), with logprobs when
              asked and not --no-logprobs
  lpnull      "logprobs": null          lptoknull  a token's "logprob": null
  contentnull "content": null           nochoices  JSON without "choices"
  html        200 with an HTML page     echo       the answer echoes the Authorization header
  trunc       Content-Length larger than the body, then close
  chunktrunc  a chunked body cut in the middle of a chunk
  big         a 50 MB body with Content-Length
  bigchunked  a 50 MB chunked body (no length known in advance)
  slow        a body dripped one byte every 0.3 s
  sleep       ok after 0.5 s (to see requests in flight together)
  503 / 500 / 400 / 401 / 404 / 408 / 409   that status with an error body (401
              echoes the key back, as a hostile server might)
  429s        429 with Retry-After: 1   429d  429 with Retry-After as an HTTP date (now + 2 s)
"""
import base64
import email.utils
import hashlib
import http.server
import json
import os
import struct
import sys
import threading
import time

LOG = sys.argv[1]
args = sys.argv[2:]
script, default, probe_b, no_lp = [], "ok", "ok", False
i = 0
while i < len(args):
    a = args[i]
    if a == "--script":
        script = [x for x in args[i + 1].split(",") if x]; i += 2
    elif a == "--default":
        default = args[i + 1]; i += 2
    elif a == "--probe":
        probe_b = args[i + 1]; i += 2
    elif a == "--no-logprobs":
        no_lp = True; i += 1
    else:
        sys.exit("mock_openai: unknown argument %s" % a)

lock = threading.Lock()


def image_info(parts):
    """(index of the image part, mime, width, height) of a content list."""
    for k, p in enumerate(parts):
        if isinstance(p, dict) and p.get("type") == "image_url":
            url = (p.get("image_url") or {}).get("url", "")
            mime, w, h = "", 0, 0
            if url.startswith("data:") and ";base64," in url:
                mime = url[5:url.index(";")]
                raw = base64.b64decode(url[url.index(",") + 1:])
                if raw[:8] == b"\x89PNG\r\n\x1a\n":
                    w, h = struct.unpack(">II", raw[16:24])
            return k, mime, w, h
    return -1, "", 0, 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, msg, extra=()):
        body = json.dumps({"error": {"code": status, "message": msg, "type": "server_error"}}).encode()
        self.send(status, body, extra=extra)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(n))
        except ValueError:
            return self.error(400, "bad json")
        msgs = req.get("messages") or [{}]
        content = msgs[0].get("content")
        probe = not isinstance(content, list)
        parts = content if not probe else []
        img_at, mime, w, h = image_info(parts)
        text = next((p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text"),
                    content if probe else "")
        with lock:
            b = probe_b if probe else (script.pop(0) if script else default)
            with open(LOG, "a") as f:
                f.write(json.dumps({"t": time.time(), "behaviour": b, "probe": probe, "path": self.path,
                                    "auth": self.headers.get("Authorization"), "image_index": img_at,
                                    "n_parts": len(parts), "mime": mime, "w": w, "h": h, "text": text,
                                    "model": req.get("model"), "max_tokens": req.get("max_tokens"),
                                    "temperature": req.get("temperature"), "seed": req.get("seed"),
                                    "logprobs": req.get("logprobs"), "top_logprobs": req.get("top_logprobs")}) + "\n")
        try:
            self.behave(b, req, text)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def behave(self, b, req, text):
        yes = hashlib.sha256(text.encode()).digest()[0] % 2 == 0
        word, other = ("Yes", "No") if yes else ("No", "Yes")
        if b.isdigit():
            st = int(b)
            msg = "Invalid API Key: %s" % self.headers.get("Authorization") if st == 401 else "status %d" % st
            return self.error(st, msg)
        if b == "429s":
            return self.error(429, "slow down", [("Retry-After", "1")])
        if b == "429d":
            return self.error(429, "slow down", [("Retry-After", email.utils.formatdate(time.time() + 2, usegmt=True))])
        if b == "html":
            return self.send(200, b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "text/html")
        if b == "nochoices":
            return self.send(200, json.dumps({"id": "x", "object": "chat.completion", "model": "m"}).encode())
        if b == "trunc":
            body = self.answer(req, word, other, b)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) + 100))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if b == "chunktrunc":
            body = self.answer(req, word, other, b)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n" % len(body) + body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if b in ("big", "bigchunked"):
            total, piece = 50 << 20, b" " * (1 << 20)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if b == "big":
                self.send_header("Content-Length", str(total))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(total // len(piece)):
                self.wfile.write(piece if b == "big" else b"%x\r\n" % len(piece) + piece + b"\r\n")
            if b == "bigchunked":
                self.wfile.write(b"0\r\n\r\n")
            return
        if b == "slow":
            body = self.answer(req, word, other, b)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for ch in body:
                self.wfile.write(bytes([ch]))
                self.wfile.flush()
                time.sleep(0.3)
            return
        if b == "sleep":
            time.sleep(0.5)
        if b == "echo":
            word = "Yes, your key is %s" % self.headers.get("Authorization")
        self.send(200, self.answer(req, word, other, b))

    def answer(self, req, word, other, b):
        msg = {"role": "assistant", "content": None if b == "contentnull" else word}
        choice = {"index": 0, "message": msg, "finish_reason": "stop"}
        if req.get("logprobs") and not no_lp and b != "lpnull":
            k = int(req.get("top_logprobs") or 0)
            top = [{"token": word, "logprob": -0.1, "bytes": None},
                   {"token": " " + other.lower(), "logprob": -2.5, "bytes": None},
                   {"token": "Maybe", "logprob": -6.0, "bytes": None}][: max(k, 0)]
            tok = {"token": word, "logprob": None if b == "lptoknull" else -0.1, "bytes": None, "top_logprobs": top}
            choice["logprobs"] = {"content": [tok]}
        elif b == "lpnull":
            choice["logprobs"] = None
        return json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()),
                           "model": req.get("model"), "choices": [choice],
                           "usage": {"prompt_tokens": 600, "completion_tokens": 1, "total_tokens": 601}}).encode()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
os.write(1, b"%d\n" % server.server_port)
server.serve_forever()
