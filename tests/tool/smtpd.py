#!/usr/bin/env python3
"""A loopback SMTP server for the smime-tool tests (aiosmtpd, Debian's python3-aiosmtpd).

Offers STARTTLS when given a certificate and AUTH (PLAIN, LOGIN) when given a user; the password
comes from the environment (SMTPD_PASSWORD), never from the command line. Every accepted message
is saved as OUTDIR/N.eml (the exact DATA bytes, dot-unstuffed) with OUTDIR/N.json (envelope
sender, recipients, whether TLS was on, who authenticated).

Usage: smtpd.py --port P --outdir D [--tls-cert C --tls-key K] [--user U] [--auth-required]
                [--deny ADDR]... [--ready FILE]
"""
import argparse
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, outdir, deny, auth_required):
        self.outdir = outdir
        self.deny = {d.lower() for d in deny}
        self.auth_required = auth_required
        self.count = 0
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.auth_required and not session.authenticated:
            return "530 5.7.1 Authorization required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.deny:
            return "550 5.7.1 relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.outdir, "%d" % n)
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode("utf-8", "replace")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "auth": login,
        }
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 OK queued as %d" % n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--user")
    ap.add_argument("--auth-required", action="store_true")
    ap.add_argument("--deny", action="append", default=[])
    ap.add_argument("--ready")
    a = ap.parse_args()

    password = os.environ.get("SMTPD_PASSWORD", "").encode()
    kwargs = {"decode_data": False, "data_size_limit": 64 * 1024 * 1024}
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        kwargs["tls_context"] = ctx
    if a.user:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login == a.user.encode()
                  and auth_data.password == password)
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
        kwargs["authenticator"] = authenticator
        kwargs["auth_require_tls"] = True
    handler = Handler(a.outdir, a.deny, a.auth_required)
    ctl = Controller(handler, hostname="127.0.0.1", port=a.port, server_hostname="mx.test", **kwargs)
    ctl.start()
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
