/*
 * check_conf.c - unit tests of the configuration reader (conf.h) and of
 * the network lists it builds (hostlist.h):
 *
 *   - a file using every supported keyword loads, and the settings hold
 *     the values written (paths, booleans, cipher, digest, sizes, networks);
 *   - defaults when keywords are absent;
 *   - every error is reported with its exact text, as "FILE:LINE: message"
 *     (or "FILE: message" for checks that need the whole file), all errors
 *     of a file are reported, and no configuration is returned;
 *   - conf_ref / conf_unref reference counting;
 *   - hostlist: IPv4 and IPv6 CIDR matching, prefix edges, IPv4-mapped
 *     IPv6 addresses, and the errors of hostlist_add.
 *
 * Configuration files are written at test time into a mkdtemp directory
 * under $TMPDIR (or /tmp).
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>

#include "conf.h"
#include "hostlist.h"
#include "spool.h"

#define MAXMSG 80

/* The settings a recipient gets from the global scope (defaults included). */
static struct policy_settings eff_buf;

static const struct policy_settings *
eff_of(const struct conf *c)
{
	policy_for_recipient(&c->policy, NULL, "any.example", &eff_buf);
	return &eff_buf;
}

static char dir[PATH_MAX];            /* private directory of the test */
static char conf_path[PATH_MAX + 32]; /* the file conf_text writes */
static char msgs[MAXMSG][1400];       /* error lines reported */
static int nmsgs;

/* ---- helpers ---- */

static void
report(void *arg, const char *msg)
{
	int *calls = arg;

	(*calls)++;
	ck_assert_int_lt(nmsgs, MAXMSG);
	snprintf(msgs[nmsgs++], sizeof(msgs[0]), "%s", msg);
}

