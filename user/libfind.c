/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libfind.h"

static bool is_elf(const char *path)
{
	unsigned char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool elf;

	if (fd < 0)
		return false;
	elf = read(fd, magic, 4) == 4 && !memcmp(magic, "\177ELF", 4);
	close(fd);
	return elf;
}

int libfind__check(const char *path, char *out, size_t out_len)
{
	char real[PATH_MAX];

	if (!realpath(path, real)) {
		int err = -errno;

		fprintf(stderr, "devledger: --lib %s: %s\n", path, strerror(-err));
		return err;
	}
	if (!is_elf(real)) {
		fprintf(stderr, "devledger: --lib %s: not an ELF file\n", path);
		return -ENOEXEC;
	}
	snprintf(out, out_len, "%s", real);
	return 0;
}

static void read_comm(pid_t pid, char *comm, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f || !fgets(comm, (int)len, f))
		snprintf(comm, len, "?");
	comm[strcspn(comm, "\n")] = '\0';
	if (f)
		fclose(f);
}

enum libfind_maps_line libfind__maps_line(const char *line, size_t *path_start, size_t *path_len)
{
	/* address perms offset dev inode pathname: the path is all from the first '/' on. */
	const char *file = strchr(line, '/'), *base;
	size_t len;

	if (!file)
		return LIBFIND_MAPS_OTHER;
	len = strcspn(file, "\n");
	base = (const char *)memrchr(file, '/', len) + 1;
	if (strncmp(base, LIBFIND_NAME, strlen(LIBFIND_NAME)))
		return LIBFIND_MAPS_OTHER;
	*path_start = (size_t)(file - line);
	*path_len = len;
	return memmem(file, len, " (deleted)", strlen(" (deleted)")) ? LIBFIND_MAPS_DELETED
								     : LIBFIND_MAPS_LIBRARY;
}

int libfind__from_pid(pid_t pid, const char *maps_path, char *out, size_t out_len)
{
	char path[64], line[LIBFIND_MAPS_LINE_LEN], comm[64];
	FILE *maps;

	if (!maps_path) {
		snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
		maps_path = path;
	}
	maps = fopen(maps_path, "r");
	if (!maps) {
		int err = -errno;

		if (err == -ENOENT)
			fprintf(stderr, "devledger: no process with PID %d\n", (int)pid);
		else
			fprintf(stderr, "devledger: %s: %s\n", maps_path, strerror(-err));
		return err;
	}
	while (fgets(line, sizeof(line), maps)) {
		size_t start, len;
		enum libfind_maps_line what = libfind__maps_line(line, &start, &len);

		if (what == LIBFIND_MAPS_OTHER)
			continue;
		fclose(maps);
		/* len < sizeof(line): it fits an int. */
		if (what == LIBFIND_MAPS_DELETED) {
			fprintf(stderr,
				"devledger: process %d maps %.*s, which was deleted or replaced since; "
				"restart it\n",
				(int)pid, (int)len, line + start);
			return -ENOENT;
		}
		snprintf(out, out_len, "%.*s", (int)len, line + start);
		return 0;
	}
	fclose(maps);
	read_comm(pid, comm, sizeof(comm));
	fprintf(stderr,
		"devledger: process %d (%s) does not map %s; pass --lib if it loads it later\n",
		(int)pid, comm, LIBFIND_NAME);
	return -ENOENT;
}

/* PT_INTERP of an ELF file, or -ENOEXEC when it has none (static, or not ELF). */
static int program_interpreter(const char *binary, char *out, size_t out_len)
{
	int fd, err = -ENOEXEC;
	size_t count;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	fd = open(binary, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF && !elf_getphdrnum(elf, &count)) {
		for (size_t i = 0; i < count; i++) {
			GElf_Phdr phdr;
			size_t size;
			char *raw;

			if (!gelf_getphdr(elf, (int)i, &phdr) || phdr.p_type != PT_INTERP)
				continue;
			raw = elf_rawfile(elf, &size);
			if (raw && phdr.p_offset + phdr.p_filesz <= size &&
			    phdr.p_filesz < out_len) {
				memcpy(out, raw + phdr.p_offset, phdr.p_filesz);
				out[phdr.p_filesz] = '\0';
				err = 0;
			}
			break;
		}
	}
	elf_end(elf);
	close(fd);
	return err;
}

