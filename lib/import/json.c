/* json.c: placeholder until the json parser lands. */
#include "import.h"

gs_status
gs_parse_json(gs_import_state *st, gs_reader *r, char **errmsg)
{
	(void) st;
	return gs_fail(errmsg, GS_E_UNSUPPORTED, "%s: the json format is not supported yet", gs_reader_name(r));
}
