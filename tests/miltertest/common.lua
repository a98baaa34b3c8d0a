-- common.lua - helpers shared by the miltertest scripts (loaded with dofile,
-- not a test of its own).  tests/miltertest.sh exports, for every daemon it
-- starts (MAIN, BADMODE, NOKEY):
--   MT_<NAME>_SOCKET      where miltertest connects ("unix:PATH")
--   MT_<NAME>_LOG         the daemon's stderr log
--   MT_<NAME>_TRANSCRIPT  every reply the daemon sent, one per line, written
--                         by the relay in front of it ("" when run without it)
-- and MT_DIR, this directory, and MT_PKI, the test PKI (tests/gen-certs.sh).
-- The relay also appends every replaced body to TRANSCRIPT.body (T.take_body).

local T = {}

local reply_names = {
	[SMFIR_CONTINUE] = "SMFIR_CONTINUE", [SMFIR_ACCEPT] = "SMFIR_ACCEPT",
	[SMFIR_REJECT] = "SMFIR_REJECT", [SMFIR_TEMPFAIL] = "SMFIR_TEMPFAIL",
	[SMFIR_DISCARD] = "SMFIR_DISCARD", [SMFIR_REPLYCODE] = "SMFIR_REPLYCODE",
}

function T.reply_name(r)
	if r == nil then
		return "nil"
	end
	local n = reply_names[r]
	if n ~= nil then
		return n
	end
	local i = math.floor(r)
	if i > 32 and i < 127 then
		return string.format("'%s' (%d)", string.char(i), i)
	end
	return tostring(i)
end

-- Run a script's body; report the failure ourselves, because Debian 12's
-- miltertest exits 1 on a script error without printing its message.
function T.run(body)
	local ok, err = xpcall(body, function(e)
		return debug.traceback(tostring(e), 2)
	end)
	if not ok then
		print("FAIL: " .. err)
		error(err, 0)
	end
end

function T.fail(fmt, ...)
	error(string.format(fmt, ...), 2)
end

function T.check(cond, fmt, ...)
	if not cond then
		error(string.format(fmt, ...), 2)
	end
end

-- A miltertest call returns nil on success and an error string on failure.
function T.ok(err, what)
	if err ~= nil then
		error(what .. ": " .. tostring(err), 2)
	end
end

