/*
 * conf_kw.c - the keyword table of smime-milter.conf, the hooks of the
 * keywords that need more than their type's checks (other than those of
 * conf_socket.c, conf_vmta.c, conf_ldap.c and conf_inbound.c), and the table's help.
 *
 * To add a keyword: a field in struct conf (global) or struct
 * policy_settings with a POLICY_* bit (scopes), an entry below, and an
 * entry in doc/smime-milter.conf.5 (tests/check_keywords.c checks that the
 * two lists agree).
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "conf_check.h"
#include "conf_int.h"
#include "mimescan.h"
#include "smime.h"

/* ---- hooks ---- */

/* ca-file and crl-file must parse (conf_check.h), so a broken one is named at its line. */
static int
hook_ca_file(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	char err[512];

	(void)c;
	(void)ps;
	(void)k;
	if (conf_check_ca_file(v->word, err, sizeof(err)) != 0) {
		conf_error(p, "%s", err);
		return -1;
	}
	return 0;
}

static int
hook_crl_file(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	char err[512];

	(void)c;
	(void)ps;
	(void)k;
	if (conf_check_crl_file(v->word, err, sizeof(err)) != 0) {
		conf_error(p, "%s", err);
		return -1;
	}
	return 0;
}

/* The choices of cipher and digest are indices into these. */
static const EVP_CIPHER *(*const ciphers[])(void) = {
    EVP_aes_128_cbc,
    EVP_aes_256_cbc,
    EVP_aes_128_gcm,
    EVP_aes_256_gcm,
};
static const EVP_MD *(*const digests[])(void) = {EVP_sha256, EVP_sha384, EVP_sha512};

static int
hook_cipher(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	(void)p;
	(void)c;
	(void)k;
	ps->cipher = ciphers[v->num]();
	return 0;
}

static int
hook_digest(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	(void)p;
	(void)c;
	(void)k;
	ps->digest = digests[v->num]();
	return 0;
}

/* ---- the table ---- */

static const struct conf_choice on_error_choices[] = {{"tempfail", CONF_ON_ERROR_TEMPFAIL},
    {"reject", CONF_ON_ERROR_REJECT}, {NULL, 0}};
static const struct conf_choice unknown_vmta_choices[] = {{"pass", CONF_UNKNOWN_VMTA_PASS},
    {"tempfail", CONF_UNKNOWN_VMTA_TEMPFAIL}, {"reject", CONF_UNKNOWN_VMTA_REJECT}, {NULL, 0}};
static const struct conf_choice on_oversize_choices[] = {{"tempfail", CONF_OVERSIZE_TEMPFAIL},
    {"reject", CONF_OVERSIZE_REJECT}, {"pass-sign-only", CONF_OVERSIZE_PASS_SIGN_ONLY}, {NULL, 0}};
static const struct conf_choice harvest_trust_choices[] = {{"ca", 0}, {"any", 1}, {NULL, 0}};
static const struct conf_choice missing_cert_choices[] = {{"reject", POLICY_MISSING_CERT_REJECT},
    {"tempfail", POLICY_MISSING_CERT_TEMPFAIL}, {"plain", POLICY_MISSING_CERT_PLAIN},
    {"sign-only", POLICY_MISSING_CERT_SIGN_ONLY}, {NULL, 0}};
static const struct conf_choice missing_key_choices[] = {{"unsigned", POLICY_MISSING_KEY_UNSIGNED},
    {"tempfail", POLICY_MISSING_KEY_TEMPFAIL}, {"reject", POLICY_MISSING_KEY_REJECT}, {NULL, 0}};
static const struct conf_choice cipher_choices[] = {{"aes-128-cbc", 0}, {"aes-256-cbc", 1},
    {"aes-128-gcm", 2}, {"aes-256-gcm", 3}, {NULL, 0}};
static const struct conf_choice digest_choices[] = {{"sha256", 0}, {"sha384", 1}, {"sha512", 2},
    {NULL, 0}};
static const struct conf_choice key_transport_choices[] = {{"rsa-pkcs1", SMIME_KT_RSA_PKCS1},
    {"rsa-oaep", SMIME_KT_RSA_OAEP}, {NULL, 0}};
