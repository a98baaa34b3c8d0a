-- limits-recipients.lua - max-recipients 2 (daemon LIMITS): the third
-- recipient of a message is deferred with 452 4.5.3 so that the client
-- sends it in another transaction; the message goes on for the first two,
-- signed and encrypted for them.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("LIMITS")
	local conn = T.connect(d, "client.example.com", "127.0.0.1")
	local qid = "MTLR0001"

	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM alice", SMFIR_CONTINUE)
	T.rcpt(conn, qid, "bob@partner.example")
	T.reply(conn, "RCPT bob", SMFIR_CONTINUE)
	T.rcpt(conn, qid, "carol@partner.example")
	T.reply(conn, "RCPT carol", SMFIR_CONTINUE)
	T.rcpt(conn, qid, "erin@bank.example")
	T.reply(conn, "RCPT erin (the third)", SMFIR_REPLYCODE)
	T.expect_replytext(d, "RCPT erin", "452 4.5.3 <erin@bank.example>: too many recipients "
	    .. "for one message, send to the rest in another")
	T.expect_log(d, qid .. ": deferred recipient <erin@bank.example>: the message has 2 "
	    .. "recipients already (max-recipients)")

	T.headers(conn, {
		{ "From", "alice@example.com" },
		{ "To", "bob@partner.example, carol@partner.example, erin@bank.example" },
		{ "Subject", "three recipients" },
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
	    "log line %q: expected recipients=2 (erin was deferred)", line)
	T.expect_log(d, qid .. ": ", "erin@bank.example", "too_many_recipients")
	mt.disconnect(conn)
end)
