/*
 * conf_check_p11.c - is the PKCS#11 token of a "pkcs11:" signing-key
 * there?  Checked without logging in: no PIN is read or used.
 *
 * The milter reaches tokens through OpenSSL's pkcs11 engine (libp11),
 * which loads the modules p11-kit has registered.  This checks the same
 * two things: the engine loads and starts, and one of p11-kit's modules
 * loads and has an initialised token matching the URI's token attributes
 * (token, manufacturer, serial, model; none: any token).  Both are set up
 * for the check and torn down again, so a process that forks afterwards
 * (the daemon) starts its children with no PKCS#11 state.
 *
 * OpenSSL 3 deprecates the ENGINE API; see keystore_pkcs11.c.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "conf_check.h"
#include "errmsg.h"
#include "keystore_pkcs11.h"

#define P11C_MAX_URI 4096

/* The token attributes of uri's path, as a URI of their own ("pkcs11:" when none). */
static int
token_uri(const char *uri, char *out, size_t outlen)
{
	static const char *const attrs[] = {"token=", "manufacturer=", "serial=", "model=", NULL};
	const char *p = uri + 7, *end = p + strcspn(p, "?");
	size_t used;
	int i;

	if ((size_t)snprintf(out, outlen, "pkcs11:") >= outlen)
		return -1;
	while (p < end) {
		size_t len = strcspn(p, ";?");
		for (i = 0; attrs[i] != NULL; i++) {
			if (len < strlen(attrs[i]) || strncmp(p, attrs[i], strlen(attrs[i])) != 0)
				continue;
			used = strlen(out);
			if ((size_t)snprintf(out + used, outlen - used, "%s%.*s",
			        used > 7 ? ";" : "", (int)len, p) >= outlen - used)
				return -1;
		}
		p += len + (p[len] == ';');
	}
	return 0;
}

/* The engine loads and starts (then is let go again). */
static int
engine_loads(const char *shown, char *err, size_t errlen)
{
	ENGINE *e = ENGINE_by_id("pkcs11");

	if (e == NULL) {
		errmsg_set_ssl(err, errlen,
		    "%s: the OpenSSL pkcs11 engine is not available (install libengine-pkcs11-openssl)",
		    shown);
		return -1;
	}
	if (ENGINE_ctrl_cmd_string(e, "QUIET", NULL, 1) != 1)
		ERR_clear_error();
	if (!ENGINE_init(e)) {
		errmsg_set_ssl(err, errlen, "%s: the OpenSSL pkcs11 engine does not start", shown);
		ENGINE_free(e);
		return -1;
	}
	ENGINE_finish(e);
	ENGINE_free(e);
	return 0;
}

/* Nonzero when one of module's initialised tokens matches pu. */
static int
module_has_token(CK_FUNCTION_LIST *m, P11KitUri *pu)
{
	CK_SLOT_ID *slots = NULL;
	CK_TOKEN_INFO info;
	CK_ULONG n = 0, i;
	int found = 0;

	if (m->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK || n == 0)
		return 0;
	slots = calloc(n, sizeof(*slots));
	if (slots == NULL || m->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		goto cleanup;
	for (i = 0; i < n && !found; i++)
		found = m->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
		    (info.flags & CKF_TOKEN_INITIALIZED) && p11_kit_uri_match_token_info(pu, &info);
cleanup:
	free(slots);
	return found;
}

int
conf_check_pkcs11_token(const char *uri, char *err, size_t errlen)
{
	char shown[P11C_MAX_URI], tok[P11C_MAX_URI];
	CK_FUNCTION_LIST **mods = NULL;
	P11KitUri *pu = NULL;
	int rc = -1, found = 0, i;

	keystore_pkcs11_display_uri(uri, shown, sizeof(shown));
	if (token_uri(uri, tok, sizeof(tok)) != 0) {
		errmsg_set(err, errlen, "%s: URI too long", shown);
		return -1;
	}
	if (engine_loads(shown, err, errlen) != 0)
		return -1;
	pu = p11_kit_uri_new();
	if (pu == NULL) {
		errmsg_set(err, errlen, "%s: out of memory", shown);
		return -1;
	}
	i = p11_kit_uri_parse(tok, P11_KIT_URI_FOR_TOKEN, pu);
	if (i != P11_KIT_URI_OK) {
		errmsg_set(err, errlen, "%s: bad token attributes: %s", shown,
		    p11_kit_uri_message(i));
		goto cleanup;
	}
	mods = p11_kit_modules_load_and_initialize(0);
	if (mods == NULL || mods[0] == NULL) {
		const char *why = p11_kit_message();
		errmsg_set(err, errlen, "%s: no PKCS#11 module registered with p11-kit loads%s%s",
		    shown, why != NULL ? ": " : "", why != NULL ? why : "");
		goto cleanup;
	}
	for (i = 0; mods[i] != NULL && !found; i++)
		found = module_has_token(mods[i], pu);
	if (!found) {
		errmsg_set(err, errlen,
		    "%s: no such token: no PKCS#11 module registered with p11-kit has an initialised "
		    "token matching \"%s\"",
		    shown, tok[7] != '\0' ? tok + 7 : "(any)");
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (mods != NULL)
		p11_kit_modules_finalize_and_release(mods);
	p11_kit_uri_free(pu);
	return rc;
}
