-- policy-vmta-macro.lua - with "virtual-mta-macro {daemon_name}" the MTA's macro (set at
-- connect, as Postfix's milter_macro_daemon_name is, or at MAIL) chooses the <virtual-mta>
-- block, and the decision on each recipient is taken at RCPT (POLICY daemon: globally
-- neither sign nor encrypt):
--   secure-out     encrypts: dave (no certificate) -> 550 5.7.1 at RCPT; gina@later.example,
--                  whose <domain> in secure-out says missing-cert tempfail -> 451 4.7.1;
--                  bob -> signed and encrypted
--   sign-only-out  dave is accepted; the message is signed, not encrypted
--   no macro       dave is accepted; the message passes untouched
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("POLICY")

	local function connect(connect_macros)
		local conn = mt.connect(d.socket, 50, 0.1)
		T.check(conn ~= nil, "cannot connect to %s", d.socket)
		if connect_macros ~= nil then
			T.ok(mt.macro(conn, SMFIC_CONNECT, table.unpack(connect_macros)), "mt.macro(CONNECT)")
		end
		T.ok(mt.conninfo(conn, "client.example.com", "127.0.0.1"), "mt.conninfo")
		T.reply(conn, "connect", SMFIR_CONTINUE)
		return conn
	end

	local function headers(subject)
		return {
			{ "From", "Alice <alice@example.com>" },
			{ "To", "bob@partner.example" },
			{ "Subject", subject },
			{ "MIME-Version", "1.0" },
			{ "Content-Type", "text/plain; charset=us-ascii" },
		}
	end

	-- 1. {daemon_name}=secure-out at connect
	local conn = connect({ "{daemon_name}", "secure-out" })
	local m = {
		what = "macro secure-out at connect", qid = "MTVM0001",
		rcpts = {
			{ "dave@nocert.example", SMFIR_REPLYCODE, "550", "5.7.1" },
			{ "gina@later.example", SMFIR_REPLYCODE, "451", "4.7.1" },
			{ "bob@partner.example", SMFIR_CONTINUE },
		},
		headers = headers("macro secure-out"),
	}
	T.check(T.start_message(conn, d, m) == SMFIR_CONTINUE, "%s: end of headers: expected SMFIR_CONTINUE", m.what)
	T.finish_message(conn, m, "marker MTVM0001\r\n")
	T.expect_encrypted(conn, d, m.what, { "bob@partner.example" }, "marker MTVM0001", true)
	T.expect_log(d, "MTVM0001: ", "rejected recipient <dave@nocert.example>")
	T.expect_log(d, "MTVM0001: ", "tempfail recipient <gina@later.example>")
	local line = T.expect_log(d, "MTVM0001: ", "signed and encrypted", "from=<alice@example.com>")
	T.check(string.find(line, "recipients=1 vmta=secure-out", 1, true) ~= nil,
	    "%s: log line %q: expected recipients=1 vmta=secure-out", m.what, line)

	-- 2. the next message on the same connection still goes out through secure-out
	T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
	T.reply(conn, "second message: MAIL FROM", SMFIR_CONTINUE)
	T.rcpt(conn, "MTVM0002", "dave@nocert.example")
	T.reply(conn, "second message: RCPT dave", SMFIR_REPLYCODE)
	T.expect_replytext(d, "second message", "550", "5.7.1", "<dave@nocert.example>")
	T.expect_log(d, "MTVM0002: ", "rejected recipient <dave@nocert.example>")
	mt.disconnect(conn)

	-- 3. {daemon_name}=sign-only-out at MAIL: dave accepted, signed only
	conn = connect(nil)
	m = {
		what = "macro sign-only-out at MAIL", qid = "MTVM0003",
		mail_macros = { "{daemon_name}", "sign-only-out" },
		rcpts = { { "dave@nocert.example", SMFIR_CONTINUE }, { "bob@partner.example", SMFIR_CONTINUE } },
		headers = headers("macro sign-only-out"),
	}
	T.check(T.start_message(conn, d, m) == SMFIR_CONTINUE, "%s: end of headers: expected SMFIR_CONTINUE", m.what)
	T.finish_message(conn, m, "marker MTVM0003\r\n")
	T.expect_signed_only(conn, d, m.what, "marker MTVM0003")
	line = T.expect_log(d, "MTVM0003: ", "signed: from=<alice@example.com>")
	T.check(string.find(line, "recipients=2 vmta=sign-only-out", 1, true) ~= nil,
	    "%s: log line %q: expected recipients=2 vmta=sign-only-out", m.what, line)
	mt.disconnect(conn)

	-- 4. no macro: the global policy neither signs nor encrypts; dave is accepted
	conn = connect(nil)
	m = {
		what = "no macro", qid = "MTVM0004",
		rcpts = { { "dave@nocert.example", SMFIR_CONTINUE } },
		headers = headers("no macro"),
	}
	T.check(T.start_message(conn, d, m) == SMFIR_ACCEPT, "%s: end of headers: expected SMFIR_ACCEPT", m.what)
	T.expect_log(d, "MTVM0004: ", "passed: policy neither signs nor encrypts")
	T.expect_untouched(conn, d, "no macro")
	mt.disconnect(conn)
end)
