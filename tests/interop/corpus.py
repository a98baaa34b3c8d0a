#!/usr/bin/env python3
"""Generate the interoperability corpus at test time.

Usage: corpus.py OUTDIR FROM TO [NAME...]

Writes OUTDIR/NAME.eml for every message (CRLF line ends, except lfonly.eml,
which has bare LF; nonl.eml has no final line break).  Every message carries
"X-Interop-Id: @ID@", which the test replaces per send.  Content is made
here, not hand-picked: random bytes come from a seeded generator so that a
failure can be reproduced.
"""
import base64
import os
import random
import sys

NAMES = ["ascii7", "utf8", "related", "altattach", "rfc822", "big5m", "lfonly", "nonl",
         "empty", "noct", "longhdr", "subj70", "subj78", "encword"]


def hdr(frm, to, subject, extra=b""):
    return (b"From: " + frm + b"\nTo: " + to + b"\nSubject: " + subject +
            b"\nDate: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <@ID@.interop@example.com>\n"
            b"X-Interop-Id: @ID@\n" + extra)


def b64(data):
    return base64.encodebytes(data)


def make(name, frm, to, rnd):
    mv = b"MIME-Version: 1.0\n"
    if name == "ascii7":
        return hdr(frm, to, b"7-bit text") + mv + (
            b"Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n"
            b"Plain 7-bit text.\n.\n..two dots\nFrom the start of a line\ntrailing space \n"
            b"tab\tinside\n\nlast line\n")
    if name == "utf8":
        return hdr(frm, to, b"UTF-8 text") + mv + (
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            "Grüße aus Zürich, €100 — ça marche. 日本語のテキスト.\n= sign = and trailing \n"
            + "ü" * 600 + "\nend\n").encode()
    if name == "related":
        img = bytes(rnd.getrandbits(8) for _ in range(3000))
        return hdr(frm, to, b"HTML with an inline image") + mv + (
            b"Content-Type: multipart/related; boundary=\"rel-1\"; type=\"text/html\"\n\n"
            b"--rel-1\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            + "<html><body><p>Bonjour, voilà l'image :</p><img src=\"cid:img1@x\"></body></html>\n".encode()
            + b"--rel-1\nContent-Type: image/png\nContent-ID: <img1@x>\n"
            b"Content-Disposition: inline; filename=\"i.png\"\nContent-Transfer-Encoding: base64\n\n"
            + b64(img) + b"--rel-1--\n")
    if name == "altattach":
        pdf = bytes(rnd.getrandbits(8) for _ in range(20000))
        return hdr(frm, to, b"alternative and attachments") + mv + (
            b"Content-Type: multipart/mixed;\n boundary=\"mix-outer\"\n\n"
            b"This is a multi-part message in MIME format.\n"
            b"--mix-outer\nContent-Type: multipart/alternative; boundary=\"alt-inner\"\n\n"
            b"--alt-inner\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            + "Sehr geehrte Damen und Herren, anbei die Unterlagen.\n".encode()
            + b"--alt-inner\nContent-Type: text/html; charset=utf-8\n"
            b"Content-Transfer-Encoding: quoted-printable\n\n"
            b"<p>Sehr geehrte Damen und Herren, anbei die Unterlagen.=C3=BC</p>\n"
            b"--alt-inner--\n"
            b"--mix-outer\nContent-Type: application/pdf; name=\"report.pdf\"\n"
            b"Content-Disposition: attachment; filename=\"report.pdf\"\n"
            b"Content-Transfer-Encoding: base64\n\n" + b64(pdf)
            + b"--mix-outer\nContent-Type: text/csv; charset=utf-8\n"
            b"Content-Disposition: attachment; filename=\"data.csv\"\n"
            b"Content-Transfer-Encoding: 8bit\n\n"
            + "name;amount\nMüller;12,50 €\n".encode()
            + b"--mix-outer--\nepilogue text\n")
    if name == "rfc822":
        return hdr(frm, to, b"forwarded message") + mv + (
            b"Content-Type: multipart/mixed; boundary=\"fw-1\"\n\n"
            b"--fw-1\nContent-Type: text/plain; charset=us-ascii\n\nSee the forwarded message.\n"
            b"--fw-1\nContent-Type: message/rfc822\nContent-Disposition: attachment\n\n"
            b"From: Someone <someone@example.org>\nTo: alice@example.com\nSubject: original\n"
            b"Date: Sun, 22 Nov 2026 09:00:00 +0000\nMIME-Version: 1.0\n"
            b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            + "Die ursprüngliche Nachricht.\n".encode()
            + b"--fw-1--\n")
    if name == "big5m":
        blob = rnd.randbytes(5 * 1024 * 1024)
        return hdr(frm, to, b"5 MB attachment") + mv + (
            b"Content-Type: multipart/mixed; boundary=\"big-1\"\n\n"
            b"--big-1\nContent-Type: text/plain; charset=us-ascii\n\nA large attachment.\n"
            b"--big-1\nContent-Type: application/octet-stream; name=\"blob.bin\"\n"
            b"Content-Disposition: attachment; filename=\"blob.bin\"\n"
            b"Content-Transfer-Encoding: base64\n\n" + b64(blob) + b"--big-1--\n")
    if name == "lfonly":
        return hdr(frm, to, b"LF-only line ends") + mv + (
            b"Content-Type: text/plain; charset=us-ascii\n\nbare LF line ends\nsecond line\n")
    if name == "nonl":
        return hdr(frm, to, b"no final newline") + mv + (
            b"Content-Type: text/plain; charset=us-ascii\n\nthe last line has no line break")
    if name == "empty":
        return hdr(frm, to, b"empty body") + mv + b"Content-Type: text/plain; charset=us-ascii\n\n"
    if name == "noct":
        return hdr(frm, to, b"plain RFC 5322 text, no MIME") + (
            b"\nNo MIME headers at all.\nJust RFC 5322 text.\n")
    if name == "longhdr":
        refs = b"\n ".join(b"<ref%03d.%s@example.com>" % (i, b"x" * 20) for i in range(40))
        tolist = to + b",\n " + b",\n ".join(b"\"Person %d\" <p%d@elsewhere.example>" % (i, i)
                                               for i in range(3))
        return (b"From: " + frm + b"\nTo: " + tolist + b"\nSubject: long and folded headers\n"
                b"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <@ID@.interop@example.com>\n"
                b"References: " + refs + b"\nIn-Reply-To: <ref039." + b"x" * 20 + b"@example.com>\n"
                b"X-Long: " + b"y" * 900 + b"\nX-Interop-Id: @ID@\n" + mv +
                b"Content-Type: text/plain;\n charset=\"us-ascii\";\n format=flowed;\n"
                b" x-some-very-long-parameter-name=\"" + b"v" * 120 + b"\"\n"
                b"Content-Transfer-Encoding: 7bit\n\nLong headers.\n")
    if name in ("subj70", "subj78"):
        n = 70 if name == "subj70" else 78
        subj = (b"Subject of exactly %d characters " % n).ljust(n, b"s")
        assert len(subj) == n
        return hdr(frm, to, subj) + mv + b"Content-Type: text/plain; charset=us-ascii\n\n%d.\n" % n
    if name == "encword":
        return (b"From: =?UTF-8?B?" + base64.b64encode("Ålice Ünïcode".encode()) + b"?= <" +
                frm.split(b"<")[-1].rstrip(b">") + b">\nTo: " + to +
                b"\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_=E2=82=AC?= =?ISO-8859-1?Q?caf=E9?=\n"
                b"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <@ID@.interop@example.com>\n"
                b"X-Interop-Id: @ID@\n" + mv +
                b"Content-Type: multipart/mixed; boundary=\"ew\"\n\n--ew\n"
                b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                + "Anhang mit Umlaut im Namen.\n".encode() +
                b"--ew\nContent-Type: text/plain; charset=utf-8;\n name*=UTF-8''%C3%BCbersicht.txt\n"
                b"Content-Disposition: attachment;\n filename*=UTF-8''%C3%BCbersicht.txt\n"
                b"Content-Transfer-Encoding: base64\n\n" + b64("Übersicht\n".encode()) + b"--ew--\n")
    raise SystemExit("unknown corpus message " + name)


def main():
    out, frm, to = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
    names = sys.argv[4:] or NAMES
    os.makedirs(out, exist_ok=True)
    for name in names:
        rnd = random.Random(name)
        data = make(name, frm, to, rnd)
        if name != "lfonly":
            data = data.replace(b"\n", b"\r\n")
        open(os.path.join(out, name + ".eml"), "wb").write(data)


if __name__ == "__main__":
    main()
