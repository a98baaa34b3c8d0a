/*
 * conf_check.c - checks of a loaded configuration against the system it
 * runs on (socket, pid-file, key files, files readable as the configured
 * user, PKCS#11 tokens).  See conf_check.h.  The token checks are in
 * conf_check_p11.c.
 *
 * Keys are parsed by the keystore's own loader (keystore_load), so
 * -n says exactly what the milter would say when it signs.  Readability
 * as `user` is tried for real: when run as root, a child process takes the
 * user's uid, gid and groups and opens every file, and reports back
 * through a pipe.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf_check.h"
#include "errmsg.h"
#include "keystore.h"

#define CHECK_MAX_FILES 4096

struct check {
	const struct conf *c;
	conf_report_fn report;
	void *arg;
	int errors;
	conf_report_fn identity_report; /* see conf_check_options; NULL: identities are errors */
};

/* One error: "FILE:LINE: message", "FILE: message" (line 0) or "message" (line -1). */
static void __attribute__((format(printf, 3, 4)))
check_error(struct check *k, int line, const char *fmt, ...)
{
	char msg[1024], out[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(out, sizeof(out), "%s:%d: %s", k->c->file, line, msg);
	else if (line == 0)
		snprintf(out, sizeof(out), "%s: %s", k->c->file, msg);
	else
		snprintf(out, sizeof(out), "%s", msg);
	k->errors++;
	if (k->report != NULL)
		k->report(k->arg, out);
}

/*
 * A problem of one signing identity: an error, or with identity_report a
 * line that does not count (mail from that sender gets missing-key).
 */
static void __attribute__((format(printf, 3, 4)))
check_identity(struct check *k, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (k->identity_report == NULL) {
		check_error(k, line, "%s", msg);
		return;
	}
	{
		char out[1400];
		snprintf(out, sizeof(out), "%s:%d: %s", k->c->file, line, msg);
		k->identity_report(k->arg, out);
	}
}

/* ---- socket ---- */

/* The directory part of path (which has a '/'), into dir. */
static void
dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash == NULL ? 0 : (size_t)(slash - path);

	if (n == 0) {
		snprintf(dir, len, "%s", slash == NULL ? "." : "/");
		return;
	}
	snprintf(dir, len, "%.*s", (int)n, path);
}

