-- policy-vmta-unknown.lua - a message naming a virtual MTA that no <virtual-mta> block defines
-- (a typo: "secure-ot" for "secure-out") gets what unknown-virtual-mta says, with a warning
-- naming it in the log:
--   VMTA daemon (the default, tempfail)  -> 451 4.7.1 at end of headers, message untouched
--   POLICY daemon, the name from the {daemon_name} macro, default  -> 451 4.7.1 likewise
--   VMTAREJECT (reject)                  -> 550 5.7.1 at end of headers, message untouched
--   VMTAPASS (pass)                      -> the policy without a virtual MTA: bob@partner.example
--                                           encrypted, erin@bank.example passes; both log
--                                           lines name the unknown virtual MTA
local T = dofile((os.getenv("MT_DIR") or "tests/miltertest") .. "/common.lua")

T.run(function()
	local function message(what, qid, rcpt, vmta, macros)
		local m = {
			what = what, qid = qid, mail_macros = macros,
			rcpts = { { rcpt, SMFIR_CONTINUE } },
			headers = {
				{ "From", "Alice <alice@example.com>" },
				{ "To", rcpt },
				{ "Subject", what },
				{ "MIME-Version", "1.0" },
				{ "Content-Type", "text/plain; charset=us-ascii" },
			},
		}
		if vmta ~= nil then
			table.insert(m.headers, 3, { "X-Virtual-MTA", vmta })
		end
		return m
	end

	local function refused(dname, qid, code, action, macros)
		local d = T.daemon(dname)
		local what = dname .. ": unknown virtual MTA, " .. action
		local conn = T.connect(d, "client.example.com", "127.0.0.1")
		local m = message(what, qid, "bob@partner.example", macros == nil and "secure-ot" or nil, macros)
		T.check(T.start_message(conn, d, m) == SMFIR_REPLYCODE, "%s: end of headers: expected SMFIR_REPLYCODE", what)
		T.expect_replytext(d, what, code, 'unknown virtual MTA "secure-ot"')
		T.expect_log(d, qid .. ": ", 'unknown virtual MTA "secure-ot": no <virtual-mta> block defines it ' ..
		    "(unknown-virtual-mta " .. action .. ")")
		T.expect_log(d, qid .. ": ", (action == "reject" and "rejected" or "tempfail") ..
		    ': unknown virtual MTA "secure-ot"')
		T.expect_untouched(conn, d, what)
		mt.disconnect(conn)
	end

	refused("VMTA", "MTVU0001", "451 4.7.1", "tempfail")
	refused("POLICY", "MTVU0002", "451 4.7.1", "tempfail", { "{daemon_name}", "secure-ot" })
	refused("VMTAREJECT", "MTVU0003", "550 5.7.1", "reject")

	-- pass: the policy as if no virtual MTA were named
	local d = T.daemon("VMTAPASS")
	local conn = T.connect(d, "client.example.com", "127.0.0.1")
	local m = message("pass, encrypted by the domain's policy", "MTVU0004", "bob@partner.example", "secure-ot")
	T.check(T.start_message(conn, d, m) == SMFIR_CONTINUE, "%s: end of headers: expected SMFIR_CONTINUE", m.what)
	T.finish_message(conn, m, "marker MTVU0004\r\n")
	T.expect_encrypted(conn, d, m.what, { "bob@partner.example" }, "marker MTVU0004", false)
	T.expect_log(d, "MTVU0004: ", 'unknown virtual MTA "secure-ot": no <virtual-mta> block defines it ' ..
	    "(unknown-virtual-mta pass)")
	T.expect_log(d, "MTVU0004: ", "encrypted: from=<>", "vmta=secure-ot(not configured)")
	mt.disconnect(conn)

	conn = T.connect(d, "client.example.com", "127.0.0.1")
	m = message("pass, nothing to do", "MTVU0005", "erin@bank.example", "secure-ot")
	T.check(T.start_message(conn, d, m) == SMFIR_ACCEPT, "%s: end of headers: expected SMFIR_ACCEPT", m.what)
	T.expect_log(d, "MTVU0005: ", 'passed: policy neither signs nor encrypts (unknown virtual MTA "secure-ot")')
	T.expect_untouched(conn, d, m.what)
	mt.disconnect(conn)
end)
