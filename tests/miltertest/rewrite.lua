-- rewrite.lua - mail from an internal client is signed and encrypted: the
-- body is replaced, the Content-* headers are replaced by the S/MIME ones,
-- the other headers stay, and the daemon logs the queue id with the outcome.
--
-- Debian 12's miltertest (2.11.0~beta2) reads every milter reply into a
-- 1024-byte stack buffer whatever its length (OpenDKIM issue #66, fixed by
-- PR #340), so a replaced body sent as one chunk of more than 1 KiB crashes
-- it with "stack smashing detected".  The daemon is right to send the body
-- in large chunks; tests/miltertest.sh therefore puts a relay in front of it
-- that cuts SMFIR_REPLBODY into 1000-byte pieces (the MTA appends them, so
-- the result is the same) unless MT_NO_PROXY=1.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("MAIN")

	local conn = T.connect(d, "client.example.com", "127.0.0.1")

	-- Message 1: two recipients, 8-bit text.
	local qid = "MTRW0001"
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM alice", SMFIR_CONTINUE)
	T.rcpt(conn, qid, "bob@partner.example")
	T.reply(conn, "RCPT bob", SMFIR_CONTINUE)
	T.rcpt(conn, qid, "carol@partner.example")
	T.reply(conn, "RCPT carol", SMFIR_CONTINUE)
	T.headers(conn, {
		{ "Received", "from client.example.com by mx.example.com; Tue, 1 Apr 2025 10:00:00 +0000" },
		{ "From", "Alice Example <alice@example.com>" },
		{ "To", "bob@partner.example, carol@partner.example" },
		{ "Subject", "Quarterly figures" },
		{ "Date", "Tue, 1 Apr 2025 10:00:00 +0000" },
		{ "Message-ID", "<mtrw0001@example.com>" },
		{ "MIME-Version", "1.0" },
		{ "Content-Type", "text/plain; charset=utf-8" },
		{ "Content-Transfer-Encoding", "8bit" },
	})
	T.eoh(conn, qid)
	T.reply(conn, "end of headers", SMFIR_CONTINUE)
	T.body(conn, {
		"Hello Bob, hello Carol,\r\n\r\nthe figures: 1.234,56 \226\130\172 (Gr\195\188\195\159e).\r\n",
		"-- \r\nAlice\r\n",
	})
	T.eom(conn, qid)
	T.reply(conn, "end of message", SMFIR_CONTINUE, SMFIR_ACCEPT)

	T.expect_smime_rewrite(conn, "message 1", { "Content-Type", "Content-Transfer-Encoding" })
	T.check(not mt.eom_check(conn, MT_HDRADD, "MIME-Version"),
	    "message 1: MIME-Version added although the message has one")
	for _, name in ipairs({ "Received", "From", "To", "Subject", "Date", "Message-ID", "MIME-Version" }) do
		T.check(not mt.eom_check(conn, MT_HDRCHANGE, name), "message 1: %s changed or deleted", name)
	end
	T.check(not mt.eom_check(conn, MT_SMTPREPLY, "451"), "message 1: a 451 reply was set")
	local line = T.expect_log(d, qid .. ": ", "signed and encrypted", "from=<alice@example.com>")
	T.check(string.find(line, "recipients=2", 1, true) ~= nil, "message 1: log line %q: expected recipients=2", line)

	-- Message 2 on the same connection: one recipient, no MIME headers at all;
	-- the daemon must add MIME-Version and must not delete what is not there.
	qid = "MTRW0002"
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM alice (message 2)", SMFIR_CONTINUE)
	T.rcpt(conn, qid, "bob@partner.example")
	T.reply(conn, "RCPT bob (message 2)", SMFIR_CONTINUE)
	T.headers(conn, {
		{ "From", "alice@example.com" },
		{ "To", "bob@partner.example" },
		{ "Subject", "plain" },
	})
	T.eoh(conn, qid)
	T.reply(conn, "end of headers (message 2)", SMFIR_CONTINUE)
	T.body(conn, { "line one\r\nline two\r\n" })
	T.eom(conn, qid)
	T.reply(conn, "end of message (message 2)", SMFIR_CONTINUE, SMFIR_ACCEPT)

	T.expect_smime_rewrite(conn, "message 2", {})
	T.check(not mt.eom_check(conn, MT_HDRDELETE), "message 2: a header was deleted")
	local mv = mt.getheader(conn, "MIME-Version", 0)
	T.check(mv ~= nil and string.find(mv, "^%s?1%.0$") ~= nil, "message 2: MIME-Version %s", tostring(mv))
	line = T.expect_log(d, qid .. ": ", "signed and encrypted", "from=<alice@example.com>")
	T.check(string.find(line, "recipients=1", 1, true) ~= nil, "message 2: log line %q: expected recipients=1", line)

	-- Message 3 is aborted half way (the client gave up); message 4, large
	-- (several replacement chunks), must then be processed normally.
	qid = "MTRW0003"
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM alice (message 3)", SMFIR_CONTINUE)
	T.rcpt(conn, qid, "bob@partner.example")
	T.reply(conn, "RCPT bob (message 3)", SMFIR_CONTINUE)
	T.headers(conn, { { "From", "alice@example.com" }, { "Subject", "aborted" } })
	T.eoh(conn, qid)
	T.reply(conn, "end of headers (message 3)", SMFIR_CONTINUE)
	T.body(conn, { "half a message\r\n" })
	T.ok(mt.abort(conn), "mt.abort")

	qid = "MTRW0004"
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM alice (message 4)", SMFIR_CONTINUE)
	T.rcpt(conn, qid, "carol@partner.example")
	T.reply(conn, "RCPT carol (message 4)", SMFIR_CONTINUE)
	T.headers(conn, {
		{ "From", "alice@example.com" },
		{ "Subject", "large" },
		{ "MIME-Version", "1.0" },
		{ "Content-Type", "text/plain; charset=us-ascii" },
	})
	T.eoh(conn, qid)
	T.reply(conn, "end of headers (message 4)", SMFIR_CONTINUE)
	T.ok(mt.bodyrandom(conn, 300000), "mt.bodyrandom")
	T.reply(conn, "body (message 4)", SMFIR_CONTINUE)
	T.eom(conn, qid)
	T.reply(conn, "end of message (message 4)", SMFIR_CONTINUE, SMFIR_ACCEPT)
	T.expect_smime_rewrite(conn, "message 4", { "Content-Type" })
	line = T.expect_log(d, qid .. ": ", "signed and encrypted", "recipients=1")
	local insize = tonumber(string.match(line, "body=(%d+)%->"))
	T.check(insize ~= nil and insize >= 300000, "message 4: log line %q: expected body >= 300000 bytes", line)
	T.check(#T.log_lines(d, "MTRW0003: ", "signed and encrypted") == 0,
	    "message 3 (aborted) was logged as processed")
	T.expect_log(d, "MTRW0003: ", "action=aborted mode=enforce")

	mt.disconnect(conn)
end)
