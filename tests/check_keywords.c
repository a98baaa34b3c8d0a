/*
 * check_keywords.c - unit tests of the keyword table of smime-milter.conf
 * (conf.h: conf_keyword_name, conf_print_keywords) against its manual and
 * of the generic value types behind it:
 *
 *   - every keyword of the table is documented in doc/smime-milter.conf.5
 *     as a keyword entry (".TP" then ".B"/".BR"/".BI" KEYWORD), and every
 *     keyword documented there is in the table; a keyword under GLOBAL
 *     KEYWORDS is global only, one under POLICY KEYWORDS stands where the
 *     page says (marked * also in <sender>, or "only in <sender>" /
 *     "only in <domain>");
 *   - the help (smime-milter -k) lists every keyword once, with its value,
 *     its scopes and a line of help;
 *   - each value type takes good values into its field and refuses bad
 *     ones with its exact message: every choice list, every range, sizes,
 *     octal modes, files, private files, certificate files, key specs;
 *   - a line is recorded for the keywords that conf_check.h reports at.
 *
 * The manual is read from $top_srcdir (set by make check), else ".".
 * Configuration files are written at test time into a mkdtemp directory.
 */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "testdir.h"

#define MAXMSG 16
#define MAXDOC 128

static char dir[PATH_MAX];
static char conf_path[PATH_MAX + 32];
static char msgs[MAXMSG][1400];
static int nmsgs;

/* ---- the manual ---- */

struct doc_entry {
	char name[64];
	char section[32]; /* GLOBAL KEYWORDS, POLICY KEYWORDS */
	int sender;       /* marked * (also in <sender>) */
	int only_sender, only_domain;
};

static struct doc_entry doc[MAXDOC];
static int ndoc;

/* The first argument of a .B/.BR/.BI line, without quotes: the keyword of the entry. */
static int
entry_keyword(const char *line, char *out, size_t outlen)
{
	const char *s;
	size_t n;

	if (strncmp(line, ".B ", 3) == 0)
		s = line + 3;
	else if (strncmp(line, ".BR ", 4) == 0 || strncmp(line, ".BI ", 4) == 0)
		s = line + 4;
	else
		return -1;
	if (*s == '"')
		s++;
	n = strcspn(s, " \"\n");
	if (n == 0 || n >= outlen || *s == '<')
		return -1; /* blocks (<domain> ...) are not keywords */
	snprintf(out, outlen, "%.*s", (int)n, s);
	return 0;
}

/* Read every keyword entry of the manual into doc[]. */
static void
read_manual(void)
{
	const char *top = getenv("top_srcdir");
	char path[PATH_MAX], line[1024], section[32] = "";
	FILE *f;
	int after_tp = 0;
	struct doc_entry *last = NULL;

	snprintf(path, sizeof(path), "%s/doc/smime-milter.conf.5", top != NULL ? top : ".");
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	ndoc = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, ".SH ", 4) == 0) {
			snprintf(section, sizeof(section), "%.*s", (int)strcspn(line + 4, "\n"),
			    line + 4);
			last = NULL;
		} else if (after_tp) {
			char name[64];
			last = NULL;
			if (entry_keyword(line, name, sizeof(name)) == 0) {
				ck_assert_int_lt(ndoc, MAXDOC);
				last = &doc[ndoc++];
				memset(last, 0, sizeof(*last));
				snprintf(last->name, sizeof(last->name), "%s", name);
				snprintf(last->section, sizeof(last->section), "%s", section);
				last->sender = strstr(line, " *\"") != NULL;
			}
		} else if (last != NULL && strstr(line, "(only in") != NULL) {
			char next[256] = "";
			if (fgets(next, sizeof(next), f) != NULL) {
				last->only_sender = strstr(next, "<sender>") != NULL;
				last->only_domain = strstr(next, "<domain>") != NULL;
			}
		}
		after_tp = strncmp(line, ".TP", 3) == 0;
	}
	fclose(f);
	ck_assert_int_gt(ndoc, 40);
}

static const struct doc_entry *
doc_find(const char *name)
{
	int i;

	for (i = 0; i < ndoc; i++)
		if (strcmp(doc[i].name, name) == 0)
			return &doc[i];
	return NULL;
}

