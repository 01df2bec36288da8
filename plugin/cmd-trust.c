/* cmd-trust.c: galsmime trust import FILE... | list */
#include "certs.h"

#include <string.h>

int
cmd_trust(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(c, "trust needs import or list");
	if (!strcmp(argv[1], "import"))
		return certs_import(c, argc - 1, argv + 1, GS_ROLE_ANCHOR);
	if (!strcmp(argv[1], "list"))
		return certs_list(c, GS_LIST_ANCHORS);
	return cli_usage(c, "unknown trust command '%s'", argv[1]);
}
