/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"

int launch__start(struct launch *launch, char *const argv[])
{
	int pipefd[2];
	sigset_t none;

	launch->pid = -1;
	launch->release_fd = -1;
	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	launch->pid = fork();
	if (launch->pid < 0) {
		int err = -errno;

		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (launch->pid == 0) {
		char go;

		close(pipefd[1]);
		/* Released (one byte) or abandoned (EOF: devledger gave up). */
		if (read(pipefd[0], &go, 1) != 1)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/*
		 * A shell that runs devledger in the background ignores SIGINT for
		 * it; the command must still stop on the SIGINT devledger passes on.
		 */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (launch->stdout_to_stderr && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "devledger: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[0]);
	launch->release_fd = pipefd[1];
	return 0;
}

int launch__release(struct launch *launch)
{
	int err = write(launch->release_fd, "g", 1) == 1 ? 0 : -errno;

	close(launch->release_fd);
	launch->release_fd = -1;
	return err;
}

void launch__abort(struct launch *launch)
{
	if (launch->release_fd >= 0)
		close(launch->release_fd);
	launch->release_fd = -1;
	if (launch->pid > 0) {
		kill(launch->pid, SIGKILL);
		waitpid(launch->pid, NULL, 0);
	}
	launch->pid = -1;
}