/* The help of every keyword, as smime-milter -k prints it. */
static char *
help_text(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	conf_print_keywords(f);
	ck_assert_int_eq(fclose(f), 0);
	return text;
}

/* The "[scopes]" of name in the help, into out. */
static void
help_scopes(const char *help, const char *name, char *out, size_t outlen)
{
	char start[80];
	const char *s, *b;

	snprintf(start, sizeof(start), "\n%.64s ", name);
	s = strncmp(help, start + 1, strlen(start + 1)) == 0 ? help : strstr(help, start);
	ck_assert_msg(s != NULL, "%s is not in the help", name);
	b = strchr(s + 1, '[');
	ck_assert_ptr_nonnull(b);
	snprintf(out, outlen, "%.*s", (int)strcspn(b + 1, "]"), b + 1);
}

START_TEST(test_table_documented)
{
	size_t i, n;
	int j;

	read_manual();
	for (n = 0; conf_keyword_name(n) != NULL; n++)
		;
	for (i = 0; conf_keyword_name(i) != NULL; i++)
		ck_assert_msg(doc_find(conf_keyword_name(i)) != NULL,
		    "keyword %s has no entry in doc/smime-milter.conf.5", conf_keyword_name(i));
	for (j = 0; j < ndoc; j++) {
		for (i = 0; conf_keyword_name(i) != NULL; i++)
			if (strcmp(conf_keyword_name(i), doc[j].name) == 0)
				break;
		ck_assert_msg(conf_keyword_name(i) != NULL,
		    "doc/smime-milter.conf.5 documents %s, which is no keyword", doc[j].name);
		ck_assert_ptr_eq(doc_find(doc[j].name), &doc[j]); /* documented once */
	}
	ck_assert_int_eq((int)n, ndoc);
}
END_TEST

START_TEST(test_table_scopes_documented)
{
	char *help = help_text(), scopes[128], want[128];
	int j;

	read_manual();
	for (j = 0; j < ndoc; j++) {
		const struct doc_entry *d = &doc[j];
		help_scopes(help, d->name, scopes, sizeof(scopes));
		if (strcmp(d->section, "GLOBAL KEYWORDS") == 0)
			snprintf(want, sizeof(want), "global");
		else if (d->only_sender)
			snprintf(want, sizeof(want), "sender");
		else if (d->only_domain)
			snprintf(want, sizeof(want), "domain");
		else
			snprintf(want, sizeof(want), "global, virtual-mta, domain%s",
			    d->sender ? ", sender" : "");
		ck_assert_msg(strcmp(scopes, want) == 0,
		    "%s (%s): the table says [%s], the manual [%s]", d->name, d->section, scopes,
		    want);
	}
	free(help);
}
END_TEST

START_TEST(test_help)
{
	char *help = help_text(), start[80];
	const char *s;
	size_t i, lines = 0;

	for (s = help; *s != '\0'; s++)
		lines += *s == '\n';
	for (i = 0; conf_keyword_name(i) != NULL; i++) {
		const char *name = conf_keyword_name(i), *at, *nl;
		snprintf(start, sizeof(start), "\n%s ", name);
		at = strncmp(help, start + 1, strlen(start + 1)) == 0 ? help - 1
		                                                      : strstr(help, start);
		ck_assert_msg(at != NULL, "%s is not in the help", name);
		ck_assert_msg(strstr(at + 1, start) == NULL, "%s is in the help twice", name);
		nl = strchr(at + 1, '\n');
		ck_assert_ptr_nonnull(nl);
		ck_assert_msg(strncmp(nl, "\n    ", 5) == 0 && nl[5] != '\n' && nl[5] != ' ',
		    "%s has no line of help", name);
	}
	ck_assert_uint_eq(lines, 2 * i);
	ck_assert_ptr_nonnull(strstr(help,
	    "\nsign yes|no  [global, virtual-mta, domain, sender]\n"
	    "    sign with the From: address's key (default no)\n"));
	ck_assert_ptr_nonnull(strstr(help, "\nldap-timeout number (1-300 seconds)  [global]\n"));
	ck_assert_ptr_nonnull(strstr(help, "\nmissing-key unsigned|tempfail|reject  [global, "));
	ck_assert_ptr_nonnull(strstr(help, "\nspool-memory size (4k-1024M)  [global]\n"));
	ck_assert_ptr_nonnull(strstr(help, "\nsigning-key file|pkcs11:URI  [sender]\n"));
	free(help);
}
END_TEST

