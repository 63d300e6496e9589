// SPDX-License-Identifier: GPL-2.0-only
/*
 * The --help texts of the migration commands.
 */
#include <string.h>

#include "hm-compiler.h"
#include "hm-log.h"
#include "hm-usage.h"

#define HM_SRC_OPTS \
	"  --chunk-size SIZE     chunk size, a power of two from 4K to 1M (64K)\n" \
	"  --metadata DEV        metadata device (default: none, \"-\")\n" \
	"  --policy P            hybrid (default), precopy or postcopy\n" \
	"  --bandwidth RATE      push limit: KiB/s, or with K, M, G (50M); 0: none\n" \
	"  --hot-threshold N     writes that make a chunk hot, 0..15 (4)\n" \
	"  --ready-chunks N      precopy: ready at N dirty chunks or fewer (128)\n" \
	"  --start-clean         the destination holds the same data already\n"

#define HM_DST_OPTS \
	"  --size SIZE           the source's size (bytes; K, M, G, T; s for\n" \
	"                        sectors); default: all of DEV. DEV must hold it\n" \
	"  --chunk-size SIZE     the source's chunk size (64K)\n" \
	"  --metadata DEV        metadata device (default: none, \"-\")\n" \
	"  --auto-handover       the VM's first write here hands over\n"

#define HM_WATCH_OPTS \
	"  --timeout S           give up after S seconds (exit 7); default: none\n" \
	"  --interval S          seconds between progress lines when the output\n" \
	"                        is not a terminal (5)\n"

#define HM_TAIL	"  -h, --help            show this help and exit\n" \
	"\nExit codes: see " HM_PROG " --help.\n"

static const struct {
	const char *cmd;
	const char *text;
} hm_usages[] = {
	{ "create",
	  "Usage: " HM_PROG " create source NAME DEV [source options]\n"
	  "       " HM_PROG " create dest NAME DEV [destination options]\n"
	  "\n"
	  "Create hybridmig device NAME over block device DEV: a source over the\n"
	  "VM's volume, or a destination over the volume that receives it.\n"
	  "\nSource options:\n" HM_SRC_OPTS
	  "\nDestination options:\n" HM_DST_OPTS HM_TAIL },
	{ "receive",
	  "Usage: " HM_PROG " receive NAME [DEV] --listen HOST:PORT --key DESC [options]\n"
	  "\n"
	  "On the destination host: create destination NAME over DEV (unless NAME\n"
	  "exists), listen for the source, show progress until the migration is\n"
	  "complete, then cut NAME over to linear over DEV.\n"
	  "\nOptions:\n"
	  "  --listen HOST:PORT    address to listen on (a.b.c.d:port, [v6]:port)\n"
	  "  --key DESC            the logon key of the shared secret\n"
	  "  --key-file FILE       load the secret from FILE first (then unloaded)\n"
	  HM_DST_OPTS
	  "  --no-wait             return once listening\n"
	  "  --no-finish           at completion, leave NAME as it is\n"
	  HM_WATCH_OPTS HM_TAIL },
	{ "migrate",
	  "Usage: " HM_PROG " migrate NAME --to HOST:PORT --key DESC [options]\n"
	  "\n"
	  "On the source host: connect source NAME to its destination and push,\n"
	  "showing progress; once ready, hand over with '" HM_PROG " handover NAME'\n"
	  "when the VM is paused. At completion the source is removed (an adopted\n"
	  "volume gets its own table back). A device-mapper volume NAME that is not\n"
	  "a hybridmig source is adopted first, live (see adopt).\n"
	  "\nOptions:\n"
	  "  --to HOST:PORT        the destination's address\n"
	  "  --key DESC            the logon key of the shared secret\n"
	  "  --key-file FILE       load the secret from FILE first (then unloaded)\n"
	  HM_SRC_OPTS
	  "                        (on an existing source only --policy and\n"
	  "                        --bandwidth apply)\n"
	  "  --no-wait             return once connecting\n"
	  "  --no-finish           at completion, leave NAME as it is\n"
	  HM_WATCH_OPTS HM_TAIL },
	{ "handover",
	  "Usage: " HM_PROG " handover NAME\n"
	  "\n"
	  "Once the hypervisor has paused the VM: fence source NAME's writes and\n"
	  "switch the destination over. Returns when the destination has switched\n"
	  "(30 s at most); then resume the VM there.\n"
	  "\nOptions:\n" HM_TAIL },
	{ "abort",
	  "Usage: " HM_PROG " abort NAME\n"
	  "\n"
	  "Call off the migration of source NAME before handover: the VM stays\n"
	  "here; the destination refuses all I/O from then on (remove it).\n"
	  "\nOptions:\n" HM_TAIL },
	{ "set",
	  "Usage: " HM_PROG " set NAME PARAM VALUE\n"
	  "\n"
	  "Change a tunable of source NAME at run time:\n"
	  "  bandwidth RATE        push limit: KiB/s, or with K, M, G; 0: none\n"
	  "  policy P              hybrid, precopy or postcopy\n"
	  "  hot_threshold N       0..15\n"
	  "  ready_chunks N        precopy's ready threshold, in chunks\n"
	  "\nOptions:\n" HM_TAIL },
	{ "wait",
	  "Usage: " HM_PROG " wait NAME [--for EVENT] [--timeout S] [--progress]\n"
	  "\n"
	  "Wait, on device-mapper events, until device NAME reaches EVENT:\n"
	  "  connected             the link is up\n"
	  "  ready                 source: the push converged; destination: the\n"
	  "                        source's session is set up\n"
	  "  handover              handed over (phase postcopy or complete)\n"
	  "  complete              the destination holds every chunk (default)\n"
	  "Fails at once (exit 2, 4 or 8) if the source's link was refused or the\n"
	  "migration aborted.\n"
	  "\nOptions:\n"
	  "  --for EVENT           what to wait for (complete)\n"
	  "  --progress            show progress while waiting\n"
	  HM_WATCH_OPTS HM_TAIL },
	{ "finish",
	  "Usage: " HM_PROG " finish NAME [--timeout S]\n"
	  "\n"
	  "Wait until the migration is complete, then: on a destination, end the\n"
	  "link and reload NAME as linear over its volume; on a source, remove NAME\n"
	  "(an adopted volume gets its own table back). Refused before handover\n"
	  "unless --timeout is given.\n"
	  "\nOptions:\n"
	  "  --timeout S           give up after S seconds (exit 7)\n" HM_TAIL },
	{ "adopt",
	  "Usage: " HM_PROG " adopt NAME [source options]\n"
	  "\n"
	  "Insert a hybridmig source under device-mapper device NAME while it is\n"
	  "in use: NAME's table moves to a new hidden device NAME-real, and NAME\n"
	  "becomes a hybridmig source over it, with a pause of milliseconds.\n"
	  "Only tables of linear and striped targets are adopted.\n"
	  "\nSource options:\n" HM_SRC_OPTS HM_TAIL },
	{ "detach",
	  "Usage: " HM_PROG " detach NAME [--force]\n"
	  "\n"
	  "Reverse adopt: NAME gets the table of NAME-real back, and NAME-real is\n"
	  "removed; the migration state is dropped. Refused after handover until\n"
	  "complete, and while a link is up unless --force.\n"
	  "\nOptions:\n"
	  "  --force               detach even while a link is up (it is ended)\n"
	  HM_TAIL },
};

int hm_print_usage(const char *cmd, FILE *f)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(hm_usages); i++)
		if (!strcmp(hm_usages[i].cmd, cmd))
			fputs(hm_usages[i].text, f);
	return 0;
}
