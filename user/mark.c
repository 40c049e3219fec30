/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mark.h"

static void label_path(pid_t devledger, pid_t sender, char *path, size_t size)
{
	snprintf(path, size, MARK_DIR "/%d.%d.label", (int)devledger, (int)sender);
}

static int write_label(const char *path, const char *label)
{
	char tmp[160];
	size_t len = strlen(label);
	int fd, err = 0;

	if (mkdir(MARK_DIR, 0700) && errno != EEXIST)
		return -errno;
	/* Whole or not at all: the trace never reads half a label. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, label, len) != (ssize_t)len)
		err = errno ? -errno : -EIO;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* SIGUSR2 ends most processes: only a devledger is sent one. */
static bool is_devledger(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return !strcmp(comm, "devledger");
}

int mark__send(pid_t devledger, const char *label, int timeout_ms)
{
	char path[128];
	int err;

	label_path(devledger, getpid(), path, sizeof(path));
	if (kill(devledger, 0)) {
		err = -errno;
		fprintf(stderr, "devledger: mark: no process with PID %d%s\n", (int)devledger,
			err == -EPERM ? " that this user may signal (run as root)" : "");
		return err;
	}
	if (!is_devledger(devledger)) {
		fprintf(stderr,
			"devledger: mark: PID %d is not devledger: give the PID of a running devledger trace\n",
			(int)devledger);
		return -EINVAL;
	}
	if (label && *label) {
		err = write_label(path, label);
		if (err) {
			fprintf(stderr,
				"devledger: mark: cannot leave the label in %s: %s (run as root)\n",
				MARK_DIR, strerror(-err));
			return err;
		}
	}
	if (kill(devledger, SIGUSR2)) {
		err = -errno;
		unlink(path);
		fprintf(stderr, "devledger: mark: cannot signal PID %d: %s\n", (int)devledger,
			strerror(-err));
		return err;
	}
	if (!label || !*label)
		return 0;
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		struct timespec pause = { 0, 10 * 1000000L };

		if (access(path, F_OK))
			return 0;
		nanosleep(&pause, NULL);
	}
	unlink(path);
	fprintf(stderr,
		"devledger: mark: PID %d did not take the label within %d ms: is it a devledger trace?\n",
		(int)devledger, timeout_ms);
	return -ETIMEDOUT;
}

/* The label that the process `sender` left for this one, if any, into label (""). */
static void take_label(pid_t sender, char *label, size_t size)
{
	char path[128];
	ssize_t n;
	int fd;

	label[0] = '\0';
	label_path(getpid(), sender, path, sizeof(path));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, label, size - 1);
	label[n > 0 ? n : 0] = '\0';
	/* One line of printable text: a label goes into JSON and the report. */
	for (char *c = label; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' ';
	close(fd);
	unlink(path);
}

/*
 * The handler writes a slot, then counts it; the trace reads only counted
 * slots. clock_gettime is async-signal-safe: a mark's instant is when it
 * came, not when it was seen.
 */
static struct {
	uint64_t ts_ns;
	pid_t sender;
} queue[MARK_QUEUE];
static volatile sig_atomic_t marks_received;
static unsigned int marks_taken;

static void on_mark(int sig, siginfo_t *info, void *ucontext)
{
	unsigned int n = (unsigned int)marks_received;
	struct timespec ts;

	(void)sig;
	(void)ucontext;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	queue[n % MARK_QUEUE].ts_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	queue[n % MARK_QUEUE].sender = info->si_pid;
	marks_received = (sig_atomic_t)(n + 1);
}

void mark__install(void)
{
	struct sigaction sa = { .sa_sigaction = on_mark, .sa_flags = SA_SIGINFO | SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
}

bool mark__pending(void)
{
	return marks_taken != (unsigned int)marks_received;
}

void mark__take(uint64_t before_ns, mark_fn fn, void *ctx)
{
	char label[64];

	if ((unsigned int)marks_received - marks_taken > MARK_QUEUE)
		marks_taken = (unsigned int)marks_received - MARK_QUEUE;
	while (mark__pending()) {
		unsigned int slot = marks_taken % MARK_QUEUE;

		if (queue[slot].ts_ns >= before_ns)
			return;
		take_label(queue[slot].sender, label, sizeof(label));
		fn(ctx, label, queue[slot].ts_ns);
		marks_taken++;
	}
}
