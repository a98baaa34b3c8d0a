-- policy-missing-cert.lua - each missing-cert action, for a recipient without a certificate in a
-- <domain> with "encrypt yes" (POLICY daemon: globally neither sign nor encrypt; SIGNED daemon:
-- globally "sign yes"):
--   reject     550 5.7.1 at RCPT, naming the address
--   tempfail   451 4.7.1 at RCPT, naming the address
--   plain      accepted, not encrypted: untouched with "sign no", multipart/signed with "sign yes"
--   sign-only  accepted, signed, not encrypted
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local policy = T.daemon("POLICY")
	local signed = T.daemon("SIGNED")

	local function message(what, qid, rcpt, reply, code, xcode)
		return {
			what = what, qid = qid,
			rcpts = { { rcpt, reply, code, xcode } },
			headers = {
				{ "From", "Alice <alice@example.com>" },
				{ "To", rcpt },
				{ "Subject", what },
				{ "MIME-Version", "1.0" },
				{ "Content-Type", "text/plain; charset=us-ascii" },
			},
		}
	end

	-- reject: refused at RCPT; the message goes no further
	local conn = T.connect(policy, "client.example.com", "127.0.0.1")
	T.mark(policy)
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "reject: MAIL FROM", SMFIR_CONTINUE)
	T.rcpt(conn, "MTMC0001", "rita@reject.example")
	T.reply(conn, "reject: RCPT rita@reject.example", SMFIR_REPLYCODE)
	T.expect_replytext(policy, "reject", "550 5.7.1", "<rita@reject.example>")
	T.expect_log(policy, "MTMC0001: ", "rejected recipient <rita@reject.example>")

	-- tempfail, on the same message
	T.rcpt(conn, "MTMC0001", "tom@tempfail.example")
	T.reply(conn, "tempfail: RCPT tom@tempfail.example", SMFIR_REPLYCODE)
	T.expect_replytext(policy, "tempfail", "451 4.7.1", "<tom@tempfail.example>")
	T.expect_log(policy, "MTMC0001: ", "tempfail recipient <tom@tempfail.example>")
	T.ok(mt.abort(conn), "mt.abort")
	T.expect_no_modifications(policy, "reject and tempfail")
	mt.disconnect(conn)

	-- plain, globally "sign no": accepted, passes untouched
	conn = T.connect(policy, "client.example.com", "127.0.0.1")
	local m = message("plain, sign no", "MTMC0002", "paul@plain.example", SMFIR_CONTINUE)
	T.check(T.start_message(conn, policy, m) == SMFIR_ACCEPT, "%s: end of headers: expected SMFIR_ACCEPT", m.what)
	T.expect_log(policy, "MTMC0002: ", "passed: policy neither signs nor encrypts")
	T.expect_untouched(conn, policy, m.what)
	mt.disconnect(conn)

	-- plain, globally "sign yes": accepted, signed, not encrypted
	conn = T.connect(signed, "client.example.com", "127.0.0.1")
	m = message("plain, sign yes", "MTMC0003", "paul@plain.example", SMFIR_CONTINUE)
	T.check(T.start_message(conn, signed, m) == SMFIR_CONTINUE, "%s: end of headers: expected SMFIR_CONTINUE",
	    m.what)
	T.finish_message(conn, m, "marker MTMC0003\r\n")
	T.expect_signed_only(conn, signed, m.what, "marker MTMC0003")
	T.expect_log(signed, "MTMC0003: ", "signed: from=<alice@example.com> recipients=1", "cipher=none")
	mt.disconnect(conn)

	-- sign-only (globally "sign no"): accepted, signed, not encrypted
	conn = T.connect(policy, "client.example.com", "127.0.0.1")
	m = message("sign-only", "MTMC0004", "sam@signonly.example", SMFIR_CONTINUE)
	T.check(T.start_message(conn, policy, m) == SMFIR_CONTINUE, "%s: end of headers: expected SMFIR_CONTINUE",
	    m.what)
	T.finish_message(conn, m, "marker MTMC0004\r\n")
	T.expect_signed_only(conn, policy, m.what, "marker MTMC0004")
	T.expect_log(policy, "MTMC0004: ", "signed: from=<alice@example.com> recipients=1", "cipher=none")
	mt.disconnect(conn)

	-- control: in the same domains a recipient WITH a certificate is encrypted to
	conn = T.connect(policy, "client.example.com", "127.0.0.1")
	m = message("bank.example with a certificate", "MTMC0005", "erin@bank.example", SMFIR_CONTINUE)
	T.check(T.start_message(conn, policy, m) == SMFIR_CONTINUE, "%s: end of headers: expected SMFIR_CONTINUE",
	    m.what)
	T.finish_message(conn, m, "marker MTMC0005\r\n")
	T.expect_encrypted(conn, policy, m.what, { "erin@bank.example" }, "marker MTMC0005", false)
	T.expect_log(policy, "MTMC0005: ", "encrypted: from=<> recipients=1")
	mt.disconnect(conn)
end)
