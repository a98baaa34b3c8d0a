-- protected.lua - mail that is already S/MIME or PGP/MIME passes untouched:
-- SMFIR_ACCEPT at end of headers, no modification at all.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("MAIN")

	local types = {
		'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
		'application/x-pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
		'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b1"',
		'multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b2"',
		'Application/PKCS7-MIME; smime-type=signed-data',
		'multipart/signed;\n\tprotocol="application/pgp-signature"; micalg=pgp-sha256; boundary="b3"',
	}

	for i, ct in ipairs(types) do
		-- one connection per message: an MTA sends nothing more for a message
		-- the milter accepted.
		local conn = T.connect(d, "client.example.com", "127.0.0.1")
		local qid = string.format("MTPR%04d", i)
		T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
		T.reply(conn, "MAIL FROM alice", SMFIR_CONTINUE)
		T.rcpt(conn, qid, "bob@partner.example")
		T.reply(conn, "RCPT bob", SMFIR_CONTINUE)
		T.headers(conn, {
			{ "From", "alice@example.com" },
			{ "To", "bob@partner.example" },
			{ "Subject", "already protected" },
			{ "MIME-Version", "1.0" },
			{ "Content-Type", ct },
		})
		T.eoh(conn, qid)
		T.reply(conn, string.format("end of headers, Content-Type %q", ct), SMFIR_ACCEPT)
		T.expect_log(d, qid .. ": ", "passed: already S/MIME or PGP/MIME")
		mt.disconnect(conn)
	end

	T.expect_no_modifications(d, "protected messages")
end)
