/*
 * certindex_scan.c - reading certificate files for the index: each file's
 * certificates (PEM blocks or one DER), and a light walk over each
 * certificate's DER that takes its addresses, CA flag and notBefore
 * without decoding its key.  See certindex_int.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certindex_int.h"
#include "errmsg.h"
#include "mime.h"

#define CI_MAX_FILE  (4 * 1024 * 1024)
#define CI_MAX_NAMES 64

void
ci_normalise(char *addr)
{
	char *at = strrchr(addr, '@');

	if (at != NULL)
		for (; *at != '\0'; at++)
			*at = (char)((*at >= 'A' && *at <= 'Z') ? *at + 32 : *at);
}

/* The address a file is named after, or NULL ("bob@x.example.crt" -> "bob@x.example"). */
static char *
ci_file_address(const char *name)
{
	static const char *const exts[] = {".crt", ".pem", ".cer", ".der"};
	size_t n = strlen(name), i, el;
	char out[320];

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		el = strlen(exts[i]);
		if (n > el && strcasecmp(name + n - el, exts[i]) == 0 && n - el < sizeof(out)) {
			memcpy(out, name, n - el);
			out[n - el] = '\0';
			ci_normalise(out);
			return mime_address_is_safe(out) ? strdup(out) : NULL;
		}
	}
	return NULL;
}

/* ---- the light walk over a certificate ---- */

/* Step into (enter) or over the next TLV at *p before end; 0, or -1. */
static int
ci_tlv(const unsigned char **p, const unsigned char *end, int enter, int *tag, int *cls)
{
	const unsigned char *q = *p;
	long len;
	int r = ASN1_get_object(&q, &len, tag, cls, end - *p);

	if ((r & 0x80) || len < 0 || len > end - q)
		return -1;
	*p = enter ? q : q + len;
	return 0;
}

static void
ci_name_add(char **names, size_t *n, const unsigned char *s, int len)
{
	char buf[320];
	size_t i;

	if (len <= 0 || (size_t)len >= sizeof(buf) || memchr(s, '\0', (size_t)len) != NULL ||
	    *n + 1 >= CI_MAX_NAMES)
		return; /* an embedded NUL names nobody */
	memcpy(buf, s, (size_t)len);
	buf[len] = '\0';
	ci_normalise(buf);
	for (i = 0; i < *n; i++)
		if (strcmp(names[i], buf) == 0)
			return;
	if ((names[*n] = strdup(buf)) != NULL)
		(*n)++;
}

/* subjectAltName rfc822Names and basicConstraints cA of one Extension. */
static void
ci_extension(const unsigned char *p, long len, char **names, size_t *n, int *ca, int *keycertsign)
{
	X509_EXTENSION *ext = d2i_X509_EXTENSION(NULL, &p, len);
	int nid, i;

	if (ext == NULL)
		return;
	nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
	if (nid == NID_subject_alt_name) {
		GENERAL_NAMES *gens = X509V3_EXT_d2i(ext);
		for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
			if (g->type == GEN_EMAIL)
				ci_name_add(names, n, ASN1_STRING_get0_data(g->d.rfc822Name),
				    ASN1_STRING_length(g->d.rfc822Name));
		}
		GENERAL_NAMES_free(gens);
	} else if (nid == NID_basic_constraints) {
		BASIC_CONSTRAINTS *bc = X509V3_EXT_d2i(ext);
		*ca = bc != NULL && bc->ca;
		BASIC_CONSTRAINTS_free(bc);
	} else if (nid == NID_key_usage) {
		ASN1_BIT_STRING *ku = X509V3_EXT_d2i(ext);
		*keycertsign = ku != NULL && ASN1_BIT_STRING_get_bit(ku, 5);
		ASN1_BIT_STRING_free(ku);
	}
	X509_EXTENSION_free(ext);
}

