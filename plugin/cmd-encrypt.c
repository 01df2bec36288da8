/* cmd-encrypt.c: galsmime encrypt [--sign] [--to ADDR]... [--cipher C]
 * [--oaep] [--no-self] < MSG > ENCRYPTED. Fails closed: when a recipient
 * has no usable certificate nothing is written and each one is named. */
#include "cli.h"

#include <string.h>

int
cmd_encrypt(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sign", no_argument, NULL, 's' },
		{ "opaque", no_argument, NULL, 'O' },
		{ "to", required_argument, NULL, 't' },
		{ "cipher", required_argument, NULL, 'c' },
		{ "oaep", no_argument, NULL, 'o' },
		{ "no-self", no_argument, NULL, 'n' },
		{ "from", required_argument, NULL, 'f' },
		{ "allow-untrusted", no_argument, NULL, 'u' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	GPtrArray *to = g_ptr_array_new();
	gs_encrypt_opts eo = { 0 };
	gs_recipients *rcpts = NULL;
	GMimeMessage *m = NULL;
	char *msg = NULL;
	gs_status st;
	int opt, rc;
	size_t i;

	eo.header_recipients = 1;
	eo.cipher = GS_CIPHER_AES256_CBC;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': eo.sign = 1; break;
		case 'O': eo.opaque_sign = 1; break;
		case 't': g_ptr_array_add(to, optarg); break;
		case 'o': eo.oaep = 1; break;
		case 'n': eo.no_self = 1; break;
		case 'f': eo.from = optarg; break;
		case 'u': eo.resolve_flags |= GS_RESOLVE_ALLOW_UNTRUSTED; break;
		case 'c':
			if (!strcmp(optarg, "aes256-cbc"))
				eo.cipher = GS_CIPHER_AES256_CBC;
			else if (!strcmp(optarg, "aes256-gcm"))
				eo.cipher = GS_CIPHER_AES256_GCM;
			else if (!strcmp(optarg, "auto"))
				eo.cipher = GS_CIPHER_AUTO;
			else {
				g_ptr_array_free(to, TRUE);
				return cli_usage(c, "--cipher is aes256-cbc, aes256-gcm or auto");
			}
			break;
		default:
			if (!cli_common_option(c, opt, optarg)) {
				g_ptr_array_free(to, TRUE);
				return cli_usage(c, "unknown option");
			}
		}
	}
	if (optind != argc) {
		g_ptr_array_free(to, TRUE);
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	}
	g_ptr_array_add(to, NULL);
	eo.extra = (const char *const *) to->pdata;
	if ((st = cli_open_session(c, &msg)) != GS_OK) {
		rc = cli_fail(c, st, msg);
		goto out;
	}
	if ((rc = cli_parse_message(c, &m)) != 0)
		goto out;
	st = gs_message_encrypt(c->session, m, &eo, &rcpts, &msg);
	cli_print_directories(c, rcpts);
	if (st == GS_E_NO_CERT && rcpts) {
		/* one line per recipient, so mutt shows each */
		for (i = 0; i < gs_recipients_count(rcpts); i++) {
			const gs_recipient_result *r = gs_recipients_get(rcpts, i);
			if (r->failure)
				cli_error(c, "%s: %s", r->recipient, r->failure);
		}
		cli_error(c, "nothing encrypted, nothing written");
		g_free(msg);
		rc = cli_exit_code(st);
	} else if (st != GS_OK) {
		rc = cli_fail(c, st, msg);
	} else {
		cli_print_bindings(c, rcpts);
		rc = cli_write_message(c, m);
	}
out:
	gs_recipients_free(rcpts);
	if (m)
		g_object_unref(m);
	g_ptr_array_free(to, TRUE);
	return rc;
}