/* ---- values ---- */

static void
report(void *arg, const char *msg)
{
	(void)arg;
	ck_assert_int_lt(nmsgs, MAXMSG);
	snprintf(msgs[nmsgs++], sizeof(msgs[0]), "%s", msg);
}

static const char *
in_dir(const char *name)
{
	return testdir_path(dir, name);
}

/* Load text ("@D": the test directory); returns the configuration or NULL. */
static struct conf *load(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct conf *
load(const char *fmt, ...)
{
	char text[4096], expanded[8192], *o = expanded;
	const char *s;
	struct conf *c = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (s = text; *s != '\0'; s++) {
		if (s[0] == '@' && s[1] == 'D') {
			o += sprintf(o, "%s", dir);
			s++;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	testdir_write(conf_path, expanded, 0600);
	nmsgs = 0;
	ck_assert_int_eq(conf_load(conf_path, &c, report, NULL), nmsgs);
	return c;
}

/* The file must be refused with exactly this one error at line. */
static void refused(int line, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refused(int line, const char *want, const char *fmt, ...)
{
	char text[4096], full[sizeof(conf_path) + 1500];
	struct conf *c;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	c = load("%s", text);
	ck_assert_ptr_null(c);
	snprintf(full, sizeof(full), "%s:%d: %s", conf_path, line, want);
	ck_assert_msg(nmsgs == 1 && strcmp(msgs[0], full) == 0,
	    "%d errors, first \"%s\", not \"%s\"", nmsgs, nmsgs > 0 ? msgs[0] : "", full);
}

static void
values_setup(void)
{
	testdir_make(dir, sizeof(dir), "check_keywords");
	snprintf(conf_path, sizeof(conf_path), "%s/test.conf", dir);
}

static void
values_teardown(void)
{
	testdir_remove(dir);
}

/* Every choice list, as the message of a bad value gives it. */
START_TEST(test_enum_messages)
{
	static const struct {
		const char *kw, *list;
	} cases[] = {
	    {"on-error", "tempfail or reject"},
	    {"unknown-virtual-mta", "pass, tempfail or reject"},
	    {"harvest-trust", "ca or any"},
	    {"missing-cert", "reject, tempfail, plain or sign-only"},
	    {"missing-key", "unsigned, tempfail or reject"},
	    {"cipher", "aes-128-cbc, aes-256-cbc, aes-128-gcm or aes-256-gcm"},
	    {"key-transport", "rsa-pkcs1 or rsa-oaep"},
	    {"digest", "sha256, sha384 or sha512"},
	    {"signature", "rsa-pkcs1 or rsa-pss"},
	    {"sign-format", "detached or opaque"},
	};
	char want[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want), "%s: \"bogus\" is not %s", cases[i].kw, cases[i].list);
		refused(2, want, "# %zu\n%s bogus\n", i, cases[i].kw);
	}
	refused(1, "harvest-require-dkim: \"2\" is not yes or no", "harvest-require-dkim 2\n");
	refused(2, "signer-address-check: \"si\" is not yes or no",
	    "<sender a.example>\nsigner-address-check si\n</sender>\n");
}
END_TEST

/* Choices in any case, into their fields. */
START_TEST(test_enum_values)
{
	struct conf *c = load("unknown-virtual-mta PASS\nharvest-trust Any\non-error REJECT\n"
	                      "<domain a.example>\nmissing-cert Sign-Only\nkey-transport rsa-oaep\n"
	                      "</domain>\n<sender b.example>\nmissing-key unsigned\n"
	                      "signature rsa-pss\nsign-format opaque\n</sender>\n");

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->unknown_vmta, CONF_UNKNOWN_VMTA_PASS);
	ck_assert_int_eq(c->unknown_vmta_set, 1);
	ck_assert_int_eq(c->harvest_trust_any, 1);
	ck_assert_int_eq(c->on_error, CONF_ON_ERROR_REJECT);
	ck_assert_int_eq(c->policy.domains[0].s.missing_cert, POLICY_MISSING_CERT_SIGN_ONLY);
	ck_assert_int_eq(c->policy.domains[0].s.key_transport, SMIME_KT_RSA_OAEP);
	ck_assert_uint_eq(c->policy.domains[0].s.set, POLICY_MISSING_CERT | POLICY_KEY_TRANSPORT);
	ck_assert_int_eq(c->policy.senders[0].s.missing_key, POLICY_MISSING_KEY_UNSIGNED);
	ck_assert_int_eq(c->policy.senders[0].s.signature, SMIME_SIG_RSA_PSS);
	ck_assert_int_eq(c->policy.senders[0].s.sign_format, SMIME_SIGN_OPAQUE);
	conf_unref(c);
}
END_TEST

/* Counts, sizes and modes: the edges of each range, and the message past them. */
START_TEST(test_ranges)
{
	struct conf *c = load("body-chunk-size 256\nwarn-expiry 3650\nldap-cache-ttl 0\n"
	                      "ldap-negative-ttl 86400\nldap-timeout 300\nspool-memory 4K\n"
	                      "socket-mode 0600\n");

	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->body_chunk, 256);
	ck_assert_int_eq(c->warn_expiry_days, 3650);
	ck_assert_int_eq(c->ldap_cache_ttl, 0);
	ck_assert_int_eq(c->ldap_negative_ttl, 86400);
	ck_assert_int_eq(c->ldap_timeout, 300);
	ck_assert_uint_eq(c->spool_memory, 4096);
	ck_assert_int_eq(c->socket_mode, 0600);
	conf_unref(c);
	c = load("body-chunk-size 65535\nspool-memory 1024m\n");
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->body_chunk, 65535);
	ck_assert_uint_eq(c->spool_memory, 1024UL * 1024 * 1024);
	conf_unref(c);
	refused(1, "body-chunk-size: \"255\" is not a number between 256 and 65535",
	    "body-chunk-size 255\n");
	refused(1, "body-chunk-size: \"65536\" is not a number between 256 and 65535",
	    "body-chunk-size 65536\n");
	refused(1, "warn-expiry: \"-1\" is not a number of days between 0 and 3650",
	    "warn-expiry -1\n");
	refused(1, "warn-expiry: \"30d\" is not a number of days between 0 and 3650",
	    "warn-expiry 30d\n");
	refused(1, "ldap-cache-ttl: \"86401\" is not a number of seconds between 0 and 86400",
	    "ldap-cache-ttl 86401\n");
	refused(1, "ldap-negative-ttl: \"x\" is not a number of seconds between 0 and 86400",
	    "ldap-negative-ttl x\n");
	refused(1, "spool-memory: \"4095\" is not a size between 4k and 1024M",
	    "spool-memory 4095\n");
	refused(1, "spool-memory: \"1025M\" is not a size between 4k and 1024M",
	    "spool-memory 1025M\n");
	refused(1, "socket-mode: \"0778\" is not an octal mode between 0000 and 0777 (e.g. 0660)",
	    "socket-mode 0778\n");
	refused(1, "socket-mode 0500: the owner must be able to read and write the socket",
	    "socket-mode 0500\n");
	refused(1, "warn-expiry takes exactly one value, 2 given", "warn-expiry 1 2\n");
	refused(1, "cert-dir takes exactly one value, 0 given", "cert-dir\n");
}
END_TEST

