/* cmd-mutt.c: galsmime mutt SUBCOMMAND: what mutt's classic
 * $smime_*_command settings expect (see plugin/mutt/smime.rc and
 * FIELD-NOTES), on galsmime's store, with no openssl commands:
 *
 *   decrypt %f            DER in %f; a complete MIME entity on stdout, or nothing
 *   verify %s %f          detached DER signature %s over the entity in %f
 *   verify-opaque %s      the entity inside the DER %s on stdout
 *   sign [--digest %d] %c %f
 *                         DER detached signature of %f (LF -> CRLF first) by the
 *                         identity whose certificate is %c; %d must be sha256
 *   encrypt %f %c...      DER enveloped-data of %f (LF -> CRLF) to the
 *                         certificate files %c
 *   pk7out %f             the signature of the message in %f, PEM PKCS7
 *   get-cert %f           the certificates of the PKCS7 in %f, PEM
 *   get-signer-cert %f %c the signer's certificate of the message %f, into %c
 *   get-cert-email %f     the addresses of the certificate in %f
 *   import-cert %f        add the certificates in %f to the store
 *   sync-index DIR [--keys KEYDIR]
 *
 * mutt writes the passphrase (and a newline) on the stdin of sign and
 * decrypt, also for keys without one, and the label on import-cert's:
 * stdin is read to its end unless it is a terminal. For verify, the
 * FIRST line of stderr is "Verification successful" exactly when the
 * signature is good (mutt's test), followed by who signed. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int m_usage(cli *c);

static int
read_file(cli *c, const char *path, GByteArray **out)
{
	unsigned char *data;
	size_t len;
	int rc = cli_read_file(c, path, &data, &len);

	if (rc == 0)
		*out = g_byte_array_new_take(data, len);
	return rc;
}

/* Write `path` in place (truncate, write, close), never by a temporary
 * file and a rename: mutt opens %c before running the command and reads
 * the certificate back through the descriptor it already holds. */
static int
write_in_place(cli *c, const char *path, const void *data, size_t len)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		cli_error(c, "%s: %s", path, g_strerror(errno));
		return EXIT_IOERR;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cli_error(c, "%s: %s", path, g_strerror(n < 0 ? errno : EIO));
			close(fd);
			return EXIT_IOERR;
		}
		p += n;
		len -= (size_t) n;
	}
	if (close(fd) != 0) {
		cli_error(c, "%s: %s", path, g_strerror(errno));
		return EXIT_IOERR;
	}
	return 0;
}

/* mutt's passphrase: the first line of stdin, written by mutt for sign
 * and decrypt even when the key has none. Unless another source is
 * configured, stdin is the passphrase source. When stdin is not a
 * terminal it is read now and then drained to its end, so that mutt's
 * write never blocks nor meets a closed pipe (SIGPIPE); a terminal is
 * only read if a key turns out to need it. */
static void
take_stdin(cli *c, int passphrase)
{
	char buf[4096];
	ssize_t n;

	if (passphrase && !c->pass_file && !c->pass_env_file && c->pass_fd < 0)
		c->pass_fd = STDIN_FILENO;
	if (isatty(STDIN_FILENO))
		return;
	if (passphrase && c->pass_fd == STDIN_FILENO) {
		char *p = NULL;
		size_t len = 0;
		cli_passphrase(c, &p, &len);
		if (p) {
			gs_wipe(p, len);
			g_free(p);
		}
	}
	while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0)
		if (n < 0 && errno != EINTR)
			break;
	gs_wipe(buf, sizeof buf);
}

static void
print_signers(cli *c, const gs_report *r)
{
	size_t i;

	for (i = 0; i < gs_report_signer_count(r); i++) {
		const gs_signer *s = gs_report_signer(r, i);
		char *nb = cli_time(s->cert.not_before), *na = cli_time(s->cert.not_after);
		char *st = cli_signed_at(s->signing_time);

		/* names and addresses come from the sender's certificate:
		 * printable, so that no CR or escape sequence can redraw the
		 * verdict line on mutt's screen or a terminal */
		if (s->have_cert) {
			char *who = gs_cert_info_addresses(&s->cert);
			fprintf(stderr, "%s signature from %s <%s>\n",
				s->status == GS_SIG_GOOD ? "Good" : "BAD",
				cli_text(s->cert.common_name ? s->cert.common_name : s->cert.subject, 256),
				who ? who : "no address");
			fprintf(stderr, "  fingerprint (SHA-256): %s\n  issuer: %s\n  valid %s to %s; %s\n",
				s->cert.sha256, cli_text(s->cert.issuer, 512), nb, na, st);
			g_free(who);
		}
		if (s->status != GS_SIG_GOOD) {
			char *w = gs_reasons_string(s->reasons);
			fprintf(stderr, "  problem: %s%s%s%s\n", w, s->detail ? " (" : "",
				s->detail ? cli_text(s->detail, 512) : "", s->detail ? ")" : "");
			g_free(w);
		}
		g_free(nb);
		g_free(na);
		g_free(st);
	}
}

