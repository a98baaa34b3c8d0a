/*
 * fuzz_ldap.c - libFuzzer target: what ldapstore does with values a
 * directory (or whoever answers in its place) sends back, and with the
 * addresses it puts into search filters:
 *   ldapstore_parse_smime   userSMIMECertificate: DER PKCS#7 SignedData or
 *                           one DER certificate (userCertificate;binary)
 *   ldapstore_escape        RFC 4515 escaping of an address
 *   ldapstore_filter        the search filter for an address
 *
 * Input: one byte choosing the entry point, then its argument (for the
 * filter: template, a NUL byte, address).
 * Invariants checked, beyond "no crash":
 *   - every certificate handed back encodes to DER and decodes again to
 *     an equal certificate;
 *   - escaping leaves no '*', '(', ')', '\' or NUL of the value in the
 *     output unescaped, and unescaping gives the value back;
 *   - a filter holds exactly the parentheses of its template (an address
 *     never opens or closes a filter component).
 */
#include "config.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include "fuzz_common.h"
#include "ldapstore.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

static void
fuzz_parse(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *sk = ldapstore_parse_smime(data, size);
	int i;

	for (i = 0; sk != NULL && i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i), *y;
		unsigned char *der = NULL;
		const unsigned char *q;
		int n = i2d_X509(x, &der);
		FUZZ_CHECK(n > 0, "certificate %d does not encode", i);
		q = der;
		y = d2i_X509(NULL, &q, n);
		FUZZ_CHECK(y != NULL && q == der + n, "certificate %d does not decode again", i);
		FUZZ_CHECK(X509_cmp(x, y) == 0, "certificate %d changed on the round trip", i);
		X509_free(y);
		OPENSSL_free(der);
	}
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
}

static int
hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void
fuzz_escape(const uint8_t *data, size_t size)
{
	size_t bound = size > 0 ? 1 + data[0] * 4u : 1, i, o = 0;
	char *out = malloc(bound), *back = malloc(size + 1);

	FUZZ_CHECK(out != NULL && back != NULL, "out of memory");
	if (size > 0 && ldapstore_escape((const char *)data + 1, size - 1, out, bound) == 0) {
		size_t ol = strlen(out);
		FUZZ_CHECK(ol < bound, "escaped value overruns its bound");
		for (i = 0; i < ol; i++) {
			FUZZ_CHECK(out[i] != '*' && out[i] != '(' && out[i] != ')', "unescaped %c",
			    out[i]);
			if (out[i] == '\\') {
				int h = i + 2 < ol ? hexval(out[i + 1]) : -1;
				int l = i + 2 < ol ? hexval(out[i + 2]) : -1;
				FUZZ_CHECK(h >= 0 && l >= 0, "bad escape at %zu", i);
				back[o++] = (char)(h * 16 + l);
				i += 2;
			} else {
				back[o++] = out[i];
			}
		}
		FUZZ_CHECK(o == size - 1 && memcmp(back, data + 1, o) == 0, "unescaping differs");
	}
	free(out);
	free(back);
}

static void
fuzz_filter(const uint8_t *data, size_t size)
{
	char *tmpl = malloc(size + 1), *addr, out[2048], err[256];
	size_t i, want = 0, got = 0;

	FUZZ_CHECK(tmpl != NULL, "out of memory");
	memcpy(tmpl, data, size);
	tmpl[size] = '\0';
	addr = tmpl + strlen(tmpl);
	if (addr < tmpl + size)
		addr++;
	if (ldapstore_filter(tmpl, addr, out, sizeof(out), err, sizeof(err)) == 0) {
		for (i = 0; tmpl[i] != '\0'; i++)
			want += tmpl[i] == '(' || tmpl[i] == ')';
		for (i = 0; out[i] != '\0'; i++)
			got += out[i] == '(' || out[i] == ')';
		FUZZ_CHECK(got == want, "filter has %zu parentheses, its template %zu", got, want);
		FUZZ_CHECK(strlen(out) < sizeof(out), "filter overruns its buffer");
	} else {
		FUZZ_CHECK(err[0] != '\0', "an error without a message");
	}
	free(tmpl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
	case 1: fuzz_parse(data + 1, size - 1); break;
	case 2: fuzz_escape(data + 1, size - 1); break;
	default: fuzz_filter(data + 1, size - 1); break;
	}
	return 0;
}
