/*
 * ldappublish.c - write a harvested certificate to the directory: one
 * entry per address, added, or updated when a later certificate comes.
 * See ldappublish.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldap.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "ldappublish.h"
#include "errmsg.h"
#include "mime.h"

struct publish {
	const char *dn, *addr;
	X509 *cert;
	struct berval p7;
	int written;
};

int
ldappublish_dn(const char *base, const char *addr, char *out, size_t outlen)
{
	size_t o = 0;
	const char *s;

	if (outlen < 6)
		return -1;
	memcpy(out, "mail=", 5);
	o = 5;
	for (s = addr; *s != '\0'; s++) {
		int special = strchr(",+\"\\<>;=", *s) != NULL ||
		    (s == addr && (*s == '#' || *s == ' ')) || (s[1] == '\0' && *s == ' ');
		if (o + 3 >= outlen)
			return -1;
		if (special)
			out[o++] = '\\';
		out[o++] = *s;
	}
	if (o + 1 + strlen(base) + 1 > outlen)
		return -1;
	snprintf(out + o, outlen - o, ",%s", base);
	return 0;
}

/* The certs-only PKCS#7 (DER) of cert and chain.  Caller frees with OPENSSL_free.  -1 on failure. */
static int
certs_only(X509 *cert, STACK_OF(X509) *chain, unsigned char **der)
{
	PKCS7 *p7 = PKCS7_new();
	int i, n = -1;

	*der = NULL;
	if (p7 == NULL || !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data) || !PKCS7_add_certificate(p7, cert))
		goto cleanup;
	for (i = 0; i < sk_X509_num(chain); i++)
		if (!PKCS7_add_certificate(p7, sk_X509_value(chain, i)))
			goto cleanup;
	n = i2d_PKCS7(p7, der);
cleanup:
	PKCS7_free(p7);
	ERR_clear_error();
	return n;
}

/* Does the entry already hold cert or a later one?  LDAP result code; *keep set. */
static int
entry_is_newer(LDAP *ld, const struct publish *p, int *keep, char *err, size_t errlen)
{
	char *attrs[] = {"userSMIMECertificate", NULL};
	struct timeval tv = {10, 0};
	LDAPMessage *res = NULL, *e;
	struct berval **vals;
	int rc, i;

	*keep = 0;
	rc = ldap_search_ext_s(ld, p->dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
	    &tv, 1, &res);
	if (rc != LDAP_SUCCESS) {
		errmsg_set(err, errlen, "read %s: %s", p->dn, ldap_err2string(rc));
		ldap_msgfree(res);
		return rc;
	}
	e = ldap_first_entry(ld, res);
	vals = e != NULL ? ldap_get_values_len(ld, e, "userSMIMECertificate") : NULL;
	for (i = 0; vals != NULL && vals[i] != NULL && !*keep; i++) {
		STACK_OF(X509) *sk =
		    ldapstore_parse_smime((unsigned char *)vals[i]->bv_val, vals[i]->bv_len);
		int j;
		for (j = 0; j < sk_X509_num(sk) && !*keep; j++) {
			X509 *x = sk_X509_value(sk, j);
			*keep = X509_cmp(x, p->cert) == 0 ||
			    (X509_check_ca(x) == 0 &&
			        ASN1_TIME_compare(X509_get0_notBefore(x),
			            X509_get0_notBefore(p->cert)) > 0);
		}
		sk_X509_pop_free(sk, X509_free);
	}
	ldap_value_free_len(vals);
	ldap_msgfree(res);
	return LDAP_SUCCESS;
}

/* ldapstore_conn_fn: add the entry, or update the one another node added first. */
static int
publish_conn(void *vld, void *arg, char *err, size_t errlen)
{
	LDAP *ld = vld;
	struct publish *p = arg;
	char *oc[] = {"inetOrgPerson", NULL}, *name[] = {(char *)p->addr, NULL};
	struct berval *cert[] = {&p->p7, NULL};
	LDAPMod m_oc = {.mod_op = LDAP_MOD_ADD,
	    .mod_type = "objectClass",
	    .mod_vals.modv_strvals = oc};
	LDAPMod m_cn = {.mod_op = LDAP_MOD_ADD, .mod_type = "cn", .mod_vals.modv_strvals = name};
	LDAPMod m_sn = {.mod_op = LDAP_MOD_ADD, .mod_type = "sn", .mod_vals.modv_strvals = name};
	LDAPMod m_mail = {.mod_op = LDAP_MOD_ADD,
	    .mod_type = "mail",
	    .mod_vals.modv_strvals = name};
	LDAPMod m_cert = {.mod_op = LDAP_MOD_ADD | LDAP_MOD_BVALUES,
	    .mod_type = "userSMIMECertificate",
	    .mod_vals.modv_bvals = cert};
	LDAPMod *add[] = {&m_oc, &m_cn, &m_sn, &m_mail, &m_cert, NULL}, *rep[] = {&m_cert, NULL};
	int rc, keep;

	rc = ldap_add_ext_s(ld, p->dn, add, NULL, NULL);
	if (rc == LDAP_SUCCESS) {
		p->written = 1;
		return rc;
	}
	if (rc != LDAP_ALREADY_EXISTS) {
		errmsg_set(err, errlen, "add %s: %s", p->dn, ldap_err2string(rc));
		return rc;
	}
	/* the entry is there (harvested before, or by another node just now) */
	if ((rc = entry_is_newer(ld, p, &keep, err, errlen)) != LDAP_SUCCESS || keep)
		return rc;
	m_cert.mod_op = LDAP_MOD_REPLACE | LDAP_MOD_BVALUES;
	rc = ldap_modify_ext_s(ld, p->dn, rep, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		errmsg_set(err, errlen, "modify %s: %s", p->dn, ldap_err2string(rc));
		return rc;
	}
	p->written = 1;
	return rc;
}

int
ldappublish_store(ldapstore *ls, const char *base, const char *addr, X509 *cert,
    STACK_OF(X509) *chain, char *err, size_t errlen)
{
	struct publish p = {NULL, addr, cert, {0, NULL}, 0};
	unsigned char *der = NULL;
	char dn[1024];
	int n, rc;

	if (!mime_address_is_safe(addr) || ldappublish_dn(base, addr, dn, sizeof(dn)) != 0) {
		errmsg_set(err, errlen, "address %s cannot be stored in LDAP", addr);
		return -1;
	}
	n = certs_only(cert, chain, &der);
	if (n <= 0) {
		errmsg_set(err, errlen, "cannot encode the certificate of %s", addr);
		return -1;
	}
	p.dn = dn;
	p.p7.bv_val = (char *)der;
	p.p7.bv_len = (ber_len_t)n;
	rc = ldapstore_with_conn(ls, publish_conn, &p, err, errlen);
	OPENSSL_free(der);
	if (rc != 0)
		return -1;
	ldapstore_forget(ls, addr);
	return p.written;
}
