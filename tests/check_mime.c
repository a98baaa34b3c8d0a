/*
 * check_mime.c - unit tests of the MIME helpers (mime.h):
 *
 *   mime_canon_chunk        CRLF canonicalisation, also across chunk edges
 *   mime_headers_*          header lists: value line breaks, occurrence index
 *   mime_is_content_header  Content-* classification
 *   mime_is_protected_type  the skip rule for S/MIME and PGP/MIME mail
 *   mime_content_block      the header block of the inner entity, byte exact
 *   mime_extract_address    first mailbox of a From/To value or envelope
 *   mime_address_is_safe    addresses used as file name components
 *   mime_parse_headers      header block of a complete message
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"

/* ---- helpers ---- */

/* Canonicalise one string as a single chunk; out must hold 2 * len. */
static size_t
canon_str(struct mime_canon *c, const char *in, char *out)
{
	return mime_canon_chunk(c, in, strlen(in), out);
}

/* Expect extraction of value to succeed with exactly want. */
static void
expect_addr(const char *value, const char *want)
{
	char out[256];
	int rc;

	memset(out, 'X', sizeof(out));
	rc = mime_extract_address(value, out, sizeof(out));
	ck_assert_msg(rc == 0, "mime_extract_address(\"%s\") returned %d", value, rc);
	ck_assert_str_eq(out, want);
}

/* Expect extraction of value to fail. */
static void
expect_no_addr(const char *value)
{
	char out[256];
	int rc;

	out[0] = '\0';
	rc = mime_extract_address(value, out, sizeof(out));
	ck_assert_msg(rc == -1, "mime_extract_address(\"%s\") returned %d (\"%s\")", value, rc,
	    rc == 0 ? out : "");
}

/* ---- mime_canon_chunk ---- */

START_TEST(test_canon_bare_lf)
{
	struct mime_canon c;
	char out[64];
	size_t n;

	mime_canon_init(&c);
	n = canon_str(&c, "a\nb\n", out);
	ck_assert_uint_eq(n, 6);
	ck_assert_mem_eq(out, "a\r\nb\r\n", 6);
}
END_TEST

START_TEST(test_canon_crlf_kept)
{
	struct mime_canon c;
	char out[64];
	size_t n;

	mime_canon_init(&c);
	n = canon_str(&c, "line 1\r\nline 2\r\n\r\n", out);
	ck_assert_uint_eq(n, 18);
	ck_assert_mem_eq(out, "line 1\r\nline 2\r\n\r\n", 18);
}
END_TEST

START_TEST(test_canon_lone_cr_kept)
{
	struct mime_canon c;
	char out[64];
	size_t n;

	mime_canon_init(&c);
	n = canon_str(&c, "a\rb\r", out);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(out, "a\rb\r", 4);
	/* a chunk that starts with something other than LF after the CR */
	n = canon_str(&c, "c\n", out);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(out, "c\r\n", 3);
}
END_TEST

START_TEST(test_canon_mixed)
{
	struct mime_canon c;
	char out[64];
	size_t n;

	mime_canon_init(&c);
	n = canon_str(&c, "\n\r\n\n\r\r\n", out);
	ck_assert_uint_eq(n, 9);
	ck_assert_mem_eq(out, "\r\n\r\n\r\n\r\r\n", 9);
}
END_TEST

START_TEST(test_canon_cr_lf_split)
{
	struct mime_canon c;
	char out[64];
	size_t n;

	mime_canon_init(&c);
	n = canon_str(&c, "abc\r", out);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(out, "abc\r", 4);
	n = canon_str(&c, "\ndef\n", out);
	/* the LF completes the CRLF: no second CR */
	ck_assert_uint_eq(n, 6);
	ck_assert_mem_eq(out, "\ndef\r\n", 6);
}
END_TEST

START_TEST(test_canon_lf_after_lf_chunk)
{
	struct mime_canon c;
	char out[64];
	size_t n;

	/* a chunk ending in LF does not excuse the next chunk's bare LF */
	mime_canon_init(&c);
	n = canon_str(&c, "x\n", out);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(out, "x\r\n", 3);
	n = canon_str(&c, "\n", out);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(out, "\r\n", 2);
}
END_TEST