static const struct conf_choice signature_choices[] = {{"rsa-pkcs1", SMIME_SIG_RSA_PKCS1},
    {"rsa-pss", SMIME_SIG_RSA_PSS}, {NULL, 0}};
static const struct conf_choice sign_format_choices[] = {{"detached", SMIME_SIGN_DETACHED},
    {"opaque", SMIME_SIGN_OPAQUE}, {NULL, 0}};
static const struct conf_choice log_level_choices[] = {{"error", LOG_ERR}, {"warning", LOG_WARNING},
    {"notice", LOG_NOTICE}, {"info", LOG_INFO}, {"debug", LOG_DEBUG}, {NULL, 0}};
static const struct conf_choice log_facility_choices[] = {{"mail", LOG_MAIL},
    {"daemon", LOG_DAEMON}, {"user", LOG_USER}, {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}, {NULL, 0}};
static const struct conf_choice mode_choices[] = {{"enforce", POLICY_MODE_ENFORCE},
    {"monitor", POLICY_MODE_MONITOR}, {NULL, 0}};
static const struct conf_choice on_undecryptable_choices[] = {{"pass", POLICY_UNDECRYPTABLE_PASS},
    {"tempfail", POLICY_UNDECRYPTABLE_TEMPFAIL}, {"reject", POLICY_UNDECRYPTABLE_REJECT},
    {NULL, 0}};

/* A field of struct conf, with its line in struct conf_lines. */
#define GLOBAL(f) \
	.to = CONF_TO_CONF, .off = offsetof(struct conf, f), .size = sizeof(((struct conf *)0)->f)
#define GLOBAL_LINE(f) GLOBAL(f), .line_off = offsetof(struct conf, lines.f)
/* A field of the scope's struct policy_settings and its POLICY_* bit. */
#define SCOPE(f, bit)                                                    \
	.to = CONF_TO_SCOPE, .off = offsetof(struct policy_settings, f), \
	.size = sizeof(((struct policy_settings *)0)->f), .set = (bit)
/* No field: the hook stores the value. */
#define SCOPE_HOOK(bit) .to = CONF_TO_SCOPE, .set = (bit)
#define ENGINE(f)       .engine_off = offsetof(struct smime_options, f)
#define RANGE(l, h)     .lo = (l), .hi = (h)