/* mutt's verdict is the first line of stderr */
static int
verdict(cli *c, const gs_report *r)
{
	int good = gs_report_status(r) == GS_SIG_GOOD;

	if (good) {
		fprintf(stderr, "Verification successful\n");
	} else {
		unsigned reasons = gs_report_reasons(r);
		size_t i;
		char *w;

		for (i = 0; i < gs_report_signer_count(r); i++)
			reasons |= gs_report_signer(r, i)->reasons;
		w = gs_reasons_string(reasons);
		fprintf(stderr, "Verification FAILED%s%s\n", *w ? ": " : "", w);
		g_free(w);
	}
	print_signers(c, r);
	return good ? 0 : EXIT_VERIFY_BAD;
}

/* A signature that could not be examined: mutt's "not good" line */
static int
verify_failed(cli *c, gs_status st, char *msg)
{
	fprintf(stderr, "Verification FAILED: %s\n", msg ? cli_text(msg, 1024) : gs_status_string(st));
	g_free(msg);
	return EXIT_VERIFY_BAD;
}

static int
m_verify(cli *c, int argc, char **argv)
{
	GByteArray *sig = NULL, *content = NULL, *canon;
	gs_report *r = NULL;
	char *msg = NULL;
	gs_status st;
	int rc;

	if (argc != 3)
		return m_usage(c);
	if ((rc = read_file(c, argv[1], &sig)) || (rc = read_file(c, argv[2], &content)))
		goto out;
	/* the signature covers the canonical (CRLF) form: mutt writes it so,
	 * and openssl smime -verify (mutt's smime.rc) converts bare LFs too */
	canon = gs_crlf_canon(content->data, content->len);
	g_byte_array_unref(content);
	content = canon;
	st = gs_raw_verify(c->session, sig->data, sig->len, content->data, content->len, NULL, &r, &msg);
	if (st != GS_OK) {
		rc = verify_failed(c, st, msg);
		goto out;
	}
	rc = verdict(c, r);
out:
	gs_report_free(r);
	if (sig)
		g_byte_array_unref(sig);
	if (content)
		g_byte_array_unref(content);
	return rc;
}

static int
m_verify_opaque(cli *c, int argc, char **argv)
{
	GByteArray *sig = NULL, *inner = NULL, *lf;
	gs_report *r = NULL;
	char *msg = NULL;
	gs_status st;
	int rc;

	take_stdin(c, 0);
	if (argc != 2)
		return m_usage(c);
	if ((rc = read_file(c, argv[1], &sig)))
		return rc;
	st = gs_raw_verify(c->session, sig->data, sig->len, NULL, 0, &inner, &r, &msg);
	g_byte_array_unref(sig);
	if (st != GS_OK)
		return verify_failed(c, st, msg);
	/* the content is shown whatever the verdict, as openssl does: the
	 * verdict line tells mutt and the reader what it is worth */
	lf = gs_crlf_strip(inner->data, inner->len);
	rc = cli_write(c, lf->data, lf->len);
	g_byte_array_unref(lf);
	g_byte_array_unref(inner);
	if (rc == 0)
		rc = cli_flush(c);
	if (rc == 0)
		rc = verdict(c, r);
	gs_report_free(r);
	return rc;
}

