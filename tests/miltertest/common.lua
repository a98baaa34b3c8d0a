-- common.lua - helpers shared by the miltertest scripts (loaded with dofile,
-- not a test of its own).  tests/miltertest.sh exports, for every daemon it
-- starts (MAIN, BADMODE, NOKEY):
--   MT_<NAME>_SOCKET      where miltertest connects ("unix:PATH")
--   MT_<NAME>_LOG         the daemon's stderr log
--   MT_<NAME>_TRANSCRIPT  every reply the daemon sent, one per line, written
--                         by the relay in front of it ("" when run without it)
-- and MT_DIR, this directory.

local T = {}

local reply_names = {
	[SMFIR_CONTINUE] = "SMFIR_CONTINUE", [SMFIR_ACCEPT] = "SMFIR_ACCEPT",
	[SMFIR_REJECT] = "SMFIR_REJECT", [SMFIR_TEMPFAIL] = "SMFIR_TEMPFAIL",
	[SMFIR_DISCARD] = "SMFIR_DISCARD", [SMFIR_REPLYCODE] = "SMFIR_REPLYCODE",
}

function T.reply_name(r)
	if r == nil then
		return "nil"
	end
	local n = reply_names[r]
	if n ~= nil then
		return n
	end
	local i = math.floor(r)
	if i > 32 and i < 127 then
		return string.format("'%s' (%d)", string.char(i), i)
	end
	return tostring(i)
end

-- Run a script's body; report the failure ourselves, because Debian 12's
-- miltertest exits 1 on a script error without printing its message.
function T.run(body)
	local ok, err = xpcall(body, function(e)
		return debug.traceback(tostring(e), 2)
	end)
	if not ok then
		print("FAIL: " .. err)
		error(err, 0)
	end
end

function T.fail(fmt, ...)
	error(string.format(fmt, ...), 2)
end

function T.check(cond, fmt, ...)
	if not cond then
		error(string.format(fmt, ...), 2)
	end
end

-- A miltertest call returns nil on success and an error string on failure.
function T.ok(err, what)
	if err ~= nil then
		error(what .. ": " .. tostring(err), 2)
	end
end