const struct conf_keyword conf_keywords[] = {
    /* the milter process */
    {.name = "socket",
        .type = CONF_T_STRING,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(socket),
        .hook = conf_socket_spec,
        .arg = "spec",
        .help = "where the MTA reaches the milter: inet:PORT@HOST, inet6:PORT@HOST, unix:PATH"},
    {.name = "socket-mode",
        .type = CONF_T_MODE,
        .where = CONF_IN_GLOBAL,
        GLOBAL(socket_mode),
        RANGE(0, 0777),
        .hook = conf_socket_mode,
        .help = "permissions of a unix socket (default 0660)"},
    {.name = "socket-group",
        .type = CONF_T_GROUP,
        .where = CONF_IN_GLOBAL,
        GLOBAL(socket_group),
        .help = "group of a unix socket (default: the primary group of user)"},
    {.name = "user",
        .type = CONF_T_USER,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(user),
        .help = "the user to run as once the socket is bound"},
    {.name = "pid-file",
        .type = CONF_T_ABS_PATH,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(pid_file),
        .help = "where the supervisor writes its process id (kill -HUP it to reload)"},
    {.name = "internal-hosts",
        .type = CONF_T_HOSTS,
        .where = CONF_IN_GLOBAL,
        GLOBAL(internal),
        .repeatable = 1,
        .help = "clients whose mail is processed (default 127.0.0.0/8 ::1)"},
    {.name = "on-error",
        .type = CONF_T_ENUM,
        .where = CONF_IN_GLOBAL,
        GLOBAL(on_error),
        .choices = on_error_choices,
        .help = "the answer to an internal failure (default tempfail: 451 4.7.0)"},
    {.name = "spool-memory",
        .type = CONF_T_SIZE,
        .where = CONF_IN_GLOBAL,
        GLOBAL(spool_memory),
        RANGE(4096, 1024L * 1024 * 1024),
        .help = "body bytes kept in memory; the rest goes to an encrypted file (default 1M)"},
    {.name = "spool-dir",
        .type = CONF_T_DIR,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(spool_dir),
        .help = "where spool files are created (default $TMPDIR or /tmp)"},
    {.name = "body-chunk-size",
        .type = CONF_T_COUNT,
        .where = CONF_IN_GLOBAL,
        GLOBAL(body_chunk),
        RANGE(256, 65535),
        .arg = "bytes",
        .help = "largest piece of the new body handed to the MTA at once (default 65535)"},
    {.name = "virtual-mta-header",
        .type = CONF_T_STRING,
        .where = CONF_IN_GLOBAL,
        GLOBAL(vmta_header),
        .hook = conf_vmta_header,
        .arg = "name",
        .help = "header naming the virtual MTA (default X-Virtual-MTA)"},
    {.name = "virtual-mta-macro",
        .type = CONF_T_STRING,
        .where = CONF_IN_GLOBAL,
        GLOBAL(vmta_macro),
        .hook = conf_vmta_macro,
        .arg = "macro",
        .help = "milter macro naming the virtual MTA, e.g. {daemon_name}"},
    {.name = "unknown-virtual-mta",
        .type = CONF_T_ENUM,
        .where = CONF_IN_GLOBAL,
        GLOBAL(unknown_vmta),
        .choices = unknown_vmta_choices,
        .hook = conf_vmta_unknown,
        .help = "a message naming a virtual MTA that no block defines (default tempfail)"},
    /* limits */
    {.name = "max-mime-depth",
        .type = CONF_T_COUNT,
        .where = CONF_IN_GLOBAL,
        GLOBAL(max_mime_depth),
        RANGE(1, MIMESCAN_DEPTH_MAX),
        .units = "levels",
        .help = "multipart and message/rfc822 nesting a message may have (default 32)"},
    {.name = "max-mime-parts",
        .type = CONF_T_COUNT,
        .where = CONF_IN_GLOBAL,
        GLOBAL(max_mime_parts),
        RANGE(1, 1000000),
        .units = "parts",
        .help = "MIME parts in one message (default 10000)"},
    {.name = "max-headers",
        .type = CONF_T_COUNT,
        .where = CONF_IN_GLOBAL,
        GLOBAL(max_headers),
        RANGE(1, 100000),
        .units = "fields",
        .help = "header fields of the message and of each MIME part (default 1000)"},
    {.name = "max-header-line",
        .type = CONF_T_SIZE,
        .where = CONF_IN_GLOBAL,
        GLOBAL(max_header_line),
        RANGE(1024, 1024L * 1024),
        .help = "bytes of one header field with its continuation lines (default 100k)"},
    {.name = "max-recipients",
        .type = CONF_T_COUNT,
        .where = CONF_IN_GLOBAL,
        GLOBAL(max_recipients),
        RANGE(1, 100000),
        .units = "recipients",
        .help = "recipients of one message; the next get 452 4.5.3 (default 1000)"},
    {.name = "max-message-size",
        .type = CONF_T_SIZE,
        .where = CONF_IN_GLOBAL,
        GLOBAL(max_message_size),
        RANGE(64 * 1024, 1024L * 1024 * 1024),
        .help = "largest message processed, headers and body (default 10240000)"},
    {.name = "on-oversize",
        .type = CONF_T_ENUM,
        .where = CONF_IN_GLOBAL,
        GLOBAL(on_oversize),
        .choices = on_oversize_choices,
        .help = "a message over max-message-size (default reject: 552 5.3.4)"},
    {.name = "message-deadline",
        .type = CONF_T_COUNT,
        .where = CONF_IN_GLOBAL,
        GLOBAL(message_deadline),
        RANGE(1, 3600),
        .units = "seconds",
        .help = "time the end of a message may take, else 451 4.3.0 (default 120)"},
    {.name = "max-connections",
        .type = CONF_T_COUNT,
        .where = CONF_IN_GLOBAL,
        GLOBAL(max_connections),
        RANGE(1, 100000),
        .units = "connections",
        .help = "MTA connections served at once; more get 451 4.3.2 (default 500)"},
    /* certificates and keys */
    {.name = "cert-dir",
        .type = CONF_T_DIR,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(cert_dir),
        .help = "recipient certificates: <address>.crt and any file naming the address"},
    {.name = "key-dir",
        .type = CONF_T_DIR,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(key_dir),
        .help = "signing identities: <address>.pem (key, certificate, chain), mode 0600"},
    {.name = "key-passphrase-file",
        .type = CONF_T_PRIVATE_FILE,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(key_passphrase_file),
        .help = "a private file whose first line opens encrypted PEM keys"},
    {.name = "ca-file",
        .type = CONF_T_FILE,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(ca_file),
        .hook = hook_ca_file,
        .help = "CA certificates that recipient and signer certificates must chain to"},
    {.name = "crl-file",
        .type = CONF_T_FILE,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(crl_file),
        .hook = hook_crl_file,
        .help = "CRLs of the CAs of ca-file"},
    {.name = "warn-expiry",
        .type = CONF_T_COUNT,
        .where = CONF_IN_GLOBAL,
        GLOBAL(warn_expiry_days),
        RANGE(0, 3650),
        .units = "days",
        .help = "warn of signing certificates that expire within this many days (default 30)"},
    {.name = "allow-core-dumps",
        .type = CONF_T_BOOL,
        .where = CONF_IN_GLOBAL,
        GLOBAL(allow_core_dumps),
        .help = "let the milter dump core (it may hold plaintext and keys; default no)"},
    {.name = "harvest-dir",
        .type = CONF_T_WRITABLE_DIR,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(harvest_dir),
        .help = "where verified signers' certificates of mail from outside are stored"},
    {.name = "harvest-trust",
        .type = CONF_T_ENUM,
        .where = CONF_IN_GLOBAL,
        GLOBAL(harvest_trust_any),
        .choices = harvest_trust_choices,
        .help = "harvested certificates must chain to ca-file (ca, the default) or not (any)"},
    {.name = "harvest-require-dkim",
        .type = CONF_T_BOOL,
        .where = CONF_IN_GLOBAL,
        GLOBAL(harvest_require_dkim),
        .help = "harvest only with dkim=pass for the From: domain (default no)"},
    {.name = "authserv-id",
        .type = CONF_T_STRING,
        .where = CONF_IN_GLOBAL,
        GLOBAL(authserv_id),
        .arg = "name",
        .help = "whose Authentication-Results count for harvest-require-dkim"},
    /* the LDAP directory */
    {.name = "ldap-uri",
        .type = CONF_T_STRING,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(ldap_uri),
        .hook = conf_ldap_uri,
        .arg = "uri",
        .help = "directory of recipient certificates: ldap://, ldaps:// or ldapi://"},
    {.name = "ldap-base",
        .type = CONF_T_DN,
        .where = CONF_IN_GLOBAL,
        GLOBAL(ldap_base),
        .help = "base DN of the certificate search"},
    {.name = "ldap-filter",
        .type = CONF_T_STRING,
        .where = CONF_IN_GLOBAL,
        GLOBAL(ldap_filter),
        .hook = conf_ldap_filter,
        .arg = "filter",
        .help = "search filter, %s standing for the address (default (mail=%s))"},
    {.name = "ldap-bind-dn",
        .type = CONF_T_STRING,
        .where = CONF_IN_GLOBAL,
        GLOBAL(ldap_bind_dn),
        .arg = "dn",
        .help = "DN to bind as (default: anonymous)"},
    {.name = "ldap-password-file",
        .type = CONF_T_PRIVATE_FILE,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(ldap_password_file),
        .help = "a private file whose first line is the bind password"},
    {.name = "ldap-timeout",
        .type = CONF_T_COUNT,
        .where = CONF_IN_GLOBAL,
        GLOBAL(ldap_timeout),
        RANGE(1, 300),
        .units = "seconds",
        .help = "how long to wait for the directory (default 5)"},
    {.name = "ldap-cache-ttl",
        .type = CONF_T_COUNT,
        .where = CONF_IN_GLOBAL,
        GLOBAL(ldap_cache_ttl),
        RANGE(0, 86400),
        .units = "seconds",
        .help = "how long a certificate found is kept (default 300)"},
    {.name = "ldap-negative-ttl",
        .type = CONF_T_COUNT,
        .where = CONF_IN_GLOBAL,
        GLOBAL(ldap_negative_ttl),
        RANGE(0, 86400),
        .units = "seconds",
        .help = "how long an address without certificate is remembered (default 60)"},
    /* operating it */
    {.name = "metrics-listen",
        .type = CONF_T_STRING,
        .where = CONF_IN_GLOBAL,
        GLOBAL_LINE(metrics_listen),
        .hook = conf_ops_metrics_listen,
        .arg = "address:port",
        .help = "serve the Prometheus metrics there, e.g. 127.0.0.1:9894 (default: none)"},
    {.name = "metrics-public",
        .type = CONF_T_BOOL,
        .where = CONF_IN_GLOBAL,
        GLOBAL(metrics_public),
        .help = "allow a metrics-listen address outside loopback (default no)"},
    {.name = "log-level",
        .type = CONF_T_ENUM,
        .where = CONF_IN_GLOBAL,
        GLOBAL(log_level),
        .choices = log_level_choices,
        .help = "the least severe lines logged (default info)"},
    {.name = "log-facility",
        .type = CONF_T_ENUM,
        .where = CONF_IN_GLOBAL,
        GLOBAL(log_facility),
        .choices = log_facility_choices,
        .help = "the syslog facility (default mail)"},
    {.name = "monitor-header",
        .type = CONF_T_BOOL,
        .where = CONF_IN_GLOBAL,
        GLOBAL(monitor_header),
        .help = "mode monitor adds X-SMIME-Milter-Would: what would have been done (default no)"},
    /* policy */
    {.name = "mode",
        .type = CONF_T_ENUM,
        .where = CONF_IN_POLICY,
        SCOPE(mode, POLICY_MODE),
        .choices = mode_choices,
        .help = "enforce (the default), or monitor: decide, log and count, change nothing"},
    {.name = "sign",
        .type = CONF_T_BOOL,
        .where = CONF_IN_POLICY | CONF_IN_SENDER,
        SCOPE(sign, POLICY_SIGN),
        .help = "sign with the From: address's key (default no)"},
    {.name = "encrypt",
        .type = CONF_T_BOOL,
        .where = CONF_IN_POLICY,
        SCOPE(encrypt, POLICY_ENCRYPT),
        .help = "encrypt to every recipient's certificate (default no)"},
    {.name = "missing-cert",
        .type = CONF_T_ENUM,
        .where = CONF_IN_POLICY,
        SCOPE(missing_cert, POLICY_MISSING_CERT),
        .choices = missing_cert_choices,
        .help = "a recipient without a usable certificate (default reject: 550 5.7.1)"},
    {.name = "missing-key",
        .type = CONF_T_ENUM,
        .where = CONF_IN_POLICY | CONF_IN_SENDER,
        SCOPE(missing_key, POLICY_MISSING_KEY),
        .choices = missing_key_choices,
        .help = "a sender without a usable signing key (default tempfail: 451 4.7.0)"},
    {.name = "cipher",
        .type = CONF_T_ENUM,
        .where = CONF_IN_POLICY,
        SCOPE_HOOK(POLICY_CIPHER),
        .choices = cipher_choices,
        .hook = hook_cipher,
        .help = "content encryption (default aes-256-cbc)"},
    {.name = "key-transport",
        .type = CONF_T_ENUM,
        .where = CONF_IN_POLICY,
        SCOPE(key_transport, POLICY_KEY_TRANSPORT),
        .choices = key_transport_choices,
        ENGINE(key_transport),
        .help = "how the content key reaches RSA recipients"},
    {.name = "digest",
        .type = CONF_T_ENUM,
        .where = CONF_IN_POLICY | CONF_IN_SENDER,
        SCOPE_HOOK(POLICY_DIGEST),
        .choices = digest_choices,
        .hook = hook_digest,
        .help = "digest of signatures (default sha256)"},
    {.name = "signature",
        .type = CONF_T_ENUM,
        .where = CONF_IN_POLICY | CONF_IN_SENDER,
        SCOPE(signature, POLICY_SIGNATURE),
        .choices = signature_choices,
        ENGINE(signature),
        .help = "RSA signature scheme (default rsa-pkcs1)"},
    {.name = "sign-format",
        .type = CONF_T_ENUM,
        .where = CONF_IN_POLICY | CONF_IN_SENDER,
        SCOPE(sign_format, POLICY_SIGN_FORMAT),
        .choices = sign_format_choices,
        ENGINE(sign_format),
        .help = "multipart/signed (detached, the default) or signed-data (opaque)"},
    {.name = "header-protection",
        .type = CONF_T_BOOL,
        .where = CONF_IN_POLICY,
        SCOPE(header_protection, POLICY_HEADER_PROTECTION),
        ENGINE(header_protection),
        .help = "RFC 9788: the inner entity carries the original headers (default no)"},
    {.name = "hide-subject",
        .type = CONF_T_BOOL,
        .where = CONF_IN_POLICY,
        SCOPE(hide_subject, POLICY_HIDE_SUBJECT),
        .help = "with header protection and encryption, the outer Subject is [...]"},
    {.name = "encrypt-to-sender",
        .type = CONF_T_BOOL,
        .where = CONF_IN_POLICY | CONF_IN_SENDER,
        SCOPE(encrypt_to_sender, POLICY_ENCRYPT_TO_SENDER),
        .help = "also encrypt to the signer's own certificate (default no)"},
    {.name = "domain-cert",
        .type = CONF_T_CERT_FILE,
        .where = CONF_IN_DOMAIN,
        SCOPE(domain_cert, POLICY_DOMAIN_CERT),
        .line_off = offsetof(struct policy_settings, domain_cert_line),
        .help = "a gateway certificate for recipients of the domain without their own"},
    {.name = "signing-key",
        .type = CONF_T_KEY,
        .where = CONF_IN_SENDER,
        SCOPE(signing_key, POLICY_SIGNING_KEY),
        .line_off = offsetof(struct policy_settings, signing_key_line),
        .help = "the signing identity of matching From: addresses"},
    {.name = "signing-cert",
        .type = CONF_T_CERT_FILE,
        .where = CONF_IN_SENDER,
        SCOPE(signing_cert, POLICY_SIGNING_CERT),
        .line_off = offsetof(struct policy_settings, signing_cert_line),
        .help = "certificate and chain of a signing-key that does not hold them"},
    {.name = "signer-address-check",
        .type = CONF_T_BOOL,
        .where = CONF_IN_SENDER,
        SCOPE(signer_address_check, POLICY_SIGNER_ADDRESS_CHECK),
        .help = "the signing certificate must name the From: address (default yes)"},
    /* the receiving side: mail from outside (conf_inbound.c) */
    {.name = "decrypt",
        .type = CONF_T_BOOL,
        .where = CONF_IN_POLICY,
        SCOPE(decrypt, POLICY_DECRYPT),
        .help = "open mail from outside encrypted to a key we hold (default no)"},
    {.name = "verify",
        .type = CONF_T_BOOL,
        .where = CONF_IN_POLICY,
        SCOPE(verify, POLICY_VERIFY),
        .help = "check signatures of mail from outside, in Authentication-Results (default no)"},
    {.name = "unwrap-opaque",
        .type = CONF_T_BOOL,
        .where = CONF_IN_POLICY,
        SCOPE(unwrap_opaque, POLICY_UNWRAP_OPAQUE),
        .help = "opaque signed-data from outside becomes its content (default no)"},
    {.name = "on-undecryptable",
        .type = CONF_T_ENUM,
        .where = CONF_IN_POLICY,
        SCOPE(on_undecryptable, POLICY_ON_UNDECRYPTABLE),
        .choices = on_undecryptable_choices,
        .help = "encrypted mail from outside that no key opens (default pass)"},
    {.name = "decryption-key",
        .type = CONF_T_KEY,
        .where = CONF_IN_POLICY,
        SCOPE(decryption_key, POLICY_DECRYPTION_KEY),
        .line_off = offsetof(struct policy_settings, decryption_key_line),
        .hook = conf_inbound_decryption_key,
        .help = "a gateway key (with its certificate) that opens mail to the scope's recipients"},
    {.name = "decryption-key-dir",
        .type = CONF_T_DIR,
        .where = CONF_IN_POLICY,
        SCOPE(decryption_key_dir, POLICY_DECRYPTION_KEY_DIR),
        .line_off = offsetof(struct policy_settings, decryption_key_dir_line),
        .help = "recipients' own decryption identities: <address>.pem, mode 0600"},
    {.name = "harvest-ldap",
        .type = CONF_T_BOOL,
        .where = CONF_IN_GLOBAL,
        GLOBAL(harvest_ldap),
        .help = "also store harvested certificates in the LDAP directory (default no)"},
    {.name = "harvest-ldap-base",
        .type = CONF_T_DN,
        .where = CONF_IN_GLOBAL,
        GLOBAL(harvest_ldap_base),
        .help = "where harvested certificates are stored in the directory (default ldap-base)"},
};
const size_t conf_nkeywords = sizeof(conf_keywords) / sizeof(conf_keywords[0]);

