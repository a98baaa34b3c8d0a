#!/usr/bin/env python3
"""Compare the entity a verifier recovered with the message that was sent.

Usage: compare.py SENT RECOVERED [--decoded] [--hp cipher|clear] [--hide-subject]

SENT       the message as injected (its SMTP form is derived: CRLF line ends,
           a final CRLF)
RECOVERED  the signed content a verifier gave back (the inner entity)

Default: byte-for-byte equality with the sent Content-* fields + body.
--decoded  sign-only mail may have had 8bit/binary leaves re-encoded: the
           recovered entity must be 7-bit clean (no byte >= 0x80, no NUL,
           lines of at most 998 octets, re-encoded leaves of at most 76
           columns) and decode, leaf by leaf, to exactly the sent content.
--hp       RFC 9788: the recovered header block must carry the protected
           fields of the sent message (and HP-Outer copies with cipher,
           "[...]" for a hidden Subject) and hp="..." on its Content-Type;
           those are checked and then set aside for the comparison above.
Exit 0 when equal; otherwise prints why and exits 1.
"""
import base64
import binascii
import re
import sys

PROTECTED = ["from", "to", "cc", "subject", "date", "message-id", "reply-to", "in-reply-to",
             "references"]


def fail(why):
    print(why)
    sys.exit(1)


def smtp_form(data):
    data = re.sub(rb"\r?\n", b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def split_entity(data):
    """(list of raw fields incl. folding, without final CRLF), body"""
    if data.startswith(b"\r\n"):
        return [], data[2:]
    i = data.find(b"\r\n\r\n")
    if i < 0:
        return fields_of(data), b""
    return fields_of(data[:i + 2]), data[i + 4:]


def fields_of(head):
    out = []
    for line in head.split(b"\r\n"):
        if line == b"":
            continue
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b"\r\n" + line
        else:
            out.append(line)
    return out


def name_of(f):
    return f.split(b":", 1)[0].strip().lower().decode("ascii", "replace")


def norm(v):
    return re.sub(rb"\s+", b" ", v).strip()


def value_of(f):
    return norm(f.split(b":", 1)[1]) if b":" in f else b""


def ct_norm(v):
    """Content-Type value: lower-case type, parameters as a sorted tuple."""
    parts = [p.strip() for p in re.split(rb";(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", norm(v))]
    params = []
    for p in parts[1:]:
        if not p:
            continue
        k, _, val = p.partition(b"=")
        params.append((k.strip().lower(), val.strip()))
    return parts[0].lower(), tuple(sorted(params))


def strip_hp(fields, sent_fields, hp, hide_subject):
    """Check and remove the RFC 9788 additions; return the remaining fields."""
    prot_sent = [(name_of(f), value_of(f)) for f in sent_fields if name_of(f) in PROTECTED]
    prot_got = [(name_of(f), value_of(f)) for f in fields if name_of(f) in PROTECTED]
    if prot_sent != prot_got:
        fail("protected header fields differ:\n sent %r\n got  %r" % (prot_sent, prot_got))
    outer = [value_of(f) for f in fields if name_of(f) == "hp-outer"]
    if hp == "cipher":
        want = []
        for n, v in prot_sent:
            if n == "subject" and hide_subject:
                v = b"[...]"
            want.append(n)
            want.append(v)
        got = []
        for o in outer:
            n, _, v = o.partition(b":")
            got.append(n.strip().lower().decode())
            got.append(norm(v))
        if got != want:
            fail("HP-Outer fields differ:\n want %r\n got  %r" % (want, got))
    elif outer:
        fail("HP-Outer fields with hp=clear: %r" % outer)
    rest = [f for f in fields if name_of(f) not in PROTECTED and name_of(f) != "hp-outer"]
    cts = [f for f in rest if name_of(f) == "content-type"]
    if len(cts) != 1:
        fail("%d Content-Type fields in the protected entity" % len(cts))
    t, params = ct_norm(value_of(cts[0]))
    if (b"hp", b'"' + hp.encode() + b'"') not in params:
        fail("Content-Type lacks hp=\"%s\": %r" % (hp, cts[0]))
    sent_ct = [f for f in sent_fields if name_of(f) == "content-type"]
    want_t, want_p = ct_norm(value_of(sent_ct[0])) if sent_ct else (
        b"text/plain", ((b"charset", b"us-ascii"),))
    got_p = tuple(p for p in params if p[0] != b"hp")
    if (t, got_p) != (want_t, want_p):
        fail("Content-Type differs beyond hp: sent %r got %r" % ((want_t, want_p), (t, got_p)))
    return [f for f in rest if name_of(f) != "content-type"], (want_t, want_p)


def qp_decode(data):
    data = re.sub(rb"=\r\n", b"", data)
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: binascii.unhexlify(m.group(1)), data)


