/*
 * check_cmssplit.c - unit tests of the streaming side of the receiving
 * gateway: cmssplit (the content taken out of a CMS structure as it is
 * read) on DER and indefinite-length BER with chunked content, for
 * enveloped-data, authEnveloped-data and signed-data; every truncation
 * and a corrupted byte anywhere give a clear error, never a crash; the
 * signed part of a multipart/signed found across the reading window; and a
 * 50 MB message encrypted by the openssl command (RSA with AES-CBC, EC
 * with AES-GCM) is decrypted byte for byte by inbound_process while the
 * process's peak RSS grows by less than 16 MB.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "cmssplit.h"
#include "envelope.h"
#include "inbound.h"
#include "mime.h"
#include "sigverify.h"
#include "spool.h"
#include "testpki.h"

#define BIG          (50u * 1024 * 1024)
#define RSS_BOUND_KB (16 * 1024)

static struct testpki_id ca, bob, carol;
static struct keystore_identity keys[2];
static char dir[256];

static const char entity[] = "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
                             "The content, in clear.\r\n";

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");

	ca = testpki_issue("rsa", "Split CA", NULL, NULL, -1, 365, NULL, NULL);
	bob = testpki_issue("rsa", "Bob", "bob@example.com", &ca, -1, 365,
	    "critical,digitalSignature,keyEncipherment", "emailProtection");
	carol = testpki_issue("ec", "Carol", "carol@example.com", &ca, -1, 365,
	    "critical,digitalSignature,keyAgreement", NULL);
	keys[0].key = bob.key;
	keys[0].cert = bob.cert;
	keys[1].key = carol.key;
	keys[1].cert = carol.cert;
	snprintf(dir, sizeof(dir), "%s/check_cmssplit.XXXXXX", tmp != NULL ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A CMS structure of content: enveloped for to (gcm: authEnveloped), or signed by bob. */
static unsigned char *
make_cms(int kind, X509 *to, int gcm, int stream, size_t *len)
{
	BIO *in = BIO_new_mem_buf(entity, sizeof(entity) - 1), *out = BIO_new(BIO_s_mem());
	STACK_OF(X509) *certs = sk_X509_new_null();
	CMS_ContentInfo *cms;
	unsigned char *der;
	char *data;
	long n;

	sk_X509_push(certs, to);
	if (kind == 's')
		cms = CMS_sign(bob.cert, bob.key, NULL, in, CMS_BINARY | (stream ? CMS_STREAM : 0));
	else
		cms = CMS_encrypt(certs, in, gcm ? EVP_aes_128_gcm() : EVP_aes_256_cbc(),
		    CMS_BINARY | (stream ? CMS_STREAM : 0));
	ck_assert_ptr_nonnull(cms);
	if (stream)
		ck_assert_int_eq(i2d_CMS_bio_stream(out, cms, in, CMS_BINARY | CMS_STREAM), 1);
	else
		ck_assert_int_gt(i2d_CMS_bio(out, cms), 0);
	n = BIO_get_mem_data(out, &data);
	der = malloc((size_t)n);
	memcpy(der, data, (size_t)n);
	*len = (size_t)n;
	CMS_ContentInfo_free(cms);
	sk_X509_free(certs);
	BIO_free(in);
	BIO_free(out);
	return der;
}

static spool *
spool_of(const void *p, size_t len)
{
	spool *sp = spool_new(1024, NULL);
	char err[128];

	ck_assert_int_eq(spool_write(sp, p, len, err, sizeof(err)), 0);
	return sp;
}

/* The spool's bytes as a string (small spools only).  Caller frees. */
static char *
spool_text(spool *sp)
{
	char *out = malloc((size_t)spool_size(sp) + 1), err[128];
	size_t o = 0;
	ssize_t n;

	ck_assert_int_eq(spool_rewind(sp, err, sizeof(err)), 0);
	while ((n = spool_read(sp, out + o, 4096, err, sizeof(err))) > 0)
		o += (size_t)n;
	ck_assert_int_eq(n, 0);
	out[o] = '\0';
	return out;
}

