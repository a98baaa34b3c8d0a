-- no-from.lua - with "sign yes" the signing identity comes from the From:
-- header; without a usable one the message is tempfailed (451 4.7.0) at end
-- of headers and nothing is changed.
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local d = T.daemon("MAIN")

	local cases = {
		{ qid = "MTNF0001", from = nil, log = "no From: header" },
		{ qid = "MTNF0002", from = "undisclosed-recipients:;", log = "unparseable From: header" },
		{ qid = "MTNF0003", from = "", log = "From:" },
	}

	for _, c in ipairs(cases) do
		local what = c.from == nil and "no From:" or string.format("From: %q", c.from)
		local conn = T.connect(d, "client.example.com", "127.0.0.1")
		T.ok(mt.mailfrom(conn, "<alice@example.com>"), "mt.mailfrom")
		T.reply(conn, what .. ": MAIL FROM", SMFIR_CONTINUE)
		T.rcpt(conn, c.qid, "bob@partner.example")
		T.reply(conn, what .. ": RCPT bob", SMFIR_CONTINUE)
		local headers = {
			{ "To", "bob@partner.example" },
			{ "Subject", "who sent this?" },
			{ "MIME-Version", "1.0" },
			{ "Content-Type", "text/plain" },
		}
		if c.from ~= nil then
			table.insert(headers, 1, { "From", c.from })
		end
		T.headers(conn, headers)
		T.eoh(conn, c.qid)
		T.reply(conn, what .. ": end of headers", SMFIR_TEMPFAIL, SMFIR_REPLYCODE)
		if mt.getreply(conn) == SMFIR_REPLYCODE then
			T.expect_replytext(d, what, "451", "4.7.0")
		end
		T.expect_log(d, c.qid .. ": ", "tempfail", c.log)
		mt.disconnect(conn)
	end

	T.expect_no_modifications(d, "messages without a usable From:")
end)