/* The directory that will hold path exists (and is one). */
static int
dir_exists(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	struct stat st;

	dir_of(path, dir, sizeof(dir));
	if (stat(dir, &st) != 0) {
		if (errno == ENOENT)
			errmsg_set(err, errlen, "directory %s does not exist", dir);
		else
			errmsg_set(err, errlen, "directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errmsg_set(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	return 0;
}

static int
check_unix_socket(const char *path, int runtime, char *err, size_t errlen)
{
	if (*path == '\0') {
		errmsg_set(err, errlen, "no path given");
		return -1;
	}
	if (*path != '/') {
		errmsg_set(err, errlen, "the path must be absolute");
		return -1;
	}
	if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		errmsg_set(err, errlen, "the path is longer than %zu characters",
		    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
		return -1;
	}
	return runtime ? dir_exists(path, err, errlen) : 0;
}

static int
host_name_ok(const char *h)
{
	const char *s;

	if (*h == '\0' || *h == '-' || *h == '.')
		return 0;
	for (s = h; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		        (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

static int
check_inet_socket(const char *rest, int family, int runtime, char *err, size_t errlen)
{
	const char *at = strchr(rest, '@');
	char port[16], host[256];
	unsigned char addr[sizeof(struct in6_addr)];
	struct addrinfo hints, *res = NULL;
	size_t plen = at != NULL ? (size_t)(at - rest) : strlen(rest), i;
	long v = 0;
	int rc;

	snprintf(port, sizeof(port), "%.*s", (int)(plen < sizeof(port) ? plen : sizeof(port) - 1),
	    rest);
	for (i = 0; i < plen && i < 6 && rest[i] >= '0' && rest[i] <= '9'; i++)
		v = v * 10 + (rest[i] - '0');
	if (plen == 0 || i != plen || v < 1 || v > 65535) {
		errmsg_set(err, errlen, "port \"%s\" is not a number between 1 and 65535", port);
		return -1;
	}
	if (at == NULL)
		return 0; /* every address */
	snprintf(host, sizeof(host), "%s", at + 1);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (inet_pton(family, host, addr) == 1)
		return 0;
	if (inet_pton(family == AF_INET ? AF_INET6 : AF_INET, host, addr) == 1) {
		errmsg_set(err, errlen, "%s is an IPv%c address: use %s", host,
		    family == AF_INET ? '6' : '4', family == AF_INET ? "inet6:" : "inet:");
		return -1;
	}
	if (!host_name_ok(host)) {
		errmsg_set(err, errlen, "host \"%s\" is not an IPv%c address or a host name", host,
		    family == AF_INET ? '4' : '6');
		return -1;
	}
	if (!runtime)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		errmsg_set(err, errlen, "host %s does not resolve to an IPv%c address: %s", host,
		    family == AF_INET ? '4' : '6', gai_strerror(rc));
		return -1;
	}
	freeaddrinfo(res);
	return 0;
}

int
conf_check_socket(const char *spec, int runtime, char *err, size_t errlen)
{
	if (strncmp(spec, "inet:", 5) == 0)
		return check_inet_socket(spec + 5, AF_INET, runtime, err, errlen);
	if (strncmp(spec, "inet6:", 6) == 0)
		return check_inet_socket(spec + 6, AF_INET6, runtime, err, errlen);
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0)
		return check_unix_socket(strchr(spec, ':') + 1, runtime, err, errlen);
	if (spec[0] == '/')
		return check_unix_socket(spec, runtime, err, errlen);
	errmsg_set(err, errlen, "expected inet:PORT@HOST, inet6:PORT@HOST or unix:PATH");
	return -1;
}

static void
check_socket(struct check *k, const struct conf_check_options *o)
{
	char err[512];

	if (o != NULL && o->socket != NULL) {
		if (conf_check_socket(o->socket, 1, err, sizeof(err)) != 0)
			check_error(k, -1, "-p \"%s\": %s", o->socket, err);
		return;
	}
	if (k->c->socket == NULL) {
		check_error(k, 0, "no socket set (keyword \"socket\" or -p SOCKET)");
		return;
	}
	if (conf_check_socket(k->c->socket, 1, err, sizeof(err)) != 0)
		check_error(k, k->c->lines.socket, "socket \"%s\": %s", k->c->socket, err);
}

static void
check_pid_file(struct check *k)
{
	char err[512], dir[4096];

	if (k->c->pid_file == NULL)
		return;
	if (dir_exists(k->c->pid_file, err, sizeof(err)) != 0) {
		check_error(k, k->c->lines.pid_file, "pid-file %s: %s", k->c->pid_file, err);
		return;
	}
	dir_of(k->c->pid_file, dir, sizeof(dir));
	if (access(dir, W_OK | X_OK) != 0)
		check_error(k, k->c->lines.pid_file,
		    "pid-file %s: directory %s is not writable: %s", k->c->pid_file, dir,
		    strerror(errno));
}

/* ---- certificate files ---- */

int
conf_check_ca_file(const char *path, char *err, size_t errlen)
{
	X509_STORE *st = X509_STORE_new();
	int ok = st != NULL && X509_STORE_load_file(st, path) == 1;

	X509_STORE_free(st);
	if (!ok) {
		errmsg_set_ssl(err, errlen, "ca-file %s: cannot load trusted certificates", path);
		return -1;
	}
	return 0;
}

int
conf_check_crl_file(const char *path, char *err, size_t errlen)
{
	BIO *bio = BIO_new_file(path, "r");
	X509_CRL *crl;
	int n = 0;

	if (bio == NULL) {
		errmsg_set_ssl(err, errlen, "crl-file %s: cannot open", path);
		return -1;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		X509_CRL_free(crl);
		n++;
	}
	ERR_clear_error();
	BIO_free(bio);
	if (n == 0) {
		errmsg_set(err, errlen, "crl-file %s holds no PEM CRL", path);
		return -1;
	}
	return 0;
}

/* ---- keys ---- */

static int
pem_only(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".pem") == 0;
}

/* Every key-dir/NAME.pem must load as the milter loads it (with key-dir/NAME.crt beside). */
static void
check_key_dir(struct check *k, const char *passfile)
{
	struct dirent **names = NULL;
	struct keystore_identity id;
	char key[4096], crt[4096], err[1024];
	int i, n;

	if (k->c->key_dir == NULL)
		return;
	n = scandir(k->c->key_dir, &names, pem_only, alphasort);
	if (n < 0) {
		check_error(k, k->c->lines.key_dir, "key-dir %s: %s", k->c->key_dir,
		    strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s/%s", k->c->key_dir, names[i]->d_name);
		snprintf(crt, sizeof(crt), "%s/%.*s.crt", k->c->key_dir,
		    (int)(strlen(names[i]->d_name) - 4), names[i]->d_name);
		struct keystore_request kq = {.spec = key,
		    .cert_path = crt,
		    .passphrase_file = passfile};
		if (keystore_load(&kq, &id, err, sizeof(err)) == KEYSTORE_FOUND)
			keystore_identity_free(&id);
		else
			check_identity(k, k->c->lines.key_dir, "key-dir: %s", err);
		free(names[i]);
	}
	free(names);
}

/* Every <sender>'s signing-key: a file loads; a token is there (and with login, the key). */
static void
check_signing_keys(struct check *k, const struct conf_check_options *o, const char *passfile)
{
	const struct policy *pol = &k->c->policy;
	struct keystore_identity id;
	char err[1024];
	size_t i;

	for (i = 0; i < pol->nsenders; i++) {
		const struct policy_settings *s = &pol->senders[i].s;
		struct keystore_request kq = {.spec = s->signing_key,
		    .passphrase_file = passfile,
		    .cert_path = (s->set & POLICY_SIGNING_CERT) ? s->signing_cert : NULL};
		int p11;
		if (!(s->set & POLICY_SIGNING_KEY) || s->signing_key == NULL)
			continue;
		p11 = strncmp(s->signing_key, "pkcs11:", 7) == 0;
		if (p11 && conf_check_pkcs11_token(s->signing_key, err, sizeof(err)) != 0) {
			check_identity(k, s->signing_key_line, "signing-key: %s", err);
			continue;
		}
		if (p11 && (o == NULL || !o->login))
			continue;
		if (keystore_load(&kq, &id, err, sizeof(err)) == KEYSTORE_FOUND)
			keystore_identity_free(&id);
		else
			check_identity(k, s->signing_key_line, "signing-key: %s", err);
	}
}

/* ---- files the milter process reads (or writes) after it has become `user` ---- */

enum need {
	NEED_READ,
	NEED_DIR_READ,
	NEED_DIR_WRITE
};

struct need_file {
	int line;       /* 0: the configuration file itself */
	const char *kw; /* the keyword naming it */
	char path[4096];
	enum need need;
};

struct need_list {
	struct need_file *v;
	size_t n, cap;
};

static void
need_add(struct need_list *l, int line, const char *kw, const char *path, enum need need)
{
	struct need_file *nv;

	if (path == NULL || l->n >= CHECK_MAX_FILES)
		return;
	if (l->n == l->cap) {
		nv = realloc(l->v, (l->cap ? l->cap * 2 : 32) * sizeof(*nv));
		if (nv == NULL)
			return;
		l->v = nv;
		l->cap = l->cap ? l->cap * 2 : 32;
	}
	l->v[l->n].line = line;
	l->v[l->n].kw = kw;
	snprintf(l->v[l->n].path, sizeof(l->v[l->n].path), "%s", path);
	l->v[l->n].need = need;
	l->n++;
}

/* key-dir/NAME.pem and the NAME.crt files beside them. */
static void
need_key_dir(struct need_list *l, const struct conf *c)
{
	struct dirent **names = NULL;
	char path[4096];
	struct stat st;
	int i, n;

	if (c->key_dir == NULL)
		return;
	need_add(l, c->lines.key_dir, "key-dir", c->key_dir, NEED_DIR_READ);
	n = scandir(c->key_dir, &names, pem_only, alphasort);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", c->key_dir, names[i]->d_name);
		need_add(l, c->lines.key_dir, "key-dir", path, NEED_READ);
		snprintf(path, sizeof(path), "%s/%.*s.crt", c->key_dir,
		    (int)(strlen(names[i]->d_name) - 4), names[i]->d_name);
		if (stat(path, &st) == 0)
			need_add(l, c->lines.key_dir, "key-dir", path, NEED_READ);
		free(names[i]);
	}
	free(names);
}

/* The decryption keys of one scope (the receiving side): read after privileges are dropped. */
static void
need_decryption(struct need_list *l, const struct policy_settings *s)
{
	if ((s->set & POLICY_DECRYPTION_KEY) && s->decryption_key != NULL &&
	    strncmp(s->decryption_key, "pkcs11:", 7) != 0)
		need_add(l, s->decryption_key_line, "decryption-key", s->decryption_key, NEED_READ);
	if ((s->set & POLICY_DECRYPTION_KEY_DIR) && s->decryption_key_dir != NULL)
		need_add(l, s->decryption_key_dir_line, "decryption-key-dir", s->decryption_key_dir,
		    NEED_DIR_READ);
}

static void
need_scopes(struct need_list *l, const struct policy_scope *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct policy_settings *s = &v[i].s;
		need_decryption(l, s);
		if ((s->set & POLICY_SIGNING_KEY) && s->signing_key != NULL &&
		    strncmp(s->signing_key, "pkcs11:", 7) != 0)
			need_add(l, s->signing_key_line, "signing-key", s->signing_key, NEED_READ);
		if ((s->set & POLICY_SIGNING_CERT) && s->signing_cert != NULL)
			need_add(l, s->signing_cert_line, "signing-cert", s->signing_cert,
			    NEED_READ);
		if ((s->set & POLICY_DOMAIN_CERT) && s->domain_cert != NULL)
			need_add(l, s->domain_cert_line, "domain-cert", s->domain_cert, NEED_READ);
		need_scopes(l, v[i].domains, v[i].ndomains);
	}
}

static void
need_collect(struct need_list *l, const struct conf *c)
{
	const struct conf_lines *w = &c->lines;

	need_add(l, 0, NULL, c->file, NEED_READ); /* read again on every reload */
	need_add(l, w->cert_dir, "cert-dir", c->cert_dir, NEED_DIR_READ);
	need_key_dir(l, c);
	need_add(l, w->key_passphrase_file, "key-passphrase-file", c->key_passphrase_file,
	    NEED_READ);
	need_add(l, w->ca_file, "ca-file", c->ca_file, NEED_READ);
	need_add(l, w->crl_file, "crl-file", c->crl_file, NEED_READ);
	need_add(l, w->harvest_dir, "harvest-dir", c->harvest_dir, NEED_DIR_WRITE);
	need_add(l, w->spool_dir, "spool-dir", c->spool_dir, NEED_DIR_WRITE);
	need_add(l, w->ldap_password_file, "ldap-password-file", c->ldap_password_file, NEED_READ);
	need_decryption(l, &c->policy.global);
	need_scopes(l, c->policy.senders, c->policy.nsenders);
	need_scopes(l, c->policy.domains, c->policy.ndomains);
	need_scopes(l, c->policy.vmtas, c->policy.nvmtas);
}

/* Try each file as the current process; one line per failure to fd. */
static void
need_try(const struct need_list *l, const char *file, const char *user, int fd)
{
	char line[8192];
	size_t i;
	int ok, f, len;

	for (i = 0; i < l->n; i++) {
		const struct need_file *e = &l->v[i];
		if (e->need == NEED_READ) {
			f = open(e->path, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
			ok = f >= 0;
			if (ok)
				close(f);
		} else {
			ok = access(e->path,
			         e->need == NEED_DIR_READ ? R_OK | X_OK : W_OK | X_OK) == 0;
		}
		if (ok)
			continue;
		/* the first character says whose problem it is: one identity's (i) or everyone's (e) */
		if (write(fd,
		        e->need == NEED_READ && e->kw != NULL &&
		                (strcmp(e->kw, "key-dir") == 0 ||
		                    strcmp(e->kw, "signing-key") == 0 ||
		                    strcmp(e->kw, "signing-cert") == 0)
		            ? "i"
		            : "e",
		        1) != 1)
			return;
		if (e->line == 0)
			len = snprintf(line, sizeof(line),
			    "%s: not readable by user %s (a reload reads it "
			    "again): %s\n",
			    file, user, strerror(errno));
		else
			len = snprintf(line, sizeof(line), "%s:%d: %s %s: not %s by user %s: %s\n",
			    file, e->line, e->kw, e->path,
			    e->need == NEED_DIR_WRITE ? "writable" : "readable", user,
			    strerror(errno));
		if (len > 0 &&
		    write(fd, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1) <
		        0)
			return;
	}
}

/* Run need_try as pw in a child; its lines come back through a pipe. */
static int
need_as_user(const struct need_list *l, const char *file, const struct passwd *pw, FILE **out)
{
	int fds[2], status;
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		if (setgid(pw->pw_gid) != 0 || initgroups(pw->pw_name, pw->pw_gid) != 0 ||
		    setuid(pw->pw_uid) != 0)
			_exit(2);
		need_try(l, file, pw->pw_name, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	*out = fdopen(fds[0], "r");
	if (*out == NULL) {
		close(fds[0]);
		waitpid(pid, &status, 0);
		return -1;
	}
	return (int)pid;
}

static void
check_readable(struct check *k)
{
	struct need_list l = {NULL, 0, 0};
	const struct passwd *pw = NULL;
	char line[8192], who[64];
	FILE *in = NULL;
	int pid = 0, status;

	if (k->c->user != NULL && geteuid() == 0 && (pw = getpwnam(k->c->user)) == NULL) {
		check_error(k, k->c->lines.user, "user: no such user \"%s\"", k->c->user);
		return;
	}
	if (pw == NULL && geteuid() == 0)
		return; /* runs as root: it can read everything */
	need_collect(&l, k->c);
	if (pw != NULL) {
		snprintf(who, sizeof(who), "%s", pw->pw_name);
		pid = need_as_user(&l, k->c->file, pw, &in);
	} else {
		const struct passwd *me = getpwuid(geteuid());
		snprintf(who, sizeof(who), "%s", me != NULL ? me->pw_name : "(this user)");
		in = tmpfile(); /* written with write(2), then read back */
		if (in != NULL) {
			need_try(&l, k->c->file, who, fileno(in));
			rewind(in);
		}
	}
	if (in == NULL || pid < 0) {
		check_error(k, k->c->lines.user, "cannot check the files as user %s: %s", who,
		    strerror(errno));
		goto cleanup;
	}
	while (fgets(line, sizeof(line), in) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == 'i' && k->identity_report != NULL) {
			k->identity_report(k->arg, line + 1);
			continue;
		}
		k->errors++;
		if (k->report != NULL)
			k->report(k->arg, line + 1);
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid &&
	    (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		check_error(k, k->c->lines.user, "cannot become user %s to check its files", who);
cleanup:
	if (in != NULL)
		fclose(in);
	free(l.v);
}

int
conf_check_runtime(const struct conf *c, const struct conf_check_options *o, conf_report_fn report,
    void *arg)
{
	struct check k = {c, report, arg, 0, o != NULL ? o->identity_report : NULL};

	check_socket(&k, o);
	check_pid_file(&k);
	check_key_dir(&k, c->key_passphrase_file);
	check_signing_keys(&k, o, c->key_passphrase_file);
	check_readable(&k);
	return k.errors;
}
