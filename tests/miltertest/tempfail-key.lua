-- tempfail-key.lua - when the signing key cannot be used the message is
-- tempfailed (451 4.7.0) before anything is changed:
--   BADMODE daemon: alice's key file is mode 0644 -> refused, and the log
--                   names the file and says it is readable by group or others
--   NOKEY daemon:   no key file for alice at all
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()

	local function expect_tempfail(d, qid, what)
		local conn = T.connect(d, "client.example.com", "127.0.0.1")
		T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
		T.reply(conn, what .. ": MAIL FROM alice", SMFIR_CONTINUE)
		T.rcpt(conn, qid, "bob@partner.example")
		T.reply(conn, what .. ": RCPT bob", SMFIR_CONTINUE)
		T.headers(conn, {
			{ "From", "Alice <alice@example.com>" },
			{ "To", "bob@partner.example" },
			{ "Subject", "needs a key" },
			{ "MIME-Version", "1.0" },
			{ "Content-Type", "text/plain; charset=us-ascii" },
		})
		local r = T.eoh(conn, qid)
		if r == SMFIR_CONTINUE then
			-- the key may legitimately be loaded only at end of message
			T.body(conn, { "body\r\n" })
			r = T.eom(conn, qid)
			T.check(not mt.eom_check(conn, MT_BODYCHANGE), "%s: body replaced", what)
			T.check(not mt.eom_check(conn, MT_HDRADD), "%s: header added", what)
			T.check(not mt.eom_check(conn, MT_HDRCHANGE), "%s: header changed", what)
		end
		T.reply(conn, what .. ": end of headers or message", SMFIR_TEMPFAIL, SMFIR_REPLYCODE)
		if r == SMFIR_REPLYCODE then
			T.expect_replytext(d, what, "451", "4.7.0")
		end
		T.expect_no_modifications(d, what)
		mt.disconnect(conn)
	end

	local bad = T.daemon("BADMODE")
	local keyfile = os.getenv("MT_BADMODE_KEYFILE")
	T.check(keyfile ~= nil, "MT_BADMODE_KEYFILE is not set")
	expect_tempfail(bad, "MTTK0001", "key file mode 0644")
	T.expect_log(bad, "MTTK0001: ", "tempfail", keyfile, "readable by group or others")

	local none = T.daemon("NOKEY")
	expect_tempfail(none, "MTTK0002", "no key file")
	T.expect_log(none, "MTTK0002: ", "tempfail", "alice@example.com")
end)