/* Directories, files, private files, certificate files and key specs. */
START_TEST(test_paths)
{
	char want[PATH_MAX + 200];
	struct conf *c;

	testdir_write(in_dir("pass"), "secret\n", 0600);
	testdir_write(in_dir("shared"), "secret\n", 0640);
	testdir_write(in_dir("notcert"), "not a certificate\n", 0644);
	ck_assert_int_eq(mkdir(in_dir("d"), 0700), 0);
	c = load("key-passphrase-file @D/pass\nspool-dir @D/d\n<sender a.example>\n"
	         "signing-key \"pkcs11:token=t;object=o\"\n</sender>\n");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->key_passphrase_file, in_dir("pass"));
	ck_assert_str_eq(c->spool_dir, in_dir("d"));
	ck_assert_str_eq(c->policy.senders[0].s.signing_key, "pkcs11:token=t;object=o");
	ck_assert_uint_eq(c->policy.senders[0].s.set, POLICY_SIGNING_KEY);
	ck_assert_int_eq(c->policy.senders[0].s.signing_key_line, 4);
	ck_assert_int_eq(c->lines.key_passphrase_file, 1);
	ck_assert_int_eq(c->lines.spool_dir, 2);
	conf_unref(c);
	snprintf(want, sizeof(want),
	    "key-passphrase-file %s: readable by group or others "
	    "(mode 0640): chmod 600 it",
	    in_dir("shared"));
	refused(1, want, "key-passphrase-file @D/shared\n");
	snprintf(want, sizeof(want),
	    "signing-key %s: readable by group or others (mode 0640): "
	    "chmod 600 it",
	    in_dir("shared"));
	refused(2, want, "<sender a.example>\nsigning-key @D/shared\n</sender>\n");
	snprintf(want, sizeof(want), "key-passphrase-file %s: not a regular file", in_dir("d"));
	refused(1, want, "key-passphrase-file @D/d\n");
	snprintf(want, sizeof(want), "spool-dir %s: not a directory", in_dir("pass"));
	refused(1, want, "spool-dir @D/pass\n");
	snprintf(want, sizeof(want), "harvest-dir %s: No such file or directory", in_dir("none"));
	refused(1, want, "harvest-dir @D/none\nharvest-trust any\n");
	snprintf(want, sizeof(want), "ca-file %s: not a regular file", in_dir("d"));
	refused(1, want, "ca-file @D/d\n");
	snprintf(want, sizeof(want), "domain-cert %s: not a regular file", in_dir("d"));
	refused(2, want, "<domain b.example>\ndomain-cert @D/d\n</domain>\n");
	snprintf(want, sizeof(want),
	    "signing-cert: %s holds no PEM or DER certificate "
	    "(error:0680008E:asn1 encoding routines::not enough data)",
	    in_dir("notcert"));
	refused(2, want, "<sender a.example>\nsigning-cert @D/notcert\n</sender>\n");
}
END_TEST