static int
m_decrypt(cli *c, int argc, char **argv)
{
	GByteArray *der = NULL, *plain = NULL, *lf = NULL;
	gs_report *r = NULL;
	char *msg = NULL;
	gs_status st;
	int rc;

	take_stdin(c, 1);
	if (argc < 2)
		return m_usage(c);
	if ((rc = read_file(c, argv[1], &der)))
		return rc;
	st = gs_raw_decrypt(c->session, der->data, der->len, &plain, &r, &msg);
	g_byte_array_unref(der);
	if (st != GS_OK)
		return cli_fail(c, st, msg);
	if (plain->len)
		cli_warn_unauthenticated(c, r);
	gs_report_free(r);
	st = gs_mutt_entity(plain->data, plain->len, &lf, &msg);
	gs_wipe(plain->data, plain->len);
	g_byte_array_unref(plain);
	if (st != GS_OK)
		return cli_fail(c, st, msg);
	rc = cli_write(c, lf->data, lf->len);
	gs_wipe(lf->data, lf->len);
	g_byte_array_unref(lf);
	return rc;
}

/* The identity named by mutt's %c: the certificate file of the key to
 * sign with ($smime_certificates/$smime_default_key, written by
 * sync-index), as its SHA-256 fingerprint. NULL when there is no such
 * file: then the store's only identity signs. */
static int
signer_from_certfile(cli *c, const char *path, char **fingerprint)
{
	GByteArray *a = NULL;
	char *msg = NULL;
	gs_status st;
	int rc;

	*fingerprint = NULL;
	if (access(path, F_OK) != 0)
		return 0;
	if ((rc = read_file(c, path, &a)))
		return rc;
	st = gs_cert_fingerprint(a->data, a->len, fingerprint, &msg);
	g_byte_array_unref(a);
	if (st == GS_E_MALFORMED) {
		g_free(msg);
		cli_error(c, "%s: not a certificate", path);
		return EXIT_DATAERR;
	}
	return st == GS_OK ? 0 : cli_fail(c, st, msg);
}

static int
m_sign(cli *c, int argc, char **argv)
{
	GByteArray *in = NULL, *canon, *der = NULL;
	char *msg = NULL, *signer = NULL;
	const char *digest = NULL;
	gs_status st;
	int rc;

	take_stdin(c, 1);
	if (argc == 5 && !strcmp(argv[1], "--digest")) {
		digest = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc != 3)
		return m_usage(c);
	/* mutt writes micalg from $smime_sign_digest_alg: it must be true */
	if (digest && g_ascii_strcasecmp(digest, "sha256") && g_ascii_strcasecmp(digest, "sha-256")) {
		cli_error(c, "galsmime signs with SHA-256: set smime_sign_digest_alg=\"sha256\" (not %s)",
			  digest);
		return EXIT_USAGE;
	}
	if ((rc = signer_from_certfile(c, argv[1], &signer)))
		goto out;
	if ((rc = read_file(c, argv[2], &in)))
		goto out;
	canon = gs_crlf_canon(in->data, in->len);
	st = gs_raw_sign(c->session, signer, canon->data, canon->len, 1, &der, &msg);
	g_byte_array_unref(canon);
	if (st != GS_OK) {
		rc = cli_fail(c, st, msg);
		goto out;
	}
	rc = cli_write(c, der->data, der->len);
out:
	g_free(signer);
	if (in)
		g_byte_array_unref(in);
	if (der)
		g_byte_array_unref(der);
	return rc;
}

static int
m_encrypt(cli *c, int argc, char **argv)
{
	GPtrArray *files = g_ptr_array_new_with_free_func((GDestroyNotify) g_byte_array_unref);
	GByteArray *in = NULL, *der = NULL, *canon;
	unsigned flags = 0;
	char *msg = NULL;
	gs_status st;
	int rc, i;

	if (argc > 1 && !strcmp(argv[1], "--allow-untrusted")) {
		flags |= GS_RESOLVE_ALLOW_UNTRUSTED;
		argv++;
		argc--;
	}
	if (argc < 3) {
		g_ptr_array_free(files, TRUE);
		return m_usage(c);
	}
	if ((rc = read_file(c, argv[1], &in)))
		goto out;
	for (i = 2; i < argc; i++) {
		GByteArray *a;
		if ((rc = read_file(c, argv[i], &a)))
			goto out;
		g_ptr_array_add(files, a);
	}
	/* the entity goes out in canonical form (CRLF), as openssl cms
	 * -encrypt in mutt's smime.rc writes it; mutt adds your own
	 * certificate itself ($smime_self_encrypt). mutt chose the
	 * certificates from its .index, which may be older than the store
	 * or written by hand: each is judged again, as galsmime encrypt
	 * judges (revoked, untrusted, expired, wrong purpose: exit 67) */
	canon = gs_crlf_canon(in->data, in->len);
	st = gs_raw_encrypt(c->session, files, NULL, 1, flags, GS_CIPHER_AES256_CBC, 0, canon->data,
			    canon->len, &der, &msg);
	gs_wipe(canon->data, canon->len);
	g_byte_array_unref(canon);
	if (st != GS_OK) {
		rc = cli_fail(c, st, msg);
		goto out;
	}
	rc = cli_write(c, der->data, der->len);
out:
	if (in)
		g_byte_array_unref(in);
	if (der)
		g_byte_array_unref(der);
	g_ptr_array_free(files, TRUE);
	return rc;
}