def cte_of(fields):
    for f in fields:
        if name_of(f) == "content-transfer-encoding":
            return value_of(f).lower()
    return b""


def boundary_of(ct):
    m = re.search(rb";\s*boundary\s*=\s*(?:\"([^\"]*)\"|([^;\s]+))", ct, re.I)
    return None if not m else (m.group(1) if m.group(1) is not None else m.group(2))


def tree(fields, body, path, out, default=b"text/plain", ct_override=None):
    """Flatten an entity into (path, what, bytes) items, leaves decoded."""
    ctf = [value_of(f) for f in fields if name_of(f) == "content-type"]
    ct = ctf[0] if ctf else default
    ctype = ct_override if ct_override is not None else ct_norm(ct)
    cte = cte_of(fields)
    others = [(name_of(f), value_of(f)) for f in fields
              if name_of(f) not in ("content-type", "content-transfer-encoding")]
    out.append((path, "fields", repr((ctype, others)).encode()))
    mtype = ctype[0]
    b = boundary_of(ct)
    if mtype.startswith(b"multipart/") and b:
        dash = b"--" + b
        parts = re.split(rb"(?:^|\r\n)" + re.escape(dash) + rb"(--)?[ \t]*(?=\r\n|$)", body)
        # parts: preamble, (close?, part)*
        out.append((path, "preamble", parts[0]))
        i, n = 1, 0
        while i < len(parts):
            close, part = parts[i], parts[i + 1]
            if close:
                out.append((path, "epilogue", part))
                break
            part = part[2:] if part.startswith(b"\r\n") else part
            pf, pb = split_entity(part)
            dflt = b"message/rfc822" if mtype == b"multipart/digest" else b"text/plain"
            tree(pf, pb, path + "." + str(n), out, dflt)
            n += 1
            i += 2
        return
    if mtype in (b"message/rfc822", b"message/global") and cte not in (b"base64", b"quoted-printable"):
        nf, nb = split_entity(body)
        tree(nf, nb, path + ".m", out)
        return
    if cte == b"base64":
        try:
            data = base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
        except binascii.Error as e:
            fail("%s: base64 does not decode: %s" % (path, e))
    elif cte == b"quoted-printable":
        data = qp_decode(body)
    else:
        data = body
    out.append((path, "data", data))


def check_7bit(data):
    if re.search(rb"[\x80-\xff\x00]", data):
        i = re.search(rb"[\x80-\xff\x00]", data).start()
        fail("8-bit or NUL byte at offset %d of the signed entity" % i)
    for n, line in enumerate(data.split(b"\r\n"), 1):
        if len(line) > 998:
            fail("line %d of the signed entity has %d octets" % (n, len(line)))


def main():
    args = sys.argv[1:]
    decoded = "--decoded" in args
    hide = "--hide-subject" in args
    hp = None
    if "--hp" in args:
        hp = args[args.index("--hp") + 1]
    pos = [a for i, a in enumerate(args) if not a.startswith("--") and
           (i == 0 or args[i - 1] != "--hp")]
    sent = smtp_form(open(pos[0], "rb").read())
    got = open(pos[1], "rb").read()
    sent_fields, sent_body = split_entity(sent)
    content = [f for f in sent_fields if name_of(f).startswith("content-")]
    if hp is None and not decoded:
        want = b"".join(f + b"\r\n" for f in content) + b"\r\n" + sent_body
        if got != want:
            i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]),
                     min(len(got), len(want)))
            fail("recovered entity differs from the sent one at byte %d (%d vs %d bytes): "
                 "got %r want %r" % (i, len(got), len(want), got[i:i + 40], want[i:i + 40]))
        return
    if decoded:
        check_7bit(got)
    got_fields, got_body = split_entity(got)
    override = None
    if hp is not None:
        got_fields, override = strip_hp(got_fields, sent_fields, hp, hide)
        content = [f for f in content if name_of(f) != "content-type"]
    if not decoded:
        if [norm(f) for f in got_fields] != [norm(f) for f in content]:
            fail("Content-* fields differ: sent %r got %r" % (content, got_fields))
        if got_body != sent_body:
            fail("body differs (%d vs %d bytes)" % (len(got_body), len(sent_body)))
        return
    a, b = [], []
    sent_ct = [f for f in sent_fields if name_of(f) == "content-type"]
    tree(content + ([] if hp is None else sent_ct), sent_body, "0", a,
         ct_override=override)
    tree(got_fields + ([] if hp is None else sent_ct), got_body, "0", b, ct_override=override)
    for x, y in zip(a, b):
        if x != y:
            fail("part %s (%s) differs after decoding: sent %r got %r" % (
                x[0], x[1], x[2][:60], y[2][:60]))
    if len(a) != len(b):
        fail("MIME structure differs: %d vs %d items" % (len(a), len(b)))


if __name__ == "__main__":
    main()
