-- limits-mime.lua - the structure limits of daemon LIMITS, each in its own
-- message on one connection: max-mime-depth 3, max-mime-parts 5,
-- max-headers 20 (the message's and a part's), max-header-line 1k.  Each is
-- refused with 554 5.6.0 and a log line naming the keyword, and nothing is
-- changed.  On this unix socket header and body events get no reply: the
-- daemon stops at the chunk or field that exceeds a limit and gives the
-- refusal at the end of the headers or of the message.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

local d, conn
local n = 0

-- A new message to bob (encrypted) with headers; the queue id.
local function message(headers)
	n = n + 1
	local qid = string.format("MTLM%04d", n)
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM alice", SMFIR_CONTINUE)
	T.rcpt(conn, qid, "bob@partner.example")
	T.reply(conn, "RCPT bob", SMFIR_CONTINUE)
	T.headers(conn, headers)
	return qid
end

local function std(ct)
	return { { "From", "alice@example.com" }, { "To", "bob@partner.example" },
	    { "Subject", "structure" }, { "MIME-Version", "1.0" }, { "Content-Type", ct } }
end

-- The body chunk that must be refused: 554 5.6.0 with text, log line under qid.
local function refused_body(qid, what, body, text)
	T.mark(d)
	T.eoh(conn, qid)
	T.reply(conn, what .. ": end of headers", SMFIR_CONTINUE)
	T.ok(mt.bodystring(conn, body), "mt.bodystring")
	T.reply(conn, what .. ": body (no reply awaited)", SMFIR_CONTINUE)
	T.eom(conn, qid)
	T.reply(conn, what .. ": end of message", SMFIR_REPLYCODE)
	T.expect_replytext(d, what, "554 5.6.0 message refused by the S/MIME gateway: " .. text)
	T.expect_log(d, qid .. ": rejected: " .. text)
	T.expect_no_modifications(d, what)
end

local function nested(depth)
	local b = {}
	for i = 1, depth - 1 do
		b[#b + 1] = string.format("--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n",
		    i - 1, i)
	end
	b[#b + 1] = string.format("--b%d\r\nContent-Type: text/plain\r\n\r\nhi\r\n", depth - 1)
	for i = depth - 1, 0, -1 do
		b[#b + 1] = string.format("--b%d--\r\n", i)
	end
	return table.concat(b)
end

local function parts(count)
	local b = {}
	for i = 1, count do
		b[#b + 1] = string.format("--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
	end
	return table.concat(b) .. "--p--\r\n"
end

T.run(function()
	d = T.daemon("LIMITS")
	conn = T.connect(d, "client.example.com", "127.0.0.1")

	-- depth 3 is fine (signed and encrypted), 4 is not
	local qid = message(std("multipart/mixed; boundary=\"b0\""))
	T.eoh(conn, qid)
	T.reply(conn, "depth 3: end of headers", SMFIR_CONTINUE)
	T.body(conn, { nested(3) })
	T.eom(conn, qid)
	T.reply(conn, "depth 3: end of message", SMFIR_CONTINUE, SMFIR_ACCEPT)
	T.expect_smime_rewrite(conn, "depth 3", { "Content-Type" })
	T.expect_log(d, qid .. ": ", "signed and encrypted")
	qid = message(std("multipart/mixed; boundary=\"b0\""))
	refused_body(qid, "depth 4", nested(4),
	    "MIME parts nested deeper than 3 levels (max-mime-depth)")
	T.expect_log(d, qid .. ": ", "reason=mime_depth")

	qid = message(std("multipart/mixed; boundary=p"))
	refused_body(qid, "6 parts", parts(6), "more than 5 MIME parts (max-mime-parts)")

	qid = message(std("multipart/mixed; boundary=p"))
	local many = { "--p\r\n" }
	for i = 1, 21 do
		many[#many + 1] = string.format("X-Field-%d: v\r\n", i)
	end
	many[#many + 1] = "\r\nbody\r\n--p--\r\n"
	refused_body(qid, "a part of 21 fields", table.concat(many),
	    "a MIME part with more than 20 header fields (max-headers)")

	qid = message(std("multipart/mixed; boundary=p"))
	refused_body(qid, "a part field of 1025 bytes",
	    "--p\r\nX-Long: " .. string.rep("x", 1025 - 10) .. "\r\n\r\nbody\r\n--p--\r\n",
	    "a MIME part header field longer than 1024 bytes (max-header-line)")

	-- the message's own header: the 21st field, and a field of 1025 bytes
	qid = message({})
	for i = 1, 20 do
		T.ok(mt.header(conn, "X-Field-" .. i, "v"), "mt.header")
		T.reply(conn, "header " .. i, SMFIR_CONTINUE)
	end
	T.mark(d)
	T.ok(mt.header(conn, "X-Field-21", "v"), "mt.header")
	T.reply(conn, "header 21 (no reply awaited)", SMFIR_CONTINUE)
	T.eoh(conn, qid)
	T.reply(conn, "header 21: end of headers", SMFIR_REPLYCODE)
	T.expect_replytext(d, "header 21", "554 5.6.0 message refused by the S/MIME gateway: "
	    .. "more than 20 header fields (max-headers)")
	T.expect_log(d, qid .. ": rejected: more than 20 header fields (max-headers)")

	qid = message({})
	T.mark(d)
	-- "X-Long:" + value + CRLF (with or without the leading space the MTA sends)
	T.ok(mt.header(conn, "X-Long", string.rep("y", 1025 - 9)), "mt.header")
	T.reply(conn, "header of 1025 bytes (no reply awaited)", SMFIR_CONTINUE)
	T.eoh(conn, qid)
	T.reply(conn, "header of 1025 bytes: end of headers", SMFIR_REPLYCODE)
	T.expect_replytext(d, "header of 1025 bytes", "554 5.6.0 message refused by the S/MIME "
	    .. "gateway: a header field longer than 1024 bytes (max-header-line)")
	T.expect_log(d, qid .. ": rejected: a header field longer than 1024 bytes (max-header-line)")
	mt.disconnect(conn)
end)
