// SPDX-License-Identifier: GPL-2.0-only
/*
 * hybridmigctl udev NAME: for the udev rule (IMPORT{program}), print the
 * role and phase of hybridmig device NAME as environment variables:
 *
 *   HYBRIDMIG_ROLE=dest
 *   HYBRIDMIG_PHASE=waiting
 *   HYBRIDMIG_LINK=connected
 *
 * and nothing for any other device. Always exits 0 but on wrong usage.
 * The libvirt hook reads it too.
 */
#include <stdio.h>

#include "hm-args.h"
#include "hm-cmd.h"
#include "hm-exit.h"

int hm_cmd_udev(int argc, char **argv)
{
	struct hm_device dev;
	struct hm_args a;
	int ret;

	ret = hm_args_parse(argc, argv, argv[0], 0, 1, 1, "NAME", &a);
	if (ret)
		return hm_args_exit(ret);
	hm_dm_init();
	if (hm_dm_get_device(a.pos[0], &dev))
		return HM_EXIT_OK;
	printf("HYBRIDMIG_ROLE=%s\nHYBRIDMIG_PHASE=%s\nHYBRIDMIG_LINK=%s\n",
	       dev.status.role, dev.status.phase, dev.status.link_state);
	return HM_EXIT_OK;
}
