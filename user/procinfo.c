/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procinfo.h"

int procinfo__parse_stat(const char *text, struct procinfo *info)
{
	/* The name may hold any bytes, ')' and spaces too: the fields follow its last ')'. */
	const char *p = strrchr(text, ')');
	unsigned long long start;
	char *end;
	long ppid;

	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return -EINVAL;
	info->state = p[2];
	p += 4;
	ppid = strtol(p, &end, 10);
	if (end == p || *end != ' ')
		return -EINVAL;
	info->ppid = (pid_t)ppid;
	/* starttime is field 22; state is field 3 and ppid field 4. */
	p = end;
	for (int field = 5; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	start = strtoull(p + 1, &end, 10);
	if (end == p + 1)
		return -EINVAL;
	info->start_ticks = start;
	return 0;
}

int procinfo__read(pid_t pid, struct procinfo *info)
{
	char path[64], text[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ESRCH;
	text[n] = '\0';
	return procinfo__parse_stat(text, info);
}

bool procinfo__alive(pid_t pid, uint64_t start_ticks)
{
	struct procinfo info;

	if (procinfo__read(pid, &info))
		return false;
	return info.state != 'Z' && info.state != 'X' && info.start_ticks == start_ticks;
}

int procinfo__cmdline(pid_t pid, char *buf, size_t size, size_t *len)
{
	char path[64];
	ssize_t n;
	int fd;

	*len = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, size);
	close(fd);
	if (n < 0)
		return -errno;
	*len = (size_t)n;
	return 0;
}

int procinfo__comm(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	if (!size)
		return -EINVAL;
	*buf = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The boot time (btime in /proc/stat), read once: start ticks count from it. */
static double boot_time_s(void)
{
	static double boot;
	char line[256];
	FILE *f;

	if (boot)
		return boot;
	f = fopen("/proc/stat", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "btime ", 6))
			boot = strtod(line + 6, NULL);
	if (f)
		fclose(f);
	return boot;
}

double procinfo__started_at(uint64_t start_ticks)
{
	long hz = sysconf(_SC_CLK_TCK);
	double boot = boot_time_s();

	return boot && hz > 0 ? boot + (double)start_ticks / (double)hz : 0;
}
