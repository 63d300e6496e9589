// SPDX-License-Identifier: GPL-2.0-only
/*
 * hybridmigctl key: the shared secret of a migration, as a kernel keyring
 * "logon" key (which userspace can add but never read back). The secret is
 * never printed; its buffer is wiped after use.
 *
 *   key generate FILE [--bytes N]   N random bytes into a new 0600 file
 *   key load DESCRIPTION [FILE|-]   add it to the user keyring
 *   key unload DESCRIPTION          invalidate it
 */
#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "hm-exit.h"
#include "hm-key.h"
#include "hm-log.h"

/* The kernel target takes secrets of this size (HM_SECRET_MIN/MAX). */
#define HM_SECRET_MIN	16
#define HM_SECRET_MAX	128
#define HM_SECRET_DEFAULT 32

static void hm_key_usage(FILE *f)
{
	fputs("Usage: " HM_PROG " key generate FILE [--bytes N]\n"
	      "       " HM_PROG " key load DESCRIPTION [FILE|-]\n"
	      "       " HM_PROG " key unload DESCRIPTION\n"
	      "\n"
	      "The shared secret that source and destination authenticate each\n"
	      "other with, as a kernel \"logon\" key in the user keyring: the\n"
	      "connect and listen messages name it by DESCRIPTION, which must have\n"
	      "a prefix, e.g. hybridmig:vm1. The secret is never printed.\n"
	      "\n"
	      "  generate  write N random bytes (16..128, default 32) to FILE,\n"
	      "            created with mode 0600; an existing FILE is kept\n"
	      "  load      read the secret (16..128 bytes, taken as is) from FILE,\n"
	      "            or from standard input, and add it as a logon key\n"
	      "  unload    invalidate the logon key DESCRIPTION\n", f);
}

/* Logon keys need "prefix:rest" descriptions. */
static int hm_check_description(const char *desc)
{
	const char *colon = strchr(desc, ':');

	if (!colon || colon == desc || !colon[1] || strlen(desc) > 255) {
		return hm_usage_err("key description '%s' must look like prefix:name, e.g. hybridmig:vm1",
				    desc);
	}
	return 0;
}

static int hm_write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

static int hm_key_generate(int argc, char **argv)
{
	unsigned char secret[HM_SECRET_MAX];
	const char *file = NULL;
	long bytes = HM_SECRET_DEFAULT;
	int i, fd, ret = HM_EXIT_OK;
	char *end;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--bytes") && i + 1 < argc) {
			bytes = strtol(argv[++i], &end, 10);
			if (*end || bytes < HM_SECRET_MIN || bytes > HM_SECRET_MAX)
				return hm_usage_err("--bytes must be %d..%d", HM_SECRET_MIN,
						    HM_SECRET_MAX);
		} else if (argv[i][0] == '-') {
			return hm_usage_err("unknown option '%s'", argv[i]);
		} else if (file) {
			return hm_usage_err("unexpected argument '%s'", argv[i]);
		} else {
			file = argv[i];
		}
	}
	if (!file)
		return hm_usage_err("key generate needs a FILE");

	if (getrandom(secret, bytes, 0) != bytes) {
		hm_err("cannot get random bytes: %s", strerror(errno));
		return HM_EXIT_FAIL;
	}
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		hm_err("cannot create %s: %s", file, strerror(errno));
		ret = errno == EEXIST ? HM_EXIT_BUSY :
		      errno == EACCES ? HM_EXIT_PERM : HM_EXIT_FAIL;
		goto out;
	}
	if (hm_write_all(fd, secret, bytes) || fsync(fd)) {
		hm_err("cannot write %s: %s", file, strerror(errno));
		unlink(file);
		ret = HM_EXIT_FAIL;
	}
	close(fd);
out:
	explicit_bzero(secret, sizeof(secret));
	return ret;
}

