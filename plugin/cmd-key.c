/* cmd-key.c: galsmime key import FILE|pkcs11:URI [--label L] | list */
#include "certs.h"

#include <string.h>
#include <unistd.h>

static int
print_identity(const gs_cert_info *ci, const char *label, int encrypted, const char *token_uri,
	       void *data)
{
	cli *c = data;

	certs_print(c, ci, NULL);
	cli_printf(c, "  label    %s\n", label ? cli_text(label, 0) : "-");
	if (token_uri)
		cli_printf(c, "  private  on a token: %s\n", cli_text(token_uri, 0));
	else
		cli_printf(c, "  private  %s\n",
			   encrypted ? "encrypted" : "NOT ENCRYPTED (imported without a passphrase)");
	return cli_out_failed(c);
}

/* The token's PIN at import from the passphrase options (without them,
 * pinentry asks, when there is a terminal or display). */
static gs_status
import_pin(void *data, const char *what, char *buf, size_t size, size_t *len)
{
	cli *c = data;
	char *pin = NULL;
	size_t n = 0;
	gs_status st;

	if (!cli_pass_configured(c))
		return GS_E_PASSPHRASE;
	st = cli_passphrase(c, &pin, &n);
	if (st == GS_OK && (!pin || n >= size))
		st = GS_E_PASSPHRASE;
	if (st == GS_OK) {
		memcpy(buf, pin, n);
		*len = n;
	}
	if (pin) {
		gs_wipe(pin, n);
		g_free(pin);
	}
	return st;
}

/* key import pkcs11:URI: the certificate on the token, the key left
 * there. The URI is shown without its query (a pin-value stays out of
 * messages). */
static int
key_import_token(cli *c, const char *uri, const char *label)
{
	char *fp = NULL, *msg = NULL, *shown = g_strndup(uri, strcspn(uri, "?"));
	int checked = 0, rc = 0;
	gs_pinentry_where w;
	/* no PIN source given: pinentry asks on this terminal (or display) */
	int ask = !cli_pass_configured(c) && cli_terminal(c, &w);
	gs_status st;

	st = gs_identity_import_token(c->store, uri, c->p11_module, label, ask ? &w : NULL, import_pin, c, &fp,
				      &checked, &msg);
	if (st != GS_OK) {
		char *full = g_strdup_printf("%s: %s", cli_text(shown, 200), msg ? msg : gs_status_string(st));
		g_free(msg);
		rc = cli_fail(c, st, full);
	} else {
		cli_note(c, "%s: identity %s imported (the key stays on the token)\n", cli_text(shown, 200), fp);
		if (!checked)
			cli_error(c, "note: no PIN given, so the key on the token is checked when first used");
	}
	g_free(fp);
	g_free(shown);
	return rc;
}

static int
key_import(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'l' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *label = NULL;
	unsigned char *data;
	size_t len, plen = 0;
	char *pass = NULL, *fp = NULL, *msg = NULL;
	int opt, rc, plain = 0;
	gs_status st;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'l')
			label = optarg;
		else if (!cli_common_option(c, opt, optarg))
			return cli_usage(c, "unknown option");
	}
	if (optind + 1 != argc)
		return cli_usage(c, "key import needs exactly one FILE");
	if (c->pass_fd == -2)
		return cli_usage(c, "--passphrase-fd needs a file descriptor number");
	if (!g_ascii_strncasecmp(argv[optind], "pkcs11:", 7))
		return key_import_token(c, argv[optind], label);
	if ((rc = cli_read_file(c, argv[optind], &data, &len)) != 0)
		return rc;
	if ((st = cli_passphrase(c, &pass, &plen)) == GS_OK)
		st = gs_identity_import(c->store, data, len, pass, plen, label, &fp, &plain, &msg);
	/* encrypted, and no source given: ask on the terminal, as openssl and
	 * gpgsm do; without one, say how to give it */
	if (st == GS_E_PASSPHRASE && !cli_pass_configured(c)) {
		if (isatty(STDIN_FILENO)) {
			char *prompt = g_strdup_printf("Passphrase for %s: ", cli_text(argv[optind], 200));

			g_clear_pointer(&msg, g_free);
			st = cli_prompt_secret(c, prompt, &pass, &plen);
			g_free(prompt);
			if (st == GS_OK)
				st = gs_identity_import(c->store, data, len, pass, plen, label, &fp, &plain, &msg);
		} else {
			char *m = g_strdup_printf("%s (--passphrase-file FILE, --passphrase-fd N, "
						  "$GALSMIME_PASSPHRASE_FILE, or run it on a terminal to be asked)",
						  msg ? msg : gs_status_string(st));
			g_free(msg);
			msg = m;
		}
	}
	gs_wipe(data, len);
	g_free(data);
	if (pass) {
		gs_wipe(pass, plen);
		g_free(pass);
	}
	if (st != GS_OK) {
		char *full = g_strdup_printf("%s: %s", argv[optind], msg ? msg : gs_status_string(st));
		g_free(msg);
		return cli_fail(c, st, full);
	}
	cli_note(c, "%s: identity %s imported\n", argv[optind], fp);
	if (plain)
		cli_error(c, "warning: %s has no passphrase, so the key is stored unencrypted",
			  argv[optind]);
	g_free(fp);
	return 0;
}

int
cmd_key(cli *c, int argc, char **argv)
{
	char *msg = NULL;
	gs_status st;

	if (argc < 2)
		return cli_usage(c, "key needs import or list");
	if (!strcmp(argv[1], "import"))
		return key_import(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list")) {
		st = gs_store_list_identities(c->store, print_identity, c, &msg);
		return st == GS_OK ? 0 : cli_fail(c, st, msg);
	}
	return cli_usage(c, "unknown key command '%s'", argv[1]);
}