static void
write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "cannot create %s", path);
	ck_assert_int_eq(fputs(content, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* Path of name inside the test directory. */
static const char *
in_dir(const char *name)
{
	static char paths[8][PATH_MAX + 64];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

/*
 * Write content to the test's conf file and load it; "@D" in content
 * stands for the test directory.  Checks that the count returned equals
 * the lines reported and that *out is set exactly on success.
 */
static int
conf_text(const char *content, struct conf **out)
{
	char *text = malloc(strlen(content) * 2 + strlen(dir) * 16 + 1);
	const char *p;
	char *o = text;
	int calls = 0, rc;

	ck_assert_ptr_nonnull(text);
	for (p = content; *p != '\0'; p++) {
		if (p[0] == '@' && p[1] == 'D') {
			o += sprintf(o, "%s", dir);
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	snprintf(conf_path, sizeof(conf_path), "%s/test.conf", dir);
	write_file(conf_path, text);
	free(text);
	nmsgs = 0;
	*out = (struct conf *)&calls; /* must be overwritten */
	rc = conf_load(conf_path, out, report, &calls);
	ck_assert_int_eq(rc, calls);
	ck_assert_int_eq(rc, nmsgs);
	if (rc == 0)
		ck_assert_ptr_nonnull(*out);
	else
		ck_assert_ptr_null(*out);
	return rc;
}

/* Load content, which must be valid; the caller unrefs the result. */
static struct conf *
conf_ok(const char *content)
{
	struct conf *c = NULL;
	int rc = conf_text(content, &c);

	ck_assert_msg(rc == 0, "%d errors, first: %s", rc, rc > 0 ? msgs[0] : "");
	ck_assert_int_eq(c->refs, 1);
	ck_assert_str_eq(c->file, conf_path);
	return c;
}

/*
 * Load content and expect exactly n errors: n pairs (int line, const char
 * *message); line 0 means a "FILE: message" line.
 */
static void
conf_errors(const char *content, int n, ...)
{
	struct conf *c = NULL;
	char want[sizeof(conf_path) + 1500];
	va_list ap;
	int i, rc;

	rc = conf_text(content, &c);
	conf_unref(c); /* NULL unless the file was wrongly accepted */
	ck_assert_msg(rc == n, "%d errors instead of %d, first: %s", rc, n, rc > 0 ? msgs[0] : "");
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		int line = va_arg(ap, int);
		const char *msg = va_arg(ap, const char *);
		if (line > 0)
			snprintf(want, sizeof(want), "%s:%d: %s", conf_path, line, msg);
		else
			snprintf(want, sizeof(want), "%s: %s", conf_path, msg);
		ck_assert_str_eq(msgs[i], want);
	}
	va_end(ap);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ---- fixture ---- */

static void
conf_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/check_conf.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(mkdir(in_dir("certs"), 0755), 0);
	ck_assert_int_eq(mkdir(in_dir("keys"), 0700), 0);
	ck_assert_int_eq(mkdir(in_dir("my keys"), 0700), 0);
	ck_assert_int_eq(mkdir(in_dir("spool"), 0700), 0);
	write_file(in_dir("plain-file"), "not a directory\n");
	nmsgs = 0;
}

static void
conf_teardown(void)
{
	(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- a complete valid file ---- */

START_TEST(test_valid_all_keywords)
{
	struct conf *c =
	    conf_ok("# smime-milter.conf used by check_conf\n"
	            "\n"
	            "socket          \"inet:8894@127.0.0.1\"   # quoted, then a comment\n"
	            "cert-dir        @D/certs\n"
	            "key-dir         \"@D/my keys\"\n"
	            "   \t\n"
	            "internal-hosts  10.0.0.0/8 192.168.1.0/24 2001:db8::/32 ::1\n"
	            "sign            yes\n"
	            "encrypt         on\n"
	            "on-error        reject\n"
	            "cipher          aes-128-gcm\n"
	            "digest          sha384\n"
	            "spool-dir       @D/spool\n"
	            "spool-memory    512k\n"
	            "\t# an indented comment\n"
	            "# the last line has no line break\n"
	            "encrypt-to-sender no");
	char want[PATH_MAX + 64];

	ck_assert_str_eq(c->socket, "inet:8894@127.0.0.1");
	snprintf(want, sizeof(want), "%s/certs", dir);
	ck_assert_str_eq(c->cert_dir, want);
	snprintf(want, sizeof(want), "%s/my keys", dir);
	ck_assert_str_eq(c->key_dir, want);
	snprintf(want, sizeof(want), "%s/spool", dir);
	ck_assert_str_eq(c->spool_dir, want);
	ck_assert_int_eq(eff_of(c)->sign, 1);
	ck_assert_int_eq(eff_of(c)->encrypt, 1);
	ck_assert_int_eq(c->on_error, CONF_ON_ERROR_REJECT);
	ck_assert_ptr_nonnull(eff_of(c)->cipher);
	ck_assert_int_eq(EVP_CIPHER_get_nid(eff_of(c)->cipher), NID_aes_128_gcm);
	ck_assert_ptr_nonnull(eff_of(c)->digest);
	ck_assert_int_eq(EVP_MD_get_type(eff_of(c)->digest), NID_sha384);
	ck_assert_uint_eq(c->spool_memory, 512 * 1024);

	ck_assert_ptr_nonnull(c->internal);
	ck_assert_uint_eq(hostlist_count(c->internal), 4);
	ck_assert_int_ne(hostlist_match_text(c->internal, "10.1.2.3"), 0);
	ck_assert_int_ne(hostlist_match_text(c->internal, "192.168.1.254"), 0);
	ck_assert_int_ne(hostlist_match_text(c->internal, "2001:db8:1::25"), 0);
	ck_assert_int_ne(hostlist_match_text(c->internal, "::1"), 0);
	ck_assert_int_eq(hostlist_match_text(c->internal, "11.1.2.3"), 0);
	ck_assert_int_eq(hostlist_match_text(c->internal, "192.168.2.1"), 0);
	ck_assert_int_eq(hostlist_match_text(c->internal, "2001:db9::25"), 0);
	/* the default list is replaced, not extended */
	ck_assert_int_eq(hostlist_match_text(c->internal, "127.0.0.1"), 0);
	conf_unref(c);
}
END_TEST

START_TEST(test_valid_defaults)
{
	struct conf *c = conf_ok("# nothing but a comment\n");

	ck_assert_ptr_null(c->socket);
	ck_assert_ptr_null(c->cert_dir);
	ck_assert_ptr_null(c->key_dir);
	ck_assert_ptr_null(c->spool_dir);
	ck_assert_int_eq(eff_of(c)->sign, 0);
	ck_assert_int_eq(eff_of(c)->encrypt, 0);
	ck_assert_int_eq(c->on_error, CONF_ON_ERROR_TEMPFAIL);
	ck_assert_int_eq(EVP_CIPHER_get_nid(eff_of(c)->cipher), NID_aes_256_cbc);
	ck_assert_int_eq(EVP_MD_get_type(eff_of(c)->digest), NID_sha256);
	ck_assert_uint_eq(c->spool_memory, 1024 * 1024);
	ck_assert_uint_eq(c->spool_memory, SPOOL_DEFAULT_MEMORY);
	ck_assert_ptr_nonnull(c->internal);
	ck_assert_uint_eq(hostlist_count(c->internal), 2);
	ck_assert_int_ne(hostlist_match_text(c->internal, "127.0.0.1"), 0);
	ck_assert_int_ne(hostlist_match_text(c->internal, "127.255.0.9"), 0);
	ck_assert_int_ne(hostlist_match_text(c->internal, "::1"), 0);
	ck_assert_int_ne(hostlist_match_text(c->internal, "::ffff:127.0.0.1"), 0);
	ck_assert_int_eq(hostlist_match_text(c->internal, "128.0.0.1"), 0);
	ck_assert_int_eq(hostlist_match_text(c->internal, "10.0.0.1"), 0);
	ck_assert_int_eq(hostlist_match_text(c->internal, "::2"), 0);
	/* the limits */
	ck_assert_int_eq(c->max_mime_depth, 32);
	ck_assert_int_eq(c->max_mime_parts, 10000);
	ck_assert_int_eq(c->max_headers, 1000);
	ck_assert_uint_eq(c->max_header_line, 102400);
	ck_assert_int_eq(c->max_recipients, 1000);
	ck_assert_uint_eq(c->max_message_size, 10240000);
	ck_assert_int_eq(c->on_oversize, CONF_OVERSIZE_REJECT);
	ck_assert_int_eq(c->message_deadline, 120);
	ck_assert_int_eq(c->max_connections, 500);
	ck_assert_int_eq(c->replies.oversize.d, DECIDE_REJECT);
	ck_assert_str_eq(c->replies.oversize.code, "552");
	ck_assert_str_eq(c->replies.oversize.xcode, "5.3.4");
	conf_unref(c);
}
END_TEST

/* Every limit given, at the ends of its range; and what is out of range, in the exact words. */
START_TEST(test_limits)
{
	struct conf *c = conf_ok("max-mime-depth 256\nmax-mime-parts 1\nmax-headers 100000\n"
	                         "max-header-line 1k\nmax-recipients 1\nmax-message-size 1024M\n"
	                         "on-oversize pass-sign-only\nmessage-deadline 3600\n"
	                         "max-connections 1\n");

	ck_assert_int_eq(c->max_mime_depth, 256);
	ck_assert_int_eq(c->max_mime_parts, 1);
	ck_assert_int_eq(c->max_headers, 100000);
	ck_assert_uint_eq(c->max_header_line, 1024);
	ck_assert_int_eq(c->max_recipients, 1);
	ck_assert_uint_eq(c->max_message_size, 1024UL * 1024 * 1024);
	ck_assert_int_eq(c->on_oversize, CONF_OVERSIZE_PASS_SIGN_ONLY);
	ck_assert_int_eq(c->replies.oversize.d, DECIDE_CONTINUE);
	ck_assert_str_eq(c->replies.oversize_encrypted.code, "552");
	ck_assert_int_eq(c->message_deadline, 3600);
	ck_assert_int_eq(c->max_connections, 1);
	conf_unref(c);
	c = conf_ok("on-oversize tempfail\nmax-message-size 64k\nmax-header-line 1M\n");
	ck_assert_int_eq(c->replies.oversize.d, DECIDE_TEMPFAIL);
	ck_assert_str_eq(c->replies.oversize.code, "452");
	ck_assert_str_eq(c->replies.oversize.xcode, "4.3.4");
	ck_assert_uint_eq(c->max_message_size, 65536);
	ck_assert_uint_eq(c->max_header_line, 1048576);
	ck_assert_str_eq(c->replies.too_many_rcpts.code, "452");
	ck_assert_str_eq(c->replies.too_many_rcpts.xcode, "4.5.3");
	ck_assert_str_eq(c->replies.structure.code, "554");
	ck_assert_str_eq(c->replies.structure.xcode, "5.6.0");
	ck_assert_str_eq(c->replies.deadline.code, "451");
	ck_assert_str_eq(c->replies.deadline.xcode, "4.3.0");
	ck_assert_str_eq(c->replies.connections.code, "451");
	ck_assert_str_eq(c->replies.connections.xcode, "4.3.2");
	conf_unref(c);
	conf_errors("max-mime-depth 0\n", 1, 1,
	    "max-mime-depth: \"0\" is not a number of levels between 1 and 256");
	conf_errors("max-mime-depth 257\n", 1, 1,
	    "max-mime-depth: \"257\" is not a number of levels between 1 and 256");
	conf_errors("max-mime-parts 1000001\n", 1, 1,
	    "max-mime-parts: \"1000001\" is not a number of parts between 1 and 1000000");
	conf_errors("max-headers 0\n", 1, 1,
	    "max-headers: \"0\" is not a number of fields between 1 and 100000");
	conf_errors("max-header-line 1023\n", 1, 1,
	    "max-header-line: \"1023\" is not a size between 1k and 1M");
	conf_errors("max-recipients 100001\n", 1, 1,
	    "max-recipients: \"100001\" is not a number of recipients between 1 and 100000");
	conf_errors("max-message-size 63k\n", 1, 1,
	    "max-message-size: \"63k\" is not a size between 64k and 1024M");
	conf_errors("on-oversize pass\n", 1, 1,
	    "on-oversize: \"pass\" is not tempfail, reject or pass-sign-only");
	conf_errors("message-deadline 0\n", 1, 1,
	    "message-deadline: \"0\" is not a number of seconds between 1 and 3600");
	conf_errors("max-connections many\n", 1, 1,
	    "max-connections: \"many\" is not a number of connections between 1 and 100000");
}
END_TEST

START_TEST(test_valid_empty_file)
{
	struct conf *c = conf_ok("");

	ck_assert_int_eq(c->on_error, CONF_ON_ERROR_TEMPFAIL);
	ck_assert_uint_eq(hostlist_count(c->internal), 2);
	conf_unref(c);
}
END_TEST

START_TEST(test_valid_booleans)
{
	static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True", "On"};
	static const char *const no[] = {"no", "false", "off", "0", "NO", "False", "OFF"};
	char text[512];
	struct conf *c;
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(text, sizeof(text),
		    "cert-dir @D/certs\nkey-dir @D/keys\nsign %s\nencrypt %s\n", yes[i], yes[i]);
		c = conf_ok(text);
		ck_assert_msg(eff_of(c)->sign == 1 && eff_of(c)->encrypt == 1, "\"%s\" is not yes",
		    yes[i]);
		conf_unref(c);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(text, sizeof(text), "sign %s\nencrypt %s\n", no[i], no[i]);
		c = conf_ok(text);
		ck_assert_msg(eff_of(c)->sign == 0 && eff_of(c)->encrypt == 0, "\"%s\" is not no",
		    no[i]);
		conf_unref(c);
	}
}
END_TEST

START_TEST(test_valid_ciphers_digests)
{
	static const struct {
		const char *name;
		int nid;
	} ciphers[] =
	    {
	        {"aes-128-cbc", NID_aes_128_cbc},
	        {"aes-256-cbc", NID_aes_256_cbc},
	        {"aes-128-gcm", NID_aes_128_gcm},
	        {"aes-256-gcm", NID_aes_256_gcm},
	        {"AES-256-GCM", NID_aes_256_gcm},
	    },
	  digests[] = {
	      {"sha256", NID_sha256},
	      {"sha384", NID_sha384},
	      {"sha512", NID_sha512},
	      {"SHA512", NID_sha512},
	  };
	char text[256];
	struct conf *c;
	size_t i;

	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		snprintf(text, sizeof(text), "cipher %s\n", ciphers[i].name);
		c = conf_ok(text);
		ck_assert_int_eq(EVP_CIPHER_get_nid(eff_of(c)->cipher), ciphers[i].nid);
		conf_unref(c);
	}
	for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
		snprintf(text, sizeof(text), "digest %s\n", digests[i].name);
		c = conf_ok(text);
		ck_assert_int_eq(EVP_MD_get_type(eff_of(c)->digest), digests[i].nid);
		conf_unref(c);
	}
}
END_TEST

START_TEST(test_valid_spool_memory)
{
	static const struct {
		const char *text;
		size_t bytes;
	} sizes[] = {
	    {"4096", 4096},
	    {"4k", 4096},
	    {"4K", 4096},
	    {"65536", 65536},
	    {"2M", 2 * 1024 * 1024},
	    {"2m", 2 * 1024 * 1024},
	    {"1024M", 1024UL * 1024 * 1024},
	    {"1048576k", 1024UL * 1024 * 1024},
	    {"\"300k\"", 300 * 1024},
	};
	char text[256];
	struct conf *c;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(text, sizeof(text), "spool-memory %s\n", sizes[i].text);
		c = conf_ok(text);
		ck_assert_msg(c->spool_memory == sizes[i].bytes, "spool-memory %s gave %zu",
		    sizes[i].text, c->spool_memory);
		conf_unref(c);
	}
}
END_TEST

START_TEST(test_valid_sockets)
{
	static const char *const sockets[] = {
	    "inet:8894@127.0.0.1",
	    "inet6:8894@[::1]",
	    "unix:/run/smime-milter/smime-milter.sock",
	    "local:/run/smime-milter.sock",
	    "/run/smime-milter.sock",
	};
	char text[256];
	struct conf *c;
	size_t i;

	for (i = 0; i < sizeof(sockets) / sizeof(sockets[0]); i++) {
		snprintf(text, sizeof(text), "socket %s\n", sockets[i]);
		c = conf_ok(text);
		ck_assert_str_eq(c->socket, sockets[i]);
		conf_unref(c);
	}
	/* a quoted value may hold '#' and spaces */
	c = conf_ok("socket \"unix:/run/my milter#1.sock\" # comment\n");
	ck_assert_str_eq(c->socket, "unix:/run/my milter#1.sock");
	conf_unref(c);
}
END_TEST

START_TEST(test_valid_syntax)
{
	/* CRLF line ends, tabs, upper-case keywords; internal-hosts lines add up */
	struct conf *c = conf_ok("\tSOCKET\tinet:2@127.0.0.1 \r\n"
	                         "On-Error reject\r\n"
	                         "internal-hosts 192.0.2.0/24\r\n"
	                         "internal-hosts 198.51.100.7\r\n"
	                         "#\r\n");

	ck_assert_str_eq(c->socket, "inet:2@127.0.0.1");
	ck_assert_int_eq(c->on_error, CONF_ON_ERROR_REJECT);
	ck_assert_uint_eq(hostlist_count(c->internal), 2);
	ck_assert_int_ne(hostlist_match_text(c->internal, "198.51.100.7"), 0);
	ck_assert_int_eq(hostlist_match_text(c->internal, "198.51.100.8"), 0);
	ck_assert_int_ne(hostlist_match_text(c->internal, "192.0.2.1"), 0);
	conf_unref(c);
}
END_TEST

START_TEST(test_valid_longest_line)
{
	/* 4096 characters before the line break is the limit, and allowed */
	char *text = malloc(4096 + 32);
	struct conf *c;

	ck_assert_ptr_nonnull(text);
	text[0] = '#';
	memset(text + 1, 'x', 4095);
	strcpy(text + 4096, "\nsign no\n");
	c = conf_ok(text);
	ck_assert_int_eq(eff_of(c)->sign, 0);
	conf_unref(c);
	free(text);
}
END_TEST

START_TEST(test_valid_most_values)
{
	/* a keyword and 63 values is the most a line can hold */
	char text[4096];
	struct conf *c;
	size_t o;
	int i;

	o = (size_t)snprintf(text, sizeof(text), "internal-hosts");
	for (i = 0; i < 63; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, " 10.0.%d.0/24", i);
	snprintf(text + o, sizeof(text) - o, "\n");
	c = conf_ok(text);
	ck_assert_uint_eq(hostlist_count(c->internal), 63);
	ck_assert_int_ne(hostlist_match_text(c->internal, "10.0.62.1"), 0);
	ck_assert_int_eq(hostlist_match_text(c->internal, "10.0.63.1"), 0);
	conf_unref(c);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_err_unknown_keyword)
{
	conf_errors("frobnicate yes\n", 1, 1, "unknown keyword \"frobnicate\"");
	conf_errors("# comment\n\nsing yes\n", 1, 3, "unknown keyword \"sing\"");
	conf_errors("socket=inet:1@127.0.0.1\n", 1, 1,
	    "unknown keyword \"socket=inet:1@127.0.0.1\"");
}
END_TEST

START_TEST(test_err_ldap)
{
	char msg[PATH_MAX + 200];

	/* every keyword is honoured now: the LDAP ones are checked instead */
	conf_errors("\n# c\nldap-uri ldap://127.0.0.1\n", 1, 3, "ldap-uri needs ldap-base");
	conf_errors("ldap-base dc=example,dc=com\n", 1, 0,
	    "ldap-base, ldap-filter, ldap-bind-dn and ldap-password-file need ldap-uri");
	conf_errors("ldap-uri http://127.0.0.1\nldap-base dc=example,dc=com\n", 1, 1,
	    "ldap-uri \"http://127.0.0.1\": expected ldap://HOST[:PORT], ldaps://... or ldapi://...");
	conf_errors("ldap-uri ldap://127.0.0.1\nldap-base dc=x\nldap-filter (cn=x)\n", 1, 3,
	    "ldap-filter: filter \"(cn=x)\" has no %s for the address");
	conf_errors("ldap-uri ldap://127.0.0.1\nldap-base dc=x\nldap-timeout 0\n", 1, 3,
	    "ldap-timeout: \"0\" is not a number of seconds between 1 and 300");
	conf_errors("ldap-uri ldap://127.0.0.1\nldap-base dc=x\nldap-bind-dn cn=m,dc=x\n", 1, 0,
	    "ldap-bind-dn and ldap-password-file go together");
	write_file(in_dir("ldap.pw"), "secret\n");
	ck_assert_int_eq(chmod(in_dir("ldap.pw"), 0640), 0);
	snprintf(msg, sizeof(msg),
	    "ldap-password-file %s: readable by group or others "
	    "(mode 0640): chmod 600 it",
	    in_dir("ldap.pw"));
	conf_errors("ldap-uri ldap://127.0.0.1\nldap-base dc=x\nldap-bind-dn cn=m,dc=x\n"
	            "ldap-password-file @D/ldap.pw\n",
	    1, 4, msg);
}
END_TEST

START_TEST(test_ok_ldap)
{
	struct conf *c;

	c = conf_ok("encrypt yes\nldap-uri ldap://127.0.0.1:3389\nldap-base dc=example,dc=test\n");
	ck_assert_ptr_null(c->certs);
	ck_assert_ptr_nonnull(c->ldap);
	ck_assert_str_eq(ldapstore_uri(c->ldap), "ldap://127.0.0.1:3389");
	ck_assert_int_eq(c->ldap_timeout, 5);
	ck_assert_int_eq(c->ldap_cache_ttl, 300);
	ck_assert_int_eq(c->ldap_negative_ttl, 60);
	conf_unref(c);
	write_file(in_dir("ldap.pw"), "secret\n");
	ck_assert_int_eq(chmod(in_dir("ldap.pw"), 0600), 0);
	c = conf_ok("encrypt yes\ncert-dir @D\nldap-uri ldap://127.0.0.1:3389\n"
	            "ldap-base dc=example,dc=test\nldap-filter \"(|(mail=%s)(otherMailbox=%s))\"\n"
	            "ldap-bind-dn cn=milter,dc=example,dc=test\nldap-password-file @D/ldap.pw\n"
	            "ldap-timeout 3\nldap-cache-ttl 0\nldap-negative-ttl 2\n");
	ck_assert_ptr_nonnull(c->certs);
	ck_assert_ptr_nonnull(c->ldap);
	ck_assert_str_eq(c->ldap_filter, "(|(mail=%s)(otherMailbox=%s))");
	ck_assert_int_eq(c->ldap_timeout, 3);
	ck_assert_int_eq(c->ldap_cache_ttl, 0);
	ck_assert_int_eq(c->ldap_negative_ttl, 2);
	conf_unref(c);
}
END_TEST

START_TEST(test_err_block)
{
	conf_errors("<domain x>\n", 1, 1, "<domain x> is not closed");
	conf_errors("<domain bank-partner.example>\n"
	            "    cipher aes-256-gcm\n"
	            "</domain>\n"
	            "<virtual-mta secure-out>\n",
	    1, 4, "<virtual-mta secure-out> is not closed");
}
END_TEST

START_TEST(test_err_value_count)
{
	conf_errors("sign yes no\n", 1, 1, "sign takes exactly one value, 2 given");
	conf_errors("socket\n", 1, 1, "socket takes exactly one value, 0 given");
	conf_errors("cipher aes-128-cbc aes-256-cbc\n", 1, 1,
	    "cipher takes exactly one value, 2 given");
	conf_errors("on-error\n", 1, 1, "on-error takes exactly one value, 0 given");
	conf_errors("digest sha256 # sha384\nspool-memory 1M 2M 3M\n", 1, 2,
	    "spool-memory takes exactly one value, 3 given");
	conf_errors("cert-dir @D/certs @D/keys\n", 1, 1,
	    "cert-dir takes exactly one value, 2 given");
	conf_errors("internal-hosts\n", 1, 1, "internal-hosts needs at least one network or file");
	conf_errors("internal-hosts # none\n", 1, 1,
	    "internal-hosts needs at least one network or file");
}
END_TEST

START_TEST(test_err_too_many_values)
{
	char text[4096];
	size_t o;
	int i;

	o = (size_t)snprintf(text, sizeof(text), "internal-hosts");
	for (i = 0; i < 64; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, " 10.0.%d.0/24", i);
	snprintf(text + o, sizeof(text) - o, "\n");
	conf_errors(text, 1, 1, "too many values on one line (at most 63)");
}
END_TEST

START_TEST(test_err_bad_boolean)
{
	conf_errors("sign maybe\n", 1, 1, "sign: \"maybe\" is not yes or no");
	conf_errors("encrypt 2\n", 1, 1, "encrypt: \"2\" is not yes or no");
	conf_errors("encrypt \"\"\n", 1, 1, "encrypt: \"\" is not yes or no");
}
END_TEST

START_TEST(test_err_bad_on_error)
{
	conf_errors("on-error bounce\n", 1, 1, "on-error: \"bounce\" is not tempfail or reject");
	conf_errors("on-error plain\n", 1, 1, "on-error: \"plain\" is not tempfail or reject");
}
END_TEST

START_TEST(test_err_bad_cipher)
{
	conf_errors("cipher des-ede3-cbc\n", 1, 1,
	    "cipher: \"des-ede3-cbc\" is not aes-128-cbc, aes-256-cbc, aes-128-gcm or aes-256-gcm");
	conf_errors("cipher aes256\n", 1, 1,
	    "cipher: \"aes256\" is not aes-128-cbc, aes-256-cbc, aes-128-gcm or aes-256-gcm");
}
END_TEST

START_TEST(test_err_bad_digest)
{
	conf_errors("digest md5\n", 1, 1, "digest: \"md5\" is not sha256, sha384 or sha512");
	conf_errors("digest sha1\n", 1, 1, "digest: \"sha1\" is not sha256, sha384 or sha512");
}
END_TEST

START_TEST(test_err_bad_spool_memory)
{
	static const char *const bad[] = {
	    "12q",
	    "4095",
	    "3k",
	    "1k",
	    "0",
	    "1025M",
	    "1048577k",
	    "1G",
	    "k",
	    "M",
	    "-1",
	    "",
	    "4 k",
	    "4kk",
	    "4kB",
	    "0x1000",
	    "99999999999999999999999",
	};
	char text[256], msg[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "spool-memory \"%s\"\n", bad[i]);
		snprintf(msg, sizeof(msg),
		    "spool-memory: \"%s\" is not a size between 4k and 1024M", bad[i]);
		conf_errors(text, 1, 1, msg);
	}
}
END_TEST

/*
 * A size whose suffix multiplication wraps around 2^64 must be refused,
 * not taken modulo 2^64: 18014398509481988k is (2^54 + 4) * 1024 =
 * 2^64 + 4096 bytes, and 17592186044417M is 2^64 + 1 MiB.
 */
START_TEST(test_err_spool_memory_overflow)
{
	conf_errors("spool-memory 18014398509481988k\n", 1, 1,
	    "spool-memory: \"18014398509481988k\" is not a size between 4k and 1024M");
	conf_errors("spool-memory 17592186044417M\n", 1, 1,
	    "spool-memory: \"17592186044417M\" is not a size between 4k and 1024M");
}
END_TEST

START_TEST(test_err_bad_network)
{
	conf_errors("internal-hosts 10.0.0.0/8 bogus\n", 1, 1,
	    "internal-hosts: bad network \"bogus\": not an IPv4 or IPv6 address");
	conf_errors("internal-hosts 10.0.0.256\n", 1, 1,
	    "internal-hosts: bad network \"10.0.0.256\": not an IPv4 or IPv6 address");
	conf_errors("internal-hosts localhost/8\n", 1, 1,
	    "internal-hosts: bad network \"localhost/8\": not an IPv4 or IPv6 address");
	conf_errors("internal-hosts 2001:db8:::1/64\n", 1, 1,
	    "internal-hosts: bad network \"2001:db8:::1/64\": not an IPv4 or IPv6 address");
	/* every bad entry of a line is reported */
	conf_errors("internal-hosts bad1 10.0.0.0/8 bad2\n", 2, 1,
	    "internal-hosts: bad network \"bad1\": not an IPv4 or IPv6 address", 1,
	    "internal-hosts: bad network \"bad2\": not an IPv4 or IPv6 address");
}
END_TEST

START_TEST(test_err_bad_prefix)
{
	conf_errors("internal-hosts 10.0.0.0/33\n", 1, 1,
	    "internal-hosts: bad network \"10.0.0.0/33\": prefix length must be 0-32");
	conf_errors("internal-hosts ::1/129\n", 1, 1,
	    "internal-hosts: bad network \"::1/129\": prefix length must be 0-128");
	conf_errors("internal-hosts 10.0.0.0/\n", 1, 1,
	    "internal-hosts: bad network \"10.0.0.0/\": prefix length must be 0-32");
	conf_errors("internal-hosts 10.0.0.0/8x\n", 1, 1,
	    "internal-hosts: bad network \"10.0.0.0/8x\": prefix length must be 0-32");
	conf_errors("internal-hosts 10.0.0.0/-1\n", 1, 1,
	    "internal-hosts: bad network \"10.0.0.0/-1\": prefix length must be 0-32");
	conf_errors("internal-hosts 2001:db8::/64/1\n", 1, 1,
	    "internal-hosts: bad network \"2001:db8::/64/1\": prefix length must be 0-128");
}
END_TEST

START_TEST(test_err_bad_dirs)
{
	char msg[PATH_MAX + 128];

	snprintf(msg, sizeof(msg), "cert-dir %s/nope: No such file or directory", dir);
	conf_errors("cert-dir @D/nope\n", 1, 1, msg);
	snprintf(msg, sizeof(msg), "cert-dir %s/plain-file: not a directory", dir);
	conf_errors("cert-dir @D/plain-file\n", 1, 1, msg);
	snprintf(msg, sizeof(msg), "key-dir %s/nope: No such file or directory", dir);
	conf_errors("key-dir @D/nope\n", 1, 1, msg);
	snprintf(msg, sizeof(msg), "key-dir %s/plain-file: not a directory", dir);
	conf_errors("key-dir @D/plain-file\n", 1, 1, msg);
	snprintf(msg, sizeof(msg), "spool-dir %s/nope: No such file or directory", dir);
	conf_errors("spool-dir @D/nope\n", 1, 1, msg);
	snprintf(msg, sizeof(msg), "spool-dir %s/plain-file: not a directory", dir);
	conf_errors("spool-dir @D/plain-file\n", 1, 1, msg);
	snprintf(msg, sizeof(msg), "cert-dir %s/plain-file/x: Not a directory", dir);
	conf_errors("cert-dir @D/plain-file/x\n", 1, 1, msg);
}
END_TEST

START_TEST(test_err_bad_socket)
{
	conf_errors("socket 8894\n", 1, 1,
	    "socket \"8894\": expected inet:PORT@HOST, inet6:PORT@HOST or unix:PATH");
	conf_errors("socket tcp:8894@127.0.0.1\n", 1, 1,
	    "socket \"tcp:8894@127.0.0.1\": expected inet:PORT@HOST, inet6:PORT@HOST or unix:PATH");
	conf_errors("socket \"\"\n", 1, 1,
	    "socket \"\": expected inet:PORT@HOST, inet6:PORT@HOST or unix:PATH");
}
END_TEST

START_TEST(test_socket_mode_group)
{
	struct conf *c = conf_ok("socket unix:/run/s.sock\n");

	ck_assert_int_eq(c->socket_mode, 0); /* CONF_SOCKET_MODE when used */
	ck_assert_ptr_null(c->socket_group);
	conf_unref(c);
	c = conf_ok("socket unix:/run/s.sock\nsocket-mode 0640\nsocket-group root\n");
	ck_assert_int_eq(c->socket_mode, 0640);
	ck_assert_str_eq(c->socket_group, "root");
	conf_unref(c);
	c = conf_ok("socket-mode 666\n");
	ck_assert_int_eq(c->socket_mode, 0666);
	conf_unref(c);
	conf_errors("socket-mode 0660 0640\n", 1, 1,
	    "socket-mode takes exactly one value, 2 given");
	conf_errors("socket-mode rw\n", 1, 1,
	    "socket-mode: \"rw\" is not an octal mode between 0000 and 0777 (e.g. 0660)");
	conf_errors("socket-mode 01660\n", 1, 1,
	    "socket-mode: \"01660\" is not an octal mode between 0000 and 0777 (e.g. 0660)");
	conf_errors("socket-mode 0460\n", 1, 1,
	    "socket-mode 0460: the owner must be able to read and write the socket");
	conf_errors("\nsocket-group no-such-group-here\n", 1, 2,
	    "socket-group: no such group \"no-such-group-here\"");
	conf_errors("<domain x.example>\nsocket-group root\n</domain>\n", 1, 2,
	    "keyword \"socket-group\" is not allowed in <domain>");
}
END_TEST

START_TEST(test_err_unterminated_quote)
{
	conf_errors("socket \"inet:8894@127.0.0.1\n", 1, 1, "unterminated quote");
	conf_errors("sign no\nkey-dir \"@D/my keys\n", 1, 2, "unterminated quote");
}
END_TEST

START_TEST(test_err_long_line)
{
	/* 4097 characters: one too many; the next line is still line 2 */
	char *text = malloc(8192);

	ck_assert_ptr_nonnull(text);
	text[0] = '#';
	memset(text + 1, 'x', 4096);
	strcpy(text + 4097, "\nsign maybe\n");
	conf_errors(text, 2, 1, "line longer than 4096 characters", 2,
	    "sign: \"maybe\" is not yes or no");

	/* a much longer one, with a keyword, at the end of the file */
	strcpy(text, "sign no\nsocket inet:");
	memset(text + 20, '1', 6000);
	text[6020] = '\0';
	conf_errors(text, 1, 2, "line longer than 4096 characters");
	free(text);
}
END_TEST

START_TEST(test_err_whole_file_checks)
{
	conf_errors("encrypt yes\n", 1, 0, "encrypt is on but no cert-dir or ldap-uri is set");
	conf_errors("sign yes\n", 1, 0, "sign is on but no key-dir is set");
	conf_errors("sign yes\nencrypt yes\nkey-dir @D/keys\n", 1, 0,
	    "encrypt is on but no cert-dir or ldap-uri is set");
	conf_errors("encrypt yes\nsign on\n", 2, 0,
	    "encrypt is on but no cert-dir or ldap-uri is set", 0,
	    "sign is on but no key-dir is set");
	/* every scope counts (policy_foreach_scope): nested in a <virtual-mta>, a <sender> */
	conf_errors("<virtual-mta v>\n<domain *>\nencrypt yes\n</domain>\n</virtual-mta>\n", 1, 0,
	    "encrypt is on but no cert-dir or ldap-uri is set");
	conf_errors("<sender example.com>\nsign yes\n</sender>\n", 1, 0,
	    "sign is on but no key-dir is set");
}
END_TEST

START_TEST(test_err_missing_file)
{
	struct conf *c = (struct conf *)&nmsgs;
	char path[PATH_MAX + 64], want[PATH_MAX + 128];
	int calls = 0, rc;

	snprintf(path, sizeof(path), "%s/no-such.conf", dir);
	nmsgs = 0;
	rc = conf_load(path, &c, report, &calls);
	ck_assert_int_eq(rc, 1);
	ck_assert_int_eq(calls, 1);
	ck_assert_ptr_null(c);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	ck_assert_str_eq(msgs[0], want);
}
END_TEST

START_TEST(test_err_many)
{
	char msg1[PATH_MAX + 128];

	snprintf(msg1, sizeof(msg1), "cert-dir %s/nope: No such file or directory", dir);
	conf_errors("# a file full of mistakes\n"             /* 1 */
	            "sign yes\n"                              /* 2 ok */
	            "frobnicate 1\n"                          /* 3 */
	            "hide-subject perhaps\n"                  /* 4 */
	            "encrypt yes\n"                           /* 5 ok */
	            "cert-dir @D/nope\n"                      /* 6 */
	            "\n"                                      /* 7 */
	            "cipher rot13\n"                          /* 8 */
	            "<domain example..com>\n"                 /* 9 */
	            "missing-cert maybe\n"                    /* 10 */
	            "</domain>\n"                             /* 11 */
	            "internal-hosts 10.0.0.0/8 10.0.0.0/99\n" /* 12 */
	            "digest sha1\n"                           /* 13 */
	            "spool-memory 1T\n"                       /* 14 */
	            "on-error maybe\n"                        /* 15 */
	            "socket \"unterminated\n",                /* 16 */
	    12, 3, "unknown keyword \"frobnicate\"", 4,
	    "hide-subject: \"perhaps\" is not yes or no", 6, msg1, 8,
	    "cipher: \"rot13\" is not aes-128-cbc, aes-256-cbc, aes-128-gcm or aes-256-gcm", 9,
	    "<domain example..com>: bad pattern", 10,
	    "missing-cert: \"maybe\" is not reject, tempfail, plain or sign-only",
	    /* line 11 closes the block of line 9: no "</domain> without an open <domain>" */
	    12, "internal-hosts: bad network \"10.0.0.0/99\": prefix length must be 0-32", 13,
	    "digest: \"sha1\" is not sha256, sha384 or sha512", 14,
	    "spool-memory: \"1T\" is not a size between 4k and 1024M", 15,
	    "on-error: \"maybe\" is not tempfail or reject", 16, "unterminated quote",
	    /* cert-dir was given, but it is wrong: reported above, not here */
	    0, "sign is on but no key-dir is set");
}
END_TEST

START_TEST(test_err_keyword_twice)
{
	/* globally, also with blocks between the two */
	conf_errors("cipher aes-128-cbc\nsign no\ncipher aes-256-cbc\n", 1, 3,
	    "cipher given twice in this scope (first at line 1)");
	conf_errors("sign no\n<domain a.example>\n</domain>\nSIGN no\n", 1, 4,
	    "sign given twice in this scope (first at line 1)");
	/* in one <domain>, in a <virtual-mta>, in a <domain> nested in it, in a <sender> */
	conf_errors("sign no\n"                /* 1 */
	            "<domain a.example>\n"     /* 2 */
	            "    sign no\n"            /* 3 the global one is another scope */
	            "    cipher aes-128-cbc\n" /* 4 */
	            "    cipher aes-256-cbc\n" /* 5 */
	            "</domain>\n"              /* 6 */
	            "<virtual-mta out>\n"      /* 7 */
	            "    sign no\n"            /* 8 */
	            "    <domain a.example>\n" /* 9 */
	            "        sign no\n"        /* 10 */
	            "        sign no\n"        /* 11 */
	            "    </domain>\n"          /* 12 */
	            "    sign no\n"            /* 13 */
	            "</virtual-mta>\n"         /* 14 */
	            "<sender b.example>\n"     /* 15 */
	            "    digest sha256\n"      /* 16 */
	            "    digest sha512\n"      /* 17 */
	            "</sender>\n"              /* 18 */
	            "<domain b.example>\n"     /* 19 a new block starts afresh */
	            "    cipher aes-128-cbc\n" /* 20 */
	            "</domain>\n",             /* 21 */
	    4, 5, "cipher given twice in this scope (first at line 4)", 11,
	    "sign given twice in this scope (first at line 10)", 13,
	    "sign given twice in this scope (first at line 8)", 17,
	    "digest given twice in this scope (first at line 16)");
	/* a bad first value still counts as given */
	conf_errors("on-error maybe\non-error reject\n", 2, 1,
	    "on-error: \"maybe\" is not tempfail or reject", 2,
	    "on-error given twice in this scope (first at line 1)");
}
END_TEST

START_TEST(test_err_block_twice)
{
	/* the second block is read and dropped: its lines and its end cause no more errors */
	conf_errors("<domain a.example>\n" /* 1 */
	            "    encrypt no\n"     /* 2 */
	            "</domain>\n"          /* 3 */
	            "<domain A.example>\n" /* 4 */
	            "    encrypt no\n"     /* 5 */
	            "    cipher rot13\n"   /* 6 still checked */
	            "</domain>\n"          /* 7 */
	            "encrypt no\n",        /* 8 global, not in the dropped block */
	    2, 4, "<domain A.example> appears twice (first at line 1)", 6,
	    "cipher: \"rot13\" is not aes-128-cbc, aes-256-cbc, aes-128-gcm or aes-256-gcm");
	/* <virtual-mta> twice, with nested blocks; <domain> twice inside a <virtual-mta>; <sender> */
	conf_errors("<virtual-mta out>\n"      /* 1 */
	            "    <domain x.example>\n" /* 2 */
	            "    </domain>\n"          /* 3 */
	            "    <domain x.example>\n" /* 4 */
	            "        sign no\n"        /* 5 */
	            "    </domain>\n"          /* 6 */
	            "    sign no\n"            /* 7 */
	            "</virtual-mta>\n"         /* 8 */
	            "<virtual-mta OUT>\n"      /* 9 */
	            "    sign no\n"            /* 10 */
	            "    <domain x.example>\n" /* 11 */
	            "    </domain>\n"          /* 12 */
	            "</virtual-mta>\n"         /* 13 */
	            "<sender s.example>\n"     /* 14 */
	            "</sender>\n"              /* 15 */
	            "<sender s.example>\n"     /* 16 */
	            "    sign no\n"            /* 17 */
	            "</sender>\n"              /* 18 */
	            "sign no\n",               /* 19 */
	    3, 4, "<domain x.example> appears twice (first at line 2)", 9,
	    "<virtual-mta OUT> appears twice (first at line 1)", 16,
	    "<sender s.example> appears twice (first at line 14)");
	/* a bad pattern or a missing one: the block is read and dropped likewise */
	conf_errors("<domain a..b>\n    encrypt no\n</domain>\n<domain>\n</domain>\nencrypt no\n",
	    2, 1, "<domain a..b>: bad pattern", 4, "<domain> takes exactly one pattern");
	/* a dropped block that is not closed */
	conf_errors("<domain a.example>\n</domain>\n<domain a.example>\n", 2, 3,
	    "<domain a.example> appears twice (first at line 1)", 3,
	    "<domain a.example> is not closed");
}
END_TEST

START_TEST(test_unknown_vmta)
{
	struct conf *c = conf_ok("sign no\n");

	ck_assert_int_eq(c->unknown_vmta, CONF_UNKNOWN_VMTA_TEMPFAIL); /* the default */
	ck_assert_int_eq(c->unknown_vmta_set, 0);
	conf_unref(c);
	c = conf_ok("unknown-virtual-mta PASS\n");
	ck_assert_int_eq(c->unknown_vmta, CONF_UNKNOWN_VMTA_PASS);
	ck_assert_int_eq(c->unknown_vmta_set, 1);
	conf_unref(c);
	c = conf_ok("unknown-virtual-mta reject\n");
	ck_assert_int_eq(c->unknown_vmta, CONF_UNKNOWN_VMTA_REJECT);
	conf_unref(c);
	conf_errors("unknown-virtual-mta plain\n", 1, 1,
	    "unknown-virtual-mta: \"plain\" is not pass, tempfail or reject");
	conf_errors("<virtual-mta out>\n    unknown-virtual-mta pass\n</virtual-mta>\n", 1, 2,
	    "keyword \"unknown-virtual-mta\" is not allowed in <virtual-mta>");
}
END_TEST

START_TEST(test_err_no_report_fn)
{
	struct conf *c = (struct conf *)&nmsgs;
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/two-errors.conf", dir);
	write_file(path, "foo bar\nsign yes\n");
	ck_assert_int_eq(conf_load(path, &c, NULL, NULL), 2);
	ck_assert_ptr_null(c);
}
END_TEST

/* ---- references ---- */

START_TEST(test_refcount)
{
	struct conf *c = conf_ok("socket inet:8894@127.0.0.1\ninternal-hosts 10.0.0.0/8\n");

	ck_assert_int_eq(c->refs, 1);
	ck_assert_ptr_eq(conf_ref(c), c);
	ck_assert_int_eq(c->refs, 2);
	ck_assert_ptr_eq(conf_ref(c), c);
	ck_assert_int_eq(c->refs, 3);
	conf_unref(c);
	conf_unref(c);
	/* one reference left: still whole */
	ck_assert_int_eq(c->refs, 1);
	ck_assert_str_eq(c->socket, "inet:8894@127.0.0.1");
	ck_assert_int_ne(hostlist_match_text(c->internal, "10.9.8.7"), 0);
	conf_unref(c); /* freed here: valgrind shows no leak */
	conf_unref(NULL);
}
END_TEST

/* ---- hostlist ---- */

static hostlist *hl;

static void
hl_setup(void)
{
	hl = hostlist_new();
	ck_assert_ptr_nonnull(hl);
}

static void
hl_teardown(void)
{
	hostlist_free(hl);
	hl = NULL;
}

static void
hl_add(const char *entry)
{
	char err[256] = "";

	ck_assert_msg(hostlist_add(hl, entry, err, sizeof(err)) == 0, "hostlist_add(%s): %s", entry,
	    err);
}

static void
hl_yes(const char *addr)
{
	ck_assert_msg(hostlist_match_text(hl, addr) != 0, "%s should match", addr);
}

static void
hl_no(const char *addr)
{
	ck_assert_msg(hostlist_match_text(hl, addr) == 0, "%s should not match", addr);
}

START_TEST(test_hl_ipv4_cidr)
{
	hl_add("10.0.0.0/8");
	ck_assert_uint_eq(hostlist_count(hl), 1);
	hl_yes("10.0.0.0");
	hl_yes("10.255.1.1");
	hl_yes("10.255.255.255");
	hl_no("11.0.0.1");
	hl_no("9.255.255.255");
	hl_no("110.0.0.1");
	hl_no("::a00:1");
	hl_no("not an address");
	hl_no("10.0.0.1/8");
	hl_no("");
}
END_TEST

START_TEST(test_hl_ipv4_odd_prefix)
{
	hl_add("10.128.0.0/9");
	hl_add("172.16.0.0/12");
	hl_yes("10.128.0.0");
	hl_yes("10.200.1.1");
	hl_no("10.127.255.255");
	hl_yes("172.31.255.255");
	hl_no("172.32.0.0");
	hl_no("172.15.255.255");
}
END_TEST

START_TEST(test_hl_ipv4_zero)
{
	hl_add("0.0.0.0/0");
	hl_yes("0.0.0.0");
	hl_yes("1.2.3.4");
	hl_yes("255.255.255.255");
	hl_yes("::ffff:8.8.8.8");
	/* an IPv4 network never holds a native IPv6 address */
	hl_no("::1");
	hl_no("2001:db8::1");
}
END_TEST

START_TEST(test_hl_ipv4_31_32)
{
	hl_add("192.0.2.4/31");
	hl_add("198.51.100.9/32");
	hl_add("203.0.113.77");
	hl_no("192.0.2.3");
	hl_yes("192.0.2.4");
	hl_yes("192.0.2.5");
	hl_no("192.0.2.6");
	hl_yes("198.51.100.9");
	hl_no("198.51.100.8");
	hl_no("198.51.100.10");
	hl_yes("203.0.113.77");
	hl_no("203.0.113.76");
	hl_no("203.0.113.78");
}
END_TEST

START_TEST(test_hl_ipv6)
{
	hl_add("2001:db8::/32");
	hl_add("fe80::/10");
	hl_add("::1");
	hl_yes("2001:db8::");
	hl_yes("2001:0db8:ffff:ffff:ffff:ffff:ffff:ffff");
	hl_yes("2001:db8:1::25");
	hl_no("2001:db9::1");
	hl_no("2001:db7:ffff::1");
	hl_yes("fe80::1");
	hl_yes("febf:ffff::1");
	hl_no("fec0::1");
	hl_yes("::1");
	hl_no("::2");
	hl_no("::");
	hl_no("127.0.0.1");
}
END_TEST

START_TEST(test_hl_ipv6_zero)
{
	hl_add("::/0");
	hl_yes("::");
	hl_yes("2001:db8::1");
	hl_yes("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	hl_no("10.0.0.1");
}
END_TEST

START_TEST(test_hl_ipv6_prefix_edges)
{
	hl_add("2001:db8:0:1::/127");
	hl_add("2001:db8:0:2::5/128");
	hl_yes("2001:db8:0:1::");
	hl_yes("2001:db8:0:1::1");
	hl_no("2001:db8:0:1::2");
	hl_no("2001:db8:0:0:ffff:ffff:ffff:ffff");
	hl_yes("2001:db8:0:2::5");
	hl_no("2001:db8:0:2::4");
	hl_no("2001:db8:0:2::6");
}
END_TEST

START_TEST(test_hl_mapped)
{
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;

	hl_add("127.0.0.0/8");
	hl_yes("127.0.0.1");
	hl_yes("::ffff:127.0.0.1");
	hl_yes("::FFFF:127.1.2.3");
	hl_no("::ffff:128.0.0.1");
	hl_no("::ffff:10.0.0.1");
	/* IPv4-compatible (deprecated) addresses are not IPv4 */
	hl_no("::127.0.0.1");

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(25);
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr), 1);
	ck_assert_int_ne(hostlist_match(hl, (const struct sockaddr *)&sin6), 0);
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:126.255.255.255", &sin6.sin6_addr), 1);
	ck_assert_int_eq(hostlist_match(hl, (const struct sockaddr *)&sin6), 0);
	ck_assert_int_eq(inet_pton(AF_INET6, "::1", &sin6.sin6_addr), 1);
	ck_assert_int_eq(hostlist_match(hl, (const struct sockaddr *)&sin6), 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(25);
	ck_assert_int_eq(inet_pton(AF_INET, "127.9.9.9", &sin.sin_addr), 1);
	ck_assert_int_ne(hostlist_match(hl, (const struct sockaddr *)&sin), 0);
	ck_assert_int_eq(inet_pton(AF_INET, "128.0.0.1", &sin.sin_addr), 1);
	ck_assert_int_eq(hostlist_match(hl, (const struct sockaddr *)&sin), 0);
}
END_TEST

START_TEST(test_hl_sockaddr_ipv6)
{
	struct sockaddr_in6 sin6;

	hl_add("2001:db8::/32");
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8:abcd::1", &sin6.sin6_addr), 1);
	ck_assert_int_ne(hostlist_match(hl, (const struct sockaddr *)&sin6), 0);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db9::1", &sin6.sin6_addr), 1);
	ck_assert_int_eq(hostlist_match(hl, (const struct sockaddr *)&sin6), 0);
}
END_TEST

START_TEST(test_hl_no_match_cases)
{
	struct sockaddr_un sun;

	/* empty list */
	ck_assert_uint_eq(hostlist_count(hl), 0);
	hl_no("127.0.0.1");
	hl_no("::1");
	hl_add("0.0.0.0/0");
	hl_add("::/0");
	/* neither IPv4 nor IPv6 */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_int_eq(hostlist_match(hl, (const struct sockaddr *)&sun), 0);
	ck_assert_int_eq(hostlist_match(hl, NULL), 0);
	ck_assert_int_eq(hostlist_match(NULL, (const struct sockaddr *)&sun), 0);
	hl_no("localhost");
	hl_no("1.2.3");
}
END_TEST

START_TEST(test_hl_add_errors)
{
	char err[256];

	err[0] = '\0';
	ck_assert_int_eq(hostlist_add(hl, "bogus", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "bad network \"bogus\": not an IPv4 or IPv6 address");
	err[0] = '\0';
	ck_assert_int_eq(hostlist_add(hl, "10.0.0.0/33", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "bad network \"10.0.0.0/33\": prefix length must be 0-32");
	err[0] = '\0';
	ck_assert_int_eq(hostlist_add(hl, "::/129", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "bad network \"::/129\": prefix length must be 0-128");
	err[0] = '\0';
	ck_assert_int_eq(hostlist_add(hl, "", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "bad network \"\": not an IPv4 or IPv6 address");
	err[0] = '\0';
	ck_assert_int_eq(hostlist_add(hl,
	                     "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb/64", err,
	                     sizeof(err)),
	    -1);
	ck_assert_str_eq(err,
	    "bad network \"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb/64\"");
	ck_assert_uint_eq(hostlist_count(hl), 0);
	hostlist_free(NULL);
}
END_TEST

START_TEST(test_hl_many)
{
	char entry[64];
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(entry, sizeof(entry), "10.%d.%d.0/24", i / 256, i % 256);
		hl_add(entry);
	}
	ck_assert_uint_eq(hostlist_count(hl), 200);
	hl_yes("10.0.0.1");
	hl_yes("10.0.199.254");
	hl_no("10.0.200.1");
}
END_TEST

/* ---- suite ---- */

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc;

	tc = tcase_create("valid");
	tcase_add_checked_fixture(tc, conf_setup, conf_teardown);
	tcase_add_test(tc, test_valid_all_keywords);
	tcase_add_test(tc, test_valid_defaults);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_valid_empty_file);
	tcase_add_test(tc, test_valid_booleans);
	tcase_add_test(tc, test_valid_ciphers_digests);
	tcase_add_test(tc, test_valid_spool_memory);
	tcase_add_test(tc, test_valid_sockets);
	tcase_add_test(tc, test_valid_syntax);
	tcase_add_test(tc, test_valid_longest_line);
	tcase_add_test(tc, test_valid_most_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, conf_setup, conf_teardown);
	tcase_add_test(tc, test_err_unknown_keyword);
	tcase_add_test(tc, test_err_ldap);
	tcase_add_test(tc, test_ok_ldap);
	tcase_add_test(tc, test_err_block);
	tcase_add_test(tc, test_err_value_count);
	tcase_add_test(tc, test_err_too_many_values);
	tcase_add_test(tc, test_err_bad_boolean);
	tcase_add_test(tc, test_err_bad_on_error);
	tcase_add_test(tc, test_err_bad_cipher);
	tcase_add_test(tc, test_err_bad_digest);
	tcase_add_test(tc, test_err_bad_spool_memory);
	tcase_add_test(tc, test_err_spool_memory_overflow);
	tcase_add_test(tc, test_err_bad_network);
	tcase_add_test(tc, test_err_bad_prefix);
	tcase_add_test(tc, test_err_bad_dirs);
	tcase_add_test(tc, test_err_bad_socket);
	tcase_add_test(tc, test_socket_mode_group);
	tcase_add_test(tc, test_err_unterminated_quote);
	tcase_add_test(tc, test_err_long_line);
	tcase_add_test(tc, test_err_whole_file_checks);
	tcase_add_test(tc, test_err_missing_file);
	tcase_add_test(tc, test_err_many);
	tcase_add_test(tc, test_err_keyword_twice);
	tcase_add_test(tc, test_err_block_twice);
	tcase_add_test(tc, test_unknown_vmta);
	tcase_add_test(tc, test_err_no_report_fn);
	suite_add_tcase(s, tc);

	tc = tcase_create("refcount");
	tcase_add_checked_fixture(tc, conf_setup, conf_teardown);
	tcase_add_test(tc, test_refcount);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostlist");
	tcase_add_checked_fixture(tc, hl_setup, hl_teardown);
	tcase_add_test(tc, test_hl_ipv4_cidr);
	tcase_add_test(tc, test_hl_ipv4_odd_prefix);
	tcase_add_test(tc, test_hl_ipv4_zero);
	tcase_add_test(tc, test_hl_ipv4_31_32);
	tcase_add_test(tc, test_hl_ipv6);
	tcase_add_test(tc, test_hl_ipv6_zero);
	tcase_add_test(tc, test_hl_ipv6_prefix_edges);
	tcase_add_test(tc, test_hl_mapped);
	tcase_add_test(tc, test_hl_sockaddr_ipv6);
	tcase_add_test(tc, test_hl_no_match_cases);
	tcase_add_test(tc, test_hl_add_errors);
	tcase_add_test(tc, test_hl_many);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