/* Split der (as DER, and as base64 after a header line), then decrypt: the entity comes back. */
static void
split_and_open(const unsigned char *der, size_t len, int expect_nid)
{
	struct cmssplit s;
	struct envelope_info info;
	spool *in = spool_of(der, len), *content = spool_new(1024, NULL), *plain;
	char reason[300], *got, *b64 = malloc(len * 2 + 100), err[128];
	BIO *out;
	int i;

	for (i = 0; i < 2; i++) {
		if (i == 1) { /* base64 in lines, after 8 bytes to skip */
			int n = EVP_EncodeBlock((unsigned char *)b64 + 8, der, (int)len);
			memcpy(b64, "skipme\r\n", 8);
			spool_free(in);
			in = spool_new(1024, NULL);
			ck_assert_int_eq(spool_write(in, b64, 8, err, sizeof(err)), 0);
			for (int o = 0; o < n; o += 64) {
				ck_assert_int_eq(spool_write(in, b64 + 8 + o,
				                     n - o < 64 ? (size_t)(n - o) : 64, err,
				                     sizeof(err)),
				    0);
				ck_assert_int_eq(spool_write(in, "\r\n", 2, err, sizeof(err)), 0);
			}
			spool_free(content);
			content = spool_new(1024, NULL);
		}
		ck_assert_msg(cmssplit_read(in, i == 1 ? 8 : 0, i, content, &s, reason,
		                  sizeof(reason)) == CMSSPLIT_OK,
		    "%s", reason);
		ck_assert_int_eq(s.nid, expect_nid);
		ck_assert_int_eq(s.has_content, 1);
		ck_assert_uint_eq(s.content_len, spool_size(content));
		ck_assert_uint_lt(s.headlen, len);
		if (expect_nid == NID_pkcs7_signed) {
			got = spool_text(content);
			ck_assert_str_eq(got, entity);
			free(got);
		} else {
			ck_assert_int_eq(s.has_mac,
			    expect_nid == NID_id_smime_ct_authEnvelopedData);
			plain = spool_new(1024, NULL);
			out = spool_bio_new(plain);
			ck_assert_msg(envelope_open(&s, content, keys, 2, out, &info, reason,
			                  sizeof(reason)) == ENVELOPE_OK,
			    "%s", reason);
			got = spool_text(plain);
			ck_assert_str_eq(got, entity);
			free(got);
			BIO_free(out);
			spool_free(plain);
		}
		cmssplit_free(&s);
	}
	free(b64);
	spool_free(in);
	spool_free(content);
}

START_TEST(test_split_forms)
{
	size_t len;
	unsigned char *der;
	int stream;

	for (stream = 0; stream < 2; stream++) {
		der = make_cms('e', bob.cert, 0, stream, &len);
		split_and_open(der, len, NID_pkcs7_enveloped);
		free(der);
		der = make_cms('e', carol.cert, 1, stream, &len);
		split_and_open(der, len, NID_id_smime_ct_authEnvelopedData);
		free(der);
		der = make_cms('s', NULL, 0, stream, &len);
		split_and_open(der, len, NID_pkcs7_signed);
		free(der);
	}
}
END_TEST

/* Every truncation is CORRUPT with a reason; a changed byte anywhere never crashes. */
START_TEST(test_split_damaged)
{
	size_t len, i;
	unsigned char *der = make_cms('e', bob.cert, 1, 1, &len), *bad = malloc(len);
	struct cmssplit s;
	char reason[300];
	enum cmssplit_result rc;

	for (i = 0; i < len; i++) {
		spool *in = spool_of(der, i), *content = spool_new(256, NULL);
		rc = cmssplit_read(in, 0, 0, content, &s, reason, sizeof(reason));
		ck_assert_msg(rc == CMSSPLIT_CORRUPT, "prefix %zu: %d", i, rc);
		ck_assert_msg(strncmp(reason, "not a usable CMS structure: ", 28) == 0, "%s",
		    reason);
		ck_assert_ptr_null(s.head);
		cmssplit_free(&s);
		spool_free(in);
		spool_free(content);
	}
	for (i = 0; i < len; i++) {
		spool *in, *content = spool_new(256, NULL), *plain = spool_new(256, NULL);
		BIO *out = spool_bio_new(plain);
		memcpy(bad, der, len);
		bad[i] ^= (unsigned char)(0x5a + i);
		in = spool_of(bad, len);
		rc = cmssplit_read(in, 0, 0, content, &s, reason, sizeof(reason));
		ck_assert(rc == CMSSPLIT_OK || rc == CMSSPLIT_CORRUPT || rc == CMSSPLIT_OTHER);
		if (rc == CMSSPLIT_OK && s.nid != NID_pkcs7_signed)
			(void)envelope_open(&s, content, keys, 2, out, NULL, reason,
			    sizeof(reason));
		cmssplit_free(&s);
		BIO_free(out);
		spool_free(plain);
		spool_free(in);
		spool_free(content);
	}
	free(bad);
	free(der);
}
END_TEST

