/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * probecost (--entry | --chosen) [--multi] LIB -- CMD [ARG...]
 * Attach an empty BPF program to GraphTracker::track_allocate and
 * track_deallocate in LIB, at their entries or at the sites devledger
 * chooses, run CMD, and detach: what a probe costs before any work. With
 * --multi both go into one uprobe_multi link, as devledger attaches its
 * probes; otherwise one perf-event uprobe each.
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
#include "uprobemulti.h"

static const char *const symbols[] = {
	"_ZN2tt8tt_metal12GraphTracker14track_allocateEPKNS0_6BufferE",
	"_ZN2tt8tt_metal12GraphTracker16track_deallocateEPNS0_6BufferE",
};

int main(int argc, char **argv)
{
	struct bpf_link *links[2] = { NULL, NULL };
	uint64_t offsets[2], cookies[2] = { 0, 0 };
	struct elfsym syms[2];
	struct empty_bpf *skel;
	bool chosen, multi;
	int status = 1, multi_fd = -1;
	const char *lib;
	char **command;
	pid_t child;

	multi = argc > 2 && !strcmp(argv[2], "--multi");
	lib = argv[multi ? 3 : 2];
	command = argv + (multi ? 5 : 4);
	if (argc < (multi ? 6 : 5) || strcmp(argv[multi ? 4 : 3], "--") ||
	    (strcmp(argv[1], "--entry") && strcmp(argv[1], "--chosen"))) {
		fprintf(stderr,
			"usage: probecost (--entry | --chosen) [--multi] LIB -- CMD [ARG...]\n");
		return 2;
	}
	chosen = !strcmp(argv[1], "--chosen");
	if (elfsyms__resolve(lib, symbols, 2, syms) || !syms[0].found || !syms[1].found) {
		fprintf(stderr, "probecost: %s: probed symbols not found\n", lib);
		return 1;
	}
	skel = empty_bpf__open();
	if (skel && multi)
		bpf_program__set_expected_attach_type(skel->progs.empty, UPROBE_MULTI_ATTACH_TYPE);
	if (!skel || empty_bpf__load(skel)) {
		fprintf(stderr, "probecost: loading: %s\n", strerror(errno));
		empty_bpf__destroy(skel);
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		struct probesite site = { .offset = syms[i].offset };

		if (chosen)
			probesite__choose(lib, syms[i].offset, syms[i].size, PROBESITE_RSI, &site);
		offsets[i] = site.offset;
		if (multi)
			continue;
		links[i] =
			bpf_program__attach_uprobe(skel->progs.empty, false, -1, lib, site.offset);
		if (!links[i]) {
			fprintf(stderr, "probecost: attaching: %s\n", strerror(errno));
			goto cleanup;
		}
	}
	if (multi) {
		multi_fd = uprobe_multi__attach(bpf_program__fd(skel->progs.empty), lib, offsets,
						cookies, 2, false, 0);
		if (multi_fd < 0) {
			fprintf(stderr, "probecost: attaching: %s\n", strerror(-multi_fd));
			goto cleanup;
		}
	}
	child = fork();
	if (child == 0) {
		execvp(command[0], command);
		_exit(127);
	}
	if (child > 0 && waitpid(child, &status, 0) == child)
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
cleanup:
	if (multi_fd >= 0)
		close(multi_fd);
	for (int i = 0; i < 2; i++)
		bpf_link__destroy(links[i]);
	empty_bpf__destroy(skel);
	return status;
}