-- The last reply must be one of the given SMFIR_* codes.
function T.reply(conn, what, ...)
	local got = mt.getreply(conn)
	local names = {}
	for _, want in ipairs({...}) do
		if got == want then
			return got
		end
		names[#names + 1] = T.reply_name(want)
	end
	error(string.format("%s: expected %s, got %s", what, table.concat(names, " or "),
	    T.reply_name(got)), 2)
end

-- ---- the daemons ----

function T.daemon(name)
	local function env(key)
		local v = os.getenv("MT_" .. name .. "_" .. key)
		if v == nil then
			error("MT_" .. name .. "_" .. key .. " is not set: run this through tests/miltertest.sh", 3)
		end
		return v
	end
	return { name = name, socket = env("SOCKET"), log = env("LOG"), transcript = env("TRANSCRIPT") }
end

local function read_file(path)
	local f = io.open(path, "rb")
	if f == nil then
		return ""
	end
	local s = f:read("a") or ""
	f:close()
	return s
end

local function lines_of(s)
	local t = {}
	for line in string.gmatch(s, "([^\n]*)\n") do
		t[#t + 1] = line
	end
	return t
end

-- Daemon log lines containing every one of the plain strings given.
function T.log_lines(d, ...)
	local found = {}
	local needles = {...}
	for _, line in ipairs(lines_of(read_file(d.log))) do
		local all = true
		for _, s in ipairs(needles) do
			if string.find(line, s, 1, true) == nil then
				all = false
				break
			end
		end
		if all then
			found[#found + 1] = line
		end
	end
	return found
end

-- Wait (up to 5 s) for a log line containing all the strings; fail otherwise.
function T.expect_log(d, ...)
	for _ = 1, 50 do
		local found = T.log_lines(d, ...)
		if #found > 0 then
			return found[1]
		end
		mt.sleep(0.1)
	end
	error(string.format("%s daemon log has no line containing %s", d.name,
	    table.concat({...}, " + ")), 2)
end

-- The transcript (every reply of the daemon, "CMD TEXT" per line, NULs
-- shown as "|") is available only through the relay.
function T.have_transcript(d)
	return d.transcript ~= ""
end

function T.transcript(d)
	local all = lines_of(read_file(d.transcript))
	if (d.since or 0) == 0 then
		return all
	end
	return { table.unpack(all, d.since + 1) }
end

-- From now on T.transcript (and what uses it) shows only the replies that follow.
function T.mark(d)
	if T.have_transcript(d) then
		d.since = #lines_of(read_file(d.transcript))
	end
end

-- Text of the last SMFIR_REPLYCODE ('y') the daemon sent, or nil.
function T.last_replytext(d)
	local last
	for _, line in ipairs(T.transcript(d)) do
		if string.sub(line, 1, 2) == "y " then
			last = string.sub(line, 3)
		end
	end
	return last
end

-- Check the SMTP reply text of the last SMFIR_REPLYCODE (miltertest itself
-- keeps the text only at end of message).
function T.expect_replytext(d, what, ...)
	if not T.have_transcript(d) then
		mt.echo("# " .. what .. ": reply text not checked (no transcript)")
		return
	end
	local text = T.last_replytext(d)
	T.check(text ~= nil, "%s: the daemon sent no SMTP reply text", what)
	for _, s in ipairs({...}) do
		T.check(string.find(text, s, 1, true) ~= nil, "%s: reply %q lacks %q", what, text, s)
	end
end

-- Message modifications the daemon sent so far (add/change/insert header,
-- replace body, add/delete recipient, quarantine, change sender).
function T.modifications(d)
	local mods = {}
	for _, line in ipairs(T.transcript(d)) do
		local c = string.sub(line, 1, 1)
		if c ~= "" and string.find("hmib+-2qe", c, 1, true) ~= nil then
			mods[#mods + 1] = line
		end
	end
	return mods
end

function T.expect_no_modifications(d, what)
	if not T.have_transcript(d) then
		return
	end
	local mods = T.modifications(d)
	T.check(#mods == 0, "%s: the daemon modified the message: %s", what, table.concat(mods, "; "))
end

-- ---- SMTP-side steps ----

function T.connect(d, host, ip)
	local conn = mt.connect(d.socket, 50, 0.1)
	T.check(conn ~= nil, "cannot connect to %s", d.socket)
	T.ok(mt.conninfo(conn, host, ip), "mt.conninfo(" .. ip .. ")")
	T.reply(conn, "connect from " .. ip, SMFIR_CONTINUE)
	return conn
end

-- The queue id as Postfix gives it: from the first RCPT on, then at EOH and EOM.
local SMFIC_EOH = string.byte("N")
local SMFIC_BODYEOB = string.byte("E")

function T.rcpt(conn, qid, addr)
	T.ok(mt.macro(conn, SMFIC_RCPT, "i", qid, "{rcpt_addr}", addr), "mt.macro(RCPT)")
	T.ok(mt.rcptto(conn, "<" .. addr .. ">"), "mt.rcptto(" .. addr .. ")")
	return mt.getreply(conn)
end

function T.headers(conn, list)
	for _, h in ipairs(list) do
		T.ok(mt.header(conn, h[1], h[2]), "mt.header(" .. h[1] .. ")")
		T.reply(conn, "header " .. h[1], SMFIR_CONTINUE)
	end
end

function T.eoh(conn, qid)
	T.ok(mt.macro(conn, SMFIC_EOH, "i", qid), "mt.macro(EOH)")
	T.ok(mt.eoh(conn), "mt.eoh")
	return mt.getreply(conn)
end

function T.body(conn, chunks)
	for i, chunk in ipairs(chunks) do
		T.ok(mt.bodystring(conn, chunk), "mt.bodystring")
		T.reply(conn, "body chunk " .. i, SMFIR_CONTINUE)
	end
end

function T.eom(conn, qid)
	T.ok(mt.macro(conn, SMFIC_BODYEOB, "i", qid), "mt.macro(EOM)")
	T.ok(mt.eom(conn), "mt.eom")
	return mt.getreply(conn)
end

-- The S/MIME headers a processed message must get, and the Content-*
-- headers it must lose; leadspc: whether SMFIP_HDR_LEADSPC was negotiated.
function T.expect_smime_rewrite(conn, what, removed)
	local lead = mt.test_option(conn, SMFIP_HDR_LEADSPC) and " " or ""

	T.check(mt.eom_check(conn, MT_BODYCHANGE), "%s: body not replaced", what)
	for _, name in ipairs(removed) do
		T.check(mt.eom_check(conn, MT_HDRDELETE, name), "%s: %s not deleted", what, name)
	end

	local function added(name)
		local v = mt.getheader(conn, name, 0)
		T.check(v ~= nil, "%s: no %s header added", what, name)
		T.check(mt.getheader(conn, name, 1) == nil, "%s: %s added twice", what, name)
		T.check(string.sub(v, 1, #lead) == lead and string.sub(v, #lead + 1, #lead + 1) ~= " ",
		    "%s: %s value %q: expected %s leading space (SMFIP_HDR_LEADSPC %s)", what, name, v,
		    lead == " " and "exactly one" or "no", lead == " " and "negotiated" or "not negotiated")
		T.check(string.find(v, "[\r]") == nil, "%s: %s value %q holds a CR", what, name, v)
		return string.sub(v, #lead + 1)
	end

	local ct = added("Content-Type")
	T.check(string.find(string.lower(ct), "^application/pkcs7%-mime;") ~= nil,
	    "%s: Content-Type %q is not application/pkcs7-mime", what, ct)
	T.check(string.find(ct, "smime-type=enveloped-data", 1, true) ~= nil,
	    "%s: Content-Type %q lacks smime-type=enveloped-data", what, ct)
	T.check(string.find(ct, 'name="smime.p7m"', 1, true) ~= nil,
	    "%s: Content-Type %q lacks name=\"smime.p7m\"", what, ct)

	local cte = added("Content-Transfer-Encoding")
	T.check(string.lower(cte) == "base64", "%s: Content-Transfer-Encoding is %q, not base64", what, cte)

	local cd = added("Content-Disposition")
	T.check(string.find(string.lower(cd), "^attachment") ~= nil,
	    "%s: Content-Disposition %q is not attachment", what, cd)
	T.check(string.find(cd, 'filename="smime.p7m"', 1, true) ~= nil,
	    "%s: Content-Disposition %q lacks filename=\"smime.p7m\"", what, cd)
end

-- ---- what the daemon produced: headers, replaced body, checked with openssl ----

-- Run a shell command; returns true when it exits 0, and its output (stdout and stderr).
function T.sh(cmd)
	local p = io.popen("(" .. cmd .. ") 2>&1")
	local out = p:read("a") or ""
	local ok = p:close()
	return ok == true, out
end

function T.shell_quote(s)
	return "'" .. string.gsub(s, "'", "'\\''") .. "'"
end

local function write_file(path, data)
	local f = assert(io.open(path, "wb"))
	f:write(data)
	f:close()
end

-- The bytes of the body replaced since the last call (empty when none); needs the relay.
function T.take_body(d)
	T.check(T.have_transcript(d), "replaced bodies are only seen through the relay (MT_NO_PROXY unset)")
	local path = d.transcript .. ".body"
	local data = read_file(path)
	os.remove(path)
	return data
end

-- A header the daemon added at end of message, without the negotiated leading space; nil if none.
function T.added_header(conn, name)
	local v = mt.getheader(conn, name, 0)
	if v == nil then
		return nil
	end
	if mt.test_option(conn, SMFIP_HDR_LEADSPC) then
		v = string.gsub(v, "^ ", "", 1)
	end
	return v
end

local function pki(path)
	local dir = os.getenv("MT_PKI")
	T.check(dir ~= nil, "MT_PKI is not set: run this through tests/miltertest.sh")
	return dir .. "/" .. path
end

-- A fresh temporary file (created empty by os.tmpname); the caller removes it.
local function scratch()
	return os.tmpname()
end

-- No header of that name was changed, deleted or added (transcript and miltertest's view).
function T.expect_header_untouched(conn, d, what, name)
	T.check(not mt.eom_check(conn, MT_HDRCHANGE, name), "%s: %s changed or deleted", what, name)
	T.check(mt.getheader(conn, name, 0) == nil, "%s: %s added", what, name)
	if T.have_transcript(d) then
		for _, line in ipairs(T.modifications(d)) do
			T.check(string.find(string.lower(line), string.lower(name) .. "|", 1, true) == nil,
			    "%s: the daemon touched %s: %s", what, name, line)
		end
	end
end

-- The message was encrypted (application/pkcs7-mime; smime-type=enveloped-data): checks the
-- S/MIME headers, then the replaced body with openssl: exactly #rcpts recipient infos, and each
-- recipient in rcpts (addresses with a key in MT_PKI/private) decrypts it to an entity that
-- contains marker.  signed: true (the entity inside is multipart/signed and verifies against
-- the test CA) or false (it is not signed).  Returns the decrypted entity of the first recipient.
function T.expect_encrypted(conn, d, what, rcpts, marker, signed, removed)
	T.expect_smime_rewrite(conn, what, removed or { "Content-Type" })
	local body = T.take_body(d)
	T.check(#body > 0, "%s: the relay saw no replaced body", what)
	local b64, der = scratch(), scratch()
	write_file(b64, body)
	local ok, out = T.sh(string.format("openssl base64 -d -in %s -out %s", b64, der))
	T.check(ok, "%s: replaced body is not base64: %s", what, out)
	ok, out = T.sh(string.format("openssl cms -cmsout -print -inform DER -in %s", der))
	T.check(ok, "%s: replaced body is not CMS: %s", what, out)
	T.check(string.find(out, "envelopedData", 1, true) ~= nil, "%s: CMS is not EnvelopedData", what)
	local _, nri = string.gsub(out, "d.ktri:", "")
	T.check(nri == #rcpts, "%s: %d key-transport recipient infos, expected %d", what, nri, #rcpts)
	local first
	for _, addr in ipairs(rcpts) do
		local inner = scratch()
		ok, out = T.sh(string.format("openssl cms -decrypt -inform DER -in %s -recip %s -inkey %s -out %s",
		    der, T.shell_quote(pki("private/" .. addr .. ".crt")),
		    T.shell_quote(pki("private/" .. addr .. ".key")), inner))
		T.check(ok, "%s: %s cannot decrypt the message: %s", what, addr, out)
		local text = read_file(inner)
		os.remove(inner)
		T.check(string.find(text, marker, 1, true) ~= nil, "%s: what %s decrypts lacks %q", what, addr, marker)
		local head = string.lower(string.match(text, "^(.-)\r\n\r\n") or "")
		local is_signed = string.find(head, "content-type: multipart/signed", 1, true) ~= nil
		T.check(is_signed == signed, "%s: the entity inside is %s, expected %s (headers: %q)", what,
		    is_signed and "multipart/signed" or "not signed", signed and "signed" or "unsigned", head)
		if signed then
			local m = scratch()
			write_file(m, text)
			ok, out = T.sh(string.format("openssl cms -verify -in %s -CAfile %s -out /dev/null", m,
			    T.shell_quote(pki("ca/root.crt"))))
			os.remove(m)
			T.check(ok, "%s: the signature inside does not verify: %s", what, out)
		end
		first = first or text
	end
	os.remove(b64)
	os.remove(der)
	return first
end

-- The message was signed, not encrypted: Content-Type multipart/signed;
-- protocol="application/pkcs7-signature"; micalg=sha-256, no smime.p7m disposition, and the
-- new body verifies against the test CA (signer: alice's certificate) and contains marker.
function T.expect_signed_only(conn, d, what, marker)
	T.check(mt.eom_check(conn, MT_BODYCHANGE), "%s: body not replaced", what)
	local ct = T.added_header(conn, "Content-Type")
	T.check(ct ~= nil, "%s: no Content-Type added", what)
	local flat = string.gsub(ct, "%s+", " ")
	T.check(string.find(flat, "^multipart/signed;") ~= nil, "%s: Content-Type %q is not multipart/signed", what, ct)
	T.check(string.find(flat, 'protocol="application/pkcs7-signature"', 1, true) ~= nil,
	    "%s: Content-Type %q lacks protocol=\"application/pkcs7-signature\"", what, ct)
	T.check(string.find(flat, "micalg=sha-256", 1, true) ~= nil, "%s: Content-Type %q lacks micalg=sha-256", what, ct)
	T.check(string.find(flat, "pkcs7-mime", 1, true) == nil, "%s: Content-Type %q says pkcs7-mime", what, ct)
	local cd = T.added_header(conn, "Content-Disposition")
	T.check(cd == nil or string.find(cd, "smime.p7m", 1, true) == nil,
	    "%s: Content-Disposition %q names smime.p7m", what, tostring(cd))
	local body = T.take_body(d)
	T.check(#body > 0, "%s: the relay saw no replaced body", what)
	T.check(string.find(body, marker, 1, true) ~= nil, "%s: the signed body lacks %q in clear", what, marker)
	local m, content = scratch(), scratch()
	write_file(m, "MIME-Version: 1.0\r\nContent-Type: " .. string.gsub(ct, "\n", "\r\n") .. "\r\n\r\n" .. body)
	local ok, out = T.sh(string.format("openssl cms -verify -in %s -CAfile %s -out %s -signer %s.signer",
	    m, T.shell_quote(pki("ca/root.crt")), content, content))
	local verified = read_file(content)
	local _, san = T.sh(string.format("openssl x509 -noout -ext subjectAltName -in %s.signer", content))
	os.remove(m)
	os.remove(content)
	os.remove(content .. ".signer")
	T.check(ok, "%s: the signature does not verify: %s", what, out)
	T.check(string.find(verified, marker, 1, true) ~= nil, "%s: the signed content lacks %q", what, marker)
	return san
end

-- Nothing was done to the message: no body or header change in miltertest's view, none in
-- the transcript (since T.mark), no replaced body.
function T.expect_untouched(conn, d, what)
	T.check(not mt.eom_check(conn, MT_BODYCHANGE), "%s: body replaced", what)
	T.check(not mt.eom_check(conn, MT_HDRADD), "%s: header added", what)
	T.check(not mt.eom_check(conn, MT_HDRCHANGE), "%s: header changed", what)
	T.expect_no_modifications(d, what)
	T.check(not T.have_transcript(d) or T.take_body(d) == "", "%s: a body was sent", what)
end

-- One message: MAIL FROM (with optional macros), RCPTs {addr, expected reply[, code, xcode]},
-- headers, end of headers.  Returns the end-of-headers reply.  Transcript checks after it
-- see only this message's replies (T.mark).
function T.start_message(conn, d, m)
	T.mark(d)
	if T.have_transcript(d) then
		T.take_body(d)
	end
	if m.mail_macros ~= nil then
		T.ok(mt.macro(conn, SMFIC_MAIL, table.unpack(m.mail_macros)), "mt.macro(MAIL)")
	end
	T.ok(mt.mailfrom(conn, "<" .. (m.envfrom or "alice@example.com") .. ">"), "mt.mailfrom")
	T.reply(conn, m.what .. ": MAIL FROM", SMFIR_CONTINUE)
	for _, r in ipairs(m.rcpts) do
		T.rcpt(conn, m.qid, r[1])
		T.reply(conn, m.what .. ": RCPT " .. r[1], r[2])
		if r[3] ~= nil then
			T.expect_replytext(d, m.what .. ": RCPT " .. r[1], r[3], r[4], "<" .. r[1] .. ">")
		end
	end
	T.headers(conn, m.headers)
	return T.eoh(conn, m.qid)
end

function T.finish_message(conn, m, body)
	T.body(conn, { body })
	T.eom(conn, m.qid)
	T.reply(conn, m.what .. ": end of message", SMFIR_CONTINUE, SMFIR_ACCEPT)
end

return T
