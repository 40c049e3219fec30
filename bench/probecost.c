/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * probecost (--entry | --chosen) LIB -- CMD [ARG...]
 * Attach an empty BPF program to GraphTracker::track_allocate and
 * track_deallocate in LIB, at their entries or at the sites devledger
 * chooses, run CMD, and detach: what a probe costs before any work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "elfsyms.h"
#include "empty.skel.h"
#include "probesite.h"

static const char *const symbols[] = {
	"_ZN2tt8tt_metal12GraphTracker14track_allocateEPKNS0_6BufferE",
	"_ZN2tt8tt_metal12GraphTracker16track_deallocateEPNS0_6BufferE",
};

int main(int argc, char **argv)
{
	struct bpf_link *links[2] = { NULL, NULL };
	struct elfsym syms[2];
	struct empty_bpf *skel;
	bool chosen;
	int status = 1;
	pid_t child;

	if (argc < 5 || strcmp(argv[3], "--") ||
	    (strcmp(argv[1], "--entry") && strcmp(argv[1], "--chosen"))) {
		fprintf(stderr, "usage: probecost (--entry | --chosen) LIB -- CMD [ARG...]\n");
		return 2;
	}
	chosen = !strcmp(argv[1], "--chosen");
	if (elfsyms__resolve(argv[2], symbols, 2, syms) || !syms[0].found || !syms[1].found) {
		fprintf(stderr, "probecost: %s: probed symbols not found\n", argv[2]);
		return 1;
	}
	skel = empty_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "probecost: loading: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		struct probesite site = { .offset = syms[i].offset };

		if (chosen)
			probesite__choose(argv[2], syms[i].offset, syms[i].size, PROBESITE_RSI, &site);
		links[i] = bpf_program__attach_uprobe(skel->progs.empty, false, -1, argv[2],
						      site.offset);
		if (!links[i]) {
			fprintf(stderr, "probecost: attaching: %s\n", strerror(errno));
			goto cleanup;
		}
	}
	child = fork();
	if (child == 0) {
		execvp(argv[4], argv + 4);
		_exit(127);
	}
	if (child > 0 && waitpid(child, &status, 0) == child)
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
cleanup:
	for (int i = 0; i < 2; i++)
		bpf_link__destroy(links[i]);
	empty_bpf__destroy(skel);
	return status;
}