/* Hand-made BER: the pieces of an EnvelopedData, indefinite lengths throughout. */
static const unsigned char env_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07,
    0x03};
static const unsigned char data_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07,
    0x01};
static const unsigned char alg[] = {0x30, 0x1d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
    0x04, 0x01, 0x2a, 0x04, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const unsigned char start[] = {0x30, 0x80}, ctx0[] = {0xa0, 0x80},
                           ver[] = {0x02, 0x01, 0x00, 0x31, 0x00}, eoc[] = {0, 0};
/* [0] IMPLICIT constructed: "ab" in a nested chunk, "c", then "d" */
static const unsigned char chunks[] = {0xa0, 0x80, 0x24, 0x80, 0x04, 0x02, 'a', 'b', 0x00, 0x00,
    0x04, 0x01, 'c', 0x04, 0x01, 'd', 0x00, 0x00};

/* Chunks within chunks: the content comes out whole, the rest parses as CMS. */
START_TEST(test_split_ber_made)
{
	unsigned char buf[4096];
	struct cmssplit sp;
	char reason[300], *got;
	size_t n = 0;
	spool *in, *content;

#define ADD(x) (memcpy(buf + n, x, sizeof(x)), n += sizeof(x))
	ADD(start), ADD(env_oid), ADD(ctx0), ADD(start), ADD(ver), ADD(start), ADD(data_oid);
	ADD(alg), ADD(chunks), ADD(eoc), ADD(eoc), ADD(eoc), ADD(eoc);
	in = spool_of(buf, n);
	content = spool_new(64, NULL);
	ck_assert_msg(cmssplit_read(in, 0, 0, content, &sp, reason, sizeof(reason)) == CMSSPLIT_OK,
	    "%s", reason);
	got = spool_text(content);
	ck_assert_str_eq(got, "abcd");
	ck_assert_int_eq(sp.nid, NID_pkcs7_enveloped);
	ck_assert_int_eq(sp.has_content, 1);
	free(got);
	{
		const unsigned char *p = sp.head;
		CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)sp.headlen);
		ck_assert_ptr_nonnull(cms); /* the rebuilt structure is CMS, without the content */
		ck_assert_ptr_null(*CMS_get0_content(cms));
		CMS_ContentInfo_free(cms);
	}
	cmssplit_free(&sp);
	spool_free(in);
	spool_free(content);

#undef ADD
}
END_TEST

/* Too deep, too large, another type: refused with the reason, not followed. */
START_TEST(test_split_ber_refused)
{
	unsigned char buf[4096];
	struct cmssplit sp;
	char reason[300];
	size_t n = 0, i;
	spool *in, *content;

#define ADD(x) (memcpy(buf + n, x, sizeof(x)), n += sizeof(x))
	/* 40 levels of chunks: refused, not followed */
	ADD(start), ADD(env_oid), ADD(ctx0), ADD(start), ADD(ver), ADD(start), ADD(data_oid);
	ADD(alg), ADD(ctx0);
	for (i = 0; i < 40; i++)
		buf[n++] = 0x24, buf[n++] = 0x80;
	in = spool_of(buf, n);
	content = spool_new(64, NULL);
	ck_assert_int_eq(cmssplit_read(in, 0, 0, content, &sp, reason, sizeof(reason)),
	    CMSSPLIT_CORRUPT);
	ck_assert_msg(strstr(reason, "nested too deeply") != NULL, "%s", reason);
	cmssplit_free(&sp);
	spool_free(in);
	spool_free(content);

	/* an element of 3 MB besides the content: refused before it is read */
	n = 0;
	ADD(start), ADD(env_oid), ADD(ctx0), ADD(start), ADD(ver);
	buf[n++] = 0xa1, buf[n++] = 0x83, buf[n++] = 0x30, buf[n++] = 0x00, buf[n++] = 0x00;
	in = spool_of(buf, n);
	content = spool_new(64, NULL);
	ck_assert_int_eq(cmssplit_read(in, 0, 0, content, &sp, reason, sizeof(reason)),
	    CMSSPLIT_CORRUPT);
	ck_assert_msg(strstr(reason, "besides the content") != NULL, "%s", reason);
	cmssplit_free(&sp);
	spool_free(in);
	spool_free(content);

	/* another type: its name, nothing read beyond */
	n = 0;
	ADD(start), ADD(data_oid), ADD(ctx0);
	in = spool_of(buf, n);
	content = spool_new(64, NULL);
	ck_assert_int_eq(cmssplit_read(in, 0, 0, content, &sp, reason, sizeof(reason)),
	    CMSSPLIT_OTHER);
	ck_assert_int_eq(sp.nid, NID_pkcs7_data);
	ck_assert_str_eq(reason, "CMS pkcs7-data, not enveloped-data or signed-data");
	cmssplit_free(&sp);
	spool_free(in);
	spool_free(content);
#undef ADD
}
END_TEST