START_TEST(test_canon_byte_by_byte)
{
	static const char in[] = "From: a\nTo: b\r\n\nbody\rline\n";
	static const char want[] = "From: a\r\nTo: b\r\n\r\nbody\rline\r\n";
	struct mime_canon c;
	char out[128], tmp[2];
	size_t i, o = 0;

	mime_canon_init(&c);
	for (i = 0; i < strlen(in); i++) {
		size_t n = mime_canon_chunk(&c, in + i, 1, tmp);
		ck_assert_uint_le(n, 2);
		memcpy(out + o, tmp, n);
		o += n;
	}
	ck_assert_uint_eq(o, strlen(want));
	ck_assert_mem_eq(out, want, o);
}
END_TEST

START_TEST(test_canon_empty)
{
	struct mime_canon c;
	char out[4] = "zzz";
	size_t n;

	mime_canon_init(&c);
	n = mime_canon_chunk(&c, "", 0, out);
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq(out, "zzz");
	/* an empty chunk keeps the pending CR state */
	n = canon_str(&c, "a\r", out);
	ck_assert_uint_eq(n, 2);
	n = mime_canon_chunk(&c, "", 0, out);
	ck_assert_uint_eq(n, 0);
	n = canon_str(&c, "\n", out);
	ck_assert_uint_eq(n, 1);
	ck_assert_mem_eq(out, "\n", 1);
}
END_TEST

START_TEST(test_canon_init_resets)
{
	struct mime_canon c;
	char out[8];
	size_t n;

	mime_canon_init(&c);
	n = canon_str(&c, "\r", out);
	ck_assert_uint_eq(n, 1);
	mime_canon_init(&c);
	n = canon_str(&c, "\n", out);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(out, "\r\n", 2);
}
END_TEST

/* ---- mime_headers_add / find / clear ---- */

static struct mime_headers hs;

static void
headers_setup(void)
{
	mime_headers_init(&hs);
}

static void
headers_teardown(void)
{
	mime_headers_clear(&hs);
}

START_TEST(test_headers_add_copies)
{
	char name[] = "Subject", value[] = " hello";

	ck_assert_int_eq(mime_headers_add(&hs, name, value), 0);
	name[0] = 'X';
	value[1] = 'J';
	ck_assert_uint_eq(hs.n, 1);
	ck_assert_str_eq(hs.v[0].name, "Subject");
	ck_assert_str_eq(hs.v[0].value, " hello");
	ck_assert_int_eq(hs.v[0].index, 1);
}
END_TEST

START_TEST(test_headers_add_line_breaks)
{
	ck_assert_int_eq(mime_headers_add(&hs, "A", " one\n two"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "B", " one\r two"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "C", " one\r\n two"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "D", "\n\r\r\n\n\r"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "E", ""), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "F", "end\r"), 0);
	ck_assert_uint_eq(hs.n, 6);
	ck_assert_str_eq(hs.v[0].value, " one\r\n two");
	ck_assert_str_eq(hs.v[1].value, " one\r\n two");
	ck_assert_str_eq(hs.v[2].value, " one\r\n two");
	/* LF, CR, CRLF, LF, CR: five line breaks */
	ck_assert_str_eq(hs.v[3].value, "\r\n\r\n\r\n\r\n\r\n");
	ck_assert_str_eq(hs.v[4].value, "");
	ck_assert_str_eq(hs.v[5].value, "end\r\n");
}
END_TEST

START_TEST(test_headers_index)
{
	ck_assert_int_eq(mime_headers_add(&hs, "Received", " a"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "From", " f"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "RECEIVED", " b"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "received", " c"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "from", " g"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "Received-SPF", " x"), 0);
	ck_assert_uint_eq(hs.n, 6);
	ck_assert_int_eq(hs.v[0].index, 1);
	ck_assert_int_eq(hs.v[1].index, 1);
	ck_assert_int_eq(hs.v[2].index, 2);
	ck_assert_int_eq(hs.v[3].index, 3);
	ck_assert_int_eq(hs.v[4].index, 2);
	ck_assert_int_eq(hs.v[5].index, 1);
	/* names are stored as given */
	ck_assert_str_eq(hs.v[2].name, "RECEIVED");
}
END_TEST

START_TEST(test_headers_grow)
{
	char name[32], value[32];
	int i;

	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "X-H%d", i % 7);
		snprintf(value, sizeof(value), " v%d", i);
		ck_assert_int_eq(mime_headers_add(&hs, name, value), 0);
	}
	ck_assert_uint_eq(hs.n, 100);
	ck_assert_uint_ge(hs.cap, 100);
	for (i = 0; i < 100; i++) {
		snprintf(value, sizeof(value), " v%d", i);
		ck_assert_str_eq(hs.v[i].value, value);
		ck_assert_int_eq(hs.v[i].index, i / 7 + 1);
	}
}
END_TEST