static int
parse_message_file(cli *c, const char *path, GMimeMessage **m)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		cli_error(c, "%s: %s", path, g_strerror(errno));
		return EXIT_IOERR;
	}
	dup2(fd, STDIN_FILENO);
	close(fd);
	return cli_parse_message(c, m);
}

static int
message_signature(cli *c, const char *path, GByteArray **der)
{
	GMimeMessage *m = NULL;
	char *msg = NULL;
	gs_status st;
	int rc;

	if ((rc = parse_message_file(c, path, &m)) != 0)
		return rc;
	st = gs_message_signature(m, der, &msg);
	g_object_unref(m);
	return st == GS_OK ? 0 : cli_fail(c, st, msg);
}

static int
m_pk7out(cli *c, int argc, char **argv)
{
	GByteArray *der = NULL;
	char *pem;
	int rc;

	if (argc != 2)
		return m_usage(c);
	if ((rc = message_signature(c, argv[1], &der)))
		return rc;
	pem = gs_pem_armour("PKCS7", der->data, der->len);
	g_byte_array_unref(der);
	rc = cli_write(c, pem, strlen(pem));
	g_free(pem);
	return rc;
}

static int
m_get_cert(cli *c, int argc, char **argv)
{
	GByteArray *a = NULL;
	char *pem = NULL, *msg = NULL;
	gs_status st;
	int rc;

	if (argc != 2)
		return m_usage(c);
	if ((rc = read_file(c, argv[1], &a)))
		return rc;
	st = gs_raw_certs(a->data, a->len, 0, &pem, &msg);
	g_byte_array_unref(a);
	if (st != GS_OK)
		return cli_fail(c, st, msg);
	rc = cli_write(c, pem, strlen(pem));
	g_free(pem);
	return rc;
}

/* mutt's sender check (smime_verify_sender: mutt 2.2.12 smime.c 1292,
 * neomutt ncrypt/smime.c) runs this on the message (headers and all),
 * then get-cert-email on %c, and calls the signature verified when a
 * line it prints begins with the From address: strncasecmp over From's
 * length (mutt smime.c 985-990 smime_handle_cert_email; neomutt
 * mutt_istr_startswith, 2026 smime.c 752). A certificate for
 * bob@example.org.evil.example would pass as bob@example.org. So %c is
 * written only when every signer's certificate names the From address
 * exactly (gs_message_signer_certs); otherwise it stays empty, mutt
 * shows this line and "certificate owner does not match sender". */
static int
m_get_signer_cert(cli *c, int argc, char **argv)
{
	GMimeMessage *m = NULL;
	char *pem = NULL, *msg = NULL;
	gs_status st;
	int rc;

	if (argc != 3)
		return m_usage(c);
	if ((rc = parse_message_file(c, argv[1], &m)))
		return rc;
	st = gs_message_signer_certs(m, &pem, &msg);
	g_object_unref(m);
	if (st != GS_OK)
		return cli_fail(c, st, msg);
	rc = write_in_place(c, argv[2], pem, strlen(pem));
	g_free(pem);
	return rc;
}