int libfind__ask_loader(const char *binary, const char *name, char *out, size_t out_len)
{
	char interp[PATH_MAX], line[PATH_MAX + 256];
	int pipefd[2], status, err = -ENOENT;
	pid_t child;
	FILE *list;

	err = program_interpreter(binary, interp, sizeof(interp));
	if (err)
		return err;
	err = -ENOENT;
	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -errno;
	}
	if (child == 0) {
		/* The loader lists what it would map; the command itself never runs. */
		int devnull = open("/dev/null", O_WRONLY);

		dup2(pipefd[1], STDOUT_FILENO);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		execl(interp, interp, "--list", binary, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	list = fdopen(pipefd[0], "r");
	/* Lines: "\tlibfoo.so.1 => /path/libfoo.so.1 (0x...)" */
	while (list && fgets(line, sizeof(line), list)) {
		char *arrow = strstr(line, " => "), *path, *end;

		if (!arrow || err == 0)
			continue;
		*arrow = '\0';
		path = arrow + 4;
		end = strstr(path, " (0x");
		if (end)
			*end = '\0';
		if (strncmp(line + strspn(line, " \t"), name, strlen(name)) || *path != '/')
			continue;
		path[strcspn(path, "\n")] = '\0';
		snprintf(out, out_len, "%s", path);
		err = 0;
	}
	if (list)
		fclose(list);
	else
		close(pipefd[0]);
	waitpid(child, &status, 0);
	return err;
}

static int from_tt_metal_home(char *out, size_t out_len, char *tried, size_t tried_len)
{
	const char *home = getenv("TT_METAL_HOME");

	if (!home || !*home) {
		snprintf(tried, tried_len, "$TT_METAL_HOME/build/lib/%s (TT_METAL_HOME not set)",
			 LIBFIND_NAME);
		return -ENOENT;
	}
	snprintf(out, out_len, "%s/build/lib/%s", home, LIBFIND_NAME);
	snprintf(tried, tried_len, "%s", out);
	return access(out, R_OK) ? -ENOENT : 0;
}

int libfind__resolve_command(const char *command, char *out, size_t out_len)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX];

	if (strchr(command, '/')) {
		snprintf(out, out_len, "%s", command);
		return access(out, X_OK) ? -errno : 0;
	}
	for (path = path ? path : "/usr/local/bin:/usr/bin:/bin"; *path;) {
		size_t len = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s", (int)len, path);
		if (snprintf(out, out_len, "%s/%s", len ? dir : ".", command) < (int)out_len &&
		    !access(out, X_OK))
			return 0;
		path += len + (path[len] == ':');
	}
	return -ENOENT;
}

int libfind__for_command(const char *command, char *out, size_t out_len)
{
	char binary[PATH_MAX], tried[PATH_MAX + 64];

	if (!libfind__resolve_command(command, binary, sizeof(binary)) &&
	    !libfind__ask_loader(binary, LIBFIND_NAME, out, out_len))
		return 0;
	return from_tt_metal_home(out, out_len, tried, sizeof(tried));
}

int libfind__default(char *out, size_t out_len, char *tried, size_t tried_len)
{
	return from_tt_metal_home(out, out_len, tried, tried_len);
}

int libfind__mapped(pid_t pid, const struct libfind_file *file, char *out, size_t out_len)
{
	char path[64], line[LIBFIND_MAPS_LINE_LEN];
	int err = -ENOENT;
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	if (!maps)
		return -errno;
	while (err && fgets(line, sizeof(line), maps)) {
		unsigned int major, minor;
		unsigned long long ino;
		size_t start, len;

		if (libfind__maps_line(line, &start, &len) != LIBFIND_MAPS_LIBRARY)
			continue;
		if (file && (sscanf(line, "%*s %*s %*s %x:%x %llu", &major, &minor, &ino) != 3 ||
			     major != file->dev >> 20 || minor != (file->dev & 0xfffff) ||
			     ino != file->ino))
			continue;
		snprintf(out, out_len, "%.*s", (int)len, line + start);
		err = 0;
	}
	fclose(maps);
	return err;
}
