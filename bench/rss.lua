-- rss.lua - one internal message of BODY_MB megabytes through the milter,
-- for bench/run.sh's memory measurement.
local sock = os.getenv("MILTER_SOCKET")
local mb = tonumber(os.getenv("BODY_MB") or "50")
local conn = mt.connect(sock, 40, 0.25)
if conn == nil then error("cannot connect to " .. sock) end
mt.macro(conn, SMFIC_CONNECT, "j", "bench.example")
assert(mt.conninfo(conn, "localhost", "127.0.0.1") == nil)
mt.macro(conn, SMFIC_MAIL, "i", "BENCH" .. mb)
assert(mt.mailfrom(conn, "<alice@example.com>") == nil)
assert(mt.rcptto(conn, "<bob@partner.example>") == nil)
assert(mt.getreply(conn) == SMFIR_CONTINUE)
mt.header(conn, "From", "alice@example.com")
mt.header(conn, "To", "bob@partner.example")
mt.header(conn, "Subject", "large")
mt.header(conn, "Content-Type", "application/octet-stream")
mt.header(conn, "Content-Transfer-Encoding", "base64")
assert(mt.eoh(conn) == nil)
local line = string.rep("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo", 2):sub(1, 76) .. "\r\n"
local chunk = string.rep(line, 840) -- 65,520 bytes
for _ = 1, math.floor(mb * 1048576 / #chunk) do
	assert(mt.bodystring(conn, chunk) == nil)
end
assert(mt.eom(conn) == nil)
assert(mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)