/*
 * Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version OPTIONAL, serial,
 * signature, issuer, validity, subject, spki, [1], [2], [3] extensions } ... }
 * 0 with c filled (end-entity), 1 for a CA, -1 when it does not parse.
 */
static int
ci_light(const unsigned char *der, long len, struct ci_cert *c)
{
	const unsigned char *p = der, *end = der + len, *tbs_end, *q, *s;
	char *names[CI_MAX_NAMES];
	size_t n = 0;
	int tag, cls, i, ca = -1, kcs = 0, rc = -1;
	long l;
	X509_NAME *subj = NULL;
	ASN1_TIME *nb = NULL;
	struct tm tm;

	if (ci_tlv(&p, end, 1, &tag, &cls) != 0) /* Certificate */
		return -1;
	q = p; /* tbsCertificate, and where it ends */
	if ((ASN1_get_object(&q, &l, &tag, &cls, end - p) & 0x80) || l < 0 || l > end - q)
		return -1;
	tbs_end = q + l;
	p = q;
	q = p;
	if (ci_tlv(&q, tbs_end, 0, &tag, &cls) == 0 && cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0)
		p = q;          /* version */
	for (i = 0; i < 3; i++) /* serial, signature, issuer */
		if (ci_tlv(&p, tbs_end, 0, &tag, &cls) != 0)
			return -1;
	q = p; /* validity: notBefore first */
	if (ci_tlv(&q, tbs_end, 1, &tag, &cls) != 0 || ci_tlv(&p, tbs_end, 0, &tag, &cls) != 0)
		return -1;
	nb = d2i_ASN1_TIME(NULL, &q, p - q);
	s = p; /* subject */
	if (nb == NULL || ci_tlv(&p, tbs_end, 0, &tag, &cls) != 0 ||
	    (subj = d2i_X509_NAME(NULL, &s, p - s)) == NULL)
		goto done;
	if (ci_tlv(&p, tbs_end, 0, &tag, &cls) != 0) /* spki */
		goto done;
	while (p < tbs_end) { /* [1] issuerUID, [2] subjectUID, [3] extensions */
		q = p;
		if (ci_tlv(&q, tbs_end, 0, &tag, &cls) != 0 || cls != V_ASN1_CONTEXT_SPECIFIC)
			break;
		if (tag == 3) { /* EXPLICIT SEQUENCE OF Extension */
			const unsigned char *e = p, *eend = q;
			if (ci_tlv(&e, eend, 1, &tag, &cls) != 0 ||
			    ci_tlv(&e, eend, 1, &tag, &cls) != 0)
				goto done;
			while (e < eend) {
				const unsigned char *x = e;
				if (ci_tlv(&e, eend, 0, &tag, &cls) != 0)
					goto done;
				ci_extension(x, e - x, names, &n, &ca, &kcs);
			}
		}
		p = q;
	}
	for (i = -1; (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) >= 0;) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		ci_name_add(names, &n, ASN1_STRING_get0_data(d), ASN1_STRING_length(d));
	}
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(nb, &tm) != 1)
		goto done;
	if (ca == 1 || (ca == -1 && kcs)) {
		rc = 1; /* a CA in the file is chain, not a recipient */
		goto done;
	}
	c->not_before = timegm(&tm);
	c->names = calloc(n + 1, sizeof(*c->names));
	if (c->names == NULL)
		goto done;
	memcpy(c->names, names, n * sizeof(*names));
	n = 0;
	rc = 0;
done:
	while (n > 0)
		free(names[--n]);
	X509_NAME_free(subj);
	ASN1_TIME_free(nb);
	return rc;
}

/* ---- reading a file ---- */

