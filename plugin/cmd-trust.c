/* cmd-trust.c: galsmime trust import FILE... | list */
#include "certs.h"

int
cmd_trust(cli *c, int argc, char **argv)
{
	return certs_command(c, argc, argv, GS_ROLE_ANCHOR);
}
