-- limits-connections.lua - max-connections 2 (daemon LIMITS): with two
-- connections open, a third is refused with 451 4.3.2 and a log line (at
-- MAIL FROM: on this unix socket connect is a no-reply event, so the
-- answer waits for the first command that gets one); once one of the two
-- is closed, a new connection is served again.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("LIMITS")
	local one = T.connect(d, "one.example.com", "127.0.0.1")
	local two = T.connect(d, "two.example.com", "127.0.0.1")

	T.mark(d)
	local three = mt.connect(d.socket, 50, 0.1)
	T.check(three ~= nil, "cannot connect to %s", d.socket)
	T.ok(mt.conninfo(three, "three.example.com", "127.0.0.1"), "mt.conninfo")
	T.reply(three, "the third connection: connect (no reply awaited)", SMFIR_CONTINUE)
	T.ok(mt.mailfrom(three, "<alice@example.com>"), "mt.mailfrom")
	T.reply(three, "the third connection", SMFIR_REPLYCODE, SMFIR_TEMPFAIL)
	T.expect_replytext(d, "the third connection",
	    "451 4.3.2 too many connections to the S/MIME gateway, try again later")
	T.expect_log(d, "refused the MTA's connection for client three.example.com: 2 connections "
	    .. "are being served (max-connections 2)")
	mt.disconnect(three)

	-- the second still works
	T.ok(mt.mailfrom(two, "<alice@example.com>"), "mt.mailfrom")
	T.reply(two, "MAIL FROM on the second connection", SMFIR_CONTINUE)
	mt.disconnect(one)
	mt.disconnect(two)

	-- both closed: a new connection is served (the close reaches the daemon a little later)
	local served = false
	for _ = 1, 50 do
		local again = mt.connect(d.socket, 50, 0.1)
		T.check(again ~= nil, "cannot connect to %s", d.socket)
		T.ok(mt.conninfo(again, "again.example.com", "127.0.0.1"), "mt.conninfo")
		T.ok(mt.mailfrom(again, "<alice@example.com>"), "mt.mailfrom")
		served = mt.getreply(again) == SMFIR_CONTINUE
		mt.disconnect(again)
		if served then
			break
		end
		mt.sleep(0.1)
	end
	T.check(served, "a connection after the others closed was not served")
end)