#define MSIGNED_WB "multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=wb"

/* multipart/signed whose second delimiter falls across the reading window, at every split. */
START_TEST(test_multipart_window)
{
	static const char head[] = "Content-Type: text/plain\r\n\r\n";
	X509_STORE *trust = X509_STORE_new();
	const size_t first = strlen("--wb\r\n") + sizeof(head) - 1;
	size_t pad;

	X509_STORE_add_cert(trust, ca.cert);
	for (pad = 65536 - 12; pad <= 65536 + 2; pad++) {
		size_t clen = sizeof(head) - 1 + (pad - first), n;
		char *content = malloc(clen + 1), *body, *s64, err[128];
		BIO *in;
		CMS_ContentInfo *cms;
		unsigned char *der = NULL;
		struct sigverify_result r;
		spool *sp, *c = spool_new(1024, NULL);
		int dlen, mem;

		memcpy(content, head, sizeof(head) - 1);
		memset(content + sizeof(head) - 1, 'x', clen - (sizeof(head) - 1));
		in = BIO_new_mem_buf(content, (int)clen);
		cms = CMS_sign(bob.cert, bob.key, NULL, in, CMS_BINARY | CMS_DETACHED);
		ck_assert_ptr_nonnull(cms);
		dlen = i2d_CMS_ContentInfo(cms, &der);
		s64 = malloc((size_t)dlen * 2 + 8);
		EVP_EncodeBlock((unsigned char *)s64, der, dlen);
		body = malloc(clen + strlen(s64) + 200);
		n = (size_t)sprintf(body, "--wb\r\n");
		memcpy(body + n, content, clen);
		n += clen;
		ck_assert_uint_eq(n, pad); /* the delimiter's CRLF starts at byte pad */
		n += (size_t)sprintf(body + n,
		    "\r\n--wb\r\nContent-Type: application/pkcs7-signature\r\n\r\n%s\r\n--wb--\r\n",
		    s64);
		for (mem = 0; mem < 2;
		     mem++) { /* read in one piece from memory, or from the file */
			sp = spool_new(mem ? 1 << 20 : 4096, NULL);
			ck_assert_int_eq(spool_write(sp, body, n, err, sizeof(err)), 0);
			ck_assert_msg(sigverify_spool(MSIGNED_WB, sp, 0, trust, NULL, c, &r) ==
			        SIGVERIFY_GOOD,
			    "pad %zu: %s", pad, r.reason);
			ck_assert_int_eq(r.chain_error, X509_V_OK);
			ck_assert_uint_eq(r.part_off, 6);
			ck_assert_uint_eq(r.part_len, clen);
			sigverify_result_free(&r);
			spool_free(sp);
		}
		spool_free(c);
		free(body);
		free(s64);
		OPENSSL_free(der);
		CMS_ContentInfo_free(cms);
		BIO_free(in);
		free(content);
	}
	X509_STORE_free(trust);
}
END_TEST