static int
m_get_cert_email(cli *c, int argc, char **argv)
{
	GByteArray *a = NULL;
	char **emails = NULL, **e, *msg = NULL;
	gs_status st;
	int rc, printed = 0;

	if (argc != 2)
		return m_usage(c);
	if ((rc = read_file(c, argv[1], &a)))
		return rc;
	st = gs_raw_cert_emails(a->data, a->len, &emails, &msg);
	g_byte_array_unref(a);
	if (st != GS_OK)
		return cli_fail(c, st, msg);
	/* mutt reads each line into 256 bytes (mutt smime.c 940, neomutt
	 * `char email[256]`) and compares every piece with From as a prefix:
	 * only plain mailboxes of at most 254 octets, whole on one line */
	for (e = emails; rc == 0 && *e; e++) {
		if (!gs_mutt_mailbox_ok(*e))
			continue;
		printed++;
		rc = cli_write(c, *e, strlen(*e));
		if (rc == 0)
			rc = cli_write(c, "\n", 1);
	}
	g_strfreev(emails);
	if (rc == 0 && !printed) {
		cli_error(c, "%s: no address mutt can compare (none, or none a plain mailbox)",
			  cli_text(argv[1], 256));
		rc = EXIT_VERIFY_BAD;
	}
	return rc;
}

static int
m_import_cert(cli *c, int argc, char **argv)
{
	gs_import_stats stats;
	GByteArray *a = NULL;
	char *msg = NULL;
	gs_status st;
	int rc;

	take_stdin(c, 0); /* the label, with $smime_ask_cert_label */
	if (argc != 2)
		return m_usage(c);
	if ((rc = read_file(c, argv[1], &a)))
		return rc;
	st = gs_store_import_certs(c->store, a->data, a->len, "mutt", GS_ROLE_CORRESPONDENT, &stats, &msg);
	g_byte_array_unref(a);
	if (st != GS_OK)
		return cli_fail(c, st, msg);
	cli_note(c, "%u certificates new, %u known\n", stats.certs_new, stats.certs_known);
	return cli_after_store_change(c);
}


static int
m_sync_index(cli *c, int argc, char **argv)
{
	const char *keydir = NULL;

	if (argc == 4 && !strcmp(argv[2], "--keys"))
		keydir = argv[3];
	else if (argc != 2)
		return m_usage(c);
	return cli_mutt_sync_index(c, argv[1], keydir, 0);
}

static const struct {
	const char *name;
	const char *cmd;          /* for messages: "galsmime mutt encrypt: ..." */
	const char *synopsis;
	int (*run)(cli *c, int argc, char **argv);
} mutt_commands[] = {
	{ "decrypt", "mutt decrypt", "DERFILE", m_decrypt },
	{ "verify", "mutt verify", "SIGFILE CONTENTFILE", m_verify },
	{ "verify-opaque", "mutt verify-opaque", "SIGFILE", m_verify_opaque },
	{ "sign", "mutt sign", "[--digest ALG] CERTFILE CONTENTFILE", m_sign },
	{ "encrypt", "mutt encrypt", "[--allow-untrusted] CONTENTFILE CERTFILE...", m_encrypt },
	{ "pk7out", "mutt pk7out", "MESSAGEFILE", m_pk7out },
	{ "get-cert", "mutt get-cert", "PKCS7FILE", m_get_cert },
	{ "get-signer-cert", "mutt get-signer-cert", "MESSAGEFILE OUTFILE", m_get_signer_cert },
	{ "get-cert-email", "mutt get-cert-email", "CERTFILE", m_get_cert_email },
	{ "import-cert", "mutt import-cert", "CERTFILE", m_import_cert },
	{ "sync-index", "mutt sync-index", "CERTDIR [--keys KEYDIR]", m_sync_index },
};

/* The synopsis of the running subcommand, as a usage error. */
static int
m_usage(cli *c)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(mutt_commands); i++)
		if (c->cmd == mutt_commands[i].cmd)
			return cli_usage(c, "arguments: %s", mutt_commands[i].synopsis);
	return cli_usage(c, "mutt needs a subcommand");
}

int
cmd_mutt(cli *c, int argc, char **argv)
{
	char *msg = NULL;
	gs_status st;
	size_t i;

	if (argc < 2)
		return cli_usage(c, "mutt needs a subcommand");
	for (i = 0; i < G_N_ELEMENTS(mutt_commands); i++)
		if (!strcmp(argv[1], mutt_commands[i].name)) {
			c->cmd = mutt_commands[i].cmd;
			if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
				cli_printf(c, "usage: galsmime %s %s\n", c->cmd, mutt_commands[i].synopsis);
				return cli_flush(c);
			}
			if ((st = cli_open_session(c, &msg)) != GS_OK)
				return cli_fail(c, st, msg);
			return mutt_commands[i].run(c, argc - 1, argv + 1);
		}
	return cli_usage(c, "unknown mutt command '%s'", argv[1]);
}
