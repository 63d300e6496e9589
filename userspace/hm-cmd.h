/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The commands of hybridmigctl, and what they share.
 */
#ifndef HM_CMD_H
#define HM_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hm-dm.h"

/* Device-mapper UUID prefixes of the devices hybridmigctl makes. */
#define HM_UUID_PREFIX		"HYBRIDMIG-"
#define HM_UUID_SOURCE		HM_UUID_PREFIX "SRC-"
#define HM_UUID_DEST		HM_UUID_PREFIX "DST-"
#define HM_UUID_REAL		HM_UUID_PREFIX "REAL-"
/* The hidden device an adopted volume's own table moves to. */
#define HM_REAL_SUFFIX		"-real"

/* Print the error of a failed device-mapper call; return the exit code. */
int hm_dm_err(const char *what, int r);
/* Likewise for hm_dm_get_device() on @name. */
int hm_device_err(const char *name, int r);
/* hm_dm_get_device(), printing errors; returns an exit code. */
int hm_get_device(const char *name, struct hm_device *dev);

/* The hybridmig target of @name's live table: its data device (major:minor). */
int hm_data_dev(const char *name, char *dev, size_t len);

/* End the link of @name, if any: 0 or a negative errno. */
int hm_send_disconnect(const char *name);

struct hm_args;
/* Adoption (hm-adopt.c). */
int hm_adopt_device(const char *name, const struct hm_args *a);
bool hm_is_adopted(const char *name, const char *data_dev);
int hm_detach_device(const char *name);

typedef int hm_cmd_fn(int argc, char **argv);
hm_cmd_fn hm_cmd_create, hm_cmd_receive, hm_cmd_migrate, hm_cmd_handover,
	hm_cmd_abort, hm_cmd_set, hm_cmd_wait, hm_cmd_finish, hm_cmd_adopt,
	hm_cmd_detach, hm_cmd_udev;

#endif /* HM_CMD_H */