/* AES-GCM: a changed or missing byte of the cipher text fails the tag check: never OK. */
START_TEST(test_gcm_tampered)
{
	size_t len, i, n;
	unsigned char *der = make_cms('e', carol.cert, 1, 0, &len);
	spool *in = spool_of(der, len), *content = spool_new(256, NULL);
	struct cmssplit s;
	char reason[300], *ct;

	ck_assert_int_eq(cmssplit_read(in, 0, 0, content, &s, reason, sizeof(reason)), CMSSPLIT_OK);
	n = (size_t)spool_size(content);
	ct = spool_text(content);
	for (i = 0; i <= n; i++) {
		spool *bad = spool_new(256, NULL), *plain = spool_new(256, NULL);
		BIO *out = spool_bio_new(plain);
		char err[128];
		ct[i < n ? i : 0] ^= 1;
		/* i == n: the byte restored, the last one left out */
		ck_assert_int_eq(spool_write(bad, ct, i < n ? n : n - 1, err, sizeof(err)), 0);
		ck_assert_msg(envelope_open(&s, bad, keys, 2, out, NULL, reason, sizeof(reason)) ==
		        ENVELOPE_CORRUPT,
		    "byte %zu", i);
		ct[i < n ? i : 0] ^= 1;
		BIO_free(out);
		spool_free(plain);
		spool_free(bad);
	}
	/* a mac cut to 4 bytes is refused before any decryption */
	s.maclen = 4;
	ck_assert_int_eq(envelope_open(&s, content, keys, 2, NULL, NULL, reason, sizeof(reason)),
	    ENVELOPE_CORRUPT);
	ck_assert_str_eq(reason,
	    "authEnveloped-data with a message authentication code of 4 "
	    "bytes (at least 12)");
	free(ct);
	cmssplit_free(&s);
	spool_free(in);
	spool_free(content);
	free(der);
}
END_TEST

/* ---- a 50 MB message ---- */

static long
status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	size_t n = strlen(field);

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* Start measuring the peak: reset VmHWM to the current RSS where the kernel allows it. */
static long
rss_start(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f != NULL) {
		fputs("5", f);
		fclose(f);
	}
	return status_kb("VmRSS");
}

/* The 50 MB entity into path; its body's SHA-256 into md. */
static void
write_big(const char *path, unsigned char *md)
{
	static const char head[] = "Content-Type: application/octet-stream\r\n"
	                           "Content-Transfer-Encoding: base64\r\n\r\n";
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned char raw[57], line[80];
	FILE *f = fopen(path, "w");
	size_t done = 0, i;
	uint32_t x = 2463534242u;

	ck_assert_ptr_nonnull(f);
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	fputs(head, f);
	while (done < BIG) {
		for (i = 0; i < sizeof(raw); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			raw[i] = (unsigned char)x;
		}
		EVP_EncodeBlock(line, raw, sizeof(raw));
		memcpy(line + 76, "\r\n", 2);
		ck_assert_uint_eq(fwrite(line, 1, 78, f), 78);
		EVP_DigestUpdate(h, line, 78);
		done += 78;
	}
	ck_assert_int_eq(fclose(f), 0);
	EVP_DigestFinal_ex(h, md, NULL);
	EVP_MD_CTX_free(h);
}

/* The DER file, base64 in CRLF lines, into a message spool. */
static spool *
message_spool(const char *path)
{
	spool *sp = spool_new(SPOOL_DEFAULT_MEMORY, dir);
	unsigned char raw[57 * 512], text[78 * 512 + 4];
	FILE *f = fopen(path, "r");
	char err[128];
	size_t n, i, o;

	ck_assert_ptr_nonnull(f);
	while ((n = fread(raw, 1, sizeof(raw), f)) > 0) {
		for (i = o = 0; i < n; i += 57) {
			o += (size_t)EVP_EncodeBlock(text + o, raw + i,
			    (int)(n - i < 57 ? n - i : 57));
			memcpy(text + o, "\r\n", 2);
			o += 2;
		}
		ck_assert_int_eq(spool_write(sp, text, o, err, sizeof(err)), 0);
	}
	fclose(f);
	return sp;
}

/* SHA-256 of the body of r, from body_off on. */
static void
body_digest(struct inbound_result *r, unsigned char *md)
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned char buf[65536];
	uint64_t skip = r->body_off;
	char err[128];
	ssize_t n;

	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	ck_assert_int_eq(spool_rewind(r->body, err, sizeof(err)), 0);
	while ((n = spool_read(r->body, buf, sizeof(buf), err, sizeof(err))) > 0) {
		size_t drop = skip < (uint64_t)n ? (size_t)skip : (size_t)n;
		skip -= drop;
		EVP_DigestUpdate(h, buf + drop, (size_t)n - drop);
	}
	ck_assert_int_eq(n, 0);
	EVP_DigestFinal_ex(h, md, NULL);
	EVP_MD_CTX_free(h);
}