/* ---- help ---- */

const char *
conf_keyword_name(size_t i)
{
	return i < conf_nkeywords ? conf_keywords[i].name : NULL;
}

/* The value of k as help shows it: "yes|no", "tempfail|reject", "seconds (1-300)" ... */
static void
value_text(const struct conf_keyword *k, char *out, size_t outlen)
{
	static const char *const names[] = {"yes|no", "", "number", "size", "mode", "word",
	    "directory", "file", "file", "file", "file|pkcs11:URI", "network...|file:path", "path",
	    "name", "group", "dn", "directory"};
	size_t i, used;

	snprintf(out, outlen, "%s", k->arg != NULL ? k->arg : names[k->type]);
	if (k->type == CONF_T_ENUM) {
		for (i = 0; k->choices[i].name != NULL; i++) {
			used = strlen(out);
			snprintf(out + used, outlen - used, "%s%s", i ? "|" : "",
			    k->choices[i].name);
		}
	} else if (k->type == CONF_T_COUNT) {
		used = strlen(out);
		snprintf(out + used, outlen - used, " (%ld-%ld%s%s)", k->lo, k->hi,
		    k->units ? " " : "", k->units ? k->units : "");
	} else if (k->type == CONF_T_MODE) {
		used = strlen(out);
		snprintf(out + used, outlen - used, " (octal %04lo-%04lo)", (unsigned long)k->lo,
		    (unsigned long)k->hi);
	} else if (k->type == CONF_T_SIZE) {
		used = strlen(out);
		snprintf(out + used, outlen - used, " (%ldk-%ldM)", k->lo / 1024,
		    k->hi / (1024 * 1024));
	}
}

/* The scopes where k may stand: "global, virtual-mta, domain, sender". */
static void
scope_text(const struct conf_keyword *k, char *out, size_t outlen)
{
	static const struct {
		int bit;
		const char *name;
	} scopes[] = {{CONF_IN_GLOBAL, "global"}, {CONF_IN_VMTA, "virtual-mta"},
	    {CONF_IN_DOMAIN, "domain"}, {CONF_IN_SENDER, "sender"}};
	size_t i, used;

	out[0] = '\0';
	for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		if (!(k->where & scopes[i].bit))
			continue;
		used = strlen(out);
		snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", scopes[i].name);
	}
}

void
conf_print_keywords(FILE *out)
{
	char value[256], scopes[64];
	size_t i;

	for (i = 0; i < conf_nkeywords; i++) {
		const struct conf_keyword *k = &conf_keywords[i];
		value_text(k, value, sizeof(value));
		scope_text(k, scopes, sizeof(scopes));
		fprintf(out, "%s %s  [%s]\n    %s\n", k->name, value, scopes, k->help);
	}
}