-- The last reply must be one of the given SMFIR_* codes.
function T.reply(conn, what, ...)
	local got = mt.getreply(conn)
	local names = {}
	for _, want in ipairs({...}) do
		if got == want then
			return got
		end
		names[#names + 1] = T.reply_name(want)
	end
	error(string.format("%s: expected %s, got %s", what, table.concat(names, " or "),
	    T.reply_name(got)), 2)
end

-- ---- the daemons ----

function T.daemon(name)
	local function env(key)
		local v = os.getenv("MT_" .. name .. "_" .. key)
		if v == nil then
			error("MT_" .. name .. "_" .. key .. " is not set: run this through tests/miltertest.sh", 3)
		end
		return v
	end
	return { name = name, socket = env("SOCKET"), log = env("LOG"), transcript = env("TRANSCRIPT") }
end

local function read_file(path)
	local f = io.open(path, "rb")
	if f == nil then
		return ""
	end
	local s = f:read("a") or ""
	f:close()
	return s
end

local function lines_of(s)
	local t = {}
	for line in string.gmatch(s, "([^\n]*)\n") do
		t[#t + 1] = line
	end
	return t
end

-- Daemon log lines containing every one of the plain strings given.
function T.log_lines(d, ...)
	local found = {}
	local needles = {...}
	for _, line in ipairs(lines_of(read_file(d.log))) do
		local all = true
		for _, s in ipairs(needles) do
			if string.find(line, s, 1, true) == nil then
				all = false
				break
			end
		end
		if all then
			found[#found + 1] = line
		end
	end
	return found
end

-- Wait (up to 5 s) for a log line containing all the strings; fail otherwise.
function T.expect_log(d, ...)
	for _ = 1, 50 do
		local found = T.log_lines(d, ...)
		if #found > 0 then
			return found[1]
		end
		mt.sleep(0.1)
	end
	error(string.format("%s daemon log has no line containing %s", d.name,
	    table.concat({...}, " + ")), 2)
end

-- The transcript (every reply of the daemon, "CMD TEXT" per line, NULs
-- shown as "|") is available only through the relay.
function T.have_transcript(d)
	return d.transcript ~= ""
end

function T.transcript(d)
	return lines_of(read_file(d.transcript))
end

-- Text of the last SMFIR_REPLYCODE ('y') the daemon sent, or nil.
function T.last_replytext(d)
	local last
	for _, line in ipairs(T.transcript(d)) do
		if string.sub(line, 1, 2) == "y " then
			last = string.sub(line, 3)
		end
	end
	return last
end

-- Check the SMTP reply text of the last SMFIR_REPLYCODE (miltertest itself
-- keeps the text only at end of message).
function T.expect_replytext(d, what, ...)
	if not T.have_transcript(d) then
		mt.echo("# " .. what .. ": reply text not checked (no transcript)")
		return
	end
	local text = T.last_replytext(d)
	T.check(text ~= nil, "%s: the daemon sent no SMTP reply text", what)
	for _, s in ipairs({...}) do
		T.check(string.find(text, s, 1, true) ~= nil, "%s: reply %q lacks %q", what, text, s)
	end
end

-- Message modifications the daemon sent so far (add/change/insert header,
-- replace body, add/delete recipient, quarantine, change sender).
function T.modifications(d)
	local mods = {}
	for _, line in ipairs(T.transcript(d)) do
		local c = string.sub(line, 1, 1)
		if c ~= "" and string.find("hmib+-2qe", c, 1, true) ~= nil then
			mods[#mods + 1] = line
		end
	end
	return mods
end

function T.expect_no_modifications(d, what)
	if not T.have_transcript(d) then
		return
	end
	local mods = T.modifications(d)
	T.check(#mods == 0, "%s: the daemon modified the message: %s", what, table.concat(mods, "; "))
end

-- ---- SMTP-side steps ----

function T.connect(d, host, ip)
	local conn = mt.connect(d.socket, 50, 0.1)
	T.check(conn ~= nil, "cannot connect to %s", d.socket)
	T.ok(mt.conninfo(conn, host, ip), "mt.conninfo(" .. ip .. ")")
	T.reply(conn, "connect from " .. ip, SMFIR_CONTINUE)
	return conn
end

-- The queue id as Postfix gives it: from the first RCPT on, then at EOH and EOM.
local SMFIC_EOH = string.byte("N")
local SMFIC_BODYEOB = string.byte("E")

function T.rcpt(conn, qid, addr)
	T.ok(mt.macro(conn, SMFIC_RCPT, "i", qid, "{rcpt_addr}", addr), "mt.macro(RCPT)")
	T.ok(mt.rcptto(conn, "<" .. addr .. ">"), "mt.rcptto(" .. addr .. ")")
	return mt.getreply(conn)
end

function T.headers(conn, list)
	for _, h in ipairs(list) do
		T.ok(mt.header(conn, h[1], h[2]), "mt.header(" .. h[1] .. ")")
		T.reply(conn, "header " .. h[1], SMFIR_CONTINUE)
	end
end

function T.eoh(conn, qid)
	T.ok(mt.macro(conn, SMFIC_EOH, "i", qid), "mt.macro(EOH)")
	T.ok(mt.eoh(conn), "mt.eoh")
	return mt.getreply(conn)
end

function T.body(conn, chunks)
	for i, chunk in ipairs(chunks) do
		T.ok(mt.bodystring(conn, chunk), "mt.bodystring")
		T.reply(conn, "body chunk " .. i, SMFIR_CONTINUE)
	end
end

function T.eom(conn, qid)
	T.ok(mt.macro(conn, SMFIC_BODYEOB, "i", qid), "mt.macro(EOM)")
	T.ok(mt.eom(conn), "mt.eom")
	return mt.getreply(conn)
end

-- The S/MIME headers a processed message must get, and the Content-*
-- headers it must lose; leadspc: whether SMFIP_HDR_LEADSPC was negotiated.
function T.expect_smime_rewrite(conn, what, removed)
	local lead = mt.test_option(conn, SMFIP_HDR_LEADSPC) and " " or ""

	T.check(mt.eom_check(conn, MT_BODYCHANGE), "%s: body not replaced", what)
	for _, name in ipairs(removed) do
		T.check(mt.eom_check(conn, MT_HDRDELETE, name), "%s: %s not deleted", what, name)
	end

	local function added(name)
		local v = mt.getheader(conn, name, 0)
		T.check(v ~= nil, "%s: no %s header added", what, name)
		T.check(mt.getheader(conn, name, 1) == nil, "%s: %s added twice", what, name)
		T.check(string.sub(v, 1, #lead) == lead and string.sub(v, #lead + 1, #lead + 1) ~= " ",
		    "%s: %s value %q: expected %s leading space (SMFIP_HDR_LEADSPC %s)", what, name, v,
		    lead == " " and "exactly one" or "no", lead == " " and "negotiated" or "not negotiated")
		T.check(string.find(v, "[\r]") == nil, "%s: %s value %q holds a CR", what, name, v)
		return string.sub(v, #lead + 1)
	end

	local ct = added("Content-Type")
	T.check(string.find(string.lower(ct), "^application/pkcs7%-mime;") ~= nil,
	    "%s: Content-Type %q is not application/pkcs7-mime", what, ct)
	T.check(string.find(ct, "smime-type=enveloped-data", 1, true) ~= nil,
	    "%s: Content-Type %q lacks smime-type=enveloped-data", what, ct)
	T.check(string.find(ct, 'name="smime.p7m"', 1, true) ~= nil,
	    "%s: Content-Type %q lacks name=\"smime.p7m\"", what, ct)

	local cte = added("Content-Transfer-Encoding")
	T.check(string.lower(cte) == "base64", "%s: Content-Transfer-Encoding is %q, not base64", what, cte)

	local cd = added("Content-Disposition")
	T.check(string.find(string.lower(cd), "^attachment") ~= nil,
	    "%s: Content-Disposition %q is not attachment", what, cd)
	T.check(string.find(cd, 'filename="smime.p7m"', 1, true) ~= nil,
	    "%s: Content-Disposition %q lacks filename=\"smime.p7m\"", what, cd)
end

return T
