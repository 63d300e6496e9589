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

/* The state of a device, from DM_DEVICE_INFO (or any task's answer). */
struct hm_dm_info {
	char name[DM_NAME_LEN];
	char uuid[DM_UUID_LEN];
	uint32_t major, minor;
	int32_t open_count;
	uint32_t event_nr;
	unsigned int suspended:1, live_table:1, inactive_table:1,
		     read_only:1;
};

/* One target of a table, as DM_DEVICE_TABLE returns it. */
struct hm_dm_target {
	uint64_t start, length;
	char type[32];
	char *params;
};

struct hm_dm_table {
	struct hm_dm_target *t;
	size_t nr;
};

int hm_dm_info(const char *name, struct hm_dm_info *info);
int hm_dm_get_table(const char *name, struct hm_dm_table *table);
void hm_dm_table_free(struct hm_dm_table *table);

/* udev rules to skip for a private device (the "-real" of an adoption). */
#define HM_DM_UDEV_PRIVATE	0x000e

int hm_dm_create(const char *name, const char *uuid,
		 const struct hm_dm_table *table, uint16_t udev_flags);
int hm_dm_load(const char *name, const struct hm_dm_table *table);
int hm_dm_resume(const char *name, uint16_t udev_flags);
int hm_dm_suspend(const char *name);
int hm_dm_remove(const char *name, int retry);
int hm_dm_clear(const char *name);

/*
 * Send a target message to sector 0; the reply (if any) is copied to
 * @reply. Returns the raw negative errno of the ioctl on failure.
 */
int hm_dm_message(const char *name, const char *msg, char *reply,
		  size_t reply_len);

/*
 * Wait until the event counter of @name moves past @event_nr, or
 * @timeout_ms passes (-ETIMEDOUT), or a signal comes (-EINTR).
 * @info gets the device's state on return.
 */
int hm_dm_wait_event(const char *name, uint32_t event_nr, int timeout_ms,
		     struct hm_dm_info *info);

#endif /* HM_DM_H */