/* Read the whole secret; one byte more than allowed tells it is too long. */
static int hm_read_secret(const char *file, unsigned char *buf, size_t *len)
{
	int fd = STDIN_FILENO;
	size_t done = 0;
	ssize_t n;

	if (file && strcmp(file, "-")) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			hm_err("cannot open %s: %s", file, strerror(errno));
			return errno == EACCES ? HM_EXIT_PERM : HM_EXIT_NODEV;
		}
	}
	while (done < HM_SECRET_MAX + 1) {
		n = read(fd, buf + done, HM_SECRET_MAX + 1 - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (n < 0) {
		hm_err("cannot read the secret: %s", strerror(errno));
		return HM_EXIT_FAIL;
	}
	if (done < HM_SECRET_MIN || done > HM_SECRET_MAX) {
		hm_err("the secret must be %d to %d bytes, got %s%zu", HM_SECRET_MIN,
		       HM_SECRET_MAX, done > HM_SECRET_MAX ? "more than " : "",
		       done > HM_SECRET_MAX ? (size_t)HM_SECRET_MAX : done);
		return HM_EXIT_USAGE;
	}
	*len = done;
	return HM_EXIT_OK;
}

/**
 * hm_key_load_file() - add the secret in @file (NULL or "-": stdin) to the
 * user keyring as the logon key @desc
 * @quiet: print nothing on success
 *
 * Return: an exit code; errors are printed.
 */
int hm_key_load_file(const char *desc, const char *file, bool quiet)
{
	unsigned char secret[HM_SECRET_MAX + 1];
	size_t len = 0;
	key_serial_t id;
	int ret;

	ret = hm_check_description(desc);
	if (ret)
		return ret;

	ret = hm_read_secret(file, secret, &len);
	if (!ret) {
		id = add_key("logon", desc, secret, len, KEY_SPEC_USER_KEYRING);
		if (id < 0) {
			hm_err("cannot add logon key '%s': %s", desc, strerror(errno));
			ret = errno == EACCES || errno == EPERM ? HM_EXIT_PERM : HM_EXIT_FAIL;
		} else if (!quiet) {
			printf("loaded logon key %s (%zu bytes) into the user keyring\n",
			       desc, len);
		}
	}
	explicit_bzero(secret, sizeof(secret));
	return ret;
}

static int hm_key_load(int argc, char **argv)
{
	if (argc < 1 || argc > 2)
		return hm_usage_err("key load needs DESCRIPTION [FILE|-]");
	return hm_key_load_file(argv[0], argc == 2 ? argv[1] : NULL, false);
}

/**
 * hm_key_invalidate() - invalidate the logon key @desc of the user keyring
 * @quiet: say nothing if there is no such key (someone else unloaded it)
 *
 * Return: an exit code; errors are printed.
 */
int hm_key_invalidate(const char *desc, bool quiet)
{
	key_serial_t id;

	id = keyctl_search(KEY_SPEC_USER_KEYRING, "logon", desc, 0);
	if (id < 0) {
		if (!quiet)
			hm_err("no logon key '%s' in the user keyring", desc);
		return HM_EXIT_NODEV;
	}
	if (keyctl_invalidate(id) < 0) {
		hm_err("cannot invalidate logon key '%s': %s", desc, strerror(errno));
		return errno == EACCES ? HM_EXIT_PERM : HM_EXIT_FAIL;
	}
	return HM_EXIT_OK;
}

static int hm_key_unload(int argc, char **argv)
{
	int ret;

	if (argc != 1)
		return hm_usage_err("key unload needs DESCRIPTION");
	ret = hm_check_description(argv[0]);
	return ret ? ret : hm_key_invalidate(argv[0], false);
}

int hm_cmd_key(int argc, char **argv)
{
	if (argc < 2)
		return hm_usage_err("key needs a subcommand: generate, load or unload");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		hm_key_usage(stdout);
		return HM_EXIT_OK;
	}
	if (!strcmp(argv[1], "generate"))
		return hm_key_generate(argc - 2, argv + 2);
	if (!strcmp(argv[1], "load"))
		return hm_key_load(argc - 2, argv + 2);
	if (!strcmp(argv[1], "unload"))
		return hm_key_unload(argc - 2, argv + 2);
	return hm_usage_err("unknown key subcommand '%s'", argv[1]);
}