/* The special keywords' hooks. */
START_TEST(test_hooks)
{
	struct conf *c = load("virtual-mta-macro daemon_name\nvirtual-mta-header X-Binding\n"
	                      "ldap-uri ldap://127.0.0.1:1\nldap-base dc=example\n");

	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->vmta_macro, "{daemon_name}");
	ck_assert_str_eq(c->vmta_header, "X-Binding");
	ck_assert_int_eq(c->lines.ldap_uri, 3);
	conf_unref(c);
	c = load("virtual-mta-macro {if_name}\n");
	ck_assert_str_eq(c->vmta_macro, "{if_name}");
	conf_unref(c);
	c = load("virtual-mta-macro j\n");
	ck_assert_str_eq(c->vmta_macro, "j");
	conf_unref(c);
	refused(1, "virtual-mta-header: \"X-Bad:\" is not a header name",
	    "virtual-mta-header X-Bad:\n");
	refused(1, "pid-file: \"run/m.pid\" is not an absolute path", "pid-file run/m.pid\n");
	refused(1, "user: no such user \"no-such-user-here\"", "user no-such-user-here\n");
	refused(1, "socket-group: no such group \"no-such-group-here\"",
	    "socket-group no-such-group-here\n");
	refused(2, "ldap-base \"example\": not a DN (e.g. dc=example,dc=com)",
	    "ldap-uri ldap://h\nldap-base example\n");
}
END_TEST

static Suite *
keywords_suite(void)
{
	Suite *s = suite_create("keywords");
	TCase *tc;

	tc = tcase_create("manual");
	tcase_add_test(tc, test_table_documented);
	tcase_add_test(tc, test_table_scopes_documented);
	tcase_add_test(tc, test_help);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_checked_fixture(tc, values_setup, values_teardown);
	tcase_add_test(tc, test_enum_messages);
	tcase_add_test(tc, test_enum_values);
	tcase_add_test(tc, test_ranges);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_hooks);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(keywords_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
