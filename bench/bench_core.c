/*
 * bench_core.c - throughput of the core: sign + encrypt one message with
 * smime_protect, RSA-2048 signer, N RSA-2048 recipients, as many times as
 * fit in the given seconds of CPU time.  Prints "messages/s" per CPU second.
 *
 *   bench_core SIZE_BYTES RECIPIENTS SECONDS [lookup|index|sign|encrypt]
 *
 * With "lookup" every message also loads the signer key and recipient
 * certificates from key-dir / cert-dir files.  With "index" it does what
 * the milter does per message: the recipients from the cert-dir index
 * (validated against a ca-file), the signer from key-dir, the signer's
 * certificate checked against the ca-file.  "sign" and "encrypt" do only
 * that half of smime_protect (multipart/signed; enveloped data).
 *
 *   bench_core base64 SIZE_BYTES SECONDS
 *
 * prints the input bytes per second of OpenSSL's base64 encoder
 * (EVP_EncodeBlock) over SIZE bytes in 57-byte lines, as the milter encodes:
 * the base64 part of the bound bench/run.sh computes for large messages.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "certindex.h"
#include "certstore.h"
#include "keystore.h"
#include "smime.h"
#include "spool.h"
#include "../tests/testpki.h"

static int
discard(void *arg, const void *data, size_t len)
{
	(void)data;
	*(size_t *)arg += len;
	return 0;
}

/*
 * Certificates as the milter holds them: parsed from DER, so OpenSSL keeps
 * their encoding instead of re-encoding them for every signature.
 */
static void
as_parsed(struct testpki_id *id)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_X509(id->cert, &der);
	X509 *x;

	p = der;
	x = d2i_X509(NULL, &p, len);
	OPENSSL_free(der);
	if (x != NULL) {
		X509_free(id->cert);
		id->cert = x;
	}
}

/*
 * CPU time of this process: rates per core, as `openssl speed` gives them
 * (it divides by CPU time unless told -elapsed), so that other work on a
 * shared machine lowers neither figure.
 */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* bench_core base64 SIZE SECONDS */
static int
base64_rate(size_t size, double secs)
{
	unsigned char *in = malloc(size + 57), line[80];
	double start = now(), elapsed;
	size_t i, sum = 0;
	long count = 0;

	if (in == NULL)
		return 1;
	for (i = 0; i < size; i++)
		in[i] = (unsigned char)(i * 131 + 7);
	do {
		for (i = 0; i < size; i += 57)
			sum += (size_t)EVP_EncodeBlock(line, in + i,
			    (int)(size - i < 57 ? size - i : 57));
		count++;
		elapsed = now() - start;
	} while (elapsed < secs);
	free(in);
	printf("%.0f\n", (double)count * (double)size / elapsed);
	return sum == 0;
}

