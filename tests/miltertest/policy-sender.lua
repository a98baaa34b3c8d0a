-- policy-sender.lua - <sender> blocks, matched against the From: header address (POLICY
-- daemon; bank.example encrypts, partner.example does not; the envelope sender is alice
-- throughout):
--   <sender ops@example.com> signing-key FILE: signs with FILE (key-dir has no key for ops)
--   <sender desk@example.com> signing-key KEYFILE + signing-cert CHAIN: the key file holds the
--       key only, the certificate and its chain come from signing-cert
--   <sender nokey.example> missing-key unsigned: no key -> encrypted but not signed, a warning
--   <sender strict.example> missing-key reject: no key -> 550 5.7.0, nothing changed
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("POLICY")

	local function message(what, qid, from, rcpt)
		return {
			what = what, qid = qid,
			rcpts = { { rcpt, SMFIR_CONTINUE } },
			headers = {
				{ "From", from },
				{ "To", rcpt },
				{ "Subject", what },
				{ "MIME-Version", "1.0" },
				{ "Content-Type", "text/plain; charset=us-ascii" },
			},
		}
	end

	local function run(m, want_eoh)
		local conn = T.connect(d, "client.example.com", "127.0.0.1")
		local r = T.start_message(conn, d, m)
		T.check(r == want_eoh, "%s: end of headers: expected %s, got %s", m.what, T.reply_name(want_eoh),
		    T.reply_name(r))
		if r == SMFIR_CONTINUE then
			T.finish_message(conn, m, "marker " .. m.qid .. "\r\n")
		end
		return conn
	end

	-- signing-key of the block, to an encrypting domain: signed and encrypted
	local m = message("ops@example.com to erin", "MTSB0001", "Operations <ops@example.com>", "erin@bank.example")
	local conn = run(m, SMFIR_CONTINUE)
	T.expect_encrypted(conn, d, m.what, { "erin@bank.example" }, "marker MTSB0001", true)
	T.expect_log(d, "MTSB0001: ", "signed and encrypted: from=<ops@example.com> recipients=1")
	mt.disconnect(conn)

	-- signing-key with only the key in it, certificate and chain from signing-cert
	m = message("desk@example.com to erin", "MTSB0010", "Desk <desk@example.com>", "erin@bank.example")
	conn = run(m, SMFIR_CONTINUE)
	T.expect_encrypted(conn, d, m.what, { "erin@bank.example" }, "marker MTSB0010", true)
	T.expect_log(d, "MTSB0010: ", "signed and encrypted: from=<desk@example.com> recipients=1")
	mt.disconnect(conn)

	-- the same sender to a domain that does not encrypt: signed only
	m = message("ops@example.com to bob", "MTSB0002", "ops@example.com", "bob@partner.example")
	conn = run(m, SMFIR_CONTINUE)
	T.expect_signed_only(conn, d, m.what, "marker MTSB0002")
	T.expect_log(d, "MTSB0002: ", "signed: from=<ops@example.com> recipients=1")
	mt.disconnect(conn)

	-- missing-key unsigned: encrypted, not signed, with a warning
	m = message("nokey.example to erin", "MTSB0003", "Nobody <nobody@nokey.example>", "erin@bank.example")
	conn = run(m, SMFIR_CONTINUE)
	T.expect_encrypted(conn, d, m.what, { "erin@bank.example" }, "marker MTSB0003", false)
	T.expect_log(d, "MTSB0003: ", "warning", "no signing key for <nobody@nokey.example>", "unsigned")
	local line = T.expect_log(d, "MTSB0003: ", "encrypted: from=<> recipients=1")
	T.check(string.find(line, "signed", 1, true) == nil, "%s: log line %q says signed", m.what, line)
	mt.disconnect(conn)

	-- missing-key unsigned and nothing to encrypt: passes untouched
	m = message("nokey.example to bob", "MTSB0004", "nobody@nokey.example", "bob@partner.example")
	conn = run(m, SMFIR_ACCEPT)
	T.expect_log(d, "MTSB0004: ", "passed")
	T.expect_untouched(conn, d, m.what)
	mt.disconnect(conn)

	-- missing-key reject: 550 5.7.0 at end of headers
	m = message("strict.example to erin", "MTSB0005", "Boss <boss@strict.example>", "erin@bank.example")
	conn = run(m, SMFIR_REPLYCODE)
	T.expect_replytext(d, m.what, "550 5.7.0", "boss@strict.example")
	T.expect_log(d, "MTSB0005: ", "rejected", "no S/MIME signing key for <boss@strict.example>")
	T.expect_untouched(conn, d, m.what)
	mt.disconnect(conn)
end)
