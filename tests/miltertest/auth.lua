-- auth.lua - an SMTP-authenticated client ({auth_authen} set at MAIL FROM)
-- outside internal-hosts is processed like an internal one.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("MAIN")

	local conn = T.connect(d, "roaming.example.net", "192.0.2.10")
	local qid = "MTAU0001"

	T.ok(mt.macro(conn, SMFIC_MAIL, "{auth_authen}", "alice", "{auth_type}", "PLAIN"), "mt.macro(MAIL)")
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM alice (authenticated)", SMFIR_CONTINUE)
	T.rcpt(conn, qid, "bob@partner.example")
	T.reply(conn, "RCPT bob", SMFIR_CONTINUE)
	T.headers(conn, {
		{ "From", "alice@example.com" },
		{ "To", "bob@partner.example" },
		{ "Subject", "from the road" },
		{ "MIME-Version", "1.0" },
		{ "Content-Type", "text/plain; charset=us-ascii" },
		{ "Content-Transfer-Encoding", "7bit" },
	})
	T.eoh(conn, qid)
	T.reply(conn, "end of headers", SMFIR_CONTINUE)
	T.body(conn, { "Sent from the road.\r\n" })
	T.eom(conn, qid)
	T.reply(conn, "end of message", SMFIR_CONTINUE, SMFIR_ACCEPT)
	T.expect_smime_rewrite(conn, "authenticated message", { "Content-Type", "Content-Transfer-Encoding" })
	T.expect_log(d, qid .. ": ", "signed and encrypted", "from=<alice@example.com>", "recipients=1")

	-- The next message on the same connection without {auth_authen} passes.
	T.ok(mt.macro(conn, SMFIC_MAIL, "{mail_addr}", "alice@example.com"), "mt.macro(MAIL)")
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM without {auth_authen}", SMFIR_CONTINUE)
	T.rcpt(conn, "MTAU0002", "bob@partner.example")
	T.reply(conn, "RCPT without {auth_authen}", SMFIR_ACCEPT)
	T.expect_log(d, "MTAU0002: ", "passed: client is neither internal nor authenticated")

	mt.disconnect(conn)
end)
