-- policy-vmta-redecide.lua - the X-Virtual-MTA header is known only after DATA; when it names a
-- virtual MTA under which a recipient accepted at RCPT now needs a certificate it does not have,
-- the whole message fails at end of headers, naming that recipient, and nothing is changed
-- (POLICY daemon: globally neither sign nor encrypt; secure-out encrypts with the default
-- missing-cert reject, and missing-cert tempfail for later.example):
--   dave@nocert.example + secure-out               -> 550 5.7.1 naming dave (not bob)
--   gina@later.example + secure-out                -> 451 4.7.1 naming gina
--   dave@nocert.example + sign-only-out (control)  -> signed, not encrypted
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("POLICY")

	local function message(what, qid, rcpts, vmta)
		local to = {}
		for i, r in ipairs(rcpts) do
			to[i] = r[1]
		end
		return {
			what = what, qid = qid, rcpts = rcpts,
			headers = {
				{ "From", "Alice <alice@example.com>" },
				{ "To", table.concat(to, ", ") },
				{ "X-Virtual-MTA", vmta },
				{ "Subject", what },
				{ "MIME-Version", "1.0" },
				{ "Content-Type", "text/plain; charset=us-ascii" },
			},
		}
	end

	-- dave has no certificate: fine at RCPT (nothing encrypts), not under secure-out
	local conn = T.connect(d, "client.example.com", "127.0.0.1")
	local m = message("secure-out, dave without a certificate", "MTRD0001", {
		{ "bob@partner.example", SMFIR_CONTINUE },
		{ "dave@nocert.example", SMFIR_CONTINUE },
	}, "secure-out")
	T.check(T.start_message(conn, d, m) == SMFIR_REPLYCODE, "%s: end of headers: expected SMFIR_REPLYCODE", m.what)
	T.expect_replytext(d, m.what, "550 5.7.1", "<dave@nocert.example>", "secure-out")
	local text = T.last_replytext(d)
	T.check(string.find(text, "bob@partner.example", 1, true) == nil, "%s: reply %q names bob", m.what, text)
	T.expect_log(d, "MTRD0001: ", "rejected", "<dave@nocert.example>")
	T.expect_untouched(conn, d, m.what)
	mt.disconnect(conn)

	-- gina@later.example: secure-out says missing-cert tempfail there
	conn = T.connect(d, "client.example.com", "127.0.0.1")
	m = message("secure-out, gina without a certificate", "MTRD0002", {
		{ "gina@later.example", SMFIR_CONTINUE },
	}, "secure-out")
	T.check(T.start_message(conn, d, m) == SMFIR_REPLYCODE, "%s: end of headers: expected SMFIR_REPLYCODE", m.what)
	T.expect_replytext(d, m.what, "451 4.7.1", "<gina@later.example>")
	T.expect_log(d, "MTRD0002: ", "tempfail", "<gina@later.example>")
	T.expect_untouched(conn, d, m.what)
	mt.disconnect(conn)

	-- control: sign-only-out needs no certificate
	conn = T.connect(d, "client.example.com", "127.0.0.1")
	m = message("sign-only-out, dave without a certificate", "MTRD0003", {
		{ "dave@nocert.example", SMFIR_CONTINUE },
	}, "sign-only-out")
	T.check(T.start_message(conn, d, m) == SMFIR_CONTINUE, "%s: end of headers: expected SMFIR_CONTINUE", m.what)
	T.finish_message(conn, m, "marker MTRD0003\r\n")
	T.expect_signed_only(conn, d, m.what, "marker MTRD0003")
	T.expect_header_untouched(conn, d, m.what, "X-Virtual-MTA")
	T.expect_log(d, "MTRD0003: ", "signed: from=<alice@example.com> recipients=1 vmta=sign-only-out")
	mt.disconnect(conn)
end)
