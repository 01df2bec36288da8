/* cmd-cert.c: galsmime cert import FILE... | list */
#include "certs.h"

#include <string.h>

int
cmd_cert(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(c, "cert needs import or list");
	if (!strcmp(argv[1], "import"))
		return certs_import(c, argc - 1, argv + 1, GS_ROLE_CORRESPONDENT);
	if (!strcmp(argv[1], "list"))
		return certs_list(c, GS_LIST_ALL);
	return cli_usage(c, "unknown cert command '%s'", argv[1]);
}
