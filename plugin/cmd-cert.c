/* cmd-cert.c: galsmime cert import FILE... | list */
#include "certs.h"

int
cmd_cert(cli *c, int argc, char **argv)
{
	return certs_command(c, argc, argv, GS_ROLE_CORRESPONDENT);
}