/* path's bytes appended to f. */
static void
append_file(FILE *f, const char *path)
{
	FILE *in = fopen(path, "r");
	char buf[65536];
	size_t n;

	ck_assert_ptr_nonnull(in);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
	fclose(in);
}

static void
run_openssl(const char *args)
{
	char cmd[1500];

	snprintf(cmd, sizeof(cmd), "openssl cms %s", args);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

/* multipart/signed over the entity in plain, signed by bob (detached, made by openssl), into out. */
static void
write_multipart_signed(const char *plain, const char *out)
{
	char sig[300], args[1400], signer[300], key[300];
	X509 *const certs[] = {bob.cert, NULL};
	spool *s64;
	FILE *f;
	char err[128], buf[4096];
	ssize_t n;

	snprintf(sig, sizeof(sig), "%s/sig.der", dir);
	snprintf(signer, sizeof(signer), "%s/signer.pem", dir);
	snprintf(key, sizeof(key), "%s/signer.key", dir);
	testpki_write(signer, 0644, NULL, certs, 0);
	testpki_write(key, 0600, bob.key, NULL, 0);
	snprintf(args, sizeof(args),
	    "-sign -binary -outform DER -md sha256 -in '%s' -out '%s' -signer '%s' -inkey '%s'",
	    plain, sig, signer, key);
	run_openssl(args);
	unlink(key);
	f = fopen(out, "w");
	ck_assert_ptr_nonnull(f);
	fputs("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
	      " micalg=sha-256; boundary=\"big-b\"\r\n\r\n--big-b\r\n",
	    f);
	append_file(f, plain);
	fputs("\r\n--big-b\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
	      "Content-Transfer-Encoding: base64\r\n\r\n",
	    f);
	s64 = message_spool(sig);
	ck_assert_int_eq(spool_rewind(s64, err, sizeof(err)), 0);
	while ((n = spool_read(s64, buf, sizeof(buf), err, sizeof(err))) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, (size_t)n, f), (size_t)n);
	fputs("--big-b--\r\n", f);
	ck_assert_int_eq(fclose(f), 0);
	spool_free(s64);
	unlink(sig);
}

struct big_case {
	const char *what;
	const char *args;   /* openssl cms ... -in IN -out OUT, then */
	const char *before; /* ... this, a certificate (the recipient's; the CA's to sign), */
	const char *after;  /* ... and this */
	const char *smime_type;
	int signed_inside; /* the encrypted entity is the multipart/signed */
	int key;           /* which key decrypts, or -1 (not encrypted) */
};