/* The whole file at dirfd/name (checked against st), or NULL. */
static unsigned char *
ci_read(int dirfd, const char *path, const struct stat *want, size_t *len)
{
	unsigned char *buf;
	struct stat st;
	size_t got = 0;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CI_MAX_FILE ||
	    (want != NULL &&
	        (st.st_ino != want->st_ino || st.st_size != want->st_size ||
	            st.st_mtim.tv_sec != want->st_mtim.tv_sec ||
	            st.st_mtim.tv_nsec != want->st_mtim.tv_nsec)) ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return buf;
}

typedef int (*ci_der_fn)(void *arg, int k, const unsigned char *der, long len);

/* Each certificate block of buf (PEM), or buf itself (DER), in order. */
static void
ci_each_der(const unsigned char *buf, size_t len, ci_der_fn fn, void *arg)
{
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen;
	int k = 0;

	while (bio != NULL && PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
		int stop = 0;
		if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0)
			stop = fn(arg, k++, data, dlen) != 0;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (stop)
			break;
	}
	ERR_clear_error();
	BIO_free(bio);
	if (k == 0 && len > 0 && buf[0] == 0x30)
		(void)fn(arg, 0, buf, (long)len);
}

static int
ci_scan_one(void *arg, int k, const unsigned char *der, long len)
{
	struct ci_file *f = arg;
	struct ci_cert c, *nc;

	memset(&c, 0, sizeof(c));
	if (ci_light(der, len, &c) != 0)
		return 0;
	nc = realloc(f->certs, (f->ncerts + 1) * sizeof(*nc));
	if (nc == NULL) {
		char **p;
		for (p = c.names; *p != NULL; p++)
			free(*p);
		free(c.names);
		return 0;
	}
	c.file = f;
	c.k = k;
	f->certs = nc;
	f->certs[f->ncerts++] = c;
	return 0;
}

struct ci_file *
ci_file_read(int dirfd, const char *dir, const char *name, const struct stat *st)
{
	struct ci_file *f = calloc(1, sizeof(*f));
	unsigned char *buf;
	size_t len = 0, i;

	if (f == NULL)
		return NULL;
	f->name = strdup(name);
	f->path = malloc(strlen(dir) + strlen(name) + 2);
	if (f->name == NULL || f->path == NULL) {
		ci_file_free(f);
		return NULL;
	}
	sprintf(f->path, "%s/%s", dir, name);
	f->faddr = ci_file_address(name);
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	f->ctime = st->st_ctim;
	buf = ci_read(dirfd, name, st, &len);
	if (buf != NULL)
		ci_each_der(buf, len, ci_scan_one, f);
	free(buf);
	for (i = 0; i < f->ncerts; i++)
		f->certs[i].file = f; /* realloc moved them */
	return f;
}

void
ci_file_free(struct ci_file *f)
{
	size_t i;
	char **p;

	if (f == NULL)
		return;
	for (i = 0; i < f->ncerts; i++) {
		for (p = f->certs[i].names; p != NULL && *p != NULL; p++)
			free(*p);
		free(f->certs[i].names);
		X509_free(f->certs[i].x);
	}
	free(f->certs);
	free(f->name);
	free(f->path);
	free(f->faddr);
	free(f);
}

static int
ci_collect(void *arg, int k, const unsigned char *der, long len)
{
	X509 *x = d2i_X509(NULL, &der, len);

	(void)k;
	if (x == NULL || !sk_X509_push(arg, x))
		X509_free(x);
	return 0;
}

STACK_OF(X509) *
ci_load_file(const struct ci_file *f)
{
	STACK_OF(X509) *sk;
	unsigned char *buf;
	struct stat st;
	size_t len = 0;

	memset(&st, 0, sizeof(st));
	st.st_ino = f->ino;
	st.st_size = f->size;
	st.st_mtim = f->mtime;
	buf = ci_read(AT_FDCWD, f->path, &st, &len);
	if (buf == NULL)
		return NULL;
	sk = sk_X509_new_null();
	if (sk != NULL)
		ci_each_der(buf, len, ci_collect, sk);
	free(buf);
	ERR_clear_error();
	return sk;
}
