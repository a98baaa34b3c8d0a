#!/usr/bin/env python3
"""A loopback HTTPS endpoint that behaves like SparkPost's transmissions API, for the smime-tool
tests (standard library only).

It checks the request shape: POST /api/v1/transmissions, the Authorization header equal to the
key in the environment (APID_KEY), a JSON body with content.email_rfc822 (a string) and
recipients [{"address": {"email": ...}}], open and click tracking both off, or both on for
a message that is not signed. A good request is answered as SparkPost
does ({"results": {"total_rejected_recipients": 0, "total_accepted_recipients": N, "id": ...}})
and saved as OUTDIR/N.eml (email_rfc822, UTF-8) + OUTDIR/N.json (recipients, headers). A bad key
gets 401 {"errors": [{"message": "Unauthorized."}]}; a recipient given with --reject gets a 422
with SparkPost's error shape; any other shape problem gets a 400 naming it.

Usage: apid.py --port P --outdir D --tls-cert C --tls-key K [--reject ADDR]... [--ready FILE]
"""
import argparse
import json
import os
import re
import signal
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(outdir, key, reject):
    state = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def bad(self, why):
            self.reply(400, {"errors": [{"message": "invalid request", "description": why,
                                         "code": "1300"}]})

        def do_GET(self):
            self.bad("method GET not allowed")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.path != "/api/v1/transmissions":
                return self.reply(404, {"errors": [{"message": "resource not found"}]})
            if self.headers.get("Authorization") != key:
                return self.reply(401, {"errors": [{"message": "Unauthorized."}]})
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                return self.bad("Content-Type is not application/json")
            try:
                req = json.loads(raw.decode("utf-8"))
            except Exception as e:
                return self.bad("body is not JSON: %s" % e)
            content = req.get("content") or {}
            msg = content.get("email_rfc822")
            rcpts = req.get("recipients")
            if not isinstance(msg, str) or not msg:
                return self.bad("content.email_rfc822 missing")
            if not isinstance(rcpts, list) or not rcpts:
                return self.bad("recipients missing")
            emails = []
            for r in rcpts:
                addr = (r.get("address") or {}) if isinstance(r, dict) else {}
                if not isinstance(addr, dict) or not isinstance(addr.get("email"), str):
                    return self.bad("recipient without address.email: %r" % (r,))
                emails.append(addr["email"])
            opts = req.get("options") or {}
            tracking = [opts.get("open_tracking"), opts.get("click_tracking")]
            if tracking not in ([False, False], [True, True]):
                return self.bad("open_tracking and click_tracking must both be true or false")
            if tracking[0] and re.search(r"(?im)^content-type:\s*(multipart/signed|"
                                         r"application/(x-)?pkcs7-mime;.*signed-data)", msg):
                return self.bad("tracking must be off for signed S/MIME")
            for e in emails:
                if e.lower() in reject:
                    return self.reply(422, {"errors": [{
                        "message": "Invalid recipient",
                        "description": "recipient address %s is suppressed" % e,
                        "code": "1902"}]})
            with lock:
                state["n"] += 1
                n = state["n"]
            base = os.path.join(outdir, "%d" % n)
            with open(base + ".json", "w") as f:
                json.dump({"recipients": emails, "method": self.command, "path": self.path,
                           "campaign_id": req.get("campaign_id"), "options": opts}, f)
            with open(base + ".eml.tmp", "wb") as f:
                f.write(msg.encode("utf-8"))
            os.rename(base + ".eml.tmp", base + ".eml")
            self.reply(200, {"results": {"total_rejected_recipients": 0,
                                         "total_accepted_recipients": len(emails),
                                         "id": "1130%05d" % n}})

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--tls-cert", required=True)
    ap.add_argument("--tls-key", required=True)
    ap.add_argument("--reject", action="append", default=[])
    ap.add_argument("--ready")
    a = ap.parse_args()
    key = os.environ.get("APID_KEY", "")
    srv = ThreadingHTTPServer(("127.0.0.1", a.port),
                              make_handler(a.outdir, key, {r.lower() for r in a.reject}))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.tls_cert, a.tls_key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