START_TEST(test_headers_find)
{
	const struct mime_header *e;

	ck_assert_ptr_null(mime_headers_find(&hs, "From"));
	ck_assert_int_eq(mime_headers_add(&hs, "From", " first"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "To", " t"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "FROM", " second"), 0);
	e = mime_headers_find(&hs, "from");
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_eq(e, &hs.v[0]);
	ck_assert_str_eq(e->value, " first");
	ck_assert_int_eq(e->index, 1);
	e = mime_headers_find(&hs, "tO");
	ck_assert_ptr_eq(e, &hs.v[1]);
	ck_assert_ptr_null(mime_headers_find(&hs, "Fro"));
	ck_assert_ptr_null(mime_headers_find(&hs, "From "));
	ck_assert_ptr_null(mime_headers_find(&hs, "Subject"));
}
END_TEST

START_TEST(test_headers_clear_reuse)
{
	ck_assert_int_eq(mime_headers_add(&hs, "A", " 1"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "A", " 2"), 0);
	mime_headers_clear(&hs);
	ck_assert_uint_eq(hs.n, 0);
	ck_assert_ptr_null(hs.v);
	ck_assert_ptr_null(mime_headers_find(&hs, "A"));
	ck_assert_int_eq(mime_headers_add(&hs, "A", " 3"), 0);
	ck_assert_int_eq(hs.v[0].index, 1);
	ck_assert_str_eq(hs.v[0].value, " 3");
	/* clearing twice is harmless */
	mime_headers_clear(&hs);
	mime_headers_clear(&hs);
	ck_assert_uint_eq(hs.n, 0);
}
END_TEST

/* ---- mime_is_content_header ---- */

START_TEST(test_is_content_header)
{
	ck_assert_int_ne(mime_is_content_header("Content-Type"), 0);
	ck_assert_int_ne(mime_is_content_header("content-transfer-encoding"), 0);
	ck_assert_int_ne(mime_is_content_header("CONTENT-DISPOSITION"), 0);
	ck_assert_int_ne(mime_is_content_header("Content-ID"), 0);
	ck_assert_int_ne(mime_is_content_header("Content-"), 0);
	ck_assert_int_eq(mime_is_content_header("Content"), 0);
	ck_assert_int_eq(mime_is_content_header("ContentType"), 0);
	ck_assert_int_eq(mime_is_content_header("X-Content-Type"), 0);
	ck_assert_int_eq(mime_is_content_header("MIME-Version"), 0);
	ck_assert_int_eq(mime_is_content_header("Subject"), 0);
	ck_assert_int_eq(mime_is_content_header(""), 0);
}
END_TEST

/* ---- mime_is_protected_type ---- */

START_TEST(test_protected_yes)
{
	static const char *const yes[] = {
	    "application/pkcs7-mime",
	    "application/x-pkcs7-mime",
	    "multipart/signed",
	    "multipart/encrypted",
	    "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m",
	    "application/x-pkcs7-mime;smime-type=signed-data",
	    "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256",
	    "multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=x",
	    " multipart/signed; boundary=b",
	    "\tapplication/pkcs7-mime",
	    " \t multipart/encrypted",
	    "APPLICATION/PKCS7-MIME",
	    "Multipart/Signed; boundary=b",
	    "MULTIPART/ENCRYPTED",
	    "multipart/signed ; boundary=b",
	    "multipart/signed\r\n\tboundary=b",
	};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ck_assert_msg(mime_is_protected_type(yes[i]) != 0, "not protected: \"%s\"", yes[i]);
}
END_TEST

START_TEST(test_protected_no)
{
	static const char *const no[] = {
	    "text/plain",
	    "text/plain; charset=utf-8",
	    "multipart/mixed; boundary=\"multipart/signed\"",
	    "multipart/alternative",
	    "application/pkcs7-signature",
	    "application/pkcs7-mimex",
	    "application/pkcs7",
	    "multipart/signedx",
	    "multipart/signed-x",
	    "multipart/encrypted2",
	    "multipart",
	    "x-multipart/signed",
	    "text/multipart/signed",
	    "",
	    "   ",
	};
	size_t i;

	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ck_assert_msg(mime_is_protected_type(no[i]) == 0, "protected: \"%s\"", no[i]);
	ck_assert_int_eq(mime_is_protected_type(NULL), 0);
}
END_TEST

