-- policy-vmta-header.lua - the X-Virtual-MTA header chooses a <virtual-mta> block (VMTA daemon:
-- globally "sign no", "encrypt yes"):
--   secure-out     sign yes, encrypt yes -> application/pkcs7-mime; smime-type=enveloped-data
--                  around a signed entity
--   sign-only-out  sign yes, encrypt no  -> multipart/signed; protocol="application/pkcs7-signature";
--                  micalg=sha-256, not encrypted
--   no header                            -> the global policy: encrypted, not signed
-- (a name no block defines: policy-vmta-unknown.lua)
-- The header itself is left in place for the MTA (no change, no deletion).
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("VMTA")
	local n = 0

	local function send(vmta, what)
		n = n + 1
		local qid = string.format("MTVH%04d", n)
		local marker = "vmta marker " .. qid
		local m = {
			what = what, qid = qid,
			rcpts = { { "bob@partner.example", SMFIR_CONTINUE } },
			headers = {
				{ "From", "Alice <alice@example.com>" },
				{ "To", "bob@partner.example" },
				{ "Subject", "via " .. tostring(vmta) },
				{ "MIME-Version", "1.0" },
				{ "Content-Type", "text/plain; charset=us-ascii" },
			},
		}
		if vmta ~= nil then
			table.insert(m.headers, 3, { "X-Virtual-MTA", vmta })
		end
		local conn = T.connect(d, "client.example.com", "127.0.0.1")
		T.check(T.start_message(conn, d, m) == SMFIR_CONTINUE, "%s: end of headers: expected SMFIR_CONTINUE",
		    what)
		T.finish_message(conn, m, marker .. "\r\n")
		T.expect_header_untouched(conn, d, what, "X-Virtual-MTA")
		for _, name in ipairs({ "From", "To", "Subject" }) do
			T.check(not mt.eom_check(conn, MT_HDRCHANGE, name), "%s: %s changed", what, name)
		end
		return conn, qid, marker
	end

	-- secure-out: signed and encrypted
	local conn, qid, marker = send("secure-out", "X-Virtual-MTA: secure-out")
	T.expect_encrypted(conn, d, "secure-out", { "bob@partner.example" }, marker, true)
	local line = T.expect_log(d, qid .. ": ", "signed and encrypted", "from=<alice@example.com>")
	T.check(string.find(line, "vmta=secure-out", 1, true) ~= nil, "secure-out: log line %q lacks vmta=secure-out", line)
	mt.disconnect(conn)

	-- sign-only-out: signed, not encrypted
	conn, qid, marker = send("sign-only-out", "X-Virtual-MTA: sign-only-out")
	local san = T.expect_signed_only(conn, d, "sign-only-out", marker)
	T.check(string.find(san, "alice@example.com", 1, true) ~= nil, "sign-only-out: signer is not alice: %s", san)
	line = T.expect_log(d, qid .. ": ", "signed: from=<alice@example.com>")
	T.check(string.find(line, "vmta=sign-only-out", 1, true) ~= nil and string.find(line, "cipher=none", 1, true),
	    "sign-only-out: log line %q lacks vmta=sign-only-out or cipher=none", line)
	mt.disconnect(conn)

	-- no header: the global policy
	conn, qid, marker = send(nil, "no X-Virtual-MTA")
	T.expect_encrypted(conn, d, "no virtual MTA", { "bob@partner.example" }, marker, false)
	line = T.expect_log(d, qid .. ": ", "encrypted: from=<>", "recipients=1")
	T.check(string.find(line, "vmta=", 1, true) == nil, "no virtual MTA: log line %q names one", line)
	mt.disconnect(conn)
end)
