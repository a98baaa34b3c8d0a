-- limits-size.lua - max-message-size 64k.  Daemon LIMITS (on-oversize
-- pass-sign-only): a message its policy only signs passes unsigned and
-- unchanged (accepted at the end of the message: body events get no reply
-- on this unix socket); one its
-- policy encrypts is rejected with 552 5.3.4, never sent in clear.  Daemon
-- OVERSIZE (on-oversize tempfail): 452 4.3.4.  A message of the size
-- exactly is processed.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

local chunk = string.rep(string.rep("z", 99) .. "\r\n", 350) -- 35,000 bytes stored as 34,650

local function start(d, conn, qid, rcpt)
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM alice", SMFIR_CONTINUE)
	T.rcpt(conn, qid, rcpt)
	T.reply(conn, "RCPT " .. rcpt, SMFIR_CONTINUE)
	T.headers(conn, {
		{ "From", "alice@example.com" },
		{ "To", rcpt },
		{ "Subject", "large" },
		{ "Content-Type", "text/plain; charset=us-ascii" },
	})
	T.mark(d)
	T.eoh(conn, qid)
	T.reply(conn, "end of headers", SMFIR_CONTINUE)
	T.ok(mt.bodystring(conn, chunk), "mt.bodystring")
	T.reply(conn, "first 35,000 bytes", SMFIR_CONTINUE)
	T.ok(mt.bodystring(conn, chunk), "mt.bodystring")
	-- no reply is awaited for body events on this unix socket: the verdict comes at the end
	T.reply(conn, "second 35,000 bytes (no reply awaited)", SMFIR_CONTINUE)
	T.eom(conn, qid)
end

T.run(function()
	local d = T.daemon("LIMITS")
	local conn = T.connect(d, "client.example.com", "127.0.0.1")

	-- signed only (dave has no certificate, nocert.example does not encrypt): passes unsigned
	start(d, conn, "MTLS0001", "dave@nocert.example")
	T.reply(conn, "signed only, over 64k", SMFIR_ACCEPT)
	T.expect_no_modifications(d, "signed only, over 64k")
	T.expect_log(d, "MTLS0001: passed unsigned: message larger than 65536 bytes "
	    .. "(max-message-size, on-oversize pass-sign-only)")
	T.expect_log(d, "MTLS0001: ", "action=passed", "reason=oversize")

	-- encrypted for bob: rejected, not passed in clear
	start(d, conn, "MTLS0002", "bob@partner.example")
	T.reply(conn, "encrypted, over 64k", SMFIR_REPLYCODE)
	T.expect_replytext(d, "encrypted, over 64k", "552 5.3.4 message larger than 65536 bytes, "
	    .. "the most this S/MIME gateway processes")
	T.expect_no_modifications(d, "encrypted, over 64k")
	T.expect_log(d, "MTLS0002: rejected: message larger than 65536 bytes (max-message-size); "
	    .. "its policy encrypts, so on-oversize pass-sign-only refuses it")
	mt.disconnect(conn)

	d = T.daemon("OVERSIZE")
	conn = T.connect(d, "client.example.com", "127.0.0.1")
	start(d, conn, "MTLS0003", "dave@nocert.example")
	T.reply(conn, "tempfail, over 64k", SMFIR_REPLYCODE)
	T.expect_replytext(d, "tempfail, over 64k", "452 4.3.4 message larger than 65536 bytes, "
	    .. "the most this S/MIME gateway processes, try again later")
	T.expect_log(d, "MTLS0003: tempfail: message larger than 65536 bytes (max-message-size)")
	T.expect_no_modifications(d, "tempfail, over 64k")
	mt.disconnect(conn)
end)
