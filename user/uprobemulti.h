/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Many uprobes in one link (BPF_TRACE_UPROBE_MULTI, Linux 6.6 on), made
 * with the bpf() system call itself: Debian 12's libbpf 1.1 and kernel
 * headers predate it. One link detaches all its uprobes after one RCU
 * grace period; perf-event uprobes wait one each, about 100 ms apiece here.
 */
#ifndef DEVLEDGER_UPROBEMULTI_H
#define DEVLEDGER_UPROBEMULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The attach type a program must be loaded with to go into such links. */
#define UPROBE_MULTI_ATTACH_TYPE 48 /* BPF_TRACE_UPROBE_MULTI */

/*
 * Attach prog_fd at count file offsets of path, each with its cookie, as
 * entry or return probes, in process pid's address space (0: every process
 * that maps path). Returns the link's fd, or -errno (-EINVAL or -ENOSYS on
 * a kernel without uprobe_multi).
 */
int uprobe_multi__attach(int prog_fd, const char *path, const uint64_t *offsets,
			 const uint64_t *cookies, size_t count, bool retprobe, pid_t pid);

#endif /* DEVLEDGER_UPROBEMULTI_H */
