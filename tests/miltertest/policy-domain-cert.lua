-- policy-domain-cert.lua - gateway-to-gateway encryption: recipients in a <domain> with
-- "domain-cert FILE" and no certificate of their own are encrypted to the domain's gateway
-- certificate (POLICY daemon; gw@gateway.example's key stands for the gateway's); two
-- recipients of that domain give one RecipientInfo, not two.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("POLICY")
	local conn = T.connect(d, "client.example.com", "127.0.0.1")
	local m = {
		what = "two recipients behind the gateway", qid = "MTDC0001",
		rcpts = {
			{ "anna@gateway.example", SMFIR_CONTINUE },
			{ "ben@Gateway.Example", SMFIR_CONTINUE },
		},
		headers = {
			{ "From", "Alice <alice@example.com>" },
			{ "To", "anna@gateway.example, ben@gateway.example" },
			{ "Subject", "to the gateway" },
			{ "MIME-Version", "1.0" },
			{ "Content-Type", "text/plain; charset=us-ascii" },
		},
	}
	T.check(T.start_message(conn, d, m) == SMFIR_CONTINUE, "%s: end of headers: expected SMFIR_CONTINUE",
	    m.what)
	T.finish_message(conn, m, "marker MTDC0001\r\n")
	T.expect_encrypted(conn, d, m.what, { "gw@gateway.example" }, "marker MTDC0001", false)
	T.expect_log(d, "MTDC0001: ", "encrypted: from=<> recipients=2 ")
	mt.disconnect(conn)
end)