/* One 50 MB message through inbound_process: byte-exact, peak RSS growth under the bound. */
static void
big_run(const struct big_case *c, const char *plain, const char *msigned, const unsigned char *want)
{
	X509_STORE *trust = X509_STORE_new();
	X509 *const to[3][2] = {{bob.cert, NULL}, {carol.cert, NULL}, {ca.cert, NULL}};
	char der[300], cert[300], args[1400], err[300];
	struct inbound_options o;
	struct inbound_result r;
	struct mime_headers h;
	const struct mime_header *ct;
	unsigned char got[32];
	spool *body;
	long base, peak;

	X509_STORE_add_cert(trust, ca.cert);
	snprintf(der, sizeof(der), "%s/big.p7m", dir);
	snprintf(cert, sizeof(cert), "%s/to.pem", dir);
	testpki_write(cert, 0644, NULL, to[c->key < 0 ? 2 : c->key], 0);
	snprintf(args, sizeof(args), "%s -in '%s' -out '%s' %s '%s' %s", c->args,
	    c->signed_inside ? msigned : plain, der, c->before, cert, c->after);
	run_openssl(args);
	body = message_spool(der);
	ck_assert_uint_gt(spool_size(body), BIG);
	mime_headers_init(&h);
	mime_headers_add(&h, "From", " Bob <bob@example.com>");
	snprintf(args, sizeof(args), " application/pkcs7-mime; smime-type=%s; name=smime.p7m",
	    c->smime_type);
	mime_headers_add(&h, "Content-Type", args);
	mime_headers_add(&h, "Content-Transfer-Encoding", " base64");
	memset(&o, 0, sizeof(o));
	o.decrypt = o.verify = o.unwrap_opaque = 1;
	o.keys = keys;
	o.nkeys = 2;
	o.trust = trust;
	o.spool_dir = dir;
	base = rss_start();
	ck_assert_msg(inbound_process(&h, body, &o, &r, err, sizeof(err)) == 0, "%s", err);
	peak = status_kb("VmHWM");
	fprintf(stderr, "%s: peak RSS growth %.1f MB (bound %d MB)\n", c->what,
	    (double)(peak - base) / 1024, RSS_BOUND_KB / 1024);
	if (c->key >= 0) {
		ck_assert_msg(r.decryption == ENVELOPE_OK, "%s: %s", c->what, r.reason);
		ck_assert_int_eq(r.key, c->key);
		ck_assert_int_eq(r.auth_enveloped, c->key == 1);
	}
	if (c->signed_inside || c->key < 0) {
		ck_assert_msg(r.smime == INBOUND_SMIME_PASS, "%s: %s", c->what, r.reason);
		ck_assert_str_eq(r.identifier, "bob@example.com");
	}
	ck_assert_int_eq(r.unwrapped, c->key < 0);
	ck_assert_int_eq(spool_on_disk(r.body), 1);
	ct = mime_headers_find(&r.content, "Content-Type");
	ck_assert_ptr_nonnull(ct);
	if (!c->signed_inside) {
		ck_assert_str_eq(ct->value, " application/octet-stream");
		body_digest(&r, got);
		ck_assert_msg(memcmp(got, want, 32) == 0, "%s: the body differs", c->what);
	} else {
		ck_assert(strncmp(ct->value, " multipart/signed;", 18) == 0);
	}
	ck_assert_msg(peak - base < RSS_BOUND_KB, "%s: peak RSS grew by %ld kB", c->what,
	    peak - base);
	inbound_result_free(&r);
	mime_headers_clear(&h);
	spool_free(body);
	X509_STORE_free(trust);
	unlink(der);
}

START_TEST(test_large_message)
{
	/* indefinite-length BER, the content in chunks, as a streaming sender writes it */
	static const struct big_case cases[] = {
	    {"RSA, AES-256-CBC", "-encrypt -binary -stream -outform DER -aes-256-cbc", "", "",
	        "enveloped-data", 0, 0},
	    {"EC, AES-128-GCM", "-encrypt -binary -stream -outform DER -aes-128-gcm", "", "",
	        "authEnveloped-data", 0, 1},
	    {"RSA-OAEP, AES-256-CBC, multipart/signed inside",
	        "-encrypt -binary -stream -outform DER -aes-256-cbc", "-recip",
	        "-keyopt rsa_padding_mode:oaep", "enveloped-data", 1, 0},
	};
	char plain[300], msigned[300], signer[300], key[300], args[1400];
	X509 *const certs[] = {bob.cert, NULL};
	struct big_case opaque = {"opaque signed-data, unwrapped", args, "-certfile", "",
	    "signed-data", 0, -1};
	unsigned char want[32];
	size_t i;

	snprintf(plain, sizeof(plain), "%s/big.txt", dir);
	snprintf(msigned, sizeof(msigned), "%s/big-signed.txt", dir);
	write_big(plain, want);
	write_multipart_signed(plain, msigned);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		big_run(&cases[i], plain, msigned, want);
	snprintf(signer, sizeof(signer), "%s/signer.pem", dir);
	snprintf(key, sizeof(key), "%s/signer.key", dir);
	testpki_write(key, 0600, bob.key, NULL, 0);
	testpki_write(signer, 0644, NULL, certs, 0);
	snprintf(args, sizeof(args),
	    "-sign -binary -nodetach -stream -outform DER -md sha256 -signer '%s' -inkey '%s'",
	    signer, key);
	big_run(&opaque, plain, msigned, want);
	unlink(key);
	unlink(plain);
	unlink(msigned);
}
END_TEST

static Suite *
cmssplit_suite(void)
{
	Suite *s = suite_create("cmssplit");
	TCase *tc = tcase_create("cmssplit");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_split_forms);
	tcase_add_test(tc, test_split_damaged);
	tcase_add_test(tc, test_split_ber_made);
	tcase_add_test(tc, test_split_ber_refused);
	tcase_add_test(tc, test_gcm_tampered);
	tcase_add_test(tc, test_multipart_window);
	tcase_add_test(tc, test_large_message);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cmssplit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