/* ---- mime_content_block ---- */

START_TEST(test_content_block_exact)
{
	static const char want[] = "Content-Type: text/plain;\r\n\tcharset=utf-8\r\n"
	                           "content-transfer-encoding:8bit\r\n"
	                           "Content-Disposition: inline\r\n"
	                           "\r\n";
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(mime_headers_add(&hs, "From", " a@example.com"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "Content-Type", " text/plain;\n\tcharset=utf-8"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "Subject", " hi"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "MIME-Version", " 1.0"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "content-transfer-encoding", "8bit"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "Content-Disposition", " inline"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "X-Content-Type", " no"), 0);
	ck_assert_int_eq(mime_content_block(&hs, 0, &out, &len), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_mem_eq(out, want, len);
	ck_assert_int_eq(out[len], '\0');
	free(out);
}
END_TEST

START_TEST(test_content_block_add_space)
{
	static const char want[] = "Content-Type: text/plain\r\n"
	                           "Content-Transfer-Encoding: 8bit\r\n"
	                           "Content-Description:\tx\r\n"
	                           "Content-ID: <id@x>\r\n"
	                           "\r\n";
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(mime_headers_add(&hs, "Content-Type", " text/plain"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "Content-Transfer-Encoding", "8bit"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "Content-Description", "\tx"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "Content-ID", "<id@x>"), 0);
	ck_assert_int_eq(mime_content_block(&hs, 1, &out, &len), 0);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_mem_eq(out, want, len);
	free(out);

	/* without add_space the values go out untouched */
	ck_assert_int_eq(mime_content_block(&hs, 0, &out, &len), 0);
	ck_assert_str_eq(out,
	    "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding:8bit\r\n"
	    "Content-Description:\tx\r\n"
	    "Content-ID:<id@x>\r\n"
	    "\r\n");
	ck_assert_uint_eq(len, strlen(out));
	free(out);
}
END_TEST

START_TEST(test_content_block_none)
{
	char *out = NULL;
	size_t len = 99;

	ck_assert_int_eq(mime_content_block(&hs, 1, &out, &len), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(out, "\r\n", 2);
	free(out);

	ck_assert_int_eq(mime_headers_add(&hs, "From", " a@b.c"), 0);
	ck_assert_int_eq(mime_headers_add(&hs, "Subject", " s"), 0);
	ck_assert_int_eq(mime_content_block(&hs, 0, &out, &len), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_str_eq(out, "\r\n");
	free(out);
}
END_TEST

START_TEST(test_content_block_empty_value)
{
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(mime_headers_add(&hs, "Content-Language", ""), 0);
	ck_assert_int_eq(mime_content_block(&hs, 1, &out, &len), 0);
	ck_assert_str_eq(out, "Content-Language: \r\n\r\n");
	ck_assert_uint_eq(len, 22);
	free(out);
	ck_assert_int_eq(mime_content_block(&hs, 0, &out, &len), 0);
	ck_assert_str_eq(out, "Content-Language:\r\n\r\n");
	ck_assert_uint_eq(len, 21);
	free(out);
}
END_TEST

/* ---- mime_extract_address ---- */

START_TEST(test_addr_display_name)
{
	expect_addr("\"Alice Example\" <Alice@EXAMPLE.com>", "Alice@example.com");
	expect_addr("Alice Example <alice@example.com>", "alice@example.com");
	expect_addr(" \"Alice\"\t<ALICE@Example.COM> ", "ALICE@example.com");
}
END_TEST

START_TEST(test_addr_bare)
{
	expect_addr("bob@x.org", "bob@x.org");
	expect_addr("  bob@X.Org  ", "bob@x.org");
	expect_addr("Bob.Smith+tag@Example.ORG", "Bob.Smith+tag@example.org");
	expect_addr("bob@x.org\r\n", "bob@x.org");
}
END_TEST

START_TEST(test_addr_angle)
{
	expect_addr(" <bob@x.org> ", "bob@x.org");
	expect_addr("<bob@x.org>", "bob@x.org");
	expect_addr("Bob\r\n <bob@x.org>", "bob@x.org");
}
END_TEST

START_TEST(test_addr_comments)
{
	expect_addr("bob@x.org (Bob)", "bob@x.org");
	expect_addr("(c) bob@x.org", "bob@x.org");
	expect_addr("(not <me@evil.org>) bob@x.org", "bob@x.org");
	expect_addr("(nested (comment x@y.org)) bob@x.org", "bob@x.org");
	expect_addr("Bob (x, <no@y.org>) <bob@x.org>", "bob@x.org");
}
END_TEST

START_TEST(test_addr_quoted_specials)
{
	expect_addr("\"Doe, <John>\" <j@x.org>", "j@x.org");
	expect_addr("\"Doe, John\" <j@x.org>", "j@x.org");
	expect_addr("\"a \\\" <b@evil.org>\" <c@x.org>", "c@x.org");
	expect_addr("\"(not a comment\" <d@x.org>", "d@x.org");
}
END_TEST

START_TEST(test_addr_list_first)
{
	expect_addr("a@x.org, b@y.org", "a@x.org");
	expect_addr("a@x.org,b@y.org", "a@x.org");
	expect_addr("A <a@x.org>, B <b@y.org>", "a@x.org");
	expect_addr("a@x.org, B <b@y.org>", "a@x.org");
}
END_TEST

START_TEST(test_addr_invalid)
{
	expect_no_addr("");
	expect_no_addr("   ");
	expect_no_addr("no address");
	expect_no_addr("<>");
	expect_no_addr("Name <>");
	expect_no_addr("<a@b@c>");
	expect_no_addr("<../../etc/passwd@x>");
	expect_no_addr("<bob@x.org");
	expect_no_addr("<@x.org>");
	expect_no_addr("<bob@>");
	expect_no_addr("<bob>");
	expect_no_addr("<.bob@x.org>");
	expect_no_addr("<bob@x..org>");
	expect_no_addr("<bob smith@x.org>");
	expect_no_addr("(bob@x.org)");
	expect_no_addr("\"only a name\"");
}
END_TEST

/*
 * '/' is an atext character (RFC 5322 3.2.3), so "../../etc/passwd@x" is
 * one addr-spec, and an unsafe one: it must be refused as a whole, as it
 * is inside angle brackets, not cut down to a different address.
 */
START_TEST(test_addr_bare_unsafe)
{
	expect_no_addr("../../etc/passwd@x");
	expect_no_addr("a/b@x.org");
	expect_no_addr("evil/ceo@bank.example");
}
END_TEST

/* A comment right after a non-address word is still a comment. */
START_TEST(test_addr_bare_comment_after_word)
{
	expect_addr("x(y@evil.org) bob@x.org", "bob@x.org");
	expect_addr("Bob(Bob <b@evil.org>) bob@x.org", "bob@x.org");
}
END_TEST

START_TEST(test_addr_outlen)
{
	char out[16];

	memset(out, 0, sizeof(out));
	/* "abc@example.com" is 15 bytes: fits in 16 with the NUL, not in 15 */
	ck_assert_int_eq(mime_extract_address("<abc@Example.com>", out, 16), 0);
	ck_assert_str_eq(out, "abc@example.com");
	ck_assert_int_eq(mime_extract_address("<abc@example.com>", out, 15), -1);
	ck_assert_int_eq(mime_extract_address("abc@example.com", out, 15), -1);
	ck_assert_int_eq(mime_extract_address("abc@example.com", out, 1), -1);
}
END_TEST

/* ---- mime_address_is_safe ---- */

START_TEST(test_safe_ok)
{
	char addr[300];

	ck_assert_int_ne(mime_address_is_safe("alice@example.com"), 0);
	ck_assert_int_ne(mime_address_is_safe("a.b-c+d_e@sub.example.org"), 0);
	ck_assert_int_ne(mime_address_is_safe("a@b"), 0);
	/* exactly 254 bytes is allowed */
	memset(addr, 'a', 254);
	addr[254] = '\0';
	addr[100] = '@';
	ck_assert_uint_eq(strlen(addr), 254);
	ck_assert_int_ne(mime_address_is_safe(addr), 0);
}
END_TEST

START_TEST(test_safe_rejected)
{
	static const char *const bad[] = {
	    "",
	    "alice",
	    "alice.example.com",
	    "@example.com",
	    "alice@",
	    "a@b@c",
	    "a@@b",
	    "../etc/passwd@x",
	    "a/b@x",
	    "a@x/y",
	    "a\\b@x",
	    ".alice@example.com",
	    ".@x",
	    "alice..x@example.com",
	    "alice@example..com",
	    "alice@..",
	    "ali ce@example.com",
	    "alice@exa\tmple.com",
	    "alice\n@example.com",
	    "alice@example.com\r",
	    "a\x01@x",
	    "a\x7f@x",
	    "a\xc3\xa9@x",
	    "<a@x>",
	    "a@x,b@y",
	    "\"a\"@x",
	    "a;b@x",
	    "a@[127.0.0.1]",
	};
	char addr[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mime_address_is_safe(bad[i]) == 0, "accepted: \"%s\"", bad[i]);
	/* 255 bytes is too long */
	memset(addr, 'a', 255);
	addr[255] = '\0';
	addr[100] = '@';
	ck_assert_int_eq(mime_address_is_safe(addr), 0);
}
END_TEST

/* ---- mime_parse_headers ---- */

static void
parse_ok(const char *msg, size_t want_body_off)
{
	char err[256] = "";
	size_t body_off = (size_t)-1;
	int rc = mime_parse_headers(msg, strlen(msg), &hs, &body_off, err, sizeof(err));

	ck_assert_msg(rc == 0, "parse failed: %s", err);
	ck_assert_uint_eq(body_off, want_body_off);
}

START_TEST(test_parse_crlf)
{
	static const char msg[] = "From: Alice <alice@example.com>\r\n"
	                          "To: bob@example.org\r\n"
	                          "Subject:no space\r\n"
	                          "Content-Type: text/plain; charset=utf-8\r\n"
	                          "\r\n"
	                          "Body line 1\r\n"
	                          "Header-Like: not a header\r\n";
	size_t head = strlen(msg) - strlen("Body line 1\r\nHeader-Like: not a header\r\n");

	parse_ok(msg, head);
	ck_assert_uint_eq(hs.n, 4);
	ck_assert_str_eq(hs.v[0].name, "From");
	ck_assert_str_eq(hs.v[0].value, " Alice <alice@example.com>");
	ck_assert_str_eq(hs.v[1].name, "To");
	ck_assert_str_eq(hs.v[1].value, " bob@example.org");
	ck_assert_str_eq(hs.v[2].name, "Subject");
	ck_assert_str_eq(hs.v[2].value, "no space");
	ck_assert_str_eq(hs.v[3].name, "Content-Type");
	ck_assert_str_eq(hs.v[3].value, " text/plain; charset=utf-8");
	ck_assert_str_eq(msg + head, "Body line 1\r\nHeader-Like: not a header\r\n");
}
END_TEST

START_TEST(test_parse_lf)
{
	static const char msg[] = "From: a@x.org\n"
	                          "Received: one\n"
	                          "received: two\n"
	                          "\n"
	                          "body\n";

	parse_ok(msg, strlen(msg) - 5);
	ck_assert_uint_eq(hs.n, 3);
	ck_assert_str_eq(hs.v[0].value, " a@x.org");
	ck_assert_str_eq(hs.v[1].value, " one");
	ck_assert_int_eq(hs.v[1].index, 1);
	ck_assert_str_eq(hs.v[2].name, "received");
	ck_assert_str_eq(hs.v[2].value, " two");
	ck_assert_int_eq(hs.v[2].index, 2);
}
END_TEST

START_TEST(test_parse_folded)
{
	static const char msg[] = "Subject: a long\r\n"
	                          " subject\r\n"
	                          "\tline\r\n"
	                          "Content-Type: multipart/mixed;\n"
	                          "\tboundary=\"b\"\n"
	                          "X: y\r\n"
	                          "\r\n";

	parse_ok(msg, strlen(msg));
	ck_assert_uint_eq(hs.n, 3);
	ck_assert_str_eq(hs.v[0].name, "Subject");
	ck_assert_str_eq(hs.v[0].value, " a long\r\n subject\r\n\tline");
	ck_assert_str_eq(hs.v[1].name, "Content-Type");
	ck_assert_str_eq(hs.v[1].value, " multipart/mixed;\r\n\tboundary=\"b\"");
	ck_assert_str_eq(hs.v[2].value, " y");
}
END_TEST

START_TEST(test_parse_empty_values)
{
	static const char msg[] = "A:\r\nB:\nC: \r\n\r\nx";

	parse_ok(msg, strlen(msg) - 1);
	ck_assert_uint_eq(hs.n, 3);
	ck_assert_str_eq(hs.v[0].value, "");
	ck_assert_str_eq(hs.v[1].value, "");
	ck_assert_str_eq(hs.v[2].value, " ");
}
END_TEST

START_TEST(test_parse_no_body)
{
	/* blank line, then nothing */
	parse_ok("From: a@x.org\r\nTo: b@y.org\r\n\r\n", 15 + 13 + 2);
	ck_assert_uint_eq(hs.n, 2);
	mime_headers_clear(&hs);

	/* no blank line at all */
	parse_ok("From: a@x.org\r\nTo: b@y.org\r\n", 15 + 13);
	ck_assert_uint_eq(hs.n, 2);
	ck_assert_str_eq(hs.v[1].value, " b@y.org");
	mime_headers_clear(&hs);

	/* last header without a line break */
	parse_ok("From: a@x.org\r\nTo: b@y.org", 15 + 11);
	ck_assert_uint_eq(hs.n, 2);
	ck_assert_str_eq(hs.v[1].value, " b@y.org");
	mime_headers_clear(&hs);

	/* nothing but the blank line: everything is body */
	parse_ok("\r\nbody", 2);
	ck_assert_uint_eq(hs.n, 0);
	parse_ok("\nbody", 1);
	ck_assert_uint_eq(hs.n, 0);

	/* empty message */
	parse_ok("", 0);
	ck_assert_uint_eq(hs.n, 0);
}
END_TEST

START_TEST(test_parse_len_bounds)
{
	/* only the first len bytes are looked at */
	static const char buf[] = "From: a@x.org\r\n\r\nbody";
	char err[128] = "";
	size_t off = 0;

	ck_assert_int_eq(mime_parse_headers(buf, 15, &hs, &off, err, sizeof(err)), 0);
	ck_assert_uint_eq(off, 15);
	ck_assert_uint_eq(hs.n, 1);
	ck_assert_str_eq(hs.v[0].value, " a@x.org");
}
END_TEST

START_TEST(test_parse_bad_line)
{
	static const char msg[] = "From: a@x.org\r\nThis is not a header\r\n\r\nbody";
	char err[256] = "";
	size_t off = 12345;

	ck_assert_int_eq(mime_parse_headers(msg, strlen(msg), &hs, &off, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "header line 2 is not \"Name: value\"");
}
END_TEST

START_TEST(test_parse_nul_byte)
{
	static const char msg[] = "From: a@x.org\r\nSubject: cut\0 here\r\n\r\nbody";
	char err[256] = "";
	size_t off = 12345;

	ck_assert_int_eq(mime_parse_headers(msg, sizeof(msg) - 1, &hs, &off, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "header line 2 holds a NUL byte");
}
END_TEST

START_TEST(test_parse_bad_line_after_fold)
{
	static const char msg[] = "Subject: a\r\n b\r\n c\r\nbroken\r\n\r\n";
	char err[256] = "";
	size_t off = 0;

	ck_assert_int_eq(mime_parse_headers(msg, strlen(msg), &hs, &off, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "header line 4 is not \"Name: value\"");
}
END_TEST

START_TEST(test_parse_bad_first)
{
	char err[256] = "";
	size_t off = 0;

	/* a continuation line with nothing to continue */
	ck_assert_int_eq(mime_parse_headers(" folded\r\n\r\n", 11, &hs, &off, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "header line 1 is not \"Name: value\"");
	/* an empty name */
	err[0] = '\0';
	ck_assert_int_eq(mime_parse_headers(": v\r\n\r\n", 7, &hs, &off, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "header line 1 is not \"Name: value\"");
	/* a space before the colon */
	err[0] = '\0';
	ck_assert_int_eq(mime_parse_headers("From : a\r\n\r\n", 12, &hs, &off, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "header line 1 is not \"Name: value\"");
	/* no colon before the end of the buffer */
	err[0] = '\0';
	ck_assert_int_eq(mime_parse_headers("From", 4, &hs, &off, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "header line 1 is not \"Name: value\"");
}
END_TEST

/* a type longer than its buffer: -1 and an empty string (found by fuzzing: it was unterminated) */
START_TEST(test_type_too_long)
{
	char type[8];

	memset(type, 'x', sizeof(type));
	ck_assert_int_eq(mime_type("application/octet-stream", type, sizeof(type)), -1);
	ck_assert_str_eq(type, "");
	ck_assert_int_eq(mime_type(" Text/Plain; x=1", type, sizeof(type)), -1);
	ck_assert_int_eq(mime_type("a/b;", type, sizeof(type)), 0);
	ck_assert_str_eq(type, "a/b");
}
END_TEST

/* a value ending in ';' (found by fuzzing: the walk stepped over the NUL) */
START_TEST(test_param_trailing_semicolon)
{
	char out[64];

	ck_assert_int_eq(mime_param("text/plain;", "charset", out, sizeof(out)), -1);
	ck_assert_int_eq(mime_param("text/plain; charset", "charset", out, sizeof(out)), -1);
	ck_assert_int_eq(mime_param(";", "x", out, sizeof(out)), -1);
	ck_assert_int_eq(mime_param("a/b; x=1;", "x", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "1");
	ck_assert_int_eq(mime_param("a/b; y=\";x=2\"; x=3", "x", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "3");
	/* a quoted pair \" inside a quoted string does not end it (found by fuzzing) */
	ck_assert_int_eq(mime_param("a/b; y=\"\\\";x=2\"; x=3", "x", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "3");
	ck_assert_int_eq(mime_param("a/b; y=\"\\\"; hp=\"clear\"", "hp", out, sizeof(out)), -1);
}
END_TEST

/* ---- suite ---- */

static Suite *
mime_suite(void)
{
	Suite *s = suite_create("mime");
	TCase *tc;

	tc = tcase_create("canon");
	tcase_add_test(tc, test_canon_bare_lf);
	tcase_add_test(tc, test_canon_crlf_kept);
	tcase_add_test(tc, test_canon_lone_cr_kept);
	tcase_add_test(tc, test_canon_mixed);
	tcase_add_test(tc, test_canon_cr_lf_split);
	tcase_add_test(tc, test_canon_lf_after_lf_chunk);
	tcase_add_test(tc, test_canon_byte_by_byte);
	tcase_add_test(tc, test_canon_empty);
	tcase_add_test(tc, test_canon_init_resets);
	suite_add_tcase(s, tc);

	tc = tcase_create("headers");
	tcase_add_checked_fixture(tc, headers_setup, headers_teardown);
	tcase_add_test(tc, test_headers_add_copies);
	tcase_add_test(tc, test_headers_add_line_breaks);
	tcase_add_test(tc, test_headers_index);
	tcase_add_test(tc, test_headers_grow);
	tcase_add_test(tc, test_headers_find);
	tcase_add_test(tc, test_headers_clear_reuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("classify");
	tcase_add_test(tc, test_is_content_header);
	tcase_add_test(tc, test_protected_yes);
	tcase_add_test(tc, test_protected_no);
	suite_add_tcase(s, tc);

	tc = tcase_create("content_block");
	tcase_add_checked_fixture(tc, headers_setup, headers_teardown);
	tcase_add_test(tc, test_content_block_exact);
	tcase_add_test(tc, test_content_block_add_space);
	tcase_add_test(tc, test_content_block_none);
	tcase_add_test(tc, test_content_block_empty_value);
	suite_add_tcase(s, tc);

	tc = tcase_create("extract_address");
	tcase_add_test(tc, test_addr_display_name);
	tcase_add_test(tc, test_addr_bare);
	tcase_add_test(tc, test_addr_angle);
	tcase_add_test(tc, test_addr_comments);
	tcase_add_test(tc, test_addr_quoted_specials);
	tcase_add_test(tc, test_addr_list_first);
	tcase_add_test(tc, test_addr_invalid);
	tcase_add_test(tc, test_addr_bare_unsafe);
	tcase_add_test(tc, test_addr_bare_comment_after_word);
	tcase_add_test(tc, test_addr_outlen);
	suite_add_tcase(s, tc);

	tc = tcase_create("address_is_safe");
	tcase_add_test(tc, test_safe_ok);
	tcase_add_test(tc, test_safe_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse_headers");
	tcase_add_checked_fixture(tc, headers_setup, headers_teardown);
	tcase_add_test(tc, test_parse_crlf);
	tcase_add_test(tc, test_parse_lf);
	tcase_add_test(tc, test_parse_folded);
	tcase_add_test(tc, test_parse_empty_values);
	tcase_add_test(tc, test_parse_no_body);
	tcase_add_test(tc, test_parse_len_bounds);
	tcase_add_test(tc, test_parse_bad_line);
	tcase_add_test(tc, test_parse_bad_line_after_fold);
	tcase_add_test(tc, test_parse_bad_first);
	tcase_add_test(tc, test_parse_nul_byte);
	tcase_add_test(tc, test_param_trailing_semicolon);
	tcase_add_test(tc, test_type_too_long);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mime_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
