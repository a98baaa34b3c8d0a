/*
 * fuzz_conf.c - libFuzzer target: the configuration parser on whole
 * files (conf_load), then the signer checks (conf_check_signers) of a
 * configuration that loads.
 *
 * At start-up a fixture tree is made in a private temporary directory
 * and becomes the working directory: certs/ (a recipient certificate),
 * keys/ (a signing identity, mode 0600), ca.pem, hosts (networks) and
 * secret (a passphrase, mode 0600), all from a throwaway CA made in
 * memory.  Seed files name these by relative paths.  Inputs naming a
 * path outside the fixture (a word starting with '/', "file:/", "..")
 * are refused by the harness: cert-dir / or internal-hosts /dev/zero
 * would measure the file system, not the parser.
 *
 * Invariants checked, beyond "no crash":
 *   - conf_load returns the number of errors it reported, and a
 *     configuration exactly when it returns 0;
 *   - every error names the file: "FILE:LINE: message" or "FILE: message";
 *   - a loaded configuration has its defaults in range (internal hosts,
 *     virtual-MTA header, spool-memory, body-chunk-size) and one
 *     reference; the signer checks report in the same form.
 */
#include "config.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz_common.h"
#include "testpki.h"

#define CONF_NAME "fuzz.conf"

static char fixture[256];

struct reports {
	int n;
};

static void
check_report(void *arg, const char *msg)
{
	struct reports *r = arg;
	size_t nl = strlen(CONF_NAME);

	r->n++;
	FUZZ_CHECK(strncmp(msg, CONF_NAME, nl) == 0 && msg[nl] == ':',
	    "error does not name the file: %s", msg);
	FUZZ_CHECK(strlen(msg) > nl + 2, "an empty error: %s", msg);
}

static void
remove_fixture(void)
{
	const char *files[] = {"certs/alice@example.com.crt", "keys/alice@example.com.pem",
	    "ca.pem", "hosts", "secret", CONF_NAME, NULL};
	char path[512];
	int i;

	for (i = 0; files[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", fixture, files[i]);
		(void)unlink(path);
	}
	snprintf(path, sizeof(path), "%s/certs", fixture);
	(void)rmdir(path);
	snprintf(path, sizeof(path), "%s/keys", fixture);
	(void)rmdir(path);
	(void)rmdir(fixture);
}

static void
write_text(const char *path, mode_t mode, const char *text)
{
	FILE *f = fopen(path, "w");

	FUZZ_CHECK(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
	chmod(path, mode);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct testpki_id ca, alice;
	X509 *certs[3] = {NULL, NULL, NULL};

	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(fixture, sizeof(fixture), "%s/smime-fuzz-conf.XXXXXX", tmp != NULL ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(fixture) != NULL, "mkdtemp %s", fixture);
	atexit(remove_fixture);
	FUZZ_CHECK(chdir(fixture) == 0 && mkdir("certs", 0755) == 0 && mkdir("keys", 0700) == 0,
	    "fixture directories");
	ca = testpki_issue("ec", "Fuzz CA", NULL, NULL, -1, 365, NULL, NULL);
	alice = testpki_issue("ec", "Alice", "alice@example.com", &ca, -1, 365,
	    "critical,digitalSignature,keyAgreement", "emailProtection");
	certs[0] = alice.cert;
	testpki_write("certs/alice@example.com.crt", 0644, NULL, certs, 0);
	certs[1] = ca.cert;
	testpki_write("keys/alice@example.com.pem", 0600, alice.key, certs, 0);
	certs[0] = ca.cert;
	certs[1] = NULL;
	testpki_write("ca.pem", 0644, NULL, certs, 0);
	write_text("hosts", 0644, "10.0.0.0/8 # office\n192.0.2.1, ::1\n");
	write_text("secret", 0600, "not-a-real-secret\n");
	testpki_free(&ca);
	testpki_free(&alice);
	return 0;
}

/* A word naming something outside the fixture. */
static int
leaves_fixture(const uint8_t *data, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++) {
		int word_start = i == 0 || data[i - 1] == ' ' || data[i - 1] == '\t' ||
		    data[i - 1] == '\n' || data[i - 1] == '\r' || data[i - 1] == ',' ||
		    data[i - 1] == '"';
		if (word_start && data[i] == '/')
			return 1;
		if (i + 6 <= size && memcmp(data + i, "file:/", 6) == 0)
			return 1;
		if (i + 2 <= size && memcmp(data + i, "..", 2) == 0)
			return 1;
	}
	return 0;
}

static void
check_loaded(struct conf *c)
{
	struct reports r = {0};
	int n;

	FUZZ_CHECK(c->refs == 1, "a new configuration with %d references", c->refs);
	FUZZ_CHECK(c->internal != NULL && c->vmta_header != NULL, "defaults missing");
	FUZZ_CHECK(c->spool_memory >= 4096 && c->spool_memory <= 1024u * 1024 * 1024,
	    "spool-memory %zu", c->spool_memory);
	FUZZ_CHECK(c->body_chunk >= 256 && c->body_chunk <= 65535, "body-chunk-size %zu",
	    c->body_chunk);
	FUZZ_CHECK(c->file != NULL && strcmp(c->file, CONF_NAME) == 0, "file name");
	n = conf_check_signers(c, check_report, check_report, &r);
	FUZZ_CHECK(n <= r.n, "%d signer errors, %d reported", n, r.n);
	FUZZ_CHECK(conf_ref(c) == c && c->refs == 2, "conf_ref");
	conf_unref(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reports r = {0};
	struct conf *c = (struct conf *)&r;
	FILE *f;
	int n;

	if (size > 64 * 1024 || leaves_fixture(data, size))
		return -1;
	f = fopen(CONF_NAME, "w");
	FUZZ_CHECK(f != NULL, "cannot write %s", CONF_NAME);
	FUZZ_CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0, "cannot write %s",
	    CONF_NAME);
	n = conf_load(CONF_NAME, &c, check_report, &r);
	FUZZ_CHECK(n >= 0 && n == r.n, "conf_load returned %d after %d errors", n, r.n);
	FUZZ_CHECK((n == 0) == (c != NULL), "conf_load returned %d and %s configuration", n,
	    c != NULL ? "a" : "no");
	if (c != NULL) {
		check_loaded(c);
		conf_unref(c);
	}
	return 0;
}
