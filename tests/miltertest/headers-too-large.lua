-- headers-too-large.lua - headers of more than 1 MB in all (1,100 of 1 KB; the daemon allows
-- max-headers 2000, so the size is what trips): the message is
-- tempfailed (451 4.7.0) at the end of the headers, nothing changed.  The
-- header events themselves are answered "continue" (on a unix socket the
-- daemon negotiates no reply for them; the failure waits for the end of the
-- headers), so this also checks that a kept failure is given there.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("MAIN")
	local conn = T.connect(d, "client.example.com", "127.0.0.1")
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM alice", SMFIR_CONTINUE)
	T.rcpt(conn, "MTHL0001", "bob@partner.example")
	T.reply(conn, "RCPT bob", SMFIR_CONTINUE)
	local list = {
		{ "From", "Alice <alice@example.com>" },
		{ "To", "bob@partner.example" },
		{ "Subject", "large headers" },
	}
	local filler = string.rep("a", 1000)
	for i = 1, 1100 do
		list[#list + 1] = { "X-Filler-" .. i, filler }
	end
	T.headers(conn, list)
	T.eoh(conn, "MTHL0001")
	T.reply(conn, "end of headers", SMFIR_TEMPFAIL, SMFIR_REPLYCODE)
	T.expect_replytext(d, "headers too large", "451", "4.7.0")
	T.expect_no_modifications(d, "headers too large")
	T.expect_log(d, "MTHL0001", "headers too large")
	mt.disconnect(conn)
end)