int
main(int argc, char **argv)
{
	static const char head[] = "Content-Type: text/plain; charset=utf-8\r\n"
	                           "Content-Transfer-Encoding: 8bit\r\n\r\n";
	static const char words[] = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, ";
	const char *ku = "critical,digitalSignature,keyEncipherment";
	struct testpki_id ca, alice, rc[64];
	struct keystore_identity signer;
	struct smime_request req = {.opt = {.sign = 1, .encrypt = 1}};
	STACK_OF(X509) *recips;
	char dir[256], certdir[300], keydir[300], path[512], err[512], *body;
	size_t size, n, i, out = 0;
	int lookup, index;
	certindex *ci = NULL;
	long count = 0;
	double secs, start, elapsed;
	spool *sp;

	if (argc == 4 && strcmp(argv[1], "base64") == 0)
		return base64_rate(strtoul(argv[2], NULL, 10), atof(argv[3]));
	if (argc < 4) {
		fprintf(stderr,
		    "usage: bench_core SIZE RECIPIENTS SECONDS [lookup|index|sign|encrypt]\n"
		    "       bench_core base64 SIZE SECONDS\n");
		return 2;
	}
	size = strtoul(argv[1], NULL, 10);
	n = strtoul(argv[2], NULL, 10);
	secs = atof(argv[3]);
	lookup = argc > 4 && strcmp(argv[4], "lookup") == 0;
	/* "sign" / "encrypt": only that half of smime_protect, to split the cost */
	if (argc > 4 && strcmp(argv[4], "sign") == 0)
		req.opt.encrypt = 0;
	if (argc > 4 && strcmp(argv[4], "encrypt") == 0)
		req.opt.sign = 0;
	index = argc > 4 && strcmp(argv[4], "index") == 0;
	if (n < 1 || n > 64)
		return 2;

	snprintf(dir, sizeof(dir), "%s/bench.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(certdir, sizeof(certdir), "%s/certs", dir);
	snprintf(keydir, sizeof(keydir), "%s/keys", dir);
	mkdir(certdir, 0755);
	mkdir(keydir, 0700);
	ca = testpki_issue("rsa", "Bench CA", NULL, NULL, -1, 30, NULL, NULL);
	alice =
	    testpki_issue("rsa", "Alice", "alice@example.com", &ca, -1, 30, ku, "emailProtection");
	as_parsed(&ca);
	as_parsed(&alice);
	{
		X509 *const chain[] = {alice.cert, ca.cert, NULL};
		snprintf(path, sizeof(path), "%s/alice@example.com.pem", keydir);
		testpki_write(path, 0600, alice.key, chain, 0);
	}
	for (i = 0; i < n; i++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "r%zu@partner.example", i);
		rc[i] = testpki_issue("rsa", addr, addr, &ca, -1, 30, ku, "emailProtection");
		as_parsed(&rc[i]);
		X509 *const one[] = {rc[i].cert, NULL};
		snprintf(path, sizeof(path), "%s/%s.crt", certdir, addr);
		testpki_write(path, 0644, NULL, one, 0);
	}

	if (index) {
		X509 *const one[] = {ca.cert, NULL};
		const char *dirs[] = {certdir, NULL};
		struct certindex_options co = {path, NULL};
		snprintf(path, sizeof(path), "%s/ca.pem", dir);
		testpki_write(path, 0644, NULL, one, 0);
		ci = certindex_open(dirs, &co, err, sizeof(err));
		if (ci == NULL) {
			fprintf(stderr, "bench_core: %s\n", err);
			return 1;
		}
	}

	body = malloc(size + 2);
	for (i = 0; i < size; i++)
		body[i] = (i % 72 == 70) ? '\r'
		    : (i % 72 == 71)     ? '\n'
		                         : words[i % (sizeof(words) - 1)];
	sp = spool_new(SPOOL_DEFAULT_MEMORY, dir);
	if (spool_write(sp, body, size, err, sizeof(err)) != 0)
		return 1;

	signer.key = alice.key;
	signer.cert = alice.cert;
	signer.chain = sk_X509_new_null();
	sk_X509_push(signer.chain, ca.cert);
	recips = sk_X509_new_null();
	for (i = 0; i < n; i++)
		sk_X509_push(recips, rc[i].cert);

	req.head = head;
	req.headlen = sizeof(head) - 1;
	req.body = sp;
	req.out = discard;
	req.out_arg = &out;
	start = now();
	do {
		if (index) {
			struct keystore_identity id;
			STACK_OF(X509) *rs = sk_X509_new_null();
			char reason[256];
			for (i = 0; i < n; i++) {
				char addr[64];
				X509 *c;
				snprintf(addr, sizeof(addr), "r%zu@partner.example", i);
				if (certindex_find(ci, addr, &c, reason, sizeof(reason)) !=
				    CERTSTORE_FOUND) {
					fprintf(stderr, "bench_core: %s\n", reason);
					return 1;
				}
				sk_X509_push(rs, c);
			}
			struct keystore_request kq = {.dir = keydir, .addr = "alice@example.com"};
			if (keystore_load(&kq, &id, err, sizeof(err)) != KEYSTORE_FOUND ||
			    certindex_validate_signer(ci, id.cert, id.chain, "alice@example.com",
			        reason, sizeof(reason)) != 0)
				return 1;
			req.signer = &id;
			req.recipients = rs;
			if (smime_protect(&req, err, sizeof(err)) != 0)
				return 1;
			keystore_identity_free(&id);
			sk_X509_pop_free(rs, X509_free);
		} else if (lookup) {
			struct keystore_identity id;
			STACK_OF(X509) *rs = sk_X509_new_null();
			for (i = 0; i < n; i++) {
				char addr[64], reason[256];
				X509 *c;
				snprintf(addr, sizeof(addr), "r%zu@partner.example", i);
				if (certstore_lookup(certdir, addr, &c, reason, sizeof(reason)) !=
				    CERTSTORE_FOUND)
					return 1;
				sk_X509_push(rs, c);
			}
			struct keystore_request kq = {.dir = keydir, .addr = "alice@example.com"};
			if (keystore_load(&kq, &id, err, sizeof(err)) != KEYSTORE_FOUND)
				return 1;
			req.signer = &id;
			req.recipients = rs;
			if (smime_protect(&req, err, sizeof(err)) != 0)
				return 1;
			keystore_identity_free(&id);
			sk_X509_pop_free(rs, X509_free);
		} else {
			req.signer = &signer;
			req.recipients = recips;
			if (smime_protect(&req, err, sizeof(err)) != 0) {
				fprintf(stderr, "bench_core: %s\n", err);
				return 1;
			}
		}
		count++;
		elapsed = now() - start;
	} while (elapsed < secs);
	printf("%.1f\n", (double)count / elapsed);
	certindex_free(ci);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		return 1;
	return 0;
}
