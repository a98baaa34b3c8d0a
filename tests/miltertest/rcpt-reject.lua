-- rcpt-reject.lua - a recipient without a certificate is refused at RCPT
-- with 550 5.7.1 naming the address; the other recipients of the same
-- message are accepted, and only they are counted at end of message.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("MAIN")

	local conn = T.connect(d, "client.example.com", "127.0.0.1")
	local qid = "MTRR0001"

	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM alice", SMFIR_CONTINUE)

	T.rcpt(conn, qid, "dave@nocert.example")
	T.reply(conn, "RCPT dave (no certificate)", SMFIR_REPLYCODE)
	T.expect_replytext(d, "RCPT dave", "550", "5.7.1", "dave@nocert.example")
	T.expect_log(d, qid .. ": ", "rejected recipient <dave@nocert.example>")

	T.rcpt(conn, qid, "bob@partner.example")
	T.reply(conn, "RCPT bob after dave", SMFIR_CONTINUE)

	-- Upper-case domain part: addresses compare case-insensitively there.
	T.rcpt(conn, qid, "carol@PARTNER.EXAMPLE")
	T.reply(conn, "RCPT carol@PARTNER.EXAMPLE", SMFIR_CONTINUE)

	T.headers(conn, {
		{ "From", "alice@example.com" },
		{ "To", "bob@partner.example, carol@partner.example, dave@nocert.example" },
		{ "Subject", "partly deliverable" },
		{ "MIME-Version", "1.0" },
		{ "Content-Type", "text/plain; charset=us-ascii" },
	})
	T.eoh(conn, qid)
	T.reply(conn, "end of headers", SMFIR_CONTINUE)
	T.body(conn, { "Hello.\r\n" })
	T.eom(conn, qid)
	T.reply(conn, "end of message", SMFIR_CONTINUE, SMFIR_ACCEPT)
	T.expect_smime_rewrite(conn, "message", { "Content-Type" })
	local line = T.expect_log(d, qid .. ": ", "signed and encrypted")
	T.check(string.find(line, "recipients=2", 1, true) ~= nil,
	    "log line %q: expected recipients=2 (bob and carol; dave was refused)", line)

	mt.disconnect(conn)
end)
