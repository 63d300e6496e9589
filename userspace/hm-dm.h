/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Thin wrapper over libdevmapper: find hybridmig devices, read their status.
 *
 * Functions return 0 or a negative errno; hm_exit_from_errno() maps that to
 * an exit code. After a failure, hm_dm_error() gives the first error message
 * libdevmapper logged during the call, if any.
 */
#ifndef HM_DM_H
#define HM_DM_H

#include <stddef.h>
#include <stdint.h>

#include <linux/dm-ioctl.h>

#include "hm-status.h"

struct hm_device {
	char name[DM_NAME_LEN];
	uint64_t size_sectors;		/* length of the hybridmig target */
	struct hm_status status;
};

/* Names of all device-mapper devices, sorted. */
struct hm_names {
	char **names;
	size_t nr;
};

void hm_dm_init(void);
const char *hm_dm_error(void);

int hm_dm_list_names(struct hm_names *out);
void hm_names_free(struct hm_names *names);

int hm_dm_get_device(const char *name, struct hm_device *dev);

#endif /* HM_DM_H */
