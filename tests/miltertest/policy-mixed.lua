-- policy-mixed.lua - one message gets one body (POLICY daemon: bank.example encrypts with
-- missing-cert reject; nocert.example and partner.example fall under the global policy, which
-- neither signs nor encrypts):
--   erin@bank.example (certificate) then dave@nocert.example (none): dave is deferred with
--     451 4.7.1, the message is encrypted for erin alone
--   dave first, then erin: erin (who needs encryption) is deferred; the message passes untouched
--   erin and carol@partner.example (a certificate, domain does not encrypt): carol is included
--     in the encryption (recipients=2)
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("POLICY")

	local function message(what, qid, rcpts)
		return {
			what = what, qid = qid, rcpts = rcpts,
			headers = {
				{ "From", "Alice <alice@example.com>" },
				{ "To", "erin@bank.example, dave@nocert.example, carol@partner.example" },
				{ "Subject", what },
				{ "MIME-Version", "1.0" },
				{ "Content-Type", "text/plain; charset=us-ascii" },
			},
		}
	end

	-- encrypt-requiring recipient first
	local conn = T.connect(d, "client.example.com", "127.0.0.1")
	local m = message("erin then dave", "MTMX0001", {
		{ "erin@bank.example", SMFIR_CONTINUE },
		{ "dave@nocert.example", SMFIR_REPLYCODE, "451", "4.7.1" },
	})
	T.check(T.start_message(conn, d, m) == SMFIR_CONTINUE, "%s: end of headers: expected SMFIR_CONTINUE", m.what)
	T.finish_message(conn, m, "marker MTMX0001\r\n")
	T.expect_encrypted(conn, d, m.what, { "erin@bank.example" }, "marker MTMX0001", false)
	T.expect_log(d, "MTMX0001: ", "deferred recipient <dave@nocert.example>")
	T.expect_log(d, "MTMX0001: ", "encrypted: from=<> recipients=1 ")
	mt.disconnect(conn)

	-- reverse order: the encrypt-requiring recipient is the one deferred
	conn = T.connect(d, "client.example.com", "127.0.0.1")
	m = message("dave then erin", "MTMX0002", {
		{ "dave@nocert.example", SMFIR_CONTINUE },
		{ "erin@bank.example", SMFIR_REPLYCODE, "451", "4.7.1" },
	})
	T.check(T.start_message(conn, d, m) == SMFIR_ACCEPT, "%s: end of headers: expected SMFIR_ACCEPT", m.what)
	T.expect_log(d, "MTMX0002: ", "deferred recipient <erin@bank.example>")
	T.expect_log(d, "MTMX0002: ", "passed: policy neither signs nor encrypts")
	T.expect_untouched(conn, d, m.what)
	mt.disconnect(conn)

	-- a recipient with a certificate in a domain that does not encrypt joins the encryption
	conn = T.connect(d, "client.example.com", "127.0.0.1")
	m = message("erin and carol", "MTMX0003", {
		{ "carol@partner.example", SMFIR_CONTINUE },
		{ "erin@bank.example", SMFIR_CONTINUE },
	})
	T.check(T.start_message(conn, d, m) == SMFIR_CONTINUE, "%s: end of headers: expected SMFIR_CONTINUE", m.what)
	T.finish_message(conn, m, "marker MTMX0003\r\n")
	T.expect_encrypted(conn, d, m.what, { "carol@partner.example", "erin@bank.example" }, "marker MTMX0003", false)
	T.expect_log(d, "MTMX0003: ", "encrypted: from=<> recipients=2 ")
	mt.disconnect(conn)
end)
