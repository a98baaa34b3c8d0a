-- external.lua - mail from a client outside internal-hosts that did not
-- authenticate passes untouched: the daemon answers SMFIR_ACCEPT at the
-- first RCPT, where the MTA's queue id is known for the log line (so the MTA
-- sends it nothing more for the message), and requests no modification.
-- Internal-hosts holds 127.0.0.0/8 and ::1.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("MAIN")

	local n = 0
	local function expect_passed(host, ip, macros)
		local conn = T.connect(d, host, ip)
		for i = 1, 2 do -- two messages on the connection: the decision is per message
			n = n + 1
			local qid = string.format("MTEX%04d", n)
			if macros ~= nil then
				T.ok(mt.macro(conn, SMFIC_MAIL, table.unpack(macros)), "mt.macro(MAIL)")
			end
			T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
			T.reply(conn, string.format("MAIL FROM from %s, message %d", ip, i), SMFIR_CONTINUE)
			T.rcpt(conn, qid, "bob@partner.example")
			T.reply(conn, string.format("RCPT from %s, message %d", ip, i), SMFIR_ACCEPT)
			T.expect_log(d, qid .. ": ", "passed: client is neither internal nor authenticated")
		end
		mt.disconnect(conn)
	end

	expect_passed("mail.outside.example", "192.0.2.10")
	expect_passed("mail6.outside.example", "2001:db8::25")
	-- Just outside 127.0.0.0/8.
	expect_passed("near.example", "128.0.0.1")
	-- An empty {auth_authen} is no authentication.
	expect_passed("mail.outside.example", "192.0.2.10", { "{auth_authen}", "" })
	-- Unknown protocol family (e.g. a local submission the MTA cannot place).
	expect_passed("localhost", "unspec")

	T.expect_no_modifications(d, "external clients")

	-- The IPv6 loopback is internal: processed.
	local conn = T.connect(d, "localhost6", "::1")
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "MAIL FROM from ::1", SMFIR_CONTINUE)
	mt.disconnect(conn)
end)
